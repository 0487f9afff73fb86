import { type TSchema, Type } from '@fastify/type-provider-typebox';
import { EXPIRY_ACTIONS, SIM_STATUSES, SIM_TYPES, SPEED_CLASSES } from '../../../platform/sims/model.js';
import { LastEvaluatedKey, Limit, TagFilter, TagMap } from './common.js';

export const SimIdParams = Type.Object({
  sim_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z-]+$' }),
});

export const SpeedClass = Type.Union(
  SPEED_CLASSES.map((c) => Type.Literal(c)),
  { description: 'SORACOM speed class.' },
);

const Subscriber = Type.Object({ imsi: Type.String(), msisdn: Type.Union([Type.String(), Type.Null()]) });

const Profile = Type.Object({
  iccid: Type.String(),
  primaryImsi: Type.String({ description: 'Empty for an eUICC profile whose IMSI is not known.' }),
  subscribers: Type.Record(Type.String(), Subscriber),
  state: Type.Optional(
    Type.String({
      description: 'eUICC profiles: Created, Disabled, Enabled or handed-over (SGP.02 §5.1.1.1).',
    }),
  ),
  mnoId: Type.Optional(Type.String({ description: 'eUICC profiles: the owning MNO id (OID).' })),
  profileType: Type.Optional(
    Type.Union([Type.String(), Type.Null()], { description: 'eUICC profiles: the SM-DP profile type.' }),
  ),
});

export const ImeiLock = Type.Object({
  imei: Type.String(),
  allowAnonymous: Type.Boolean({ description: 'A session that reports no IMEI is admitted.' }),
});

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** The serving cell (3GPP-User-Location-Info with 3GPP-RAT-Type); fields depend on the radio. */
export const Cell = Type.Object(
  {
    radioType: Type.Optional(Type.String({ description: 'eutran, utran, geran, nb-iot, lte-m, …' })),
    mcc: Type.Optional(Type.String()),
    mnc: Type.Optional(Type.String()),
    tac: Type.Optional(Type.Integer()),
    eci: Type.Optional(Type.Integer()),
    lac: Type.Optional(Type.Integer()),
    ci: Type.Optional(Type.Integer()),
    sac: Type.Optional(Type.Integer()),
    rac: Type.Optional(Type.Integer()),
  },
  { $id: 'Cell' },
);
const CellRef = Type.Ref('Cell');

export const SessionStatus = Type.Object({
  online: Type.Boolean(),
  sessionId: Type.Optional(Type.String()),
  imsi: Type.Optional(Type.String()),
  imei: Type.Optional(Nullable(Type.String())),
  ueIpAddress: Type.Optional(Nullable(Type.String())),
  apn: Type.Optional(Nullable(Type.String())),
  cell: Type.Optional(Nullable(CellRef)),
  createdTime: Type.Optional(Type.Integer({ description: 'Unix milliseconds' })),
  lastUpdatedAt: Type.Integer({ description: 'Unix milliseconds' }),
});

export const PreviousSession = Type.Object({
  sessionId: Type.String(),
  imsi: Type.String(),
  imei: Nullable(Type.String()),
  ueIpAddress: Nullable(Type.String()),
  apn: Nullable(Type.String()),
  cell: Nullable(CellRef),
  createdTime: Type.Integer({ description: 'Unix milliseconds' }),
  deletedTime: Type.Integer({ description: 'Unix milliseconds' }),
});

/** What the card last reported through the toolkit (POST /v1/sims/{sim_id}/report_local_info). */
export const LocalInfo = Type.Object(
  {
    imei: Nullable(Type.String()),
    cell: Nullable(CellRef),
    reportedTime: Type.Integer({ description: 'Unix milliseconds: when the verified report arrived' }),
  },
  { description: 'The IMEI and serving cell the card reported (anti-theft applet, REPORT LOCAL INFO).' },
);

export const Sim = Type.Object(
  {
    simId: Type.String(),
    operatorId: Type.String(),
    type: Type.String(),
    eid: Type.Optional(Type.String({ description: 'eUICC SIMs (type euicc): the EID, also their simId.' })),
    handedOver: Type.Optional(
      Type.Union(
        [
          Type.Object({
            smsrId: Type.String({ description: 'The SM-SR that manages the eUICC now.' }),
            time: Type.Integer({ description: 'Unix milliseconds of the SM-SR change.' }),
          }),
          Type.Null(),
        ],
        {
          description:
            "eUICC SIMs: set when a switch handed the eUICC over to another operator's SM-SR (its profiles then show handed-over); null while this deployment's SM-SR manages it.",
        },
      ),
    ),
    status: Type.String(),
    speedClass: Type.String(),
    groupId: Type.Union([Type.String(), Type.Null()]),
    tags: TagMap,
    imeiLock: Type.Union([ImeiLock, Type.Null()]),
    terminationEnabled: Type.Boolean(),
    serialNumber: Type.Union([Type.String(), Type.Null()]),
    activeProfileId: Type.Union([Type.String(), Type.Null()]),
    profiles: Type.Record(Type.String(), Profile),
    sessionStatus: Nullable(SessionStatus),
    previousSession: Nullable(PreviousSession),
    localInfo: Nullable(LocalInfo),
    expiryTime: Nullable(
      Type.Integer({ description: 'Unix milliseconds when the SIM expires (setSimExpiryTime); null: never' }),
    ),
    expiryAction: Nullable(
      Type.String({
        description: `What happens at expiryTime: ${EXPIRY_ACTIONS.join(', ')}; null: no expiry`,
      }),
    ),
    createdTime: Type.Integer({ description: 'Unix milliseconds' }),
    lastModifiedTime: Type.Integer({ description: 'Unix milliseconds' }),
  },
  { $id: 'Sim' },
);

/** SORACOM's `ExpiryTime` (body of setSimExpiryTime). */
export const ExpiryTimeBody = Type.Object(
  {
    expiryTime: Type.Integer({
      description: 'Unix milliseconds when the SIM expires; must be in the future.',
    }),
    expiryAction: Type.Optional(
      Type.Union(
        EXPIRY_ACTIONS.map((a) => Type.Literal(a)),
        {
          description:
            'What happens at expiryTime (doNothing when absent): deleteSession ends the data session, deactivate/suspend/terminate move the status (terminate needs enable_termination first). Every expiry also raises SimExpiredRule/SubscriberExpiredRule.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ListSimsQuery = Type.Object(
  {
    limit: Type.Optional(Limit),
    last_evaluated_key: Type.Optional(LastEvaluatedKey),
    status_filter: Type.Optional(
      Type.String({
        maxLength: 200,
        description: `Statuses separated by "|" (${SIM_STATUSES.join(', ')}).`,
      }),
    ),
    speed_class_filter: Type.Optional(
      Type.String({ maxLength: 200, description: 'Speed classes separated by "|".' }),
    ),
    group_id: Type.Optional(Type.String({ maxLength: 64 })),
    imsi_prefix: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    iccid_prefix: Type.Optional(Type.String({ pattern: '^[0-9]{1,20}$' })),
    msisdn_prefix: Type.Optional(
      Type.String({
        pattern: '^\\+?[0-9]{1,15}$',
        description:
          'SIMs with a profile whose MSISDN starts with these digits (a leading "+" is ignored; MSISDNs are stored without it).',
      }),
    ),
    ...TagFilter,
  },
  { additionalProperties: false },
);

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-fA-F]{${bytes * 2}}$` });

/**
 * simtrust extension of createSim (not in SORACOM's API): the card's SCP80 OTA key sets and its
 * anti-theft applet, stored with the SIM in one transaction (docs/anti-theft.md, "Provisioning").
 * Keys are sealed at rest and never returned.
 */
const SimOta = Type.Object(
  {
    keySets: Type.Array(
      Type.Object(
        {
          kvn: Type.Integer({
            minimum: 1,
            maximum: 15,
            description: 'Key version number (KIc/KID high nibble).',
          }),
          kic: Type.String({ pattern: '^[0-9a-fA-F]{16,64}$', description: 'Ciphering key, hex (secret).' }),
          kid: Type.String({ pattern: '^[0-9a-fA-F]{16,64}$', description: 'Checksum key, hex (secret).' }),
          kicAlgorithm: Type.Optional(
            Type.Union(
              (['aes-cbc', '3des-2key-cbc', '3des-3key-cbc', 'des-cbc'] as const).map((a) => Type.Literal(a)),
              { description: 'Default aes-cbc.' },
            ),
          ),
          kidAlgorithm: Type.Optional(
            Type.Union(
              (['aes-cmac', '3des-2key-cbc-mac', '3des-3key-cbc-mac', 'des-cbc-mac'] as const).map((a) =>
                Type.Literal(a),
              ),
              { description: 'Default aes-cmac.' },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 15 },
    ),
    antiTheft: Type.Optional(
      Type.Object(
        {
          quarantineImsi: Type.String({
            pattern: '^[0-9]{6,15}$',
            description:
              "The IMSI the applet switches the card to when it blocks: admitted for SMS, refused every data session. Unique; no subscriber's IMSI.",
          }),
          kvn: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 15, description: "Commands' key set; default the first." }),
          ),
          reportKvn: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 15, description: "Alerts' key set; default kvn." }),
          ),
          tar: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{6}$', description: 'Default C0A7C0.' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'simtrust extension: OTA key sets (SCP80) and the anti-theft applet of the card, stored sealed; never returned.',
  },
);

export const CreateSimBody = Type.Object(
  {
    iccid: Type.Optional(Type.String({ pattern: '^[0-9]{18,20}$', description: 'Generated when absent.' })),
    imsi: Type.String({ pattern: '^[0-9]{6,15}$' }),
    msisdn: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{1,15}$' })),
    ki: Hex(16),
    opc: Type.Optional(Hex(16)),
    op: Type.Optional(Hex(16)),
    amf: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4}$' })),
    type: Type.Optional(Type.Union(SIM_TYPES.map((t) => Type.Literal(t)))),
    serialNumber: Type.Optional(Type.String({ maxLength: 64 })),
    speedClass: Type.Optional(SpeedClass),
    groupId: Type.Optional(Type.String({ maxLength: 64 })),
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 })),
    ),
    ota: Type.Optional(SimOta),
  },
  { additionalProperties: false },
);

export const StatusHistory = Type.Array(
  Type.Object({
    status: Type.String(),
    previousStatus: Type.Union([Type.String(), Type.Null()]),
    operation: Type.String(),
    actor: Type.String(),
    time: Type.Integer(),
  }),
);

const importSummaryFields = {
  rows: Type.Integer(),
  created: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(
    Type.Object({
      line: Type.Integer(),
      code: Type.String(),
      reason: Type.String(),
      iccid: Type.Optional(Type.String()),
    }),
  ),
};

export const ImportSummary = Type.Object(importSummaryFields);

/** 422: some rows were rejected (the others were imported). */
export const ImportRejected = Type.Object({
  code: Type.String(),
  message: Type.String(),
  ...importSummaryFields,
});

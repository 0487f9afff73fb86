// The anti-theft applet of a SIM as the platform knows it (docs/anti-theft.md, "Platform side"): its
// TAR, key versions and quarantine IMSI, the state the card last reported over OTA, the last alert,
// the last PoR and the commands still waiting for one; and the SIM's anti-theft events. No key
// material is in any schema here, so none can be serialized.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import type { Platform } from '../../../platform/platform.js';
import { pageSize } from '../pagination.js';
import { Limit, responses } from '../schemas/common.js';
import { SimIdParams } from '../schemas/sims.js';

const Tag = 'Sim';
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** A cell as TS 102 223 §8.19 names it (the applet's registered cells). */
const AntiTheftCell = Type.Object({
  mcc: Type.String(),
  mnc: Type.String(),
  areaCode: Type.Integer({ description: 'LAC or TAC' }),
  cellIdentity: Type.String({ description: 'hex, as the terminal reported it' }),
});

const Tolerance = Type.Object({
  strikes: Type.Integer({ description: 'consecutive unregistered cells that block' }),
  windowSeconds: Type.Integer({
    description: 'seconds after the first unregistered cell that block (0: off)',
  }),
});

const Reported = Type.Object({
  mode: Type.String({ description: 'learning, armed or blocked' }),
  reason: Type.String({ description: 'none, imei_mismatch, cell_not_registered or remote_block' }),
  strikes: Type.Integer(),
  tolerance: Tolerance,
  imeis: Type.Array(Type.String()),
  cells: Type.Array(AntiTheftCell),
  alertDestination: Type.Optional(
    Type.Object({ ton: Type.Integer(), npi: Type.Integer(), number: Type.String() }),
  ),
  pendingAlert: Type.Optional(Type.String()),
});

const AntiTheftEvent = Type.Object({
  time: Type.Integer({ description: 'Unix milliseconds' }),
  event: Type.String({
    description:
      'ANTITHEFT_IMEI_BLOCKED, ANTITHEFT_CELL_BLOCKED, ANTITHEFT_REMOTE_BLOCKED or ANTITHEFT_UNBLOCKED',
  }),
  reason: Type.String(),
  imei: Nullable(Type.String()),
  cell: Nullable(AntiTheftCell),
});

const OtaCommand = Type.Object({
  id: Type.Integer(),
  counter: Type.Integer({ description: 'SCP80 CNTR the command was secured with' }),
  commands: Type.Array(
    Type.Object({
      op: Type.String(),
      imei: Type.Optional(Type.String()),
      cell: Type.Optional(AntiTheftCell),
      tolerance: Type.Optional(Tolerance),
    }),
  ),
  status: Type.Union([Type.Literal('pending'), Type.Literal('applied'), Type.Literal('failed')]),
  porStatus: Nullable(Type.Integer({ description: 'TS 102 225 Table 5 status of the verified PoR' })),
  result: Nullable(Type.Object({ executed: Type.Integer(), result: Type.String() })),
  createdTime: Type.Integer(),
  updatedTime: Type.Integer(),
});

const AntiTheft = Type.Object({
  simId: Type.String(),
  tar: Type.String({ description: "the applet's TAR (hex)" }),
  kvn: Type.Integer({ description: 'key version commands are secured with' }),
  reportKvn: Type.Integer({ description: 'key version the alerts come under' }),
  quarantineImsi: Type.String({
    description: 'the IMSI the applet uses once blocked: SMS only, no data session',
  }),
  reported: Nullable(Reported),
  reportedTime: Nullable(Type.Integer()),
  lastAlert: Nullable(AntiTheftEvent),
  lastPor: Nullable(OtaCommand),
  pendingCommands: Type.Array(OtaCommand),
});

export const antiTheftRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/sims/:sim_id/anti_theft',
      {
        schema: {
          tags: [Tag],
          operationId: 'getSimAntiTheft',
          summary:
            "The SIM's anti-theft applet: registered IMEIs and cells and mode as last reported by the card over OTA, the last alert, the last PoR and the commands waiting for one.",
          params: SimIdParams,
          response: responses({ 200: AntiTheft }, 404, 409),
        },
      },
      async (request) => {
        const operatorId = request.principal!.operatorId;
        await platform.sims.get(operatorId, request.params.sim_id);
        const view = await platform.ota.view(operatorId, request.params.sim_id);
        if (view === undefined)
          throw new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${request.params.sim_id} has no anti-theft applet known to the platform; provision it with its OTA key sets`,
          );
        return view;
      },
    );

    app.get(
      '/sims/:sim_id/events/anti_theft',
      {
        schema: {
          tags: [Tag],
          operationId: 'listSimAntiTheftEvents',
          summary: 'Anti-theft events of the SIM (verified alerts and confirmed unblocks), newest first.',
          params: SimIdParams,
          querystring: Type.Object({ limit: Type.Optional(Limit) }, { additionalProperties: false }),
          response: responses({ 200: Type.Array(AntiTheftEvent) }, 404),
        },
      },
      async (request) => {
        const operatorId = request.principal!.operatorId;
        await platform.sims.get(operatorId, request.params.sim_id);
        return platform.ota.events(operatorId, request.params.sim_id, pageSize(request.query.limit));
      },
    );
  };

// The eSIM operator API (issue 15): register an eUICC from its EIS, download / enable / disable /
// delete a profile on it, audit it, switch it to another operator's deployment (issue 16), follow the
// operation. Each profile call answers 202 with an operation
// resource at once; its steps fill in as the SM-DP / SM-SR report (GET /v1/esim/operations/{id}).
// Permissions are `Esim:<operationId>` like the PKI's; every call leaves an audit record.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import {
  ESIM_OPERATION_KINDS,
  type EsimOperationView,
} from '../../../platform/esim/operations/operations-service.js';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import { responses } from '../schemas/common.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** ICCIDs as the inventory holds them (ITU-T E.118: 18–20 digits); an EIS may pad with F (SGP.02 ICCIDType). */
const Iccid = Type.String({
  pattern: '^[0-9]{18,20}[fF]?$',
  description: 'ICCID, 18 to 20 digits (a trailing F as an EIS may carry it).',
});
const SimIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z-]+$' });
const OperationId = Type.String({
  pattern: '^esop-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'esop-<UUID>; also the FunctionCallIdentifier of the ES2/ES4 request.',
});

const ExecutionStatus = Type.Object(
  {
    status: Type.String({ description: 'EXECUTED_SUCCESS, EXECUTED_WITHWARNING, FAILED or EXPIRED' }),
    subject: Type.Optional(Type.String({ description: 'SGP.02 §5.1.6.4 Subject code (OID)' })),
    reason: Type.Optional(Type.String({ description: 'SGP.02 §5.1.6.5 Reason code (OID)' })),
    message: Type.Optional(Type.String()),
  },
  { description: 'SGP.02 FunctionExecutionStatus.' },
);

export const EsimOperation = Type.Object(
  {
    operationId: OperationId,
    operatorId: Type.String(),
    simId: Type.String(),
    eid: Type.String(),
    iccid: Type.String(),
    kind: Type.Union(ESIM_OPERATION_KINDS.map((k) => Type.Literal(k))),
    profileType: Nullable(Type.String()),
    enable: Type.Boolean({ description: 'download: enable the profile once installed' }),
    status: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
    result: Type.Union([ExecutionStatus, Type.Null()]),
    target: Type.Union(
      [
        Type.Object({
          smsrId: Type.String({ description: 'The partner SM-SR taking the eUICC over (SM-SR2).' }),
          smdpId: Type.String({ description: 'The partner SM-DP downloading and enabling the profile.' }),
        }),
        Type.Null(),
      ],
      { description: 'switch: the target deployment; null for the other kinds.' },
    ),
    steps: Type.Array(
      Type.Object({
        name: Type.String({
          description: 'ES2.DownloadProfile, CreateISDP, ES4.EnableProfile, ES4.GetEIS, …',
        }),
        state: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
        startedTime: Type.Integer({ description: 'Unix milliseconds' }),
        endedTime: Type.Union([Type.Integer({ description: 'Unix milliseconds' }), Type.Null()]),
        status: Type.Union([ExecutionStatus, Type.Null()]),
      }),
    ),
    createdTime: Type.Integer({ description: 'Unix milliseconds' }),
    lastModifiedTime: Type.Integer({ description: 'Unix milliseconds' }),
    endedTime: Type.Union([Type.Integer({ description: 'Unix milliseconds' }), Type.Null()]),
  },
  { $id: 'EsimOperation' },
);
const EsimOperationRef = Type.Ref('EsimOperation');

const RegisterEuiccBody = Type.Object(
  {
    registerEisRequest: Type.String({
      minLength: 1,
      maxLength: 262_144,
      description:
        'The ES1-RegisterEISRequest SOAP 1.2 envelope as the EUM produced it (the EIS with its EumSignature).',
    }),
    eumCertificate: Type.String({
      minLength: 1,
      maxLength: 16_384,
      description: 'The EUM certificate (PEM) that signed the EIS.',
    }),
  },
  { additionalProperties: false },
);

const DownloadBody = Type.Object(
  {
    iccid: { ...Iccid, description: 'The profile of your inventory to download (its Ki/OPc stay sealed).' },
    profileType: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'SM-DP profile type, e.g. simtrust-usim or ts48-generic.',
    }),
    enable: Type.Optional(
      Type.Boolean({ default: false, description: 'Enable the profile once installed.' }),
    ),
  },
  { additionalProperties: false },
);

/** An SGP.02 entity id (OID), as the partners registry holds it. */
const EntityId = (description: string) =>
  Type.String({ minLength: 3, maxLength: 128, pattern: '^[0-2](\\.(0|[1-9][0-9]{0,8}))+$', description });

const SwitchBody = Type.Object(
  {
    targetSmsrId: EntityId(
      "The target operator's SM-SR (its entity id, a partner SM-SR of yours): ES4 PrepareSMSRChange there, then our SM-SR hands the eUICC over to it (SGP.02 §3.8).",
    ),
    targetSmdpId: EntityId(
      "The target operator's SM-DP (a partner SM-DP of yours): ES2 DownloadProfile with enable there, through the target SM-SR (SGP.02 §3.1).",
    ),
    profileType: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[\\x21-\\x7e]+$',
      description: "The target SM-DP's profile type, e.g. simtrust-usim.",
    }),
    iccid: Type.Optional({
      ...Iccid,
      description:
        "The target operator's profile, as agreed with it; absent: its SM-DP takes a free profile of the type from its switch pool.",
    }),
  },
  { additionalProperties: false },
);

const SimParams = Type.Object({ sim_id: SimIdParam });
const ProfileParams = Type.Object({ sim_id: SimIdParam, iccid: Iccid });
const OperationParams = Type.Object({ operation_id: OperationId });

export const esimOperationRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const ops = platform.esimOperations;
    app.addSchema(EsimOperation);

    app.post(
      '/esim/euiccs',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'registerEuicc',
          summary:
            'Register an eUICC from its EIS: ES1 RegisterEIS at the SM-SR, then the SIM (type euicc, simId = EID) with its profiles.',
          body: RegisterEuiccBody,
          response: responses({ 201: Type.Ref('Sim') }, 409, 422, 503),
        },
      },
      async (request, reply) => {
        const ctx = auditContext(request);
        const { simId } = await ops.registerEuicc(ctx, request.body);
        return reply.status(201).send(await platform.sims.get(ctx.principal.operatorId, simId));
      },
    );

    const accepted = (reply: { status(n: number): { send(v: unknown): unknown } }, v: EsimOperationView) =>
      reply.status(202).send(v);

    app.post(
      '/sims/:sim_id/profiles',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'downloadEsimProfile',
          summary:
            'Download a profile of your inventory to this eUICC through the SM-DP (ES2 DownloadProfile), optionally enabling it. Answers with the operation.',
          params: SimParams,
          body: DownloadBody,
          response: responses({ 202: EsimOperationRef }, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(reply, await ops.download(auditContext(request), request.params.sim_id, request.body)),
    );

    app.post(
      '/sims/:sim_id/profiles/:iccid/enable',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'enableEsimProfile',
          summary:
            'Enable a profile on this eUICC (ES4 EnableProfile at the SM-SR). Answers with the operation.',
          params: ProfileParams,
          response: responses({ 202: EsimOperationRef }, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(reply, await ops.enable(auditContext(request), request.params.sim_id, request.params.iccid)),
    );

    app.post(
      '/sims/:sim_id/profiles/:iccid/disable',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'disableEsimProfile',
          summary:
            'Disable a profile on this eUICC (ES4 DisableProfile; the fallback profile is enabled). Answers with the operation.',
          params: ProfileParams,
          response: responses({ 202: EsimOperationRef }, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(
          reply,
          await ops.disable(auditContext(request), request.params.sim_id, request.params.iccid),
        ),
    );

    app.delete(
      '/sims/:sim_id/profiles/:iccid',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'deleteEsimProfile',
          summary: 'Delete a profile from this eUICC (ES4 DeleteProfile). Answers with the operation.',
          params: ProfileParams,
          response: responses({ 202: EsimOperationRef }, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(reply, await ops.delete(auditContext(request), request.params.sim_id, request.params.iccid)),
    );

    app.post(
      '/sims/:sim_id/profiles/audit',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'auditEsimProfiles',
          summary:
            "Audit this eUICC (ES4 AuditEIS: the SM-SR reads the card and brings the EIS in line), then refresh the SIM's profiles from the EIS. Answers with the operation (kind audit, empty iccid).",
          params: SimParams,
          response: responses({ 202: EsimOperationRef }, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(reply, await ops.audit(auditContext(request), request.params.sim_id)),
    );

    app.post(
      '/sims/:sim_id/switch_operator',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'switchEsimOperator',
          summary:
            "Switch this eUICC to another operator's deployment: SM-SR change to its SM-SR (ES4 PrepareSMSRChange there, ES4 SMSRChange here), then its SM-DP downloads and enables its profile (ES2 DownloadProfile). Answers with the operation (kind switch); after the SM-SR change the SIM shows as handed over.",
          params: SimParams,
          body: SwitchBody,
          response: responses({ 202: EsimOperationRef }, 400, 404, 409, 503),
        },
      },
      async (request, reply) =>
        accepted(reply, await ops.switchOperator(auditContext(request), request.params.sim_id, request.body)),
    );

    app.get(
      '/esim/operations/:operation_id',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'getEsimOperation',
          summary: 'An eSIM operation with its steps as the SM-DP / SM-SR reported them.',
          params: OperationParams,
          response: responses({ 200: EsimOperationRef }, 404),
        },
      },
      async (request) => ops.get(request.principal!.operatorId, request.params.operation_id),
    );

    app.get(
      '/sims/:sim_id/esim/operations',
      {
        schema: {
          tags: ['Esim'],
          operationId: 'listEsimOperations',
          summary: "This eUICC's operations, newest first (at most 100).",
          params: SimParams,
          response: responses({ 200: Type.Array(EsimOperationRef) }, 404),
        },
      },
      async (request) => ops.list(request.principal!.operatorId, request.params.sim_id),
    );
  };

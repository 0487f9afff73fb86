// The anti-theft applet of a SIM as the platform knows it (docs/anti-theft.md, "Platform side"): its
// TAR, key versions and quarantine IMSI, the state the card last reported over OTA, the last alert,
// the last PoR and the commands still waiting for one; and the SIM's anti-theft events. Also SORACOM's
// reportSimLocalInfo (POST /sims/{sim_id}/report_local_info): the card reports its IMEI and location
// through the toolkit now (REPORT LOCAL INFO). No key material is in any schema here, so none can be
// serialized.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import {
  type Cell,
  type Command,
  decodeCommands,
  encodeCommands,
  sameCell,
} from '../../../lib/anti-theft-encoding.js';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../../platform/audit/audit-log.js';
import type { Platform } from '../../../platform/platform.js';
import { pageSize } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { Limit, responses } from '../schemas/common.js';
import { LocalInfo, SimIdParams } from '../schemas/sims.js';

const Tag = 'Sim';
const SimRef = Type.Ref('Sim');
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
      'ANTITHEFT_IMEI_BLOCKED, ANTITHEFT_CELL_BLOCKED, ANTITHEFT_REMOTE_BLOCKED, ANTITHEFT_UNBLOCKED or ANTITHEFT_LOCAL_INFO (the card answered report_local_info)',
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

const DesiredCell = Type.Object(
  {
    mcc: Type.String({ pattern: '^[0-9]{3}$' }),
    mnc: Type.String({ pattern: '^[0-9]{2,3}$' }),
    areaCode: Type.Integer({ minimum: 0, maximum: 65535, description: 'LAC or TAC' }),
    cellIdentity: Type.String({
      pattern: '^([0-9A-F]{4}|[0-9A-F]{8})$',
      description: 'hex as TS 102 223 §8.19 codes it: 4 digits (GERAN/UTRAN CI) or 8 (E-UTRAN ECI ‖ F)',
    }),
  },
  { additionalProperties: false },
);

const Desired = Type.Object(
  {
    imeis: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{15}$' }), { maxItems: 4 })),
    cells: Type.Optional(Type.Array(DesiredCell, { maxItems: 10 })),
    tolerance: Type.Optional(
      Type.Object(
        {
          strikes: Type.Integer({ minimum: 1, maximum: 255 }),
          windowSeconds: Type.Integer({ minimum: 0, maximum: 65535 }),
        },
        { additionalProperties: false },
      ),
    ),
    alertDestination: Type.Optional(
      Type.String({ pattern: '^[0-9]{3,20}$', description: 'international number the alerts go to' }),
    ),
  },
  { additionalProperties: false },
);

const Accepted = Type.Object({ desired: Type.Unknown(), command: OtaCommand });

const AntiTheft = Type.Object({
  simId: Type.String(),
  tar: Type.String({ description: "the applet's TAR (hex)" }),
  kvn: Type.Integer({ description: 'key version commands are secured with' }),
  reportKvn: Type.Integer({ description: 'key version the alerts come under' }),
  quarantineImsi: Type.String({
    description: 'the IMSI the applet uses once blocked: SMS only, no data session',
  }),
  desired: Type.Unknown({ description: 'the configuration last asked for with PUT (null: never)' }),
  reported: Nullable(Reported),
  reportedTime: Nullable(Type.Integer()),
  mode: Nullable(
    Type.Object(
      {
        mode: Type.String({ description: 'armed, learning or blocked' }),
        reason: Type.String(),
        source: Type.Union([Type.Literal('reported'), Type.Literal('alert')], {
          description:
            "reported: the card's last READ STATE; alert: a blocking alert received after that READ STATE",
        }),
        time: Type.Integer({ description: 'when the platform received it (ms)' }),
      },
      {
        description:
          'the mode to show: the card’s last READ STATE, or blocked when a blocking alert came after it (null: nothing reported yet)',
      },
    ),
  ),
  lastAlert: Nullable(AntiTheftEvent),
  lastPor: Nullable(OtaCommand),
  pendingCommands: Type.Array(OtaCommand),
  localInfo: Nullable(LocalInfo),
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

    /** Sends commands, answers 202 with the pending command (its PoR settles it later). */
    const send = async (operatorId: string, simId: string, commands: Command[]) => {
      // Every value must survive the applet's own decoder: what the card would refuse is refused here.
      const check = decodeCommands(encodeCommands(commands));
      if (!check.ok || JSON.stringify(check.value) !== JSON.stringify(commands))
        throw new SimtrustError(
          'ERR_VALIDATION',
          'a value does not fit the applet’s encoding; check IMEIs and cells',
        );
      const sent = await platform.ota.send(operatorId, simId, commands);
      return platform.ota.command(operatorId, sent.commandId);
    };

    app.put(
      '/sims/:sim_id/anti_theft',
      {
        schema: {
          tags: [Tag],
          operationId: 'putSimAntiTheft',
          summary:
            'Desired anti-theft configuration: the platform sends the OTA commands that take the card from its last reported state there (removals first), then READ STATE; 202 with the pending command.',
          params: SimIdParams,
          body: Desired,
          response: responses({ 202: Accepted }, 404, 409, 503),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        const simId = request.params.sim_id;
        await platform.sims.get(operatorId, simId);
        const view = await platform.ota.view(operatorId, simId);
        if (view === undefined)
          throw new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${simId} has no anti-theft applet known to the platform; provision it with its OTA key sets`,
          );
        const desired = request.body;
        const reportedImeis = view.reported?.imeis ?? [];
        const reportedCells: Cell[] = view.reported?.cells ?? [];
        const commands: Command[] = [];
        if (desired.imeis !== undefined) {
          for (const imei of reportedImeis)
            if (!desired.imeis.includes(imei)) commands.push({ op: 'removeImei', imei });
        }
        if (desired.cells !== undefined) {
          for (const cell of reportedCells)
            if (!desired.cells.some((c) => sameCell(c, cell))) commands.push({ op: 'removeCell', cell });
        }
        for (const imei of desired.imeis ?? [])
          if (!reportedImeis.includes(imei)) commands.push({ op: 'addImei', imei });
        for (const cell of desired.cells ?? [])
          if (!reportedCells.some((c) => sameCell(c, cell))) commands.push({ op: 'addCell', cell });
        if (desired.tolerance !== undefined)
          commands.push({ op: 'setTolerance', tolerance: desired.tolerance });
        if (desired.alertDestination !== undefined)
          commands.push({
            op: 'setAlertDestination',
            address: { ton: 1, npi: 1, number: desired.alertDestination },
          });
        commands.push({ op: 'readState' });
        const command = await send(operatorId, simId, commands);
        await platform.ota.setDesired(operatorId, simId, desired);
        await writeAudit(platform.store.db, {
          context: auditContext(request),
          result: 'success',
          detail: { simId, commandId: command?.id, commands: commands.map((c) => c.op) },
          at: platform.clock.now(),
        });
        reply.code(202);
        return { desired, command };
      },
    );

    app.post(
      '/sims/:sim_id/anti_theft/unblock',
      {
        schema: {
          tags: [Tag],
          operationId: 'unblockSimAntiTheft',
          summary:
            'Unblock the SIM over OTA (UNBLOCK, then READ STATE); 202 with the pending command. Its PoR adds ANTITHEFT_UNBLOCKED to the events.',
          params: SimIdParams,
          response: responses({ 202: OtaCommand }, 404, 409, 503),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        const simId = request.params.sim_id;
        await platform.sims.get(operatorId, simId);
        const command = await send(operatorId, simId, [{ op: 'unblock' }, { op: 'readState' }]);
        await writeAudit(platform.store.db, {
          context: auditContext(request),
          result: 'success',
          detail: { simId, commandId: command?.id },
          at: platform.clock.now(),
        });
        reply.code(202);
        return command;
      },
    );

    app.post(
      '/sims/:sim_id/report_local_info',
      {
        schema: {
          tags: [Tag],
          operationId: 'reportSimLocalInfo',
          summary:
            "Ask the SIM to report its IMEI and location now: the anti-theft applet runs PROVIDE LOCAL INFORMATION and sends a secured report over SMS; once verified it becomes the SIM's localInfo and an ANTITHEFT_LOCAL_INFO event. 202 with the SIM.",
          params: SimIdParams,
          response: responses({ 202: SimRef }, 404, 409, 503),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        const simId = request.params.sim_id;
        await platform.sims.get(operatorId, simId);
        if ((await platform.ota.antiTheftOf(operatorId, simId)) === undefined)
          throw new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${simId} has no anti-theft applet known to the platform, so it cannot report its local information; provision the applet with its OTA key sets`,
          );
        const command = await send(operatorId, simId, [{ op: 'reportLocalInfo' }]);
        await writeAudit(platform.store.db, {
          context: auditContext(request),
          result: 'success',
          detail: { simId, commandId: command?.id },
          at: platform.clock.now(),
        });
        reply.code(202);
        return platform.sims.get(operatorId, simId);
      },
    );
  };

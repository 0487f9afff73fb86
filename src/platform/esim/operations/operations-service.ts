// The operator layer of eSIM (issue 15, "In the platform, API and CLI"): eUICC SIMs in the inventory
// and the profile operations an operator asks for, each an operation resource whose steps show how
// the SM-DP / SM-SR got on. It sits ON the role ports (ports.ts), so it works the same whether the
// roles run in this process or elsewhere. Every operation is a table of small steps:
//
//   request    parse → load the eUICC SIM (tenant) → check the profile → take the eUICC's operation
//              slot (UNIQUE active_sim_id) + first step + audit record, one transaction → 202
//   run        ES2.DownloadProfile (SM-DP) or ES4.Enable/Disable/DeleteProfile (SM-SR), the roles'
//              progress reports recorded as steps meanwhile (progress.ts) → ES4.GetEIS to learn the
//              profile states the SM-SR now holds (a fallback enabled, an auto-deleted profile) →
//              the operation ends with the function's FunctionExecutionStatus
//
// The run is the request's continuation in this process. An operation whose process died stays
// `running` until recover() at the next start ends it failed (the SM-SR's own procedure recovery
// decides what the card did; the next GetEIS brings the states back in line) — except a switch
// (issue 16, switch/switch-service.ts), whose steps are stored before their messages leave:
// recover() resumes it from its stored step.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../lib/clock.js';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../audit/audit-log.js';
import { type AuditContext, systemContext } from '../../iam/principal.js';
import { DEFAULT_SPEED_CLASS } from '../../sims/model.js';
import { newSimRow } from '../../sims/sim-service.js';
import type { Executor, Store } from '../../store/database.js';
import type { EsimOperationStepsTable, EsimOperationsTable } from '../../store/schema.js';
import type { Es4NotificationPort } from '../es-ports.js';
import { type FunctionExecutionStatus, REASON_CODES, SUBJECT_CODES } from '../es-soap/sgp-02-status-codes.js';
import type { Eis } from '../es-soap/sgp-02-xml-types.js';
import { decodeSoapMessage } from '../es-soap/soap-envelope.js';
import {
  DEFAULT_SWITCH_TIMING,
  runSwitch,
  SWITCH_STEP_NAMES,
  type SwitchFrame,
  type SwitchPorts,
  type SwitchTiming,
} from '../switch/switch-service.js';
import { insertSwitch, loadSwitch, loadSwitches, type SwitchRow } from '../switch/switch-store.js';
import type { EsimRolePorts } from './ports.js';
import type { EsimProgressPort, EsimProgressReport, EsimStepState } from './progress.js';

export const ESIM_OPERATION_KINDS = ['download', 'enable', 'disable', 'delete', 'audit', 'switch'] as const;
export type EsimOperationKind = (typeof ESIM_OPERATION_KINDS)[number];
export type EsimOperationStatus = 'running' | 'succeeded' | 'failed';
/** Profile states as the SM-SR reports them (SGP.02 §5.1.1.1), plus `handed-over`. */
export const ESIM_PROFILE_STATES = ['Created', 'Disabled', 'Enabled', 'handed-over'] as const;

/** FunctionExecutionStatus as the API shows it (flat, no secrets by construction). */
export interface ExecutionStatusView {
  readonly status: string;
  readonly subject?: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface EsimOperationStepView {
  readonly name: string;
  readonly state: EsimStepState;
  readonly startedTime: number;
  readonly endedTime: number | null;
  readonly status: ExecutionStatusView | null;
}

export interface EsimOperationView {
  readonly operationId: string;
  readonly operatorId: string;
  readonly simId: string;
  readonly eid: string;
  readonly iccid: string;
  readonly kind: EsimOperationKind;
  readonly profileType: string | null;
  readonly enable: boolean;
  readonly status: EsimOperationStatus;
  readonly result: ExecutionStatusView | null;
  /** A switch: the partner SM-SR taking the eUICC over and the partner SM-DP downloading the profile. */
  readonly target: { readonly smsrId: string; readonly smdpId: string } | null;
  readonly steps: readonly EsimOperationStepView[];
  readonly createdTime: number;
  readonly lastModifiedTime: number;
  readonly endedTime: number | null;
}

export interface RegisterEuiccInput {
  /** The ES1-RegisterEISRequest SOAP 1.2 envelope as the EUM produced it (EumSignature inside). */
  readonly registerEisRequest: string;
  /** The EUM certificate (PEM) that signed the EIS. */
  readonly eumCertificate: string;
}

export interface DownloadInput {
  readonly iccid: string;
  readonly profileType: string;
  readonly enable?: boolean | undefined;
}

/** "Switch carrier" (issue 16): the target deployment's SM-SR and SM-DP, partners of the operator. */
export interface SwitchInput {
  readonly targetSmsrId: string;
  readonly targetSmdpId: string;
  readonly profileType: string;
  /** The target operator's profile, as agreed with it; absent: the target's SM-DP chooses one. */
  readonly iccid?: string | undefined;
}

type OperationRow = EsimOperationsTable;
type StepRow = EsimOperationStepsTable;

const OPERATION_ID = /^esop-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STEP_NAME_MAX = 100;
const STEP_MESSAGE_MAX = 500;
/** Steps one operation may record (a misbehaving reporter cannot grow a row without bound). */
const MAX_STEPS = 200;

const FUNCTION_OF: Record<EsimOperationKind, string> = {
  download: 'ES2.DownloadProfile',
  enable: 'ES4.EnableProfile',
  disable: 'ES4.DisableProfile',
  delete: 'ES4.DeleteProfile',
  audit: 'ES4.AuditEIS',
  switch: SWITCH_STEP_NAMES.prepare,
};
/** A switch run touches its row this often, so recover() elsewhere sees it alive. */
const SWITCH_HEARTBEAT_MS = 30_000;
/** recover() resumes a switch whose row nobody touched for this long (three heartbeats). */
export const SWITCH_IDLE_MS = 90_000;

/**
 * An ES4 request the SM-SR refused because another procedure runs on the eUICC (EUICC_BUSY, 8.1/3.7:
 * e.g. only the PoR of a notification confirmation is awaited). The request is sent again after each
 * of these waits (7.75 s in all) before the operation fails with the busy status.
 */
export const BUSY_RETRY_MS: readonly number[] = [250, 500, 1000, 1000, 1500, 1500, 2000];
const BUSY_STEP = 'eUICC busy: waiting to retry';
const isBusy = (s: FunctionExecutionStatus) =>
  s.status === 'FAILED' &&
  s.statusCodeData?.subject === SUBJECT_CODES.EUICC &&
  s.statusCodeData.reason === REASON_CODES.UNAVAILABLE;
const NOTIFICATION_STATE = { enabled: 'Enabled', disabled: 'Disabled', deleted: undefined } as const;
const NOTIFICATION_AUDIT = {
  enabled: 'Esim:handleProfileEnabledNotification',
  disabled: 'Esim:handleProfileDisabledNotification',
  deleted: 'Esim:handleProfileDeletedNotification',
} as const;

export function isEsimOperationId(id: string): boolean {
  return OPERATION_ID.test(id);
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function statusView(s: FunctionExecutionStatus): ExecutionStatusView {
  const d = s.statusCodeData;
  return {
    status: s.status,
    ...(d === undefined
      ? {}
      : {
          subject: d.subject,
          reason: d.reason,
          ...(d.message === undefined ? {} : { message: clip(d.message, STEP_MESSAGE_MAX) }),
        }),
  };
}

const succeeded = (s: FunctionExecutionStatus) =>
  s.status === 'EXECUTED_SUCCESS' || s.status === 'EXECUTED_WITHWARNING';

/** A port that rejected (a bug, a process going down): the step fails with this status. */
const PORT_BROKE: FunctionExecutionStatus = {
  status: 'FAILED',
  statusCodeData: { subject: '1.2', reason: '4.2', message: 'the role did not answer (port failure)' },
};

export class EsimOperations implements EsimProgressPort {
  #ports: EsimRolePorts | undefined;
  readonly #running = new Map<string, Promise<void>>();
  /** Writes of one operation's steps run one after the other (seq numbers, "latest running step"). */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** The waits between the attempts of an ES4 request the SM-SR answers busy (tests shorten them). */
  busyRetryMs: readonly number[] = BUSY_RETRY_MS;
  /** The switch's waits and validity periods (tests shorten them). */
  switchTiming: SwitchTiming = DEFAULT_SWITCH_TIMING;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Plug the roles in (serve: the in-process SM-SR/SM-DP or SOAP clients; tests: their own). */
  connect(ports: EsimRolePorts | undefined): void {
    this.#ports = ports;
  }

  get connected(): boolean {
    return this.#ports !== undefined;
  }

  // --- eUICC inventory ---------------------------------------------------------------------------

  /**
   * Registers an eUICC: the EIS goes to the SM-SR over ES1 (which verifies the EUM signature and the
   * ECASD → EUM → CI chain), then the SIM (type euicc, simId = EID) and its profiles are created.
   * An EIS the SM-SR already holds (ALREADY_IN_USE after every check passed) is linked.
   */
  async registerEuicc(ctx: AuditContext, input: RegisterEuiccInput): Promise<{ simId: string; eid: string }> {
    const decoded = decodeSoapMessage(input.registerEisRequest);
    if (!decoded.ok)
      throw new SimtrustError('ERR_ESIM_EIS_INVALID', `${decoded.error.code}: ${decoded.error.message}`);
    if (decoded.value.message.element !== 'ES1-RegisterEISRequest')
      throw new SimtrustError(
        'ERR_ESIM_EIS_INVALID',
        `expected an ES1-RegisterEISRequest, got ${decoded.value.message.element}`,
      );
    const body = decoded.value.message.body as { functionCallIdentifier: string; eis: Eis };
    const eis = body.eis;
    const eid = eis.eumSignedInfo.eid;
    const ports = this.#requirePorts();
    if (eis.smsrId !== ports.smsrId)
      throw new SimtrustError('ERR_ESIM_EIS_INVALID', 'the EIS names another SM-SR than this platform’s');
    const operatorId = ctx.principal.operatorId;
    const taken = await this.store.db
      .selectFrom('sims')
      .select('sim_id')
      .where('sim_id', '=', eid)
      .executeTakeFirst();
    if (taken !== undefined) throw new SimtrustError('ERR_ESIM_EUICC_EXISTS', `EID ${eid} is registered`);
    let status: FunctionExecutionStatus;
    try {
      status = (await ports.es1(input.eumCertificate).registerEIS(body)).functionExecutionStatus;
    } catch {
      status = PORT_BROKE;
    }
    const linked = status.status === 'FAILED' && status.statusCodeData?.reason === '3.3';
    if (!succeeded(status) && !linked) {
      const now = this.clock.now();
      await writeAudit(this.store.db, {
        context: ctx,
        result: 'failure',
        detail: { eid, refusal: statusView(status) },
        at: now,
      });
      throw new SimtrustError(
        'ERR_ESIM_REGISTRATION_REFUSED',
        `the SM-SR refused the EIS: ${status.statusCodeData?.message ?? status.status}`,
        { details: { ...statusView(status) } },
      );
    }
    const now = this.clock.now();
    try {
      await this.store.transaction(async (trx) => {
        await trx
          .insertInto('sims')
          .values(
            newSimRow(operatorId, eid, now, {
              type: 'euicc',
              speedClass: DEFAULT_SPEED_CLASS,
              groupId: null,
              serialNumber: null,
            }),
          )
          .execute();
        await trx
          .insertInto('esim_euiccs')
          .values({ sim_id: eid, operator_id: operatorId, eid, smsr_id: eis.smsrId, created_at: now })
          .execute();
        await replaceProfiles(trx, operatorId, eid, eis, now, undefined);
        await trx
          .insertInto('sim_status_history')
          .values({
            sim_id: eid,
            operator_id: operatorId,
            previous_status: null,
            status: 'ready',
            operation: ctx.operationId,
            actor: `${ctx.principal.kind}:${ctx.principal.id}`,
            at: now,
          })
          .execute();
        await writeAudit(trx, {
          context: ctx,
          result: 'success',
          detail: { simId: eid, eid, smsrId: eis.smsrId, linked, profiles: eis.profiles.length },
          at: now,
        });
      });
    } catch (e) {
      const again = await this.store.db
        .selectFrom('sims')
        .select('sim_id')
        .where('sim_id', '=', eid)
        .executeTakeFirst();
      if (again !== undefined) throw new SimtrustError('ERR_ESIM_EUICC_EXISTS', `EID ${eid} is registered`);
      throw e;
    }
    return { simId: eid, eid };
  }

  // --- operations ----------------------------------------------------------------------------------

  async download(ctx: AuditContext, simId: string, input: DownloadInput): Promise<EsimOperationView> {
    const operatorId = ctx.principal.operatorId;
    const euicc = await this.#euicc(operatorId, simId);
    const inventory = await this.store.db
      .selectFrom('sim_profiles')
      .select(['iccid'])
      .where('iccid', '=', input.iccid)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (inventory === undefined)
      throw new SimtrustError('ERR_ESIM_PROFILE_NOT_FOUND', `no profile ${input.iccid} in your inventory`);
    const placed = await this.store.db
      .selectFrom('esim_profiles')
      .select('sim_id')
      .where('iccid', '=', input.iccid)
      .executeTakeFirst();
    if (placed !== undefined)
      throw new SimtrustError('ERR_CONFLICT', `profile ${input.iccid} is already on an eUICC`);
    const ports = this.#requirePorts();
    const es2 = ports.es2(operatorId);
    if (es2 === undefined) throw new SimtrustError('ERR_ESIM_NOT_CONNECTED', 'no SM-DP serves this operator');
    const op = await this.#begin(
      ctx,
      euicc,
      'download',
      input.iccid,
      input.profileType,
      input.enable ?? false,
    );
    this.#start(op.operation_id, async () => {
      const r = await this.#call(op, () =>
        es2.downloadProfile({
          functionCallIdentifier: op.operation_id,
          eid: euicc.eid,
          smsrId: euicc.smsr_id,
          profileType: input.profileType,
          iccid: input.iccid,
          enableProfile: input.enable ?? false,
        }),
      );
      if (succeeded(r)) {
        await this.store.db
          .insertInto('esim_profiles')
          .values({
            iccid: input.iccid,
            sim_id: euicc.sim_id,
            operator_id: operatorId,
            mno_id: ports.mnoId(operatorId) ?? '',
            state: input.enable ? 'Enabled' : 'Disabled',
            imsi: null,
            msisdn: null,
            profile_type: input.profileType,
            updated_at: this.clock.now(),
          })
          // The card's notification may have brought the row first (its state is the newer).
          .onConflict((oc) => oc.column('iccid').doUpdateSet({ profile_type: input.profileType }))
          .execute();
      }
      return r;
    });
    return this.#view(op);
  }

  enable(ctx: AuditContext, simId: string, iccid: string): Promise<EsimOperationView> {
    return this.#es4(ctx, simId, iccid, 'enable');
  }

  disable(ctx: AuditContext, simId: string, iccid: string): Promise<EsimOperationView> {
    return this.#es4(ctx, simId, iccid, 'disable');
  }

  delete(ctx: AuditContext, simId: string, iccid: string): Promise<EsimOperationView> {
    return this.#es4(ctx, simId, iccid, 'delete');
  }

  /**
   * ES4.AuditEIS (SGP.02 §5.5, AuditEIS; a simtrust route): the SM-SR reads the eUICC (GET STATUS, memory)
   * and brings its EIS in line; then GetEIS refreshes this inventory like any operation. The
   * operation's `iccid` is empty (the whole eUICC is audited).
   */
  async audit(ctx: AuditContext, simId: string): Promise<EsimOperationView> {
    const operatorId = ctx.principal.operatorId;
    const euicc = await this.#euicc(operatorId, simId);
    const es4 = this.#requirePorts().es4(operatorId);
    if (es4 === undefined)
      throw new SimtrustError('ERR_ESIM_NOT_CONNECTED', 'the SM-SR knows no MNO identity of this operator');
    const op = await this.#begin(ctx, euicc, 'audit', '', null, false);
    this.#start(op.operation_id, () =>
      this.#call(
        op,
        () => es4.auditEIS({ functionCallIdentifier: op.operation_id, eid: euicc.eid, iccids: [] }),
        true,
      ),
    );
    return this.#view(op);
  }

  // --- switch carrier (issue 16) --------------------------------------------------------------------

  /**
   * Moves the eUICC to another operator's deployment (switch/switch-service.ts): SM-SR change to its
   * SM-SR, then its SM-DP downloads and enables the profile. request: load the eUICC (ours, not
   * handed over) → our SM-SR runs SM-SR changes → the target SM-SR and SM-DP are partners of this
   * operator → take the eUICC's operation slot with the switch row, first step and audit record in
   * one transaction (a second switch meanwhile: 409) → 202; the steps run in the background.
   */
  async switchOperator(ctx: AuditContext, simId: string, input: SwitchInput): Promise<EsimOperationView> {
    const operatorId = ctx.principal.operatorId;
    const euicc = await this.#euicc(operatorId, simId);
    const ports = this.#requirePorts();
    if (input.targetSmsrId === euicc.smsr_id)
      throw new SimtrustError(
        'ERR_VALIDATION',
        `the eUICC is already managed by SM-SR ${input.targetSmsrId}: name the other operator's SM-SR`,
      );
    if (ports.smsrChange?.(operatorId) === undefined)
      throw new SimtrustError(
        'ERR_ESIM_NOT_CONNECTED',
        'this deployment runs no SM-SR change for this operator (its SM-SR hands no eUICC over)',
      );
    if (ports.partnerSmsr?.(operatorId, input.targetSmsrId) === undefined)
      throw new SimtrustError(
        'ERR_ESIM_PARTNER_NOT_FOUND',
        `SM-SR ${input.targetSmsrId} is not a partner of yours: add it with \`simtrust esim partners add --role sm-sr\``,
        { details: { field: 'targetSmsrId' } },
      );
    if (ports.partnerSmdp?.(operatorId, input.targetSmdpId) === undefined)
      throw new SimtrustError(
        'ERR_ESIM_PARTNER_NOT_FOUND',
        `SM-DP ${input.targetSmdpId} is not a partner of yours: add it with \`simtrust esim partners add --role sm-dp\``,
        { details: { field: 'targetSmdpId' } },
      );
    const op = await this.#begin(ctx, euicc, 'switch', input.iccid ?? '', input.profileType, true, {
      detail: { targetSmsrId: input.targetSmsrId, targetSmdpId: input.targetSmdpId },
      within: (trx, row) =>
        insertSwitch(trx, {
          operation_id: row.operation_id,
          operator_id: row.operator_id,
          eid: row.eid,
          source_smsr_id: euicc.smsr_id,
          target_smsr_id: input.targetSmsrId,
          target_smdp_id: input.targetSmdpId,
          profile_type: input.profileType,
          iccid: input.iccid ?? null,
          step: 'prepare',
          created_at: row.created_at,
          updated_at: row.created_at,
        }),
    });
    this.#startSwitch(op, false);
    return this.#view(op);
  }

  /** Runs (resumed: continues) a switch in the background; its end is recorded whatever happens. */
  #startSwitch(op: OperationRow, resumed: boolean): void {
    const id = op.operation_id;
    this.#start(
      id,
      async () => {
        const row = await loadSwitch(this.store.db, id);
        if (row === undefined) throw new Error(`switch ${id} has no row`);
        const ports = this.#switchPorts(row);
        if (ports === undefined)
          return {
            status: 'FAILED',
            statusCodeData: {
              subject: '1.2',
              reason: '3.7',
              message: `the switch cannot go on: SM-SR ${row.target_smsr_id} or SM-DP ${row.target_smdp_id} is no longer a partner, or no SM-SR change runs here (step ${row.step}${row.step === 'prepare' || row.step === 'smsr-change' ? '; this deployment’s SM-SR still manages the eUICC unless it handed it over before' : '; the eUICC is handed over'})`,
            },
          };
        const beat = setInterval(() => {
          void this.#touch(id, this.clock.now()).catch(() => undefined);
        }, SWITCH_HEARTBEAT_MS);
        beat.unref();
        try {
          const status = await runSwitch(this.#switchFrame, row, ports, {
            resumed,
            timing: this.switchTiming,
            simId: op.sim_id,
          });
          // The profile the target's SM-DP chose is the operation's ICCID (and its event's).
          const iccid = (await loadSwitch(this.store.db, id))?.iccid;
          if (iccid != null && iccid !== op.iccid)
            await this.store.db
              .updateTable('esim_operations')
              .set({ iccid })
              .where('operation_id', '=', id)
              .execute();
          return status;
        } finally {
          clearInterval(beat);
        }
      },
      false,
    );
  }

  #switchPorts(row: SwitchRow): SwitchPorts | undefined {
    const p = this.#ports;
    const change = p?.smsrChange?.(row.operator_id);
    const prepare = p?.partnerSmsr?.(row.operator_id, row.target_smsr_id);
    const download = p?.partnerSmdp?.(row.operator_id, row.target_smdp_id);
    if (change === undefined || prepare === undefined || download === undefined) return undefined;
    return { change, prepare, download };
  }

  /** The operation's steps as the switch runner writes them. */
  get #switchFrame(): SwitchFrame {
    return {
      store: this.store,
      clock: this.clock,
      open: (id: string, name: string) =>
        this.#serial(id, async () => {
          const open = await this.store.db
            .selectFrom('esim_operation_steps')
            .select('seq')
            .where('operation_id', '=', id)
            .where('name', '=', name)
            .where('state', '=', 'running')
            .executeTakeFirst();
          if (open !== undefined) return;
          const now = this.clock.now();
          await this.#appendStep(id, {
            name,
            state: 'running',
            started_at: now,
            ended_at: null,
            status: null,
            subject: null,
            reason: null,
            message: null,
          });
          await this.#touch(id, now);
        }),
      close: (
        id: string,
        name: string,
        state: 'succeeded' | 'failed',
        status?: FunctionExecutionStatus,
        detail?: string,
      ) =>
        this.report({
          functionCallIdentifier: id,
          step: name,
          state,
          ...(status === undefined ? {} : { status }),
          ...(detail === undefined ? {} : { detail }),
        }),
      note: (id: string, name: string, message: string) =>
        this.#serial(id, () => this.#noteRunning(id, name, message)),
    };
  }

  /**
   * The target side of a switch (switch/target.ts): an eUICC that came to this deployment's SM-SR by
   * an SM-SR change, with a profile of `operatorId` now on it, enters that operator's inventory — a new
   * eUICC SIM (simId = EID), or the SIM it handed over earlier taken back (1 → 2 → 1) — its profiles
   * from ES4 GetEIS at our SM-SR, with an audit record. False when our SM-SR does not hold the EIS, or
   * the EID is a SIM of another operator here.
   */
  async adoptEuicc(operatorId: string, eid: string, detail: Record<string, unknown> = {}): Promise<boolean> {
    const ports = this.#ports;
    const es4 = ports?.es4(operatorId);
    if (ports === undefined || es4 === undefined) return false;
    let r: Awaited<ReturnType<typeof es4.getEIS>>;
    try {
      r = await es4.getEIS({ functionCallIdentifier: `esad-${randomUUID()}`, eid });
    } catch {
      return false;
    }
    const eis = r.eis;
    if (!succeeded(r.functionExecutionStatus) || eis === undefined || eis.smsrId !== ports.smsrId)
      return false;
    const now = this.clock.now();
    const adopt = () =>
      this.store.transaction(async (trx) => {
        const sim = await trx
          .selectFrom('sims')
          .select(['operator_id', 'type'])
          .where('sim_id', '=', eid)
          .executeTakeFirst();
        if (sim !== undefined && (sim.operator_id !== operatorId || sim.type !== 'euicc')) return false;
        const known = await trx
          .selectFrom('esim_euiccs')
          .select(['smsr_id', 'handed_over_to'])
          .where('sim_id', '=', eid)
          .executeTakeFirst();
        if (sim === undefined) {
          await trx
            .insertInto('sims')
            .values(
              newSimRow(operatorId, eid, now, {
                type: 'euicc',
                speedClass: DEFAULT_SPEED_CLASS,
                groupId: null,
                serialNumber: null,
              }),
            )
            .execute();
          await trx
            .insertInto('sim_status_history')
            .values({
              sim_id: eid,
              operator_id: operatorId,
              previous_status: null,
              status: 'ready',
              operation: 'Esim:adoptEuicc',
              actor: 'system:sm-dp',
              at: now,
            })
            .execute();
        }
        if (known === undefined)
          await trx
            .insertInto('esim_euiccs')
            .values({ sim_id: eid, operator_id: operatorId, eid, smsr_id: eis.smsrId, created_at: now })
            .execute();
        else
          await trx
            .updateTable('esim_euiccs')
            .set({ smsr_id: eis.smsrId, handed_over_to: null, handed_over_at: null })
            .where('sim_id', '=', eid)
            .execute();
        await replaceProfiles(trx, operatorId, eid, eis, now, ports.mnoId(operatorId));
        await writeAudit(trx, {
          context: systemContext(operatorId, 'Esim:adoptEuicc', 'sm-dp'),
          result: 'success',
          detail: {
            simId: eid,
            eid,
            smsrId: eis.smsrId,
            ...detail,
            returned: known !== undefined,
            profiles: eis.profiles.map((p) => p.iccid),
          },
          at: now,
        });
        return true;
      });
    try {
      return await adopt();
    } catch {
      // Two adoptions raced for the new SIM row: the second finds it and updates.
      return adopt();
    }
  }

  // --- ES4 notifications (SM-SR → operator, SGP.02 §5.5) ---------------------------------------------

  /**
   * The operator layer as the receiver of the SM-SR's ES4 notifications for the MNO `mnoId`: a profile
   * the card enabled, disabled or deleted — inside an operation or on its own (a fall-back, a change
   * another party asked for) — changes the inventory row of that profile, and an audit record of the
   * eUICC's operator (actor system:sm-sr) says so, in one transaction. Only a profile of this MNO on
   * an eUICC of this inventory is touched (another MNO's notification changes nothing here); a
   * profile the inventory does not hold yet brings the eUICC's profiles in by ES4 GetEIS; an unknown
   * eUICC is acknowledged and ignored. serve wires it for the deployment's own operators
   * (esim-runtime.ts); the SM-SR's outbox delivers (and repeats) it.
   */
  es4Notifications(mnoId: string): Es4NotificationPort {
    const on =
      (kind: keyof typeof NOTIFICATION_STATE) =>
      (b: { eid: string; iccid: string; completionTimestamp: Date }) =>
        this.#heard(mnoId, kind, b);
    return {
      handleProfileEnabledNotification: on('enabled'),
      handleProfileDisabledNotification: on('disabled'),
      handleProfileDeletedNotification: on('deleted'),
      handleSMSRChangeNotification: (b) => this.#smsrChanged(mnoId, b),
    };
  }

  /**
   * ES4 HandleSMSRChangeNotification (SGP.02 §3.8 step 31): another SM-SR manages the eUICC now. The
   * inventory's SM-SR of that eUICC follows, with an audit record (actor system:sm-sr), in one
   * transaction — only for an eUICC of this inventory on which the MNO has a profile or whose
   * operator it is; a repeat changes nothing.
   */
  async #smsrChanged(mnoId: string, b: { eis: Eis; completionTimestamp: Date }): Promise<void> {
    const eid = b.eis.eumSignedInfo.eid;
    const euicc = await this.store.db
      .selectFrom('esim_euiccs')
      .selectAll()
      .where('eid', '=', eid)
      .executeTakeFirst();
    if (euicc === undefined || euicc.smsr_id === b.eis.smsrId) return;
    const concerned =
      this.#ports?.mnoId(euicc.operator_id) === mnoId || b.eis.profiles.some((p) => p.mnoId === mnoId);
    if (!concerned) return;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await trx
        .updateTable('esim_euiccs')
        .set({ smsr_id: b.eis.smsrId })
        .where('sim_id', '=', euicc.sim_id)
        .execute();
      await writeAudit(trx, {
        context: systemContext(euicc.operator_id, 'Esim:handleSMSRChangeNotification', 'sm-sr'),
        result: 'success',
        detail: {
          simId: euicc.sim_id,
          eid,
          previousSmsrId: euicc.smsr_id,
          smsrId: b.eis.smsrId,
          completionTimestamp: b.completionTimestamp.getTime(),
        },
        at: now,
      });
    });
  }

  async #heard(
    mnoId: string,
    kind: keyof typeof NOTIFICATION_STATE,
    b: { eid: string; iccid: string; completionTimestamp: Date },
  ): Promise<void> {
    const euicc = await this.store.db
      .selectFrom('esim_euiccs')
      .selectAll()
      .where('eid', '=', b.eid)
      .executeTakeFirst();
    if (euicc === undefined) return;
    const row = await this.store.db
      .selectFrom('esim_profiles')
      .select(['iccid', 'mno_id', 'state'])
      .where('sim_id', '=', euicc.sim_id)
      .where('iccid', '=', b.iccid)
      .executeTakeFirst();
    const ownerMno = this.#ports?.mnoId(euicc.operator_id);
    const state = NOTIFICATION_STATE[kind];
    if (row === undefined) {
      // A profile the inventory does not hold yet (a download whose operation has not ended — the
      // card notifies before the SM-DP answers —, or one placed by another party): the EIS says all.
      if (state === undefined || ownerMno !== mnoId) return;
      const es4 = this.#ports?.es4(euicc.operator_id);
      const r = await es4?.getEIS({ functionCallIdentifier: `esnt-${randomUUID()}`, eid: euicc.eid });
      const eis = r?.eis;
      if (eis === undefined || r === undefined || !succeeded(r.functionExecutionStatus)) return;
      const now = this.clock.now();
      await this.store.transaction(async (trx) => {
        await replaceProfiles(trx, euicc.operator_id, euicc.sim_id, eis, now, ownerMno);
        await writeAudit(trx, {
          context: systemContext(euicc.operator_id, NOTIFICATION_AUDIT[kind], 'sm-sr'),
          result: 'success',
          detail: {
            simId: euicc.sim_id,
            eid: euicc.eid,
            iccid: b.iccid,
            previousState: null,
            state,
            completionTimestamp: b.completionTimestamp.getTime(),
          },
          at: now,
        });
      });
      return;
    }
    if (row.mno_id !== mnoId && ownerMno !== mnoId) return;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      if (state === undefined)
        await trx
          .deleteFrom('esim_profiles')
          .where('sim_id', '=', euicc.sim_id)
          .where('iccid', '=', b.iccid)
          .execute();
      else {
        // One profile of an eUICC is enabled (SGP.02 §2.2.1): the one enabled before is not any more.
        if (state === 'Enabled')
          await trx
            .updateTable('esim_profiles')
            .set({ state: 'Disabled', updated_at: now })
            .where('sim_id', '=', euicc.sim_id)
            .where('state', '=', 'Enabled')
            .where('iccid', '!=', b.iccid)
            .execute();
        await trx
          .updateTable('esim_profiles')
          .set({ state, updated_at: now })
          .where('sim_id', '=', euicc.sim_id)
          .where('iccid', '=', b.iccid)
          .execute();
      }
      await writeAudit(trx, {
        context: systemContext(euicc.operator_id, NOTIFICATION_AUDIT[kind], 'sm-sr'),
        result: 'success',
        detail: {
          simId: euicc.sim_id,
          eid: euicc.eid,
          iccid: b.iccid,
          previousState: row.state,
          state: state ?? 'deleted',
          completionTimestamp: b.completionTimestamp.getTime(),
        },
        at: now,
      });
    });
  }

  async get(operatorId: string, operationId: string): Promise<EsimOperationView> {
    const row = isEsimOperationId(operationId)
      ? await this.store.db
          .selectFrom('esim_operations')
          .selectAll()
          .where('operation_id', '=', operationId)
          .where('operator_id', '=', operatorId)
          .executeTakeFirst()
      : undefined;
    if (row === undefined) throw new SimtrustError('ERR_ESIM_OPERATION_NOT_FOUND', 'no such eSIM operation');
    return this.#view(row);
  }

  /** The SIM's operations, newest first. */
  async list(operatorId: string, simId: string, limit = 100): Promise<EsimOperationView[]> {
    await this.#euicc(operatorId, simId, true);
    const rows = await this.store.db
      .selectFrom('esim_operations')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('sim_id', '=', simId)
      .orderBy('created_at', 'desc')
      .orderBy('operation_id', 'desc')
      .limit(limit)
      .execute();
    const steps = await this.#stepsOf(rows.map((r) => r.operation_id));
    const switches = await loadSwitches(
      this.store.db,
      rows.filter((r) => r.kind === 'switch').map((r) => r.operation_id),
    );
    return rows.map((r) => toView(r, steps.get(r.operation_id) ?? [], switches.get(r.operation_id)));
  }

  /** Resolves when the operation's run in this process has ended (at once if none runs). */
  async settled(operationId: string): Promise<void> {
    await this.#running.get(operationId);
  }

  /** Every run of this process has ended (shutdown, tests). */
  async drained(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * Operations left running by a process that died end failed. Only operations idle (no step
   * reported, no change) for `idleMs` are ended, so several instances on one database can call this
   * at start without ending each other's live operations; the default is the SM-SR's default
   * procedure validity (600 s), after which the SM-SR has ended its procedure anyway. A switch is
   * resumed instead, from its stored step, once idle for `switchIdleMs` (default SWITCH_IDLE_MS: a
   * live run touches its row every 30 s), by the one instance whose guarded touch of the row wins;
   * serve calls this with `onlySwitches` every 30 s, so a switch cut by a restart goes on.
   */
  async recover(
    options: { idleMs?: number; switchIdleMs?: number; onlySwitches?: boolean } = {},
  ): Promise<number> {
    const now = this.clock.now();
    const before = now - (options.idleMs ?? 600_000);
    const switchBefore = now - (options.switchIdleMs ?? SWITCH_IDLE_MS);
    const rows = await this.store.db
      .selectFrom('esim_operations')
      .selectAll()
      .where('status', '=', 'running')
      .where('updated_at', '<=', options.onlySwitches ? switchBefore : Math.max(before, switchBefore))
      .$if(options.onlySwitches === true, (q) => q.where('kind', '=', 'switch'))
      .execute();
    let n = 0;
    for (const row of rows) {
      if (this.#running.has(row.operation_id)) continue;
      if (row.kind === 'switch') {
        // Resumed from its stored step, by one instance: the one whose guarded touch moves the row.
        if (row.updated_at > switchBefore || this.#ports === undefined) continue;
        const claimed = await this.store.db
          .updateTable('esim_operations')
          .set({ updated_at: now })
          .where('operation_id', '=', row.operation_id)
          .where('status', '=', 'running')
          .where('updated_at', '=', row.updated_at)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1 || this.#running.has(row.operation_id)) continue;
        this.#startSwitch(row, true);
        n += 1;
        continue;
      }
      if (row.updated_at > before) continue;
      await this.#end(row, {
        status: 'FAILED',
        statusCodeData: {
          subject: '1.2',
          reason: '4.2',
          message: 'the platform restarted during the operation; check the profile states',
        },
      });
      n += 1;
    }
    return n;
  }

  /**
   * The end of an operation's function that reaches this process without its continuation: after a
   * restart, the SM-DP's recover() finished the download, or the SM-SR's recover() or a notification
   * ended the ES4 function. Ends the operation as the continuation would have (the function's step, the
   * profile states read back on success, the result). False when the operation is not running or
   * runs in this process (its continuation ends it) — so roles may call it for every function end.
   */
  async finish(operationId: string, status: FunctionExecutionStatus): Promise<boolean> {
    if (!isEsimOperationId(operationId) || this.#running.has(operationId)) return false;
    const row = await this.store.db
      .selectFrom('esim_operations')
      .selectAll()
      .where('operation_id', '=', operationId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    // A switch is several functions at several roles: it ends by its own run (recover() resumes it).
    if (row === undefined || row.kind === 'switch') return false;
    await this.#endCall(operationId, status);
    if (succeeded(status)) await this.#sync(row);
    await this.#end(row, status);
    return true;
  }

  // --- the progress port ---------------------------------------------------------------------------

  async report(r: EsimProgressReport): Promise<void> {
    try {
      if (typeof r.functionCallIdentifier !== 'string' || !isEsimOperationId(r.functionCallIdentifier))
        return;
      if (typeof r.step !== 'string' || r.step.length === 0) return;
      if (r.state !== 'running' && r.state !== 'succeeded' && r.state !== 'failed') return;
      await this.#serial(r.functionCallIdentifier, () => this.#record(r));
    } catch {
      // The port never rejects: a reporter's outcome must not depend on this layer's database.
    }
  }

  async #record(r: EsimProgressReport): Promise<void> {
    const id = r.functionCallIdentifier;
    const op = await this.store.db
      .selectFrom('esim_operations')
      .select(['status'])
      .where('operation_id', '=', id)
      .executeTakeFirst();
    if (op?.status !== 'running') return;
    const name = clip(r.step, STEP_NAME_MAX);
    const now = this.clock.now();
    const status = r.status === undefined ? undefined : statusView(r.status);
    const message =
      status?.message ?? (r.detail === undefined ? null : clip(String(r.detail), STEP_MESSAGE_MAX));
    if (r.state !== 'running') {
      const open = await this.store.db
        .selectFrom('esim_operation_steps')
        .select('seq')
        .where('operation_id', '=', id)
        .where('name', '=', name)
        .where('state', '=', 'running')
        .orderBy('seq', 'desc')
        .executeTakeFirst();
      if (open !== undefined) {
        await this.store.db
          .updateTable('esim_operation_steps')
          .set({
            state: r.state,
            ended_at: now,
            status: status?.status ?? null,
            subject: status?.subject ?? null,
            reason: status?.reason ?? null,
            message,
          })
          .where('operation_id', '=', id)
          .where('seq', '=', open.seq)
          .execute();
        await this.#touch(id, now);
        return;
      }
    }
    await this.#appendStep(id, {
      name,
      state: r.state,
      started_at: now,
      ended_at: r.state === 'running' ? null : now,
      status: status?.status ?? null,
      subject: status?.subject ?? null,
      reason: status?.reason ?? null,
      message,
    });
    await this.#touch(id, now);
  }

  // --- internals -----------------------------------------------------------------------------------

  #requirePorts(): EsimRolePorts {
    if (this.#ports === undefined)
      throw new SimtrustError(
        'ERR_ESIM_NOT_CONNECTED',
        'no SM-SR is connected to this platform: set esimOperatorId to run this deployment’s own SM-SR and SM-DP (docs/esim.md, Running it)',
      );
    return this.#ports;
  }

  /** The operator's eUICC SIM; one handed over to another SM-SR is refused unless `handedOver`. */
  async #euicc(operatorId: string, simId: string, handedOver = false) {
    const sim = await this.store.db
      .selectFrom('sims')
      .select(['sim_id', 'type'])
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (sim === undefined) throw new SimtrustError('ERR_SIM_NOT_FOUND', `no SIM ${simId}`);
    const euicc = await this.store.db
      .selectFrom('esim_euiccs')
      .selectAll()
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (euicc === undefined) throw new SimtrustError('ERR_ESIM_NOT_EUICC', `SIM ${simId} is not an eUICC`);
    if (euicc.handed_over_to !== null && !handedOver)
      throw new SimtrustError(
        'ERR_ESIM_HANDED_OVER',
        `eUICC ${simId} was handed over to SM-SR ${euicc.handed_over_to}: its operator there manages it now`,
        { details: { smsrId: euicc.handed_over_to, handedOverTime: Number(euicc.handed_over_at) } },
      );
    return euicc;
  }

  async #es4(
    ctx: AuditContext,
    simId: string,
    iccid: string,
    kind: 'enable' | 'disable' | 'delete',
  ): Promise<EsimOperationView> {
    const operatorId = ctx.principal.operatorId;
    const euicc = await this.#euicc(operatorId, simId);
    const profile = await this.store.db
      .selectFrom('esim_profiles')
      .select(['iccid'])
      .where('sim_id', '=', euicc.sim_id)
      .where('iccid', '=', iccid)
      .executeTakeFirst();
    if (profile === undefined)
      throw new SimtrustError('ERR_ESIM_PROFILE_NOT_FOUND', `no profile ${iccid} on this eUICC`);
    const es4 = this.#requirePorts().es4(operatorId);
    if (es4 === undefined)
      throw new SimtrustError('ERR_ESIM_NOT_CONNECTED', 'the SM-SR knows no MNO identity of this operator');
    const op = await this.#begin(ctx, euicc, kind, iccid, null, false);
    const request = { functionCallIdentifier: op.operation_id, eid: euicc.eid, iccid };
    this.#start(op.operation_id, () =>
      this.#call(
        op,
        async () =>
          kind === 'enable'
            ? es4.enableProfile(request)
            : kind === 'disable'
              ? es4.disableProfile(request)
              : es4.deleteProfile(request),
        true,
      ),
    );
    return this.#view(op);
  }

  async #begin(
    ctx: AuditContext,
    euicc: { sim_id: string; eid: string; operator_id: string },
    kind: EsimOperationKind,
    iccid: string,
    profileType: string | null,
    enable: boolean,
    extra: {
      detail?: Record<string, unknown>;
      within?: (trx: Executor, row: OperationRow) => Promise<unknown>;
    } = {},
  ): Promise<OperationRow> {
    const now = this.clock.now();
    const row: OperationRow = {
      operation_id: `esop-${randomUUID()}`,
      operator_id: euicc.operator_id,
      sim_id: euicc.sim_id,
      eid: euicc.eid,
      iccid,
      kind,
      profile_type: profileType,
      enable: enable ? 1 : 0,
      active_sim_id: euicc.sim_id,
      status: 'running',
      result: null,
      created_at: now,
      updated_at: now,
      ended_at: null,
    };
    try {
      await this.store.transaction(async (trx) => {
        await trx.insertInto('esim_operations').values(row).execute();
        await trx
          .insertInto('esim_operation_steps')
          .values({
            operation_id: row.operation_id,
            seq: 1,
            name: FUNCTION_OF[kind],
            state: 'running',
            started_at: now,
            ended_at: null,
            status: null,
            subject: null,
            reason: null,
            message: null,
          })
          .execute();
        await extra.within?.(trx, row);
        await writeAudit(trx, {
          context: ctx,
          result: 'success',
          statusCode: 202,
          detail: {
            operationId: row.operation_id,
            simId: row.sim_id,
            eid: row.eid,
            iccid,
            kind,
            ...(profileType === null ? {} : { profileType, enable }),
            ...extra.detail,
          },
          at: now,
        });
      });
    } catch (e) {
      const busy = await this.store.db
        .selectFrom('esim_operations')
        .select('operation_id')
        .where('active_sim_id', '=', euicc.sim_id)
        .executeTakeFirst();
      if (busy !== undefined)
        throw new SimtrustError(
          'ERR_ESIM_OPERATION_IN_PROGRESS',
          `operation ${busy.operation_id} runs on this eUICC`,
          { details: { operationId: busy.operation_id } },
        );
      throw e;
    }
    return row;
  }

  /**
   * Runs the operation's function in the background; its end is recorded whatever happens. `sync`:
   * after a success, ES4 GetEIS at our SM-SR brings the profile states in (not after a switch: our
   * SM-SR no longer holds the EIS).
   */
  #start(id: string, run: () => Promise<FunctionExecutionStatus>, sync = true): void {
    const done = (async () => {
      let status: FunctionExecutionStatus;
      try {
        status = await run();
      } catch {
        status = PORT_BROKE;
      }
      try {
        const row = await this.store.db
          .selectFrom('esim_operations')
          .selectAll()
          .where('operation_id', '=', id)
          .executeTakeFirstOrThrow();
        if (sync && succeeded(status)) await this.#sync(row);
        await this.#end(row, status);
      } catch {
        // The database went away: recover() ends the operation at the next start.
      }
    })().finally(() => this.#running.delete(id));
    this.#running.set(id, done);
  }

  /**
   * The first step (the ES function) ends with the function's status. With `retryBusy` (ES4 requests)
   * a busy answer is retried after each of busyRetryMs, the wait shown as a step whose message counts
   * the attempts; it ends succeeded when the SM-SR took the request, failed when it stayed busy.
   */
  async #call(
    op: OperationRow,
    fn: () => Promise<{ functionExecutionStatus: FunctionExecutionStatus }>,
    retryBusy = false,
  ) {
    const attempt = async (): Promise<FunctionExecutionStatus> => {
      try {
        return (await fn()).functionExecutionStatus;
      } catch {
        return PORT_BROKE;
      }
    };
    const id = op.operation_id;
    let status = await attempt();
    const waits = retryBusy ? this.busyRetryMs : [];
    let tries = 0;
    for (; tries < waits.length && isBusy(status); tries++) {
      // The step's status is the busy answer; its message counts the attempts.
      const message = `${status.statusCodeData?.message ?? 'busy'}; attempt ${tries + 2} of ${waits.length + 1} in ${waits[tries]} ms`;
      if (tries === 0) {
        const data = { ...status.statusCodeData, message } as NonNullable<
          FunctionExecutionStatus['statusCodeData']
        >;
        const busy: FunctionExecutionStatus = { ...status, statusCodeData: data };
        await this.report({ functionCallIdentifier: id, step: BUSY_STEP, state: 'running', status: busy });
      } else await this.#serial(id, () => this.#noteRunning(id, BUSY_STEP, message));
      await new Promise((r) => setTimeout(r, waits[tries]));
      status = await attempt();
    }
    if (tries > 0)
      await this.report({
        functionCallIdentifier: id,
        step: BUSY_STEP,
        state: isBusy(status) ? 'failed' : 'succeeded',
        ...(isBusy(status) ? { status } : { detail: `the SM-SR took the request at attempt ${tries + 1}` }),
      });
    await this.#endCall(op.operation_id, status);
    return status;
  }

  async #endCall(id: string, status: FunctionExecutionStatus): Promise<void> {
    const view = statusView(status);
    await this.#serial(id, async () => {
      const now = this.clock.now();
      await this.store.db
        .updateTable('esim_operation_steps')
        .set({
          state: succeeded(status) ? 'succeeded' : 'failed',
          ended_at: now,
          status: view.status,
          subject: view.subject ?? null,
          reason: view.reason ?? null,
          message: view.message ?? null,
        })
        .where('operation_id', '=', id)
        .where('seq', '=', 1)
        .execute();
    });
  }

  /** ES4.GetEIS: the profile states the SM-SR now holds (fallback enabled, auto-delete, the deleted one gone). */
  async #sync(op: OperationRow): Promise<void> {
    const es4 = this.#ports?.es4(op.operator_id);
    if (es4 === undefined) return;
    await this.#serial(op.operation_id, () =>
      this.#appendStep(op.operation_id, {
        name: 'ES4.GetEIS',
        state: 'running',
        started_at: this.clock.now(),
        ended_at: null,
        status: null,
        subject: null,
        reason: null,
        message: null,
      }),
    );
    let status: FunctionExecutionStatus;
    let eis: Eis | undefined;
    try {
      const r = await es4.getEIS({ functionCallIdentifier: op.operation_id, eid: op.eid });
      status = r.functionExecutionStatus;
      eis = r.eis;
    } catch {
      status = PORT_BROKE;
    }
    if (succeeded(status) && eis !== undefined) {
      const now = this.clock.now();
      await this.store.transaction((trx) =>
        replaceProfiles(trx, op.operator_id, op.sim_id, eis, now, this.#ports?.mnoId(op.operator_id)),
      );
    }
    await this.report({
      functionCallIdentifier: op.operation_id,
      step: 'ES4.GetEIS',
      state: succeeded(status) ? 'succeeded' : 'failed',
      status,
    });
  }

  async #end(op: OperationRow, status: FunctionExecutionStatus): Promise<void> {
    await this.#serial(op.operation_id, async () => {
      const now = this.clock.now();
      await this.store.db
        .updateTable('esim_operations')
        .set({
          status: succeeded(status) ? 'succeeded' : 'failed',
          result: JSON.stringify(statusView(status)),
          active_sim_id: null,
          updated_at: now,
          ended_at: now,
        })
        .where('operation_id', '=', op.operation_id)
        .where('status', '=', 'running')
        .execute();
      // Steps the roles left open end with the operation.
      await this.store.db
        .updateTable('esim_operation_steps')
        .set({ state: 'failed', ended_at: now, message: 'not reported as ended' })
        .where('operation_id', '=', op.operation_id)
        .where('state', '=', 'running')
        .execute();
    });
  }

  async #appendStep(id: string, step: Omit<StepRow, 'operation_id' | 'seq'>): Promise<void> {
    const last = await this.store.db
      .selectFrom('esim_operation_steps')
      .select((e) => e.fn.max('seq').as('seq'))
      .where('operation_id', '=', id)
      .executeTakeFirst();
    const seq = Number(last?.seq ?? 0) + 1;
    if (seq > MAX_STEPS) return;
    await this.store.db
      .insertInto('esim_operation_steps')
      .values({ operation_id: id, seq, ...step })
      .execute();
  }

  /** A new message on the open step `name` (a wait's progress). */
  async #noteRunning(id: string, name: string, message: string): Promise<void> {
    const now = this.clock.now();
    await this.store.db
      .updateTable('esim_operation_steps')
      .set({ message: clip(message, STEP_MESSAGE_MAX) })
      .where('operation_id', '=', id)
      .where('name', '=', name)
      .where('state', '=', 'running')
      .execute();
    await this.#touch(id, now);
  }

  async #touch(id: string, now: number): Promise<void> {
    await this.store.db
      .updateTable('esim_operations')
      .set({ updated_at: now })
      .where('operation_id', '=', id)
      .execute();
  }

  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return next;
  }

  async #view(op: OperationRow): Promise<EsimOperationView> {
    const fresh =
      (await this.store.db
        .selectFrom('esim_operations')
        .selectAll()
        .where('operation_id', '=', op.operation_id)
        .executeTakeFirst()) ?? op;
    const steps = await this.#stepsOf([op.operation_id]);
    const target = fresh.kind === 'switch' ? await loadSwitch(this.store.db, op.operation_id) : undefined;
    return toView(fresh, steps.get(op.operation_id) ?? [], target);
  }

  async #stepsOf(ids: readonly string[]): Promise<Map<string, StepRow[]>> {
    const out = new Map<string, StepRow[]>();
    if (ids.length === 0) return out;
    const rows = await this.store.db
      .selectFrom('esim_operation_steps')
      .selectAll()
      .where('operation_id', 'in', ids)
      .orderBy('operation_id')
      .orderBy('seq')
      .execute();
    for (const r of rows) {
      const list = out.get(r.operation_id);
      if (list) list.push(r);
      else out.set(r.operation_id, [r]);
    }
    return out;
  }
}

/**
 * The eUICC's profiles become what the EIS lists: rows of listed ICCIDs are written (state, MNO,
 * subscription address), rows of ICCIDs no longer listed are removed. `fallbackMno` names the MNO
 * of a profile the EIS gives without one.
 */
async function replaceProfiles(
  trx: Executor,
  operatorId: string,
  simId: string,
  eis: Eis,
  now: number,
  fallbackMno: string | undefined,
): Promise<void> {
  const listed = new Set(eis.profiles.map((p) => p.iccid));
  const known = await trx
    .selectFrom('esim_profiles')
    .select(['iccid', 'profile_type'])
    .where('sim_id', '=', simId)
    .execute();
  const gone = known.filter((k) => !listed.has(k.iccid)).map((k) => k.iccid);
  if (gone.length > 0)
    await trx.deleteFrom('esim_profiles').where('sim_id', '=', simId).where('iccid', 'in', gone).execute();
  const typeOf = new Map(known.map((k) => [k.iccid, k.profile_type]));
  for (const p of eis.profiles) {
    const values = {
      sim_id: simId,
      operator_id: operatorId,
      mno_id: p.mnoId || fallbackMno || '',
      state: p.state,
      imsi: p.subscriptionAddress.imsi ?? null,
      msisdn: p.subscriptionAddress.msisdn ?? null,
      profile_type: p.profileType ?? typeOf.get(p.iccid) ?? null,
      updated_at: now,
    };
    await trx
      .insertInto('esim_profiles')
      .values({ iccid: p.iccid, ...values })
      .onConflict((oc) => oc.column('iccid').doUpdateSet(values))
      .execute();
  }
}

function toView(
  r: OperationRow,
  steps: readonly StepRow[],
  target: SwitchRow | undefined,
): EsimOperationView {
  return {
    operationId: r.operation_id,
    operatorId: r.operator_id,
    simId: r.sim_id,
    eid: r.eid,
    iccid: r.iccid,
    kind: r.kind as EsimOperationKind,
    profileType: r.profile_type,
    enable: r.enable === 1,
    status: r.status as EsimOperationStatus,
    result: r.result === null ? null : (JSON.parse(r.result) as ExecutionStatusView),
    target: target === undefined ? null : { smsrId: target.target_smsr_id, smdpId: target.target_smdp_id },
    steps: steps.map((s) => ({
      name: s.name,
      state: s.state as EsimStepState,
      startedTime: Number(s.started_at),
      endedTime: s.ended_at === null ? null : Number(s.ended_at),
      status:
        s.status === null
          ? null
          : {
              status: s.status,
              ...(s.subject === null ? {} : { subject: s.subject }),
              ...(s.reason === null ? {} : { reason: s.reason }),
              ...(s.message === null ? {} : { message: s.message }),
            },
    })),
    createdTime: Number(r.created_at),
    lastModifiedTime: Number(r.updated_at),
    endedTime: r.ended_at === null ? null : Number(r.ended_at),
  };
}

// The SM-SR (GSMA SGP.02 §3.1 steps 2–13 and 21–23, §3.3–3.5; esim.md): the EIS store behind ES1
// RegisterEIS, the ES3 (SM-DP) and ES4 (operator) functions of the profile life cycle over an ES5
// transport, and the default notifications. Rules every function follows:
//   - one procedure per eUICC at a time: a procedure row whose unique `active_eid` is the lock
//     (eis-store.ts); a second request gets FAILED with EUICC_BUSY. A SendData answered with
//     MoreToDo keeps its row as the lock for the same SM-DP's next SendData to the same ISD-P (the
//     ES8 units of one key establishment or download are one procedure: one row, not one per unit);
//     it ends with the unit sent without MoreToDo, a failure, the requester's next other function,
//     or `sendDataHoldMs` without a next unit;
//   - POL2 is checked before any command leaves;
//   - each step is stored before its message leaves, so a restart (recover()) ends or resumes a
//     procedure from what the card reports (GET STATUS), never leaving a profile half registered;
//   - every refusal and failure is a FunctionExecutionStatus with a Subject/Reason code; the EIS audit
//     trail records each operation with its operation code (SGP.02 Annex 1).

import { createPublicKey } from 'node:crypto';
import type { ChainInput, ChainRefusal, VerifiedChain } from '../../../crypto/sgp-02-certificate-chain.js';
import type { Clock } from '../../../lib/clock.js';
import { decodeGpCertificate } from '../../../lib/gp-certificate.js';
import { toHex } from '../../../lib/hex.js';
import type { Result } from '../../../lib/result.js';
import {
  createIsdpApdu,
  decodeConfirmationResponse,
  decodeIsdpStatusList,
  decodeNotification,
  deleteProfileApdu,
  disableProfileApdu,
  enableProfileApdu,
  getStatusApdu,
  notificationConfirmationApdu,
} from '../../../lib/sgp-02-es5.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import { GroupCommit } from '../../store/group-commit.js';
import type { Es1Port, Es3Port, Es4Port, EsNotificationDirectory } from '../es-ports.js';
import { verifyEisSignature } from '../es-soap/sgp-02-eis-signature.js';
import type { BaseRequest } from '../es-soap/sgp-02-messages.js';
import {
  EXPIRED,
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../es-soap/sgp-02-status-codes.js';
import { AUDIT_OPERATION_TYPES, type Eis, type Pol2, type Pol2Action } from '../es-soap/sgp-02-xml-types.js';
import {
  type NotificationKind,
  NotificationOutbox,
  type NotificationOutboxOptions,
} from '../notifications/notification-outbox.js';
import {
  activeProcedure,
  addRemainingMemory,
  beginProcedure,
  discardProcedure,
  type EisSnapshot,
  endProcedure,
  extendProcedure,
  insertEis,
  insertProfile,
  loadEis,
  type ProcedureRow,
  type ProfileRow,
  pol2Of,
  procedureById,
  profilesOf,
  readEisSnapshot,
  recordAudit,
  recordStep,
  runningProcedures,
  type StoredSignedPart,
  setProfileState,
} from './eis-store.js';
import { type Es5Outcome, type Es5Transport, isCompleted } from './es5-transport.js';

/**
 * Another procedure runs on this eUICC. To verify against SGP.02 §5.1.6.5: no "busy" reason is in
 * the public schema; 8.1 (eUICC) / 3.7 (unavailable) with this message is the one variant used.
 */
export const EUICC_BUSY: FunctionExecutionStatus = failed(
  SUBJECT_CODES.EUICC,
  REASON_CODES.UNAVAILABLE,
  'busy: another procedure is running on this eUICC',
);

/** An SM-SR1 hand-over the operator gave up with its outcome unknown (esim_sr_eis.handover_unknown). */
export interface HandoverUnknown {
  readonly target: string;
  readonly functionCallId: string;
  readonly requester: string;
  readonly procedureId: string;
  /** When it was given up (ms). */
  readonly since: number;
  /** Who gave it up (the operator layer's principal, as it passed it). */
  readonly by: string;
  /** Why SM-SR2's outcome is unknown (its last non-answer). */
  readonly why: string;
}

/** The start of HANDOVER_GIVEN_UP messages (handoverGivenUp tells them by it and the codes). */
const GIVEN_UP_PREFIX = 'the hand-over of this eUICC to SM-SR ';

/**
 * The answer to every function but AuditEIS on an eUICC whose hand-over was given up with its
 * outcome unknown (SmSrChange.abandonHandover): SM-SR2 may have committed (SGP.02 §3.8: its check of
 * the card's receipt is the commit point, and SM-SR1 never heard), so this SM-SR does not act as if
 * in charge. 8.1 / 3.8 (refused), not busy: asking again does not help, SM-SR2's answer does.
 */
export function handoverGivenUpStatus(marker: string): FunctionExecutionStatus {
  const m = JSON.parse(marker) as HandoverUnknown;
  return failed(
    SUBJECT_CODES.EUICC,
    REASON_CODES.REFUSED,
    `${GIVEN_UP_PREFIX}${m.target} was given up at ${new Date(m.since).toISOString()} with its outcome unknown: ` +
      `${m.target} may manage it now. Ask the operator of ${m.target} whether it took the eUICC over; only ` +
      `AuditEIS runs here meanwhile (it shows whether this SM-SR's keys still work on the card), and this ` +
      `state ends when ${m.target} answers this SM-SR (asked again periodically)`,
  );
}

/** Whether `s` is handoverGivenUpStatus's refusal. */
export const handoverGivenUp = (s: FunctionExecutionStatus): boolean =>
  s.status === 'FAILED' &&
  s.statusCodeData?.subject === SUBJECT_CODES.EUICC &&
  s.statusCodeData.reason === REASON_CODES.REFUSED &&
  (s.statusCodeData.message ?? '').startsWith(GIVEN_UP_PREFIX);

/** SGP.02 Annex H: ISD-P AIDs are the ISD-R's RID/PIX prefix with the instance number 0x10… */
const ISDP_AID_PREFIX = 'A0000005591010FFFFFFFF89';
const isdpAid = (n: number) => `${ISDP_AID_PREFIX}${n.toString(16).toUpperCase().padStart(6, '0')}00`;
const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';

/** GP life-cycle byte of an ISD-P → EIS state (esim.md §1.1). */
const STATE_OF_LIFE_CYCLE: Record<number, 'Created' | 'Disabled' | 'Enabled' | undefined> = {
  7: 'Created',
  15: 'Created',
  31: 'Disabled',
  63: 'Enabled',
};

/** The chain verifier the SM-SR trusts (EsimPki.verify fits). */
export interface ChainVerifier {
  verify(input: Omit<ChainInput, 'trustedCis' | 'now'>): Promise<Result<VerifiedChain, ChainRefusal>>;
}

export interface SmSrOptions {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  readonly transport: Es5Transport;
  readonly chains: ChainVerifier;
  /** This SM-SR's entity id (OID): what the EIS names in Smsr-id. */
  readonly smsrId: string;
  readonly directory: EsNotificationDirectory;
  /** Seconds a procedure may last when the request gives no ValidityPeriod; default 600. */
  readonly defaultValiditySeconds?: number;
  /**
   * The group commit the SM-SR's procedure writes share (store/group-commit.ts): on SQLite the writes
   * of many procedures in one transaction and one fsync, each acknowledged only once committed. Give
   * the SM-DP of the same store the same one. Default: one of its own.
   */
  readonly writer?: GroupCommit;
  /**
   * How long a SendData sequence (MoreToDo) keeps the eUICC's lock waiting for its next unit before
   * it ends (ms); default 15 s, the SCP81 session's own hold (ram-over-http.ts holdMs).
   */
  readonly sendDataHoldMs?: number;
  /** A notification attempt failed (for the log); the procedure's outcome is not changed by it. */
  readonly onNotifyError?: (error: unknown) => void;
  /**
   * The notification outbox (notifications/notification-outbox.ts): attempts, backoff, what to do
   * with a dead notification. Notifications are rows written with the EIS change they report.
   */
  readonly notificationOutbox?: Partial<
    Pick<
      NotificationOutboxOptions,
      'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'leaseMs' | 'intervalMs' | 'onDead'
    >
  >;
  /**
   * Progress of each function, keyed by the request's FunctionCallIdentifier (the operator layer's
   * EsimProgressPort of operations/progress.ts has this shape): `running` when it starts, then
   * `succeeded` / `failed` with its status. Never awaited for the outcome; errors are ignored.
   */
  readonly progress?: SmSrProgressPort;
}

export interface SmSrProgressPort {
  report(r: {
    readonly functionCallIdentifier: string;
    readonly step: string;
    readonly state: 'running' | 'succeeded' | 'failed';
    readonly status?: FunctionExecutionStatus;
    readonly detail?: string;
  }): Promise<void>;
}

type Caller = { readonly kind: 'smdp' | 'operator'; readonly id: string };
type Outcome<O = Record<string, never>> = {
  status: FunctionExecutionStatus;
  output?: O;
  /** EIS writes of the procedure's last step, committed with its end (one transaction). */
  final?: (tx: Executor, now: number) => Promise<void>;
  /** The row was ended by whoever gave the status (the notification, expiry): no end to write. */
  ended?: boolean;
  /** SendData with MoreToDo answered: the row stays the lock for the next unit to this ISD-P. */
  hold?: { readonly sdAid: string };
};
/** A SendData sequence holding its eUICC's lock between units (see the header). */
interface HeldSendData {
  readonly id: string;
  /** `kind:id` of the caller, as the row's requester. */
  readonly requester: string;
  readonly sdAid: string;
  /** The row's deadline (Unix ms). */
  deadline: number;
  timer: NodeJS.Timeout | undefined;
}
/** The step a procedure's row starts at: one its request alone decides is stored with the lock. */
type FirstStep = { readonly step: string; readonly data: unknown };
const STARTED = (data: unknown): FirstStep => ({ step: 'started', data });
const AUDIT_SENT: FirstStep = { step: 'audit-sent', data: {} };
type Resp = { euiccResponseData?: Uint8Array };

const unknownEid = (eid: string) =>
  failed(SUBJECT_CODES.EID, REASON_CODES.UNKNOWN, 'no EIS for this EID', eid);
const unknownProfile = (iccid: string) =>
  failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.UNKNOWN, 'no such profile on this eUICC', iccid);
const execError = (message: string) => failed(SUBJECT_CODES.ISD_P, REASON_CODES.EXECUTION_ERROR, message);

function statusOfSw(sw: number, what: string): FunctionExecutionStatus {
  if (sw === 0x69e1)
    return failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, `${what}: POL1 forbids it`);
  if (sw === 0x6a84) return failed(SUBJECT_CODES.EUICC, REASON_CODES.INSUFFICIENT_MEMORY, `${what}: memory`);
  if (sw === 0x6985)
    return failed(
      SUBJECT_CODES.ISD_P,
      REASON_CODES.REFUSED,
      `${what}: refused by the eUICC (conditions of use)`,
    );
  return execError(`${what}: the eUICC answered ${sw.toString(16).toUpperCase().padStart(4, '0')}`);
}

const transportFailure = (o: Extract<Es5Outcome, { ok: false }>) =>
  failed(SUBJECT_CODES.EUICC, REASON_CODES.EXECUTION_ERROR, `ES5: ${o.code}: ${o.message}`);

const pol2Forbids = (pol2: Pol2, action: Pol2Action) =>
  pol2.rules.some((r) => r.action === action && r.qualification === 'Not-Allowed');
const pol2AutoDelete = (pol2: Pol2) =>
  pol2.rules.some((r) => r.action === 'DISABLE' && r.qualification === 'Auto-Delete');

interface ProfileChange {
  readonly target: string;
  readonly iccid: string;
  readonly previous?: string | undefined;
}

/** Default notification types (esim.md §1.5, the `4D` of the E1 TLV). */
const NOTIFIED = { declaration: 0x01, changed: 0x02, rollback: 0x03, fallback: 0x05 } as const;

/**
 * Whether a default notification (type, ISD-P AID) answers the running Enable/Disable `p`: a rollback
 * (03) or a fall-back (05) is the card's own decision about the profile change it holds, whatever it
 * names; a profile change (02) answers an Enable naming its target and a Disable naming another
 * ISD-P (the one the card enabled instead). An eUICC declaration (01, the first attach) never does,
 * nor a 02 naming what this change did not ask for: the card kept it from before.
 */
function answersChange(p: ProcedureRow, type: number, aid: string): boolean {
  if (type === NOTIFIED.rollback || type === NOTIFIED.fallback) return true;
  if (type !== NOTIFIED.changed) return false;
  const target = (JSON.parse(p.data) as ProfileChange).target.toUpperCase();
  return p.function === 'EnableProfile' ? aid === target : aid !== target;
}

export class SmSr {
  readonly #o: SmSrOptions;
  readonly #waiters = new Map<string, (s: FunctionExecutionStatus) => void>();
  /** SendData sequences holding their eUICC's lock, by EID. */
  readonly #held = new Map<string, HeldSendData>();
  /** Held rows being ended, by EID: a new procedure on that eUICC waits for the end. */
  readonly #releasing = new Map<string, Promise<void>>();
  readonly #writer: GroupCommit;
  /** ES3/ES4 notifications of this SM-SR; serve runs its job (start()), tests call runDue(). */
  readonly notifications: NotificationOutbox;

  constructor(options: SmSrOptions) {
    this.#o = options;
    this.#writer = options.writer ?? new GroupCommit(options.store, { maxBatch: 256, concurrency: 2 });
    this.notifications = new NotificationOutbox({
      ...options.notificationOutbox,
      store: options.store,
      clock: options.clock,
      senderId: options.smsrId,
      writer: this.#writer,
      receiver: (iface, id) =>
        iface === 'ES3'
          ? options.directory.smdp(id)
          : iface === 'ES4'
            ? options.directory.operator(id)
            : undefined,
      ...(options.onNotifyError === undefined ? {} : { onError: (e) => options.onNotifyError?.(e) }),
    });
  }

  /**
   * Stops the notification outbox (pending rows are sent by the next instance) and the timers of held
   * SendData sequences (their rows stay running, as after a crash: the next instance's recover()).
   */
  close(): Promise<void> {
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
    return this.notifications.close();
  }

  get #db(): Executor {
    return this.#o.store.db;
  }

  /** A unit of writes, durable once resolved (the group commit); `op` uses `tx` only. */
  #write<T>(op: (tx: Executor) => Promise<T>): Promise<T> {
    return this.#writer.run(op);
  }

  #now(): number {
    return this.#o.clock.now();
  }

  // --- the ports ------------------------------------------------------------------------------------

  /** ES1 for an EUM identified by its certificate (PEM): the EIS must be signed by that EUM. */
  es1For(eumCertificate: string): Es1Port {
    return {
      registerEIS: async (body) => ({
        functionExecutionStatus: await this.registerEis(body.eis, eumCertificate),
      }),
    };
  }

  es3For(smdpId: string): Es3Port {
    const c: Caller = { kind: 'smdp', id: smdpId };
    return {
      getEIS: async (b) => this.#withEis(await this.#getEis(b.eid, c)),
      auditEIS: async (b) => this.#withEis(await this.#audit(b, c)),
      createISDP: async (b) => {
        const r = await this.#createIsdp(b, c);
        return { functionExecutionStatus: r.status, isdPAid: r.output?.isdPAid ?? '' };
      },
      sendData: async (b) => this.#respond(await this.#sendData(b, c)),
      profileDownloadCompleted: async (b) => this.#respond(await this.#downloadCompleted(b, c)),
      updatePolicyRules: async (b) => this.#respond(await this.#updatePol2(b, b.pol2 ?? { rules: [] }, c)),
      updateSubscriptionAddress: async (b) => this.#respond(await this.#updateAddress(b, c)),
      enableProfile: async (b) => this.#respond(await this.#enable(b, c)),
      disableProfile: async (b) => this.#respond(await this.#disable(b, c)),
      deleteISDP: async (b) => this.#respond(await this.#delete(b, c)),
    };
  }

  es4For(mnoId: string): Es4Port {
    const c: Caller = { kind: 'operator', id: mnoId };
    return {
      getEIS: async (b) => this.#withEis(await this.#getEis(b.eid, c)),
      auditEIS: async (b) => this.#withEis(await this.#audit(b, c)),
      updatePolicyRules: async (b) => this.#respond(await this.#updatePol2(b, b.pol2, c)),
      updateSubscriptionAddress: async (b) => this.#respond(await this.#updateAddress(b, c)),
      enableProfile: async (b) => this.#respond(await this.#enable(b, c)),
      disableProfile: async (b) => this.#respond(await this.#disable(b, c)),
      deleteProfile: async (b) => this.#respond(await this.#delete(b, c)),
    };
  }

  #respond(r: Outcome<{ euiccResponseData?: Uint8Array }>) {
    return {
      functionExecutionStatus: r.status,
      ...(r.output?.euiccResponseData === undefined ? {} : { euiccResponseData: r.output.euiccResponseData }),
    };
  }

  #withEis(r: Outcome<{ eis?: Eis }>) {
    return {
      functionExecutionStatus: r.status,
      ...(r.output?.eis === undefined ? {} : { eis: r.output.eis }),
    };
  }

  // --- ES1 RegisterEIS (SGP.02 §5.2) ------------------------------------------------------------------

  /**
   * Steps: EID well-formed → EIS names this SM-SR → ECASD certificate issued for this EID → EUM
   * signature over EumSignedInfo → ECASD → EUM → CI chain → not registered yet → store.
   * To verify against SGP.02 §5.2 / Annex E: ISD-R key values arrive in clear inside the (mutually
   * authenticated) ES1 exchange; the EUM↔SM-SR transport-key scheme is not implemented.
   */
  async registerEis(eis: Eis, eumCertificate: string): Promise<FunctionExecutionStatus> {
    const eid = eis.eumSignedInfo.eid;
    if (!/^89\d{30}$/.test(eid))
      return failed(SUBJECT_CODES.EID, REASON_CODES.INVALID, 'the EID is not 32 digits starting 89');
    if (eis.smsrId !== this.#o.smsrId)
      return failed(SUBJECT_CODES.SM_SR, REASON_CODES.INVALID, 'the EIS names another SM-SR', eis.smsrId);
    const ecasdCert = eis.eumSignedInfo.ecasd.keysets.flatMap((k) => k.certificates)[0]?.value;
    if (ecasdCert === undefined)
      return failed(
        SUBJECT_CODES.ECASD,
        REASON_CODES.MANDATORY_ELEMENT_MISSING,
        'no CERT.ECASD.ECKA in the EIS',
      );
    const decoded = decodeGpCertificate(ecasdCert);
    if (!decoded.ok || toHex(decoded.value.subjectId).toUpperCase() !== eid.toUpperCase())
      return failed(SUBJECT_CODES.ECASD, REASON_CODES.INVALID, 'CERT.ECASD.ECKA is not issued for this EID');
    try {
      verifyEisSignature(eis, createPublicKey(eumCertificate));
    } catch {
      return failed(SUBJECT_CODES.EIS, REASON_CODES.VERIFICATION_FAILED, 'the EUM signature does not verify');
    }
    const chain = await this.#o.chains.verify({ certificate: ecasdCert, role: 'ecasd', eumCertificate });
    if (!chain.ok)
      return failed(
        SUBJECT_CODES.ECASD,
        REASON_CODES.VERIFICATION_FAILED,
        `${chain.error.code}: ${chain.error.reason}`,
      );
    const now = this.#now();
    try {
      await this.#o.store.db
        .transaction()
        .execute((tx) => insertEis(tx, this.#o.keyRing, eis, eumCertificate, now));
    } catch (e) {
      if ((await loadEis(this.#db, eid)) !== undefined)
        return failed(SUBJECT_CODES.EID, REASON_CODES.ALREADY_IN_USE, 'this EID is registered', eid);
      throw e;
    }
    return SUCCESS;
  }

  // --- reads ----------------------------------------------------------------------------------------

  async #getEis(eid: string, c: Caller): Promise<Outcome<{ eis?: Eis }>> {
    const eis = await loadEis(this.#db, eid);
    if (eis === undefined) return { status: unknownEid(eid) };
    return { status: SUCCESS, output: { eis: this.#view(eis, c) } };
  }

  /** What a requester sees: the audit trail records of its own requests (no key values anywhere). */
  #view(eis: Eis, c: Caller): Eis {
    const records = eis.auditTrail?.records.filter((r) => r.requesterId === c.id) ?? [];
    const { auditTrail: _all, ...rest } = eis;
    return records.length === 0 ? rest : { ...rest, auditTrail: { records } };
  }

  // --- the procedure frame --------------------------------------------------------------------------

  /**
   * Runs `body` as the eUICC's one procedure: takes the lock (the row's insert, already at `first`
   * when the request alone decides the first step), reads the EIS once under it and hands it to the
   * body — nothing else changes the EIS while the lock is held — and always ends the row with the
   * body's status (a throw ends it FAILED), with the body's last EIS writes in the same transaction.
   * With `prepare`, the lock, the EIS read and what prepare stores before the first message leaves
   * (or its refusal, which ends the row) are one transaction. A body answering `hold` leaves the row
   * running as a held SendData sequence. The caller's own held sequence ends first.
   */
  async #procedure<O>(
    name: string,
    req: BaseRequest & { eid: string },
    c: Caller,
    first: FirstStep,
    body: (id: string, eis: EisSnapshot) => Promise<Outcome<O>>,
    prepare?: (tx: Executor, id: string, eis: EisSnapshot, now: number) => Promise<Outcome<O> | undefined>,
  ): Promise<Outcome<O>> {
    const requester = `${c.kind}:${c.id}`;
    await this.#releaseHeld(req.eid, requester);
    const now = this.#now();
    const seconds = req.validityPeriod ?? this.#o.defaultValiditySeconds ?? 600;
    const row = {
      eid: req.eid,
      function: name,
      requester,
      functionCallId: req.functionCallIdentifier,
      step: first.step,
      data: first.data,
      deadline: now + seconds * 1000,
    };
    let id: string;
    let eis: EisSnapshot;
    if (prepare === undefined) {
      const started = await this.#write((tx) => beginProcedure(tx, row, now));
      if (started === undefined) return this.#busy(req.functionCallIdentifier, name);
      const snapshot = await readEisSnapshot(this.#db, req.eid);
      if (snapshot === undefined) {
        await this.#write((tx) => discardProcedure(tx, started));
        return { status: unknownEid(req.eid) };
      }
      // A hand-over given up with its outcome unknown: only AuditEIS runs (see handoverGivenUpStatus).
      if (snapshot.handoverUnknown !== null && name !== 'AuditEIS') {
        await this.#write((tx) => discardProcedure(tx, started));
        return this.#givenUp(req.functionCallIdentifier, name, snapshot.handoverUnknown);
      }
      id = started;
      eis = snapshot;
    } else {
      const started = await this.#write(async (tx) => {
        const newId = await beginProcedure(tx, row, now);
        if (newId === undefined) return 'busy' as const;
        const snapshot = await readEisSnapshot(tx, req.eid);
        if (snapshot === undefined) {
          await discardProcedure(tx, newId);
          return undefined;
        }
        if (snapshot.handoverUnknown !== null && name !== 'AuditEIS') {
          await discardProcedure(tx, newId);
          return { givenUp: snapshot.handoverUnknown };
        }
        const refusal = await prepare(tx, newId, snapshot, now);
        if (refusal !== undefined) {
          await refusal.final?.(tx, now);
          await endProcedure(tx, newId, refusal.status, now);
        }
        return { id: newId, snapshot, refusal };
      });
      if (started === 'busy') return this.#busy(req.functionCallIdentifier, name);
      if (started === undefined) return { status: unknownEid(req.eid) };
      if (started.givenUp !== undefined)
        return this.#givenUp(req.functionCallIdentifier, name, started.givenUp);
      if (started.refusal !== undefined) {
        this.#progress(req.functionCallIdentifier, name);
        this.#progress(req.functionCallIdentifier, name, started.refusal.status);
        return { status: started.refusal.status };
      }
      id = started.id;
      eis = started.snapshot;
    }
    this.#progress(req.functionCallIdentifier, name);
    let outcome: Outcome<O>;
    try {
      outcome = await body(id, eis);
    } catch (e) {
      const at = this.#now();
      await this.#write((tx) => endProcedure(tx, id, execError('internal error'), at));
      this.#progress(req.functionCallIdentifier, name, execError('internal error'));
      throw e;
    }
    const end = this.#now();
    const final = outcome.final;
    if (outcome.ended === true) {
      // ended where the status came from
    } else if (outcome.hold !== undefined)
      this.#hold(req.eid, {
        id,
        requester,
        sdAid: outcome.hold.sdAid,
        deadline: row.deadline,
        timer: undefined,
      });
    else
      await this.#write(async (tx) => {
        await final?.(tx, end);
        await endProcedure(tx, id, outcome.status, end);
      });
    this.#progress(req.functionCallIdentifier, name, outcome.status);
    const { final: _final, ended: _ended, hold: _hold, ...answer } = outcome;
    return answer;
  }

  #busy<O>(functionCallIdentifier: string, name: string): Outcome<O> {
    this.#progress(functionCallIdentifier, name, EUICC_BUSY);
    return { status: EUICC_BUSY };
  }

  #givenUp<O>(functionCallIdentifier: string, name: string, marker: string): Outcome<O> {
    const status = handoverGivenUpStatus(marker);
    this.#progress(functionCallIdentifier, name, status);
    return { status };
  }

  /** A SendData sequence keeps its row as the eUICC's lock until its next unit or the hold time. */
  #hold(eid: string, held: HeldSendData): void {
    clearTimeout(held.timer);
    held.timer = setTimeout(() => {
      if (this.#held.get(eid) === held) void this.#releaseHeld(eid);
    }, this.#o.sendDataHoldMs ?? 15_000);
    held.timer.unref();
    this.#held.set(eid, held);
  }

  /**
   * Ends the held SendData sequence of `eid` (of `requester` only, when given): its row ends with
   * the status its last unit was answered (SUCCESS). Resolves once no held row of the eUICC is being
   * ended, so a procedure that follows finds the lock free.
   */
  #releaseHeld(eid: string, requester?: string): Promise<void> | undefined {
    const held = this.#held.get(eid);
    if (held === undefined || (requester !== undefined && held.requester !== requester))
      return this.#releasing.get(eid);
    this.#held.delete(eid);
    clearTimeout(held.timer);
    const at = this.#now();
    const ended: Promise<void> = this.#write((tx) => endProcedure(tx, held.id, SUCCESS, at)).then(
      () => undefined,
      () => undefined,
    );
    const done = ended.finally(() => {
      if (this.#releasing.get(eid) === done) this.#releasing.delete(eid);
    });
    this.#releasing.set(eid, done);
    return done;
  }

  /** Reports a function starting (no status) or ending; fire and forget. */
  #progress(functionCallIdentifier: string, step: string, status?: FunctionExecutionStatus): void {
    const port = this.#o.progress;
    if (port === undefined) return;
    const state =
      status === undefined
        ? 'running'
        : status.status === 'EXECUTED_SUCCESS' || status.status === 'EXECUTED_WITHWARNING'
          ? 'succeeded'
          : 'failed';
    const detail = status?.statusCodeData?.message;
    port
      .report({
        functionCallIdentifier,
        step,
        state,
        ...(status === undefined ? {} : { status }),
        ...(detail === undefined ? {} : { detail }),
      })
      .catch(() => undefined);
  }

  #profileFor(eis: EisSnapshot, iccid: string, c: Caller): ProfileRow | FunctionExecutionStatus {
    const row = eis.profiles.find((p) => p.iccid === iccid);
    if (row === undefined || row.state === 'In-Creation') return unknownProfile(iccid);
    const owner = c.kind === 'smdp' ? row.smdp_id : row.mno_id;
    if (owner !== c.id)
      return failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.NOT_ALLOWED, 'the profile is not yours', iccid);
    // Until ProfileDownloadCompleted the ISD-P is the SM-DP's (§3.1); the operator acts after it.
    if (c.kind === 'operator' && row.state === 'Created')
      return failed(
        SUBJECT_CODES.PROFILE_ICCID,
        REASON_CODES.REFUSED,
        'the profile is being downloaded',
        iccid,
      );
    return row;
  }

  async #audit(b: BaseRequest & { eid: string; iccids: readonly string[] }, c: Caller) {
    return this.#procedure<{ eis?: Eis }>('AuditEIS', b, c, AUDIT_SENT, async (id, snapshot) => {
      const status = await this.#reconcile(b.eid, id, `${c.id}`, snapshot.profiles);
      if (status.status !== 'EXECUTED_SUCCESS') return { status };
      const eis = await loadEis(this.#db, b.eid);
      if (eis === undefined) return { status: unknownEid(b.eid) };
      const wanted = new Set(b.iccids);
      const view = this.#view(eis, c);
      return {
        status: SUCCESS,
        output: {
          eis:
            wanted.size === 0
              ? view
              : { ...view, profiles: view.profiles.filter((p) => wanted.has(p.iccid)) },
        },
      };
    });
  }

  /**
   * AuditEIS on the card (ES5 GET STATUS of every ISD-P): the EIS follows what the card reports —
   * states, profiles gone, In-Creation entries the card holds become Created, the others go.
   */
  async #reconcile(
    eid: string,
    procedureId: string,
    requester: string,
    /** The profiles read under the procedure's lock, whose row is already at 'audit-sent'. */
    locked?: readonly ProfileRow[],
  ): Promise<FunctionExecutionStatus> {
    if (locked === undefined) {
      const at = this.#now();
      await this.#write((tx) => recordStep(tx, procedureId, 'audit-sent', {}, at));
    }
    const r = await this.#o.transport.send(eid, ISD_R_AID, [getStatusApdu()]);
    if (!r.ok) return transportFailure(r);
    const answer = r.responses[0];
    if (answer === undefined || !isCompleted(answer.sw))
      return statusOfSw(answer?.sw ?? 0x6f00, 'GET STATUS');
    const list = decodeIsdpStatusList(answer.data);
    if (!list.ok) return execError('GET STATUS answer does not decode');
    const onCard = new Map(list.value.map((s) => [s.aid, s]));
    const now = this.#now();
    await this.#write(async (tx) => {
      for (const p of locked ?? (await profilesOf(tx, eid))) {
        const s = onCard.get(p.isdp_aid);
        const state = s === undefined ? undefined : STATE_OF_LIFE_CYCLE[s.lifeCycle];
        if (state === undefined) {
          await tx
            .deleteFrom('esim_sr_profiles')
            .where('eid', '=', eid)
            .where('iccid', '=', p.iccid)
            .execute();
          // An In-Creation entry never took its memory (#settleCreation takes it when Created).
          if (p.state !== 'In-Creation') await addRemainingMemory(tx, eid, Number(p.allocated_memory), now);
        } else if (state !== p.state) {
          await setProfileState(tx, eid, p.iccid, state, now);
          if (p.state === 'In-Creation') await addRemainingMemory(tx, eid, -Number(p.allocated_memory), now);
        }
        if (s !== undefined && (s.fallback ? 1 : 0) !== Number(p.fallback))
          await tx
            .updateTable('esim_sr_profiles')
            .set({ fallback: s.fallback ? 1 : 0 })
            .where('eid', '=', eid)
            .where('iccid', '=', p.iccid)
            .execute();
      }
      await tx
        .updateTable('esim_sr_eis')
        .set({ last_audit_at: now, updated_at: now })
        .where('eid', '=', eid)
        .execute();
      await recordAudit(
        tx,
        {
          eid,
          operationType: AUDIT_OPERATION_TYPES.eUICCCapabilityAudit,
          requesterId: requester,
          status: SUCCESS,
        },
        now,
      );
    });
    return SUCCESS;
  }

  // --- ES3 CreateISDP (§3.1 steps 6–13) ---------------------------------------------------------------

  async #createIsdp(
    b: BaseRequest & {
      eid: string;
      iccid: string;
      mnoId: string;
      requiredMemory: number;
    },
    c: Caller,
  ): Promise<Outcome<{ isdPAid: string }>> {
    const first = STARTED({ iccid: b.iccid });
    const eid = b.eid;
    let aid = '';
    let signedInfo = '';
    // Steps 7 (checks, the entry "In-Creation" and the step) are stored with the lock, in one
    // transaction, before the INSTALL leaves.
    const prepare = async (tx: Executor, id: string, eis: EisSnapshot, now: number) => {
      const profiles = eis.profiles;
      if (profiles.some((p) => p.iccid === b.iccid))
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.ALREADY_IN_USE, 'ICCID present', b.iccid),
        };
      // ICCIDType of the esim-messaging schema (in-process callers skip the SOAP decoder's check).
      if (!/^89[0-9fF]{4,18}$/.test(b.iccid))
        return { status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.INVALID, 'not an ICCID') };
      if (!Number.isSafeInteger(b.requiredMemory) || b.requiredMemory <= 0)
        return {
          status: failed(SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID, 'RequiredMemory must be positive'),
        };
      if (b.requiredMemory > eis.remainingMemory)
        return { status: failed(SUBJECT_CODES.EUICC, REASON_CODES.INSUFFICIENT_MEMORY, 'not enough memory') };
      const used = new Set(profiles.map((p) => p.isdp_aid));
      let n = 0x10;
      while (used.has(isdpAid(n)) && n < 0xffff) n++;
      aid = isdpAid(n);
      signedInfo = eis.signedInfo;
      await insertProfile(
        tx,
        eid,
        {
          iccid: b.iccid,
          isdPAid: aid,
          mnoId: b.mnoId,
          smdpId: c.id,
          fallbackAttribute: false,
          subscriptionAddress: {},
          allocatedMemory: b.requiredMemory,
          pol2: { rules: [] },
        },
        'In-Creation',
        now,
      );
      await recordStep(tx, id, 'install-sent', { iccid: b.iccid, aid }, now);
      return undefined;
    };
    return this.#procedure<{ isdPAid: string }>(
      'CreateISDP',
      b,
      c,
      first,
      async () => {
        // The AIDs are strings of the stored EumSignedInfo (no bytes to revive).
        const { eumSignedInfo } = JSON.parse(signedInfo) as StoredSignedPart;
        const r = await this.#o.transport.send(eid, ISD_R_AID, [
          createIsdpApdu({
            loadFileAid: eumSignedInfo.isdPLoadFileAid,
            moduleAid: eumSignedInfo.isdPModuleAid,
            isdpAid: aid,
            memory: b.requiredMemory,
          }),
        ]);
        const status = !r.ok
          ? transportFailure(r)
          : isCompleted(r.responses[0]?.sw ?? 0)
            ? SUCCESS
            : statusOfSw(r.responses[0]?.sw ?? 0x6f00, 'CreateISDP');
        // Unreachable card: the entry stays In-Creation (invisible) until an audit or recover() settles it.
        let created = r.ok ? status.status === 'EXECUTED_SUCCESS' : undefined;
        // Any other answer (a refusal, or one garbled after the INSTALL ran) may hide an ISD-P on the
        // card: the entry goes only once a DELETE of its AID says it is not there (9000, 6A88).
        if (created === false && !(await this.#absentOnCard(eid, aid))) created = undefined;
        const final = (tx: Executor, at: number) =>
          this.#settleCreation(tx, at, eid, b.iccid, aid, c.id, created, status, b.requiredMemory);
        return status.status === 'EXECUTED_SUCCESS'
          ? { status, output: { isdPAid: aid }, final }
          : { status, final };
      },
      prepare,
    );
  }

  /** ES5 DELETE of `aid`: true when the card says it no longer holds it (deleted, or never there). */
  async #absentOnCard(eid: string, aid: string): Promise<boolean> {
    const r = await this.#o.transport.send(eid, ISD_R_AID, [deleteProfileApdu(aid)]);
    const sw = r.ok ? r.responses[0]?.sw : undefined;
    return sw !== undefined && (isCompleted(sw) || sw === 0x6a88);
  }

  /** The EIS after an INSTALL of the ISD-P: Created (its memory taken), or the entry gone, audited. */
  async #settleCreation(
    tx: Executor,
    now: number,
    eid: string,
    iccid: string,
    aid: string,
    requester: string,
    created: boolean | undefined,
    status: FunctionExecutionStatus,
    allocatedMemory?: number,
  ): Promise<void> {
    if (created === true) {
      const memory =
        allocatedMemory ??
        Number((await profilesOf(tx, eid)).find((p) => p.iccid === iccid)?.allocated_memory ?? 0);
      await setProfileState(tx, eid, iccid, 'Created', now);
      await addRemainingMemory(tx, eid, -memory, now);
    } else if (created === false) {
      await tx.deleteFrom('esim_sr_profiles').where('eid', '=', eid).where('iccid', '=', iccid).execute();
    }
    await recordAudit(
      tx,
      {
        eid,
        operationType: AUDIT_OPERATION_TYPES.CreateISDP,
        requesterId: requester,
        status,
        isdPAid: aid,
        iccid,
      },
      now,
    );
  }

  // --- ES3 SendData (the ES8 tunnel) and ProfileDownloadCompleted (§3.1 steps 14–21) ------------------

  async #sendData(
    b: BaseRequest & { eid: string; sdAid: string; data: Uint8Array; moreToDo?: boolean },
    c: Caller,
  ): Promise<Outcome<Resp>> {
    const sdAid = b.sdAid.toUpperCase();
    const held = this.#held.get(b.eid);
    if (held !== undefined && held.requester === `${c.kind}:${c.id}` && held.sdAid === sdAid) {
      const continued = await this.#continueSendData(held, b);
      if (continued !== undefined) return continued;
    }
    // The row starts at data-sent: the request alone decides it (and a refusal below ends it).
    const first: FirstStep = { step: 'data-sent', data: { sdAid } };
    return this.#procedure<Resp>('SendData', b, c, first, async (_id, eis) => {
      const row = eis.profiles.find((p) => p.isdp_aid === sdAid);
      if (row === undefined || row.state !== 'Created' || row.smdp_id !== c.id)
        return {
          status: failed(
            SUBJECT_CODES.ISD_P,
            REASON_CODES.NOT_ALLOWED,
            'no ISD-P of yours awaiting a download',
            b.sdAid,
          ),
        };
      return this.#sendUnit(b, sdAid);
    });
  }

  /** One ES8 unit to the ISD-P; answered with MoreToDo, the procedure holds its lock for the next. */
  async #sendUnit(
    b: { eid: string; data: Uint8Array; moreToDo?: boolean },
    sdAid: string,
  ): Promise<Outcome<Resp>> {
    const moreToDo = b.moreToDo === true;
    const r = await this.#o.transport.send(b.eid, sdAid, [b.data], { moreToDo });
    if (!r.ok) return { status: transportFailure(r) };
    const last = r.responses[r.responses.length - 1];
    const data =
      last === undefined ? new Uint8Array(0) : Uint8Array.of(...last.data, last.sw >> 8, last.sw & 0xff);
    return { status: SUCCESS, output: { euiccResponseData: data }, ...(moreToDo ? { hold: { sdAid } } : {}) };
  }

  /**
   * The next unit of a held SendData sequence, under its row (the ISD-P was checked when the sequence
   * began; nothing else changed the EIS since). The row's deadline moves with each request's validity
   * period once less than half of it is left; undefined when the row ended meanwhile (expiry): the
   * unit then starts a procedure of its own.
   */
  async #continueSendData(
    held: HeldSendData,
    b: BaseRequest & { eid: string; data: Uint8Array; moreToDo?: boolean },
  ): Promise<Outcome<Resp> | undefined> {
    this.#held.delete(b.eid);
    clearTimeout(held.timer);
    const now = this.#now();
    const validity = (b.validityPeriod ?? this.#o.defaultValiditySeconds ?? 600) * 1000;
    if (held.deadline - now < validity / 2) {
      if (!(await this.#write((tx) => extendProcedure(tx, held.id, now + validity, now)))) return undefined;
      held.deadline = now + validity;
    }
    this.#progress(b.functionCallIdentifier, 'SendData');
    let outcome: Outcome<Resp>;
    try {
      outcome = await this.#sendUnit(b, held.sdAid);
    } catch (e) {
      const at = this.#now();
      await this.#write((tx) => endProcedure(tx, held.id, execError('internal error'), at));
      this.#progress(b.functionCallIdentifier, 'SendData', execError('internal error'));
      throw e;
    }
    if (outcome.hold !== undefined) this.#hold(b.eid, held);
    else {
      const at = this.#now();
      await this.#write((tx) => endProcedure(tx, held.id, outcome.status, at));
    }
    this.#progress(b.functionCallIdentifier, 'SendData', outcome.status);
    return { status: outcome.status, ...(outcome.output === undefined ? {} : { output: outcome.output }) };
  }

  async #downloadCompleted(
    b: BaseRequest & {
      eid: string;
      iccid: string;
      profileType?: string;
      subscriptionAddress?: { imsi?: string; msisdn?: string };
      pol2?: Pol2;
    },
    c: Caller,
  ) {
    // The row starts at status-sent (the GET STATUS below is the function's only message).
    const first: FirstStep = { step: 'status-sent', data: { iccid: b.iccid } };
    return this.#procedure<Resp>('ProfileDownloadCompleted', b, c, first, async (_id, eis) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      if (row.state !== 'Created')
        return {
          status: failed(
            SUBJECT_CODES.PROFILE_ICCID,
            REASON_CODES.REFUSED,
            'the profile is not in Created state',
          ),
        };
      // The card decides: the ISD-P must hold its profile (DISABLED) before the EIS says so.
      const r = await this.#o.transport.send(b.eid, ISD_R_AID, [getStatusApdu(row.isdp_aid)]);
      if (!r.ok) return { status: transportFailure(r) };
      const s = r.responses[0];
      const list = s !== undefined && isCompleted(s.sw) ? decodeIsdpStatusList(s.data) : undefined;
      if (list === undefined || !list.ok || list.value[0]?.lifeCycle !== 0x1f)
        return { status: execError('the ISD-P does not hold an installed profile') };
      const final = async (tx: Executor, now: number) => {
        await tx
          .updateTable('esim_sr_profiles')
          .set({
            state: 'Disabled',
            pol2: JSON.stringify(b.pol2 ?? { rules: [] }),
            profile_type: b.profileType ?? row.profile_type,
            imsi: b.subscriptionAddress?.imsi ?? row.imsi,
            msisdn: b.subscriptionAddress?.msisdn ?? row.msisdn,
            updated_at: now,
          })
          .where('eid', '=', b.eid)
          .where('iccid', '=', b.iccid)
          .execute();
      };
      return { status: SUCCESS, final };
    });
  }

  // --- UpdatePolicyRules (POL2) and UpdateSubscriptionAddress: EIS only --------------------------------

  async #updatePol2(b: BaseRequest & { eid: string; iccid: string }, pol2: Pol2, c: Caller) {
    return this.#procedure<Resp>('UpdatePolicyRules', b, c, STARTED({ iccid: b.iccid }), async (_id, eis) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      const final = async (tx: Executor, now: number) => {
        await tx
          .updateTable('esim_sr_profiles')
          .set({ pol2: JSON.stringify({ rules: pol2.rules }), updated_at: now })
          .where('eid', '=', b.eid)
          .where('iccid', '=', b.iccid)
          .execute();
      };
      return { status: SUCCESS, final };
    });
  }

  async #updateAddress(
    b: BaseRequest & {
      eid: string;
      iccid: string;
      newSubscriptionAddress: { imsi?: string; msisdn?: string };
    },
    c: Caller,
  ) {
    const first = STARTED({ iccid: b.iccid });
    return this.#procedure<Resp>('UpdateSubscriptionAddress', b, c, first, async (_id, eis) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      const final = async (tx: Executor, now: number) => {
        await tx
          .updateTable('esim_sr_profiles')
          .set({
            imsi: b.newSubscriptionAddress.imsi ?? null,
            msisdn: b.newSubscriptionAddress.msisdn ?? null,
            updated_at: now,
          })
          .where('eid', '=', b.eid)
          .where('iccid', '=', b.iccid)
          .execute();
      };
      return { status: SUCCESS, final };
    });
  }

  // --- Enable / Disable (§3.3: ES5 → REFRESH → default notification → confirmation → EIS) --------------

  async #enable(b: BaseRequest & { eid: string; iccid: string }, c: Caller) {
    let change: ProfileChange | undefined;
    // The checks and the command-sent step are stored with the lock (one transaction).
    const prepare = async (tx: Executor, id: string, eis: EisSnapshot, now: number) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      if (row.state !== 'Disabled')
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'the profile is not disabled'),
        };
      const current = eis.profiles.find((p) => p.state === 'Enabled');
      if (pol2Forbids(pol2Of(row), 'ENABLE'))
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'POL2: enabling not allowed'),
        };
      if (current !== undefined && pol2Forbids(pol2Of(current), 'DISABLE'))
        return {
          status: failed(
            SUBJECT_CODES.PROFILE_ICCID,
            REASON_CODES.REFUSED,
            'POL2 of the enabled profile: disabling not allowed',
            current.iccid,
          ),
        };
      change = { target: row.isdp_aid, iccid: row.iccid, previous: current?.isdp_aid };
      await recordStep(tx, id, 'command-sent', change, now);
      return undefined;
    };
    return this.#procedure<Resp>(
      'EnableProfile',
      b,
      c,
      STARTED({ iccid: b.iccid }),
      async (id) => {
        const ch = change as ProfileChange;
        return this.#change(id, b.eid, ch, enableProfileApdu(ch.target), 'EnableProfile');
      },
      prepare,
    );
  }

  async #disable(b: BaseRequest & { eid: string; iccid: string }, c: Caller) {
    let change: ProfileChange | undefined;
    const prepare = async (tx: Executor, id: string, eis: EisSnapshot, now: number) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      if (row.state !== 'Enabled')
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'the profile is not enabled'),
        };
      if (pol2Forbids(pol2Of(row), 'DISABLE'))
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'POL2: disabling not allowed'),
        };
      change = { target: row.isdp_aid, iccid: row.iccid, previous: row.isdp_aid };
      await recordStep(tx, id, 'command-sent', change, now);
      return undefined;
    };
    return this.#procedure<Resp>(
      'DisableProfile',
      b,
      c,
      STARTED({ iccid: b.iccid }),
      async (id) => {
        const ch = change as ProfileChange;
        return this.#change(id, b.eid, ch, disableProfileApdu(ch.target), 'DisableProfile');
      },
      prepare,
    );
  }

  /**
   * Sends the 3A03/3A04 (its command-sent step stored with the lock), then waits for the default
   * notification that ends the procedure.
   */
  async #change(
    id: string,
    eid: string,
    change: ProfileChange,
    apdu: Uint8Array,
    what: string,
  ): Promise<Outcome<{ euiccResponseData?: Uint8Array }>> {
    const r = await this.#o.transport.send(eid, ISD_R_AID, [apdu]);
    if (!r.ok) return { status: transportFailure(r) };
    const sw = r.responses[0]?.sw ?? 0x6f00;
    if (!isCompleted(sw)) {
      const status = statusOfSw(sw, what);
      const final = async (tx: Executor, now: number) => {
        await recordAudit(
          tx,
          {
            eid,
            operationType:
              what === 'EnableProfile'
                ? AUDIT_OPERATION_TYPES.EnableProfile
                : AUDIT_OPERATION_TYPES.DisableProfile,
            status,
            isdPAid: change.target,
            iccid: change.iccid,
          },
          now,
        );
      };
      return { status, final };
    }
    const done = new Promise<FunctionExecutionStatus>((resolve) => this.#waiters.set(id, resolve));
    // Guarded: a notification that came before this line already claimed the procedure.
    const at = this.#now();
    const moved = await this.#write((tx) =>
      tx
        .updateTable('esim_sr_procedures')
        .set({ step: 'awaiting-notification', updated_at: at })
        .where('procedure_id', '=', id)
        .where('step', '=', 'command-sent')
        .executeTakeFirst(),
    );
    if (Number(moved.numUpdatedRows) === 0) {
      // The notification was handled between the PoR and this line: it may have ended the row.
      const row = await procedureById(this.#db, id);
      if (row?.active_eid === null && row.result !== null) {
        this.#waiters.delete(id);
        return { status: JSON.parse(row.result) as FunctionExecutionStatus, ended: true };
      }
    }
    // Whoever resolves the wait (the notification, expireProcedures) ended the row first.
    const status = await done;
    return { status, ended: true };
  }

  // --- Delete (§3.3: ES5 DELETE; ES4 DeleteProfile, ES3 DeleteISDP) -----------------------------------

  async #delete(b: BaseRequest & { eid: string; iccid: string }, c: Caller) {
    let target: ProfileRow | undefined;
    // The checks and the command-sent step are stored with the lock (one transaction).
    const prepare = async (tx: Executor, id: string, eis: EisSnapshot, now: number) => {
      const row = this.#profileFor(eis, b.iccid, c);
      if (!('iccid' in row)) return { status: row };
      if (row.state === 'Enabled')
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'the profile is enabled'),
        };
      if (pol2Forbids(pol2Of(row), 'DELETE'))
        return {
          status: failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, 'POL2: deletion not allowed'),
        };
      target = row;
      await recordStep(tx, id, 'command-sent', { target: row.isdp_aid, iccid: row.iccid }, now);
      return undefined;
    };
    return this.#procedure<Resp>(
      c.kind === 'smdp' ? 'DeleteISDP' : 'DeleteProfile',
      b,
      c,
      STARTED({ iccid: b.iccid }),
      async () => ({ status: await this.#deleteOnCard(b.eid, target as ProfileRow, `${c.id}`) }),
      prepare,
    );
  }

  /** ES5 DeleteProfile and, when the card deleted it (or never had it), the EIS entry with it. */
  async #deleteOnCard(eid: string, row: ProfileRow, requester?: string): Promise<FunctionExecutionStatus> {
    const r = await this.#o.transport.send(eid, ISD_R_AID, [deleteProfileApdu(row.isdp_aid)]);
    if (!r.ok) return transportFailure(r);
    const sw = r.responses[0]?.sw ?? 0x6f00;
    const gone = isCompleted(sw) || sw === 0x6a88;
    const status = gone ? SUCCESS : statusOfSw(sw, 'DeleteProfile');
    const now = this.#now();
    const notices = await this.#write(async (tx) => {
      if (gone) await this.#forget(tx, eid, row, now);
      await recordAudit(
        tx,
        {
          eid,
          operationType: AUDIT_OPERATION_TYPES.DeleteProfile,
          requesterId: requester,
          status,
          isdPAid: row.isdp_aid,
          iccid: row.iccid,
        },
        now,
      );
      return gone && row.state !== 'Created' ? this.#enqueue(tx, 'deleted', eid, row, now) : [];
    });
    await this.notifications.deliver(notices);
    return status;
  }

  async #forget(tx: Executor, eid: string, row: ProfileRow, now: number): Promise<void> {
    await tx.deleteFrom('esim_sr_profiles').where('eid', '=', eid).where('iccid', '=', row.iccid).execute();
    await addRemainingMemory(tx, eid, Number(row.allocated_memory), now);
  }

  // --- default notifications (§3.5) -----------------------------------------------------------------

  /**
   * A default notification (`E1`) from the eUICC `eid`, already authenticated by its transport (the
   * SCP80 CC under this eUICC's ISD-R keys, or the SCP81 session). The EIS follows it (the named
   * ISD-P is the enabled one), the eUICC gets its confirmation (3A08), POL2 Auto-Delete runs on the
   * profile that got disabled, the SM-DP and operator are notified, and a procedure waiting for it
   * ends. A repeated notification is confirmed again and applied once.
   */
  async handleNotification(eid: string, e1: Uint8Array): Promise<FunctionExecutionStatus> {
    const n = decodeNotification(e1);
    if (!n.ok) return failed(SUBJECT_CODES.EUICC, REASON_CODES.INVALID, n.error.code);
    if (n.value.eid !== eid)
      return failed(SUBJECT_CODES.EID, REASON_CODES.INVALID, 'notification for another EID');
    const aid = n.value.aid.toUpperCase();
    const seen = await this.#db
      .selectFrom('esim_sr_notifications')
      .selectAll()
      .where('eid', '=', eid)
      .where('seq', '=', n.value.seq)
      .executeTakeFirst();
    if (seen !== undefined && Number(seen.type) === n.value.type && seen.isdp_aid === aid) {
      await this.#o.transport.send(eid, ISD_R_AID, [notificationConfirmationApdu(n.value.seq)]);
      return SUCCESS;
    }
    let active = await activeProcedure(this.#db, eid);
    let own: string | undefined;
    if (active === undefined) {
      const at = this.#now();
      const row = {
        eid,
        function: 'HandleDefaultNotification',
        requester: 'euicc',
        functionCallId: `notification-${n.value.seq}`,
        step: 'started',
        data: n.value,
        deadline: at + (this.#o.defaultValiditySeconds ?? 600) * 1000,
      };
      own = await this.#write((tx) => beginProcedure(tx, row, at));
      if (own === undefined) active = await activeProcedure(this.#db, eid);
    }
    // A profile change waits for this notification; it may come before the PoR was processed (the
    // command ran: the card only notifies after it). Anything else running: left unconfirmed, the
    // eUICC sends it again.
    const changing =
      own === undefined &&
      active !== undefined &&
      (active.function === 'EnableProfile' || active.function === 'DisableProfile') &&
      (active.step === 'awaiting-notification' ||
        active.step === 'command-sent' ||
        active.step === 'confirming');
    // Not the notification this change waits for (esim.md §1.5, §3.5): one the eUICC kept from
    // before — an eUICC declaration nobody confirmed, perhaps sent to the previous SM-SR during an
    // SM-SR change — arriving first with the change's own. It is confirmed (3A08 with its sequence
    // number) so the card drops it, and changes nothing: the change's notification settles the EIS.
    if (changing && active !== undefined && !answersChange(active, n.value.type, aid)) {
      const at = this.#now();
      await this.#write(async (tx) => {
        await tx
          .deleteFrom('esim_sr_notifications')
          .where('eid', '=', eid)
          .where('seq', '=', n.value.seq)
          .execute();
        await tx
          .insertInto('esim_sr_notifications')
          .values({ eid, seq: n.value.seq, type: n.value.type, isdp_aid: aid, received_at: at })
          .execute();
      });
      await this.#o.transport.send(eid, ISD_R_AID, [notificationConfirmationApdu(n.value.seq)]);
      return SUCCESS;
    }
    const answers = changing && active?.step !== 'confirming';
    if (own === undefined && !answers) return EUICC_BUSY;
    const procedureId = own ?? (active as ProcedureRow).procedure_id;
    const now = this.#now();
    // EIS first (one transaction with the notification row), then the confirmation leaves.
    const before = await profilesOf(this.#db, eid);
    const enabled = before.find((p) => p.isdp_aid === aid);
    // An ISD-P the EIS does not know changes nothing here (an audit settles it); it is confirmed.
    const disabled =
      enabled === undefined ? [] : before.filter((p) => p.state === 'Enabled' && p.isdp_aid !== aid);
    const claimed = await this.#write(async (tx) => {
      // The notification claims its procedure once: of two deliveries racing, one moves the step.
      const moved = await tx
        .updateTable('esim_sr_procedures')
        .set({ step: 'confirming', updated_at: now })
        .where('procedure_id', '=', procedureId)
        .where('step', 'in', own === undefined ? ['awaiting-notification', 'command-sent'] : ['started'])
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return undefined;
      for (const p of disabled) await setProfileState(tx, eid, p.iccid, 'Disabled', now);
      if (enabled !== undefined && enabled.state !== 'Enabled')
        await setProfileState(tx, eid, enabled.iccid, 'Enabled', now);
      await tx
        .deleteFrom('esim_sr_notifications')
        .where('eid', '=', eid)
        .where('seq', '=', n.value.seq)
        .execute();
      await tx
        .insertInto('esim_sr_notifications')
        .values({ eid, seq: n.value.seq, type: n.value.type, isdp_aid: aid, received_at: now })
        .execute();
      if (enabled !== undefined && enabled.state !== 'Enabled')
        await recordAudit(
          tx,
          {
            eid,
            operationType: AUDIT_OPERATION_TYPES.EnableProfile,
            requesterId: active?.requester.replace(/^[a-z]+:/, ''),
            status: SUCCESS,
            isdPAid: aid,
            iccid: enabled.iccid,
            imei: n.value.imei,
          },
          now,
        );
      for (const p of disabled)
        await recordAudit(
          tx,
          {
            eid,
            operationType: AUDIT_OPERATION_TYPES.DisableProfile,
            requesterId: active?.requester.replace(/^[a-z]+:/, ''),
            status: SUCCESS,
            isdPAid: p.isdp_aid,
            iccid: p.iccid,
          },
          now,
        );
      // The SM-DP's and operator's notifications, written with the EIS change they report.
      const notices: (number | undefined)[] = [];
      if (enabled !== undefined && enabled.state !== 'Enabled')
        notices.push(...(await this.#enqueue(tx, 'enabled', eid, enabled, now)));
      for (const p of disabled) notices.push(...(await this.#enqueue(tx, 'disabled', eid, p, now)));
      return notices;
    });
    if (claimed === undefined) {
      const at = this.#now();
      if (own !== undefined) await this.#write((tx) => endProcedure(tx, own, SUCCESS, at));
      return SUCCESS; // another delivery of it holds the procedure and confirms it
    }
    const confirmation = await this.#o.transport.send(eid, ISD_R_AID, [
      notificationConfirmationApdu(n.value.seq),
    ]);
    // ISD-Ps the eUICC deleted on confirmation (POL1 "delete when disabled").
    const deleted =
      confirmation.ok && confirmation.responses[0] !== undefined && isCompleted(confirmation.responses[0].sw)
        ? decodeConfirmationResponse(confirmation.responses[0].data)
        : undefined;
    for (const gone of deleted?.ok ? deleted.value : []) {
      const row = before.find((p) => p.isdp_aid === gone);
      if (row === undefined) continue;
      await this.#write(async (tx) => {
        await this.#forget(tx, eid, row, now);
        if (row.state !== 'Created') claimed.push(...(await this.#enqueue(tx, 'deleted', eid, row, now)));
        await recordAudit(
          tx,
          {
            eid,
            operationType: AUDIT_OPERATION_TYPES.DeleteProfile,
            status: SUCCESS,
            isdPAid: gone,
            iccid: row.iccid,
          },
          now,
        );
      });
    }
    await this.notifications.deliver(claimed);
    for (const p of disabled) {
      if (deleted?.ok && deleted.value.includes(p.isdp_aid)) continue;
      // POL2 Auto-Delete of the profile that got disabled (§3.3).
      if (pol2AutoDelete(pol2Of(p))) await this.#deleteOnCard(eid, { ...p, state: 'Disabled' });
    }
    // The procedure this notification answers.
    let status: FunctionExecutionStatus = SUCCESS;
    if (own === undefined && active !== undefined) {
      const change = JSON.parse(active.data) as ProfileChange;
      const succeeded =
        n.value.type !== NOTIFIED.rollback &&
        (active.function === 'EnableProfile' ? aid === change.target : aid !== change.target);
      status = succeeded ? SUCCESS : execError('the eUICC rolled the profile change back');
    }
    const endedAt = this.#now();
    await this.#write((tx) => endProcedure(tx, procedureId, status, endedAt));
    const waiter = this.#waiters.get(procedureId);
    this.#waiters.delete(procedureId);
    // A caller still waiting reports through its frame; after a restart nobody waits: report here.
    if (waiter !== undefined) waiter(status);
    else if (own === undefined && active !== undefined)
      this.#progress(active.function_call_id, active.function, status);
    return SUCCESS;
  }

  /**
   * Writes, in `tx`, the notifications of a profile change: ES3 to the profile's SM-DP and ES4 to its
   * operator, each when the directory knows the party now (an unknown party gets nothing; the audit
   * trail still records the operation). Delivered after the commit by this.notifications.
   */
  async #enqueue(
    tx: Executor,
    kind: NotificationKind,
    eid: string,
    p: ProfileRow,
    now: number,
  ): Promise<(number | undefined)[]> {
    const completionTimestamp = new Date(now);
    const ids: (number | undefined)[] = [];
    if (p.smdp_id !== null && this.#o.directory.smdp(p.smdp_id) !== undefined)
      ids.push(
        await this.notifications.enqueue(
          tx,
          {
            interface: 'ES3',
            receiverId: p.smdp_id,
            kind,
            body: { eid, iccid: p.iccid, mnoId: p.mno_id, completionTimestamp },
          },
          now,
        ),
      );
    if (this.#o.directory.operator(p.mno_id) !== undefined)
      ids.push(
        await this.notifications.enqueue(
          tx,
          {
            interface: 'ES4',
            receiverId: p.mno_id,
            kind,
            body: { eid, iccid: p.iccid, completionTimestamp },
          },
          now,
        ),
      );
    return ids;
  }

  // --- durability: restart and validity periods -----------------------------------------------------

  /**
   * After a restart: every procedure still running is ended or resumed from what the eUICC reports.
   * CreateISDP → the ISD-P exists: Created, else the entry goes; Enable/Disable past their command →
   * keep waiting for the notification (it ends them); anything else, or an unreachable eUICC → FAILED
   * ("interrupted"), the EIS reconciled by GET STATUS when the card answers.
   */
  async recover(): Promise<number> {
    let ended = 0;
    for (const p of await runningProcedures(this.#db)) {
      if (p.step === 'awaiting-notification') continue;
      // An SM-SR change (sm-sr-change/) is ended or resumed by SmSrChange.recover(), which runs first.
      if (p.function === 'SMSRChange' || p.function === 'ReceiveSMSRChange') continue;
      const data = JSON.parse(p.data) as { iccid?: string; aid?: string; target?: string };
      let status: FunctionExecutionStatus = execError(`interrupted at step ${p.step}`);
      // The notification was applied to the EIS; its confirmation had not left. The eUICC repeats the
      // notification until confirmed, and the repeat is confirmed without being applied twice.
      if (p.step === 'confirming') status = SUCCESS;
      if (p.function === 'CreateISDP' && p.step === 'install-sent' && data.iccid && data.aid) {
        const r = await this.#o.transport.send(p.eid, ISD_R_AID, [getStatusApdu(data.aid)]);
        const present = r.ok && r.responses[0] !== undefined && isCompleted(r.responses[0].sw);
        const absent = r.ok && r.responses[0]?.sw === 0x6a88;
        if (present) status = SUCCESS;
        const { iccid, aid } = data;
        const now = this.#now();
        await this.#o.store.db
          .transaction()
          .execute((tx) =>
            this.#settleCreation(
              tx,
              now,
              p.eid,
              iccid,
              aid,
              p.requester.replace(/^[a-z]+:/, ''),
              present ? true : absent ? false : undefined,
              status,
            ),
          );
      } else if (
        (p.function === 'EnableProfile' || p.function === 'DisableProfile') &&
        p.step === 'command-sent'
      ) {
        // Did the 3A03/3A04 run? The notification will tell: wait for it until the deadline.
        const r = await this.#o.transport.send(p.eid, ISD_R_AID, [getStatusApdu(data.target)]);
        const s =
          r.ok && r.responses[0] !== undefined ? decodeIsdpStatusList(r.responses[0].data) : undefined;
        const lc = s?.ok ? s.value[0]?.lifeCycle : undefined;
        const ran = p.function === 'EnableProfile' ? lc === 0x3f : lc === 0x1f;
        if (ran) {
          await recordStep(
            this.#db,
            p.procedure_id,
            'awaiting-notification',
            JSON.parse(p.data),
            this.#now(),
          );
          continue;
        }
      } else if (p.step !== 'started' && p.step !== 'confirming') {
        await this.#reconcile(p.eid, p.procedure_id, 'smsr').catch(() => undefined);
      }
      if (await endProcedure(this.#db, p.procedure_id, status, this.#now())) {
        ended++;
        this.#progress(p.function_call_id, p.function, status);
      }
    }
    return ended;
  }

  /**
   * Ends the procedures whose validity period has passed (EXPIRED); a waiting caller gets it. Not an
   * SM-SR change's rows: they run past a deadline to their stated end (a commit must not be cut short,
   * an unresolved hand-over stays locked), and SmSrChange.expireProcedures() ends a stale prepare.
   */
  async expireProcedures(): Promise<number> {
    let n = 0;
    const now = this.#now();
    for (const p of await runningProcedures(this.#db)) {
      if (Number(p.deadline) > now) continue;
      if (p.function === 'SMSRChange' || p.function === 'ReceiveSMSRChange') continue;
      if (await endProcedure(this.#db, p.procedure_id, EXPIRED, now)) {
        n++;
        this.#progress(p.function_call_id, p.function, EXPIRED);
        this.#waiters.get(p.procedure_id)?.(EXPIRED);
        this.#waiters.delete(p.procedure_id);
      }
    }
    return n;
  }
}

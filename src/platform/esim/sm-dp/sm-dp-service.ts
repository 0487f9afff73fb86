// The SM-DP (GSMA SGP.02 §3.1, §5.3 ES2; esim.md §3.1): ES2.DownloadProfile run as the durable step
// table of download-steps.ts over the SM-SR's ES3 port, and the other ES2 functions relayed to ES3
// for the profiles this SM-DP downloaded. Rules:
//   - a step is stored (migration 0014) before its first message leaves — unless a restart in it
//     does what a restart in the stored step before it does (the steps before the key set,
//     key-agreement, enable: their trail entries ride the next write); recover() continues every
//     running download after a restart: before the key set exists the ISD-P is deleted and the
//     download starts again (bounded attempts); with the key set (sealed in the row) the SCP03t
//     download starts again from INITIALIZE UPDATE; later steps are re-run;
//   - any failure during key establishment or download runs the error sub-routine (SGP.02 §3.1.4):
//     ES3.DeleteISDP, then FAILED with a Subject/Reason and a stable SMDP_* failure code;
//   - one download per ICCID at a time (the unique active_iccid), and a profile is downloaded once;
//   - Ki/OPc are opened from the inventory only into the package being sent; they, the package and
//     the key set are never logged or returned.

import { randomUUID } from 'node:crypto';
import type { EstablishedKeyset } from '../../../crypto/sgp-02-key-establishment.js';
import type { Clock } from '../../../lib/clock.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import { GroupCommit } from '../../store/group-commit.js';
import type { Es3NotificationPort, Es3Port } from '../es-ports.js';
import { verifyEisSignature } from '../es-soap/sgp-02-eis-signature.js';
import type { BaseRequest, MessageBodies } from '../es-soap/sgp-02-messages.js';
import {
  EXPIRED,
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from '../es-soap/sgp-02-status-codes.js';
import {
  type NotificationKind,
  NotificationOutbox,
  type NotificationOutboxOptions,
} from '../notifications/notification-outbox.js';
import {
  DOWNLOAD_STEPS,
  type DownloadContext,
  newCallId,
  SEGMENT_SIZE,
  STEP_NAMES,
  type StepDeps,
  type StepName,
  type StepOutcome,
} from './download-steps.js';
import {
  type DownloadProgress,
  type DownloadRow,
  DownloadTrail,
  insertDownload,
  installedDownload,
  openKeyset,
  runningDownloads,
  sealKeyset,
} from './download-store.js';
import { readInventorySim } from './inventory.js';
import { DEFAULT_PROFILE_TYPE, PROFILE_TYPES, type ProfileType } from './profile-types.js';

type Fn<Req extends keyof MessageBodies, Res extends keyof MessageBodies> = (
  body: MessageBodies[Req],
) => Promise<MessageBodies[Res]>;
type Notify<N extends keyof MessageBodies> = (body: MessageBodies[N]) => Promise<void>;

/** ES2 (operator → SM-DP), SGP.02 §5.3: the SM-DP's functions as seen by one operator. */
export interface Es2Port {
  readonly getEIS: Fn<'ES2-GetEISRequest', 'ES2-GetEISResponse'>;
  readonly downloadProfile: Fn<'ES2-DownloadProfileRequest', 'ES2-DownloadProfileResponse'>;
  readonly updatePolicyRules: Fn<'ES2-UpdatePolicyRulesRequest', 'ES2-UpdatePolicyRulesResponse'>;
  readonly updateSubscriptionAddress: Fn<
    'ES2-UpdateSubscriptionAddressRequest',
    'ES2-UpdateSubscriptionAddressResponse'
  >;
  readonly enableProfile: Fn<'ES2-EnableProfileRequest', 'ES2-EnableProfileResponse'>;
  readonly disableProfile: Fn<'ES2-DisableProfileRequest', 'ES2-DisableProfileResponse'>;
  readonly deleteProfile: Fn<'ES2-DeleteProfileRequest', 'ES2-DeleteProfileResponse'>;
}

/** SM-DP → operator notifications (ES2, SGP.02 §5.3.8–10). */
export interface Es2NotificationPort {
  readonly handleProfileEnabledNotification: Notify<'ES2-HandleProfileEnabledNotification'>;
  readonly handleProfileDisabledNotification: Notify<'ES2-HandleProfileDisabledNotification'>;
  readonly handleProfileDeletedNotification: Notify<'ES2-HandleProfileDeletedNotification'>;
  /** SGP.02 §3.8 step 32 relayed: the eUICC has a new SM-SR (the EIS with this operator's profiles). */
  readonly handleSMSRChangeNotification?: Notify<'ES2-HandleSMSRChangeNotification'>;
}

/**
 * An ES3 HandleSMSRChangeNotification this SM-DP does not take (the sender is not the new SM-SR or
 * not a partner, the eUICC or the operator has no profile of ours, the EUM signature fails). Thrown
 * by the port: the sender's outbox keeps the reason (`lastError`) and, after its attempts, the row
 * dead; over SOAP the listener logs it.
 */
export class SmsrChangeRefused extends Error {
  override readonly name = 'SmsrChangeRefused';
}

/** The step written to the trail of each installed download whose eUICC moved to another SM-SR. */
export const SMSR_CHANGED_STEP = 'smsr-changed';

/** The operator calling ES2: its platform operator (whose inventory) and its MNO entity id (OID). */
export interface Es2Caller {
  readonly operatorId: string;
  readonly mnoId: string;
}

export interface SmDpOptions extends Omit<StepDeps, 'sim' | 'othersRunning'> {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  /** This SM-DP's entity id (OID). */
  readonly smdpId: string;
  /** The ES3 port of an SM-SR by its id (bound to this SM-DP); undefined: an SM-SR we cannot reach. */
  readonly smsr: (smsrId: string) => Es3Port | undefined;
  /** Where the operator's ES2 notifications go (by MNO id). */
  readonly operators?: (mnoId: string) => Es2NotificationPort | undefined;
  /** The outbox of the ES2 notifications relayed to operators (attempts, backoff, dead, log). */
  readonly notificationOutbox?: Partial<
    Omit<NotificationOutboxOptions, 'store' | 'clock' | 'senderId' | 'receiver'>
  >;
  /** The profile types offered (default PROFILE_TYPES: simtrust-usim, ts48-generic). */
  readonly profileTypes?: ReadonlyMap<string, ProfileType>;
  /** Plain bytes per SCP03t segment (one 86 TLV per SendData); default SEGMENT_SIZE (512). */
  readonly segmentSize?: number;
  /**
   * The group commit the download rows' writes share (store/group-commit.ts; give it the SM-SR's of
   * the same store): on SQLite the steps of many downloads in one transaction and one fsync, each
   * acknowledged only once committed. Default: one of its own.
   */
  readonly writer?: GroupCommit;
  /** Key establishment attempts per download across restarts; default 3. */
  readonly maxAttempts?: number;
  /**
   * Where each step's start and end are reported, keyed by the ES2 FunctionCallIdentifier (the
   * operator layer's EsimProgressPort fits); a report that fails is ignored.
   */
  readonly progress?: ProgressPort;
  /** An unexpected exception inside a step (for the log; the download ends FAILED). */
  readonly onError?: (error: unknown) => void;
}

/** The operator layer's progress port (operations/progress.ts EsimProgressPort), typed by shape. */
export interface ProgressPort {
  report(r: {
    functionCallIdentifier: string;
    step: string;
    state: 'running' | 'succeeded' | 'failed';
    status?: FunctionExecutionStatus;
    detail?: string;
  }): Promise<void>;
}

export interface DownloadResult {
  readonly downloadId: string;
  readonly iccid: string;
  readonly status: FunctionExecutionStatus;
}

const ERROR_SUBROUTINE = 'delete-isdp';
/** Steps re-run from the start after a restart (nothing of them reached the card but CreateISDP). */
const BEFORE_KEYS: readonly string[] = [
  'prepare-profile',
  'get-eis',
  'verify-ecasd',
  'clean-up',
  'create-isdp',
];
const KEY_ESTABLISHMENT: readonly string[] = ['send-certificate', 'key-agreement'];
/**
 * Steps that do not move the row either (their trail entry is written with the next write), because
 * a restart in them does what a restart in the stored step before them does: in key-agreement as in
 * send-certificate (the ISD-P goes, the download starts again, attempts counted); in enable as in
 * download-completed (the SM-SR's EIS says whether ProfileDownloadCompleted and EnableProfile ran,
 * and only what did not is sent again).
 */
const AS_THE_STEP_BEFORE: readonly string[] = ['key-agreement', 'enable'];

const unknownProfile = (iccid: string) =>
  failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.UNKNOWN, 'no profile of yours with this ICCID', iccid);
const unknownSmsr = (id: string) =>
  failed(SUBJECT_CODES.SM_SR, REASON_CODES.UNKNOWN, 'no SM-SR with this id', id);

export class SmDp {
  readonly #o: SmDpOptions;

  readonly #types: ReadonlyMap<string, ProfileType>;
  /** Each running download's row and trail writer. */
  readonly #trails = new WeakMap<DownloadContext, DownloadTrail>();
  /** Key sets already sealed in their row (sealed once, not at every step). */
  readonly #sealed = new WeakSet<EstablishedKeyset>();
  /** ES2 notifications relayed to operators; serve runs its job (start()), tests call runDue(). */
  readonly notifications: NotificationOutbox;

  readonly #writer: GroupCommit;

  constructor(options: SmDpOptions) {
    this.#o = options;
    this.#writer = options.writer ?? new GroupCommit(options.store, { maxBatch: 256, concurrency: 2 });
    this.#types = options.profileTypes ?? PROFILE_TYPES;
    this.notifications = new NotificationOutbox({
      ...options.notificationOutbox,
      store: options.store,
      clock: options.clock,
      senderId: options.smdpId,
      writer: this.#writer,
      receiver: (iface, id) => (iface === 'ES2' ? options.operators?.(id) : undefined),
    });
  }

  /** Stops the notification outbox (pending rows are sent by the next instance). */
  close(): Promise<void> {
    return this.notifications.close();
  }

  es2For(caller: Es2Caller): Es2Port {
    return {
      getEIS: (b) => this.#getEis(b, caller),
      downloadProfile: async (b) => {
        const r = await this.downloadProfile(b, caller);
        return { functionExecutionStatus: r.status, ...(r.installed ? { iccid: r.iccid } : {}) };
      },
      updatePolicyRules: (b) =>
        this.#relay(b, caller, (es3, c) =>
          es3.updatePolicyRules({ ...c, ...(b.pol2 ? { pol2: b.pol2 } : {}) }),
        ),
      updateSubscriptionAddress: (b) =>
        this.#relay(b, caller, (es3, c) =>
          es3.updateSubscriptionAddress({ ...c, newSubscriptionAddress: b.newSubscriptionAddress }),
        ),
      enableProfile: (b) => this.#relay(b, caller, (es3, c) => es3.enableProfile(c)),
      disableProfile: (b) => this.#relay(b, caller, (es3, c) => es3.disableProfile(c)),
      deleteProfile: async (b) => {
        const r = await this.#relay(b, caller, (es3, c) => es3.deleteISDP(c));
        if (r.functionExecutionStatus.status !== 'FAILED') await this.#markDeleted(b.eid, b.iccid);
        return r;
      },
    };
  }

  /**
   * SM-SR → SM-DP notifications, relayed to the profile's operator on ES2 (SGP.02 §5.4.11–13). The
   * relay is stored (with the download's DELETED mark) before the SM-SR gets its acknowledgement, under
   * a key of the notification's content: the SM-SR sends at least once, the operator gets it once.
   */
  es3Notifications(sender?: string): Es3NotificationPort {
    const relay =
      (kind: NotificationKind) =>
      async (b: { eid: string; iccid: string; mnoId: string; completionTimestamp: Date }) => {
        const now = this.#o.clock.now();
        const at = b.completionTimestamp.getTime();
        const ids = await this.#o.store.db.transaction().execute(async (tx) => {
          if (kind === 'deleted') await this.#markDeleted(b.eid, b.iccid, tx);
          if (this.#o.operators?.(b.mnoId) === undefined) return [];
          return [
            await this.notifications.enqueue(
              tx,
              {
                interface: 'ES2',
                receiverId: b.mnoId,
                kind,
                body: { eid: b.eid, iccid: b.iccid, completionTimestamp: b.completionTimestamp },
                idempotencyKey: `ES2:${b.mnoId}:${kind}:${b.eid}:${b.iccid}:${Number.isNaN(at) ? '' : at}`,
              },
              now,
            ),
          ];
        });
        await this.notifications.deliver(ids);
      };
    return {
      handleProfileEnabledNotification: relay('enabled'),
      handleProfileDisabledNotification: relay('disabled'),
      handleProfileDeletedNotification: relay('deleted'),
      handleSMSRChangeNotification: (b) => this.#smsrChanged(b, sender),
    };
  }

  /**
   * ES3 HandleSMSRChangeNotification (SGP.02 §3.8 step 32): the eUICC of `b.eis` is managed by the
   * SM-SR the EIS names. Checked: the sender (when the transport knows it) is that SM-SR, a partner
   * (an ES3 port); this SM-DP installed a profile of the operator `b.mnoId` on the eUICC; the EIS's
   * EUM signature verifies. Then, one transaction: each installed download of that eUICC points at
   * the new SM-SR (later ES2 relays and downloads go there, see #smsrOf) with a trail entry
   * `smsr-changed` {previousSmsrId, smsrId, completionTimestamp}, and the ES2 relay to the operator is
   * written to the outbox under a key of the change (a repeat changes nothing and is relayed once).
   */
  async #smsrChanged(b: MessageBodies['ES3-HandleSMSRChangeNotification'], sender?: string): Promise<void> {
    const eid = b.eis.eumSignedInfo.eid;
    const smsrId = b.eis.smsrId;
    if (sender !== undefined && sender !== smsrId)
      throw new SmsrChangeRefused(
        `refused: SM-SR ${sender} sent the change of eUICC ${eid} to ${smsrId}; only the new SM-SR notifies`,
      );
    if (this.#o.smsr(smsrId) === undefined)
      throw new SmsrChangeRefused(
        `refused: SM-SR ${smsrId} is not a partner of SM-DP ${this.#o.smdpId} (register it as role sm-sr, then the sender's retry is taken)`,
      );
    const db = this.#o.store.db;
    const mine = await db
      .selectFrom('esim_dp_downloads')
      .select(['download_id', 'smsr_id'])
      .where('eid', '=', eid)
      .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
      .execute();
    const ofMno = await db
      .selectFrom('esim_dp_downloads')
      .select('download_id')
      .where('eid', '=', eid)
      .where('mno_id', '=', b.mnoId)
      .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
      .executeTakeFirst();
    if (mine.length === 0)
      throw new SmsrChangeRefused(
        `refused: SM-DP ${this.#o.smdpId} knows no eUICC ${eid} (it installed no profile there)`,
      );
    if (ofMno === undefined)
      throw new SmsrChangeRefused(
        `refused: SM-DP ${this.#o.smdpId} installed no profile of operator ${b.mnoId} on eUICC ${eid}`,
      );
    const eum = await this.#o.eumCertificate(b.eis.eumSignedInfo.eumId);
    if (eum === undefined)
      throw new SmsrChangeRefused(
        `refused: the EUM ${b.eis.eumSignedInfo.eumId} of eUICC ${eid} is not known here`,
      );
    try {
      verifyEisSignature(b.eis, eum);
    } catch {
      throw new SmsrChangeRefused(`refused: the EUM signature of the EIS of eUICC ${eid} does not verify`);
    }
    const now = this.#o.clock.now();
    const at = b.completionTimestamp.getTime();
    const operator = this.#o.operators?.(b.mnoId);
    const ids = await db.transaction().execute(async (tx) => {
      let changed = false;
      for (const row of mine) {
        if (row.smsr_id === smsrId) continue;
        const moved = await tx
          .updateTable('esim_dp_downloads')
          .set({ smsr_id: smsrId, updated_at: now })
          .where('download_id', '=', row.download_id)
          .where('smsr_id', '=', row.smsr_id)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) === 0) continue;
        changed = true;
        const last = await tx
          .selectFrom('esim_dp_steps')
          .select((e) => e.fn.max('seq').as('seq'))
          .where('download_id', '=', row.download_id)
          .executeTakeFirst();
        await tx
          .insertInto('esim_dp_steps')
          .values({
            download_id: row.download_id,
            seq: Number(last?.seq ?? 0) + 1,
            step: SMSR_CHANGED_STEP,
            detail: JSON.stringify({
              previousSmsrId: row.smsr_id,
              smsrId,
              completionTimestamp: Number.isNaN(at) ? null : at,
            }),
            at: now,
          })
          .execute();
      }
      // A repeat (or an SM-SR the eUICC already had here) moved nothing: nothing to relay.
      if (!changed || operator?.handleSMSRChangeNotification === undefined) return [];
      // The operator sees its own profiles only (as ES2 GetEIS); the EUM signature covers none.
      const eis = { ...b.eis, profiles: b.eis.profiles.filter((p) => p.mnoId === b.mnoId) };
      return [
        await this.notifications.enqueue(
          tx,
          {
            interface: 'ES2',
            receiverId: b.mnoId,
            kind: 'smsr-changed',
            body: { eid, iccid: '', completionTimestamp: b.completionTimestamp, eis },
            idempotencyKey: `ES2:${b.mnoId}:smsr-changed:${eid}:${smsrId}:${Number.isNaN(at) ? '' : at}`,
          },
          now,
        ),
      ];
    });
    await this.notifications.deliver(ids);
  }

  /**
   * The SM-SR this SM-DP sends to for `eid` when an operator names `requested`: the one the eUICC
   * moved to when `requested` is one it left (the operator's view may lag the notification);
   * else `requested`.
   */
  async #smsrOf(eid: string, requested: string): Promise<string> {
    const changes = await this.#o.store.db
      .selectFrom('esim_dp_steps as s')
      .innerJoin('esim_dp_downloads as d', 'd.download_id', 's.download_id')
      .select(['s.detail', 's.at', 's.seq'])
      .where('d.eid', '=', eid)
      .where('s.step', '=', SMSR_CHANGED_STEP)
      .orderBy('s.at', 'desc')
      .orderBy('s.seq', 'desc')
      .execute();
    if (changes.length === 0) return requested;
    const parsed = changes.map((c) => JSON.parse(c.detail) as { previousSmsrId: string; smsrId: string });
    const current = (parsed[0] as { smsrId: string }).smsrId;
    return requested !== current && parsed.some((c) => c.previousSmsrId === requested) ? current : requested;
  }

  // --- ES2.DownloadProfile ------------------------------------------------------------------------------

  async downloadProfile(
    b: MessageBodies['ES2-DownloadProfileRequest'],
    caller: Es2Caller,
  ): Promise<DownloadResult & { installed: boolean }> {
    const none = (status: FunctionExecutionStatus) => ({
      downloadId: '',
      iccid: b.iccid ?? '',
      status,
      installed: false,
    });
    if (b.iccid === undefined)
      return none(
        failed(
          SUBJECT_CODES.PROFILE_ICCID,
          REASON_CODES.MANDATORY_ELEMENT_MISSING,
          'this SM-DP needs the ICCID',
        ),
      );
    const typeName = b.profileType ?? DEFAULT_PROFILE_TYPE;
    if (!this.#types.has(typeName))
      return none(failed(SUBJECT_CODES.FUNCTION, REASON_CODES.UNKNOWN, `unknown profile type ${typeName}`));
    // An SM-SR the eUICC left (HandleSMSRChangeNotification): the download goes to the new one.
    const smsrId = await this.#smsrOf(b.eid, b.smsrId);
    if (this.#o.smsr(smsrId) === undefined) return none(unknownSmsr(b.smsrId));
    const db = this.#o.store.db;
    const before = await db
      .selectFrom('esim_dp_downloads')
      .select('download_id')
      .where('iccid', '=', b.iccid)
      .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
      .executeTakeFirst();
    if (before !== undefined)
      return none(
        failed(
          SUBJECT_CODES.PROFILE_ICCID,
          REASON_CODES.ALREADY_IN_USE,
          'this profile was downloaded',
          b.iccid,
        ),
      );
    const id = randomUUID();
    const now = this.#o.clock.now();
    let row: DownloadRow;
    try {
      row = await this.#writer.run((tx) =>
        insertDownload(
          tx,
          {
            download_id: id,
            operator_id: caller.operatorId,
            mno_id: caller.mnoId,
            function_call_id: b.functionCallIdentifier,
            eid: b.eid,
            smsr_id: smsrId,
            iccid: b.iccid as string,
            active_iccid: b.iccid as string,
            profile_type: typeName,
            enable: b.enableProfile ? 1 : 0,
            deadline: b.validityPeriod === undefined ? null : now + b.validityPeriod * 1000,
            created_at: now,
            updated_at: now,
          },
          'prepare-profile',
        ),
      );
    } catch (e) {
      // The unique active_iccid: another download of this ICCID runs (any other error is a fault).
      const running = await db
        .selectFrom('esim_dp_downloads')
        .select('download_id')
        .where('active_iccid', '=', b.iccid)
        .executeTakeFirst();
      if (running === undefined) throw e;
      return none(
        failed(
          SUBJECT_CODES.PROFILE_ICCID,
          REASON_CODES.UNAVAILABLE,
          'a download of this ICCID is running',
          b.iccid,
        ),
      );
    }
    const status = await this.#run(
      this.#context(row, new DownloadTrail(this.#o.store, id, 1, false, this.#writer)),
      0,
      true,
    );
    const installed = status.status === 'EXECUTED_SUCCESS' || status.status === 'EXECUTED_WITHWARNING';
    return { downloadId: id, iccid: b.iccid, status, installed };
  }

  /**
   * After a restart: continue every download that was running (see the rules at the top). Resolves
   * with each one's outcome.
   */
  async recover(): Promise<DownloadResult[]> {
    const out: DownloadResult[] = [];
    for (const row of await runningDownloads(this.#o.store.db)) {
      out.push({ downloadId: row.download_id, iccid: row.iccid, status: await this.#resume(row) });
    }
    return out;
  }

  async #resume(row: DownloadRow): Promise<FunctionExecutionStatus> {
    const trail = await DownloadTrail.resume(this.#o.store, row.download_id, this.#writer);
    const ctx = this.#context(row, trail);
    if (row.step === ERROR_SUBROUTINE) {
      const status = await this.#errorSubroutine(
        ctx,
        failed(
          SUBJECT_CODES.ISD_P,
          REASON_CODES.EXECUTION_ERROR,
          'SMDP_INTERRUPTED: the download was interrupted',
        ),
      );
      await trail.end(status, 'SMDP_INTERRUPTED', this.#o.clock.now());
      return status;
    }
    if (BEFORE_KEYS.includes(row.step)) return this.#run(ctx, 0, true);
    if (KEY_ESTABLISHMENT.includes(row.step)) {
      // The card's personalization state is gone or unknown: the ISD-P goes and the download restarts.
      const cause = failed(
        SUBJECT_CODES.ISD_P,
        REASON_CODES.EXECUTION_ERROR,
        'SMDP_INTERRUPTED: key establishment interrupted',
      );
      const deleted = await this.#errorSubroutine(ctx, cause);
      if (row.attempt >= (this.#o.maxAttempts ?? 3) || deleted !== cause) {
        await trail.end(deleted, 'SMDP_INTERRUPTED', this.#o.clock.now());
        return deleted;
      }
      // The old ISD-P is gone: the next one comes from CreateISDP.
      delete ctx.isdpAid;
      await trail.enter(
        'prepare-profile',
        { attempt: row.attempt + 1, isdpAid: null, detail: { restart: row.step } },
        this.#o.clock.now(),
      );
      return this.#run(ctx, 0, true);
    }
    // With the key set: make the package again (no message), then continue where it stopped.
    const prepared = await DOWNLOAD_STEPS[0]?.run(ctx);
    if (prepared?.kind !== 'next') {
      const status =
        prepared?.kind === 'fail'
          ? prepared.status
          : failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.EXECUTION_ERROR);
      return this.#finish(
        ctx,
        { kind: 'fail', status, code: prepared?.kind === 'fail' ? prepared.code : 'SMDP_INTERNAL' },
        true,
      );
    }
    const at = STEP_NAMES.indexOf(row.step as StepName);
    return this.#run(ctx, at < 0 ? 0 : at, false);
  }

  /** The context of a download's run; a trail made after a restart (DownloadTrail.resume) marks it resumed. */
  #context(row: DownloadRow, trail: DownloadTrail): DownloadContext {
    const resumed = trail.resumed;
    const es3 = this.#o.smsr(row.smsr_id);
    const progress = JSON.parse(row.progress) as DownloadProgress;
    const ctx: DownloadContext = {
      id: row.download_id,
      functionCallIdentifier: row.function_call_id,
      eid: row.eid,
      iccid: row.iccid,
      smsrId: row.smsr_id,
      mnoId: row.mno_id,
      smdpId: this.#o.smdpId,
      profileType:
        this.#types.get(row.profile_type) ?? (PROFILE_TYPES.get(DEFAULT_PROFILE_TYPE) as ProfileType),
      enable: row.enable === 1,
      ...(row.deadline === null ? {} : { deadline: Number(row.deadline) }),
      es3: es3 ?? unreachable,
      callId: newCallId,
      segmentSize: this.#o.segmentSize ?? SEGMENT_SIZE,
      resumed,
      progress,
      deps: {
        sim: (iccid) => readInventorySim(this.#o.store.db, this.#o.keyRing, row.operator_id, iccid),
        signer: this.#o.signer,
        verify: this.#o.verify,
        eumCertificate: this.#o.eumCertificate,
        othersRunning: async (eid) =>
          (
            await this.#o.store.db
              .selectFrom('esim_dp_downloads')
              .select('iccid')
              .where('eid', '=', eid)
              .where('status', '=', 'running')
              .where('download_id', '!=', row.download_id)
              .execute()
          ).map((r) => r.iccid),
      },
    };
    if (row.isdp_aid !== null) ctx.isdpAid = row.isdp_aid;
    if (row.secrets !== null) {
      ctx.keyset = openKeyset(this.#o.keyRing, row.download_id, row.secrets);
      this.#sealed.add(ctx.keyset);
    }
    this.#trails.set(ctx, trail);
    return ctx;
  }

  #trail(ctx: DownloadContext): DownloadTrail {
    const trail = this.#trails.get(ctx);
    if (trail === undefined) throw new Error(`no trail for download ${ctx.id}`);
    return trail;
  }

  /** Runs the steps from `from`, each stored before it sends; the outcome once the procedure ends. */
  async #run(ctx: DownloadContext, from: number, firstStored: boolean): Promise<FunctionExecutionStatus> {
    for (let i = from; i < DOWNLOAD_STEPS.length; i++) {
      const step = DOWNLOAD_STEPS[i] as (typeof DOWNLOAD_STEPS)[number];
      if (!(i === from && firstStored && step.name === 'prepare-profile')) {
        const trail = this.#trail(ctx);
        const now = this.#o.clock.now();
        // Before the key set a restart runs the steps again from the start: no row write before them.
        if (BEFORE_KEYS.includes(step.name) || AS_THE_STEP_BEFORE.includes(step.name))
          trail.note(step.name, now);
        else {
          const seal = ctx.keyset !== undefined && !this.#sealed.has(ctx.keyset) ? ctx.keyset : undefined;
          await trail.enter(
            step.name,
            {
              isdpAid: ctx.isdpAid ?? null,
              progress: ctx.progress,
              ...(seal === undefined ? {} : { secrets: sealKeyset(this.#o.keyRing, ctx.id, seal) }),
            },
            now,
          );
          if (seal !== undefined) this.#sealed.add(seal);
        }
      }
      let outcome: StepOutcome;
      const deadline = ctx.deadline;
      if (deadline !== undefined && this.#o.clock.now() > deadline) {
        // SGP.02 §5.1.6: the validity period passed; an ISD-P already made goes (error sub-routine).
        return this.#finish(
          ctx,
          {
            kind: 'fail',
            code: 'SMDP_EXPIRED',
            status: EXPIRED,
          },
          true,
        );
      }
      await this.#report(ctx, step.label, 'running');
      try {
        outcome = await step.run(ctx);
      } catch (e) {
        this.#o.onError?.(e);
        outcome = {
          kind: 'fail',
          code: 'SMDP_INTERNAL',
          status: failed(
            SUBJECT_CODES.FUNCTION_PROVIDER,
            REASON_CODES.EXECUTION_ERROR,
            'SMDP_INTERNAL: internal error',
          ),
        };
      }
      await this.#report(
        ctx,
        step.label,
        outcome.kind === 'fail' ? 'failed' : 'succeeded',
        outcome.kind === 'next' ? undefined : outcome.status,
      );
      if (outcome.kind === 'next') continue;
      return this.#finish(ctx, outcome, step.deletesIsdpOnFailure);
    }
    return this.#finish(
      ctx,
      {
        kind: 'fail',
        code: 'SMDP_INTERNAL',
        status: failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.EXECUTION_ERROR),
      },
      false,
    );
  }

  async #finish(
    ctx: DownloadContext,
    outcome: Exclude<StepOutcome, { kind: 'next' }>,
    subroutine: boolean,
  ): Promise<FunctionExecutionStatus> {
    let status = outcome.status;
    if (outcome.kind === 'fail' && subroutine && ctx.isdpAid !== undefined)
      status = await this.#errorSubroutine(ctx, status);
    await this.#trail(ctx).end(
      status,
      outcome.kind === 'fail' ? outcome.code : undefined,
      this.#o.clock.now(),
    );
    ctx.keyset = undefined;
    ctx.package?.fill(0);
    ctx.package = undefined;
    return status;
  }

  async #report(
    ctx: DownloadContext,
    step: string,
    state: 'running' | 'succeeded' | 'failed',
    status?: FunctionExecutionStatus,
  ): Promise<void> {
    try {
      await this.#o.progress?.report({
        functionCallIdentifier: ctx.functionCallIdentifier,
        step,
        state,
        ...(status === undefined ? {} : { status }),
      });
    } catch (e) {
      this.#o.onError?.(e);
    }
  }

  /** SGP.02 §3.1.4: ES3.DeleteISDP; the failure status says whether the ISD-P is gone. */
  async #errorSubroutine(
    ctx: DownloadContext,
    cause: FunctionExecutionStatus,
  ): Promise<FunctionExecutionStatus> {
    await this.#trail(ctx).enter(
      ERROR_SUBROUTINE,
      { detail: { cause: cause.statusCodeData?.message ?? '' } },
      this.#o.clock.now(),
    );
    await this.#report(ctx, 'DeleteISDP', 'running');
    const r = await ctx.es3.deleteISDP({
      functionCallIdentifier: newCallId(),
      eid: ctx.eid,
      iccid: ctx.iccid,
    });
    const deleted = r.functionExecutionStatus.status !== 'FAILED';
    await this.#report(ctx, 'DeleteISDP', deleted ? 'succeeded' : 'failed', r.functionExecutionStatus);
    if (!deleted) {
      const d = cause.statusCodeData;
      return failed(
        (d?.subject ?? SUBJECT_CODES.ISD_P) as never,
        (d?.reason ?? REASON_CODES.EXECUTION_ERROR) as never,
        `${d?.message ?? 'failed'}; the ISD-P was not deleted: ${r.functionExecutionStatus.statusCodeData?.message ?? ''}`,
        d?.subjectIdentifier,
      );
    }
    return cause;
  }

  // --- the other ES2 functions --------------------------------------------------------------------------

  async #getEis(
    b: MessageBodies['ES2-GetEISRequest'],
    caller: Es2Caller,
  ): Promise<MessageBodies['ES2-GetEISResponse']> {
    const es3 = this.#o.smsr(await this.#smsrOf(b.eid, b.smsrId));
    if (es3 === undefined) return { functionExecutionStatus: unknownSmsr(b.smsrId) };
    const r = await es3.getEIS({ functionCallIdentifier: newCallId(), eid: b.eid });
    if (r.eis === undefined) return { functionExecutionStatus: r.functionExecutionStatus };
    // An operator sees its own profiles only.
    return {
      functionExecutionStatus: r.functionExecutionStatus,
      eis: { ...r.eis, profiles: r.eis.profiles.filter((p) => p.mnoId === caller.mnoId) },
    };
  }

  /** A profile this SM-DP downloaded for the caller, on the SM-SR the request names; then `call`. */
  async #relay<R extends { functionExecutionStatus: FunctionExecutionStatus }>(
    b: BaseRequest & { eid: string; iccid: string; smsrId: string },
    caller: Es2Caller,
    call: (es3: Es3Port, common: BaseRequest & { eid: string; iccid: string }) => Promise<R>,
  ): Promise<{ functionExecutionStatus: FunctionExecutionStatus }> {
    const row = await installedDownload(this.#o.store.db, b.eid, b.iccid);
    if (row === undefined || row.operator_id !== caller.operatorId)
      return { functionExecutionStatus: unknownProfile(b.iccid) };
    // The SM-SR of the download, or one the eUICC left since (its change notified here).
    if (row.smsr_id !== b.smsrId && row.smsr_id !== (await this.#smsrOf(b.eid, b.smsrId)))
      return { functionExecutionStatus: unknownSmsr(b.smsrId) };
    const es3 = this.#o.smsr(row.smsr_id);
    if (es3 === undefined) return { functionExecutionStatus: unknownSmsr(row.smsr_id) };
    const r = await call(es3, {
      functionCallIdentifier: b.functionCallIdentifier,
      ...(b.validityPeriod !== undefined ? { validityPeriod: b.validityPeriod } : {}),
      eid: b.eid,
      iccid: b.iccid,
    });
    return { functionExecutionStatus: r.functionExecutionStatus };
  }

  async #markDeleted(eid: string, iccid: string, db: Executor = this.#o.store.db): Promise<void> {
    await db
      .updateTable('esim_dp_downloads')
      .set({ status: 'DELETED', updated_at: this.#o.clock.now() })
      .where('eid', '=', eid)
      .where('iccid', '=', iccid)
      .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
      .execute();
  }
}

/** An ES3 port for an SM-SR that is no longer configured: every call fails as unknown. */
const unreachable: Es3Port = new Proxy({} as Es3Port, {
  get: () => async () => ({ functionExecutionStatus: unknownSmsr('?'), isdPAid: '' }),
});

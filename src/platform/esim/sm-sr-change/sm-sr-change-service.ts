// SM-SR change between two SM-SRs, platform side (GSMA SGP.02 §3.8; esim.md §1.4 ES4/ES7, §3.2 the
// 32 steps in five phases). One class plays both parts, so a deployment can hand eUICCs over and take
// them over (1 → 2 → 1):
//
//   at SM-SR2 (new)  ES4.PrepareSMSRChange   partner known → EID not ours → lock the EID ('prepared')
//                    ES7.HandoverEUICC       prepared by this partner → EIS names it → EUM signature →
//                                            CERT.ECASD → EUM → CI → AuthenticateSMSR (RC) → sign the
//                                            key agreement → CreateAdditionalKeySet (DR, receipt) →
//                                            receipt verified = COMMIT (EIS stored as ours, with KS2) →
//                                            FinaliseISDRhandover under KS2 → SCP81 key set under KS2
//   at SM-SR1 (old)  ES4.SMSRChange          partner known → EIS ours → requester owns a profile →
//                                            lock the EID → HandoverEUICC → success: delete our EIS
//                    ES7.AuthenticateSMSR    our handover to this partner runs → its certificate under
//                                            the CI → relay ES5 EstablishISDRKeySet 3A01 → RC
//                    ES7.CreateAdditionalKeySet  same checks → rebuild the 3A02 from the fields → relay
//
// The commit point (§3.8 step 23): until SM-SR2 verified the receipt, every failure ends with SM-SR1
// in charge (its EIS, its keys on the card; SM-SR2 stores nothing). From then on SM-SR2 manages the
// eUICC; a failing FinaliseISDRhandover or SCP81 key set is a warning (EXECUTED_WITHWARNING), never
// a failure, and SM-SR1 deletes its EIS on either. Every step is written to the procedure row before
// its message leaves (part-1 esim_sr_procedures; the row's `active_eid` also keeps SmSr's functions
// off the eUICC meanwhile).
//
// Phase 5 at SM-SR2, after the commit: FinaliseISDRhandover, UpdateSMSRAddressingParameters (when
// configured) and the SCP81 key set under KS2, then — with the end of the take-over, one transaction
// — HandleSMSRChangeNotification (steps 31–32) to every operator (ES4) and SM-DP (ES3) of the
// eUICC's profiles as rows of the SM-SR's durable notification outbox.
//
// The card may be out of reach meanwhile: every ES5 command is sent again, with a doubling wait,
// while the procedure's validity period lasts (TRANSIENT failures only: no PoR, SMS not sent); then
// it fails — before the commit point the change FAILS with SM-SR1 in charge, after it the step is a
// warning. After a restart, recover() ends or resumes what was running (see there); a pending
// prepare that nobody followed is ended by expireProcedures() (SmSr's leaves change rows alone).

import type { KeyObject } from 'node:crypto';
import { createCipheriv } from 'node:crypto';
import {
  buildKeyEstablishmentRequest,
  decodeKeyEstablishmentResponse,
  type EstablishedKeyset,
  encodeEcPublicKeyTlvValue,
  encodeKeyEstablishmentCrt,
  isdrKeysetParameters,
  type KeyEstablishmentParameters,
  SCENARIO_PARAMETER,
  scenarioParameter,
  verifyKeyEstablishmentReceipt,
} from '../../../crypto/sgp-02-key-establishment.js';
import { encodeBerTlv } from '../../../lib/ber-tlv.js';
import type { Clock } from '../../../lib/clock.js';
import { decodeGpCertificate, encodeOid } from '../../../lib/gp-certificate.js';
import { toHex } from '../../../lib/hex.js';
import {
  decodeRandomChallenge,
  encodeDgi,
  establishIsdrKeySetApdu,
  establishIsdrKeySetCertificateApdu,
  finaliseIsdrHandoverApdu,
  isdrKeysetReference,
  type SmsrAddressingUpdate,
  updateSmsrAddressingApdu,
} from '../../../lib/sgp-02-es5.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import type { EsNotificationDirectory } from '../es-ports.js';
import { verifyEisSignature } from '../es-soap/sgp-02-eis-signature.js';
import type { BaseRequest, MessageBodies } from '../es-soap/sgp-02-messages.js';
import {
  EXPIRED,
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
  withWarning,
} from '../es-soap/sgp-02-status-codes.js';
import type { Eis, Keyset } from '../es-soap/sgp-02-xml-types.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';
import {
  activeProcedure,
  beginProcedure,
  discardProcedure,
  endProcedure,
  fromJson,
  insertEis,
  loadEis,
  type ProcedureRow,
  profilesOf,
  recordStep,
  runningProcedures,
} from '../sm-sr/eis-store.js';
import {
  type Es5FailureCode,
  type Es5Outcome,
  type Es5Transport,
  ISD_R_AID,
} from '../sm-sr/es5-transport.js';
import {
  type ChainVerifier,
  EUICC_BUSY,
  type HandoverUnknown,
  handoverGivenUpStatus,
} from '../sm-sr/sm-sr-service.js';
import {
  addIsdrKeyset,
  deleteEis,
  expiredPrepares,
  lastProcedureOf,
  setDeadline,
} from './sm-sr-change-store.js';

type Fn<Req extends keyof MessageBodies, Res extends keyof MessageBodies> = (
  body: MessageBodies[Req],
) => Promise<MessageBodies[Res]>;

/** ES7 (SM-SR ↔ SM-SR), SGP.02 §5.7: one SM-SR's functions as seen by one partner SM-SR. */
export interface Es7Port {
  readonly handoverEUICC: Fn<'ES7-HandoverEUICCRequest', 'ES7-HandoverEUICCResponse'>;
  readonly authenticateSMSR: Fn<'ES7-AuthenticateSMSRRequest', 'ES7-AuthenticateSMSRResponse'>;
  readonly createAdditionalKeySet: Fn<
    'ES7-CreateAdditionalKeySetRequest',
    'ES7-CreateAdditionalKeySetResponse'
  >;
}

/** ES4 functions of the SM-SR change (the rest of ES4 is SmSr.es4For). */
export interface Es4SmSrChangePort {
  readonly prepareSMSRChange: Fn<'ES4-PrepareSMSRChangeRequest', 'ES4-PrepareSMSRChangeResponse'>;
  readonly smsrChange: Fn<'ES4-SMSRChangeRequest', 'ES4-SMSRChangeResponse'>;
}

export interface SmSrChangeOptions {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  /** This SM-SR's ES5 transport (the one its SmSr uses): relays for SM-SR1, KS2 traffic for SM-SR2. */
  readonly transport: Es5Transport;
  readonly chains: ChainVerifier;
  /** This SM-SR's entity id (OID). */
  readonly smsrId: string;
  /** CERT.SR.ECDSA (GP 7F21) and SK.SR.ECDSA: what the card verifies the key agreement with. */
  readonly identity: { readonly certificate: Uint8Array; readonly privateKey: KeyObject };
  /** The partner SM-SR's ES7 port (bound to this SM-SR as caller); undefined: not a partner. */
  readonly partner: (smsrId: string) => Es7Port | undefined;
  /** The EUM certificate (PEM) for an EUM id of an EIS handed over; undefined: EUM unknown here. */
  readonly eumCertificate: (eumId: string) => string | undefined | Promise<string | undefined>;
  /**
   * The KVN (01–0F) this SM-SR prefers for the ISD-R SCP80 key set it creates when it takes an eUICC
   * over; when the EIS already lists it, the lowest KVN the EIS does not list is taken. Es5Sms
   * secures with the key set the EIS holds, whatever its KVN. Default 1.
   */
  readonly scp80Kvn?: number;
  /** KVN of the SCP81 (PSK) key set it creates after the handover, 40–4F; default 40. */
  readonly scp81Kvn?: number;
  /** Initial counter of the new SCP80 key set (the card takes only higher ones); default 0. */
  readonly initialCounter?: number;
  /** Seconds a procedure lasts when the request gives no ValidityPeriod; default 600. */
  readonly defaultValiditySeconds?: number;
  /**
   * ES5 UpdateSMSRAddressingParameters after taking an eUICC over (step 26): this SM-SR's SMS address
   * (where the ISD-R sends its notifications) and SMS centre. Undefined: the step is skipped.
   */
  readonly addressing?: Pick<SmsrAddressingUpdate, 'destination' | 'smsc'>;
  /**
   * HandleSMSRChangeNotification (steps 31–32): the SM-SR's notification outbox (SmSr.notifications)
   * and the directory it resolves receivers with (the one SmSr gets). Undefined: nobody is notified.
   */
  readonly notifications?: {
    readonly outbox: NotificationOutbox;
    readonly directory: EsNotificationDirectory;
  };
  /**
   * Wait before an ES5 command is sent again after a transient failure (ms), doubled after each,
   * up to `maxMs`; retries stop with the procedure's validity period. Default 5 s, 60 s.
   */
  readonly es5Retry?: { readonly baseMs?: number; readonly maxMs?: number };
}

/** The function names of the procedure rows (esim_sr_procedures.function). */
export const SM_SR_CHANGE_FUNCTIONS = { handOver: 'SMSRChange', takeOver: 'ReceiveSMSRChange' } as const;

const CURVE = 'P-256';
const ECASD_CURVE_OF_KEY_LENGTH = { 'ECC-256': CURVE } as const;

const unknownEid = (eid: string) =>
  failed(SUBJECT_CODES.EID, REASON_CODES.UNKNOWN, 'no EIS for this EID', eid);
const unknownPartner = (id: string) =>
  failed(SUBJECT_CODES.SM_SR, REASON_CODES.UNKNOWN, 'not a partner SM-SR of this deployment', id);
const notRunning = (what: string) => failed(SUBJECT_CODES.FUNCTION_REQUESTER, REASON_CODES.NOT_ALLOWED, what);
const es5Failed = (what: string, o: Es5Outcome) =>
  failed(
    SUBJECT_CODES.EUICC,
    REASON_CODES.EXECUTION_ERROR,
    o.ok
      ? `${what}: the eUICC answered ${(o.responses[0]?.sw ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
      : `${what}: ES5 ${o.code}: ${o.message}`,
  );
const isSuccess = (s: FunctionExecutionStatus) =>
  s.status === 'EXECUTED_SUCCESS' || s.status === 'EXECUTED_WITHWARNING';

/** ES5 failures of the way to the card, not of the card: the command is sent again (§3.8 validity). */
const TRANSIENT: ReadonlySet<Es5FailureCode> = new Set(['ES5_TIMEOUT', 'ES5_SEND_FAILED']);
/** The ISD-R's SCP80 key version numbers (SGP.02 §2.2.1.1: 01–0F). */
const SCP80_KVNS = Array.from({ length: 15 }, (_, i) => i + 1);
/**
 * Step 14's KVN for SM-SR2's SCP80 key set: `preferred` if the EIS handed over does not list it,
 * else the lowest of 01–0F it does not list (undefined: none is free). SM-SR1's key sets — and a
 * KVN another deployment uses by default — are never asked for, so the card never gets a key set
 * "deleted existing" that the current SM-SR still uses.
 */
export function freeScp80Kvn(listed: Iterable<number>, preferred: number): number | undefined {
  const taken = new Set(listed);
  if (SCP80_KVNS.includes(preferred) && !taken.has(preferred)) return preferred;
  return SCP80_KVNS.find((v) => !taken.has(v));
}

/** The longest validity period a request may give a change (1 day): it bounds the lock and the retries. */
export const MAX_VALIDITY_SECONDS = 86_400;

/**
 * The deadline of a procedure from a request's ValidityPeriod (seconds; the default when absent), held
 * to 1 s … MAX_VALIDITY_SECONDS: the partner's or operator's number decides how long the EID stays
 * locked and the card is retried, so a huge, negative or non-integer one cannot lock it for ever.
 */
export function deadlineOf(now: number, validityPeriod: number | undefined, defaultSeconds: number): number {
  const seconds = Number.isFinite(validityPeriod) ? Math.floor(validityPeriod as number) : defaultSeconds;
  return now + Math.min(Math.max(seconds, 1), MAX_VALIDITY_SECONDS) * 1000;
}

/** SM-SR1's step while it asks SM-SR2 about a given-up hand-over (its relays refuse SM-SR2 at it). */
const GIVEN_UP_ASKING = 'handover-given-up-asking';

/** SM-SR2's steps after the commit point, in order; recover() resumes phase 5 from any of them. */
const PHASE_5 = ['committed', 'finalise-sent', 'addressing-sent', 'scp81-sent'] as const;
type Phase5Step = (typeof PHASE_5)[number];

/** The first R-APDU's data when the command completed with 9000. */
function answer(o: Es5Outcome): Uint8Array | undefined {
  const r = o.ok ? o.responses[0] : undefined;
  return r !== undefined && r.sw === 0x9000 ? r.data : undefined;
}

/** PK.ECASD.ECKA from the EIS's CERT.ECASD.ECKA (verified when the EIS was accepted). */
function ecasdPointOf(eis: Eis): Uint8Array | undefined {
  const cert = eis.eumSignedInfo.ecasd.keysets.flatMap((k) => k.certificates)[0]?.value;
  const decoded = cert === undefined ? undefined : decodeGpCertificate(cert);
  return decoded?.ok ? decoded.value.publicKey.point : undefined;
}

/** GP key check value of an AES key: the first 3 bytes of AES(key, 16 × 01). */
function aesKcv(key: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', key, null);
  return new Uint8Array(c.update(Buffer.alloc(16, 1))).slice(0, 3);
}

/** An established key set as the EIS lists it (keys sealed by the store). */
function keysetOf(k: EstablishedKeyset, type: 'SCP80' | 'SCP81', counter: number) {
  return {
    version: k.kvn,
    type,
    ...(type === 'SCP80' ? { cntr: counter } : {}),
    keys: k.keys.map((value, i) => ({
      index: k.kid + i,
      kcv: aesKcv(value),
      components: [{ type: 0x88, value }],
    })),
    certificates: [],
  } satisfies Keyset & { type: 'SCP80' | 'SCP81' };
}

interface HandOverData {
  readonly target: string;
}
interface TakeOverData {
  readonly current: string;
  readonly requester: string;
}
/** From the commit point on: our KVN and the key sets FinaliseISDRhandover deletes. */
interface CommittedData extends TakeOverData {
  readonly kvn: number;
  readonly old: readonly number[];
}

/**
 * Whether an answer to HandoverEUICC leaves its outcome unknown (SM-SR2 may or may not have taken the
 * eUICC over): EXPIRED (the requester's deadline passed; SM-SR2's endpoint also turns a late success
 * into EXPIRED), FAILED 1.2/3.7 (the SOAP client: no answer), 1.2/4.2 (the provider's handler broke
 * midway) and 8.1/3.7 (SM-SR2: its take-over from us is still running). Every other answer is final.
 */
export function handoverOutcomeUnknown(s: FunctionExecutionStatus): boolean {
  if (s.status === 'EXPIRED') return true;
  if (s.status !== 'FAILED') return false;
  const subject = s.statusCodeData?.subject;
  const reason = s.statusCodeData?.reason;
  return (
    (subject === SUBJECT_CODES.FUNCTION_PROVIDER &&
      (reason === REASON_CODES.UNAVAILABLE || reason === REASON_CODES.EXECUTION_ERROR)) ||
    (subject === SUBJECT_CODES.EUICC && reason === REASON_CODES.UNAVAILABLE)
  );
}

/** An eUICC's hand-over at SM-SR1 as its operator sees it (SmSrChange.handoversFor). */
export interface HandoverView {
  readonly eid: string;
  readonly targetSmsrId: string;
  /**
   * running: the hand-over runs; unresolved: HandoverEUICC got no final answer, the eUICC is locked
   * and SM-SR2 asked again; given-up: the operator gave it up with its outcome unknown (only AuditEIS
   * runs on the eUICC until SM-SR2 answers).
   */
  readonly state: 'running' | 'unresolved' | 'given-up';
  /** When the hand-over started, or (given-up) when it was given up (ms). */
  readonly since: number;
  readonly givenUpBy: string | null;
  /** Why SM-SR2's outcome is not known (unresolved, given-up), else null. */
  readonly why: string | null;
}

/** What giving a hand-over up did (SmSrHandovers.abandon). */
export type AbandonOutcome =
  /** SM-SR2 still gave no final answer: the hand-over is given up (or was already). */
  | { readonly outcome: 'given-up'; readonly handover: HandoverView }
  /** Nothing was given up: the hand-over runs, or SM-SR2 is being asked right now. */
  | { readonly outcome: 'running'; readonly handover: HandoverView }
  /** Asked once more, SM-SR2 answered: it took the eUICC over (our EIS is gone) … */
  | {
      readonly outcome: 'handed-over';
      readonly status: FunctionExecutionStatus;
      readonly targetSmsrId: string;
    }
  /** … or it did not (this SM-SR manages the eUICC, as before the change). */
  | {
      readonly outcome: 'in-charge';
      readonly status: FunctionExecutionStatus;
      readonly targetSmsrId: string;
    };

/** The hand-overs of one operator's eUICCs at this SM-SR (operator layer; not an SGP.02 function). */
export interface SmSrHandovers {
  /** The eUICC's open or given-up hand-over requested by this operator; undefined: none. */
  get(eid: string): Promise<HandoverView | undefined>;
  /** Gives an unresolved hand-over up (see SmSrChange.abandonHandover); undefined: none of this operator. */
  abandon(eid: string, by: string): Promise<AbandonOutcome | undefined>;
}

/**
 * The ValidityPeriod of the HandoverEUICC asked once more when a hand-over is given up, and when a
 * given-up one is asked again (s): a short question — SM-SR1's relays refuse SM-SR2 meanwhile, so the
 * answer is quick or none.
 */
const GIVEN_UP_ASK_SECONDS = 30;

export class SmSrChange {
  readonly #o: SmSrChangeOptions;
  /** Hand-over rows whose HandoverEUICC this process is asking right now. */
  readonly #waiting = new Set<string>();
  #closed = false;
  /** Wakes the ES5 retry waits at close(). */
  readonly #sleepers = new Set<() => void>();

  constructor(options: SmSrChangeOptions) {
    // Throws for a KVN outside the ISD-R's SCP80 (01–0F) or SCP81 (40–4F) range.
    isdrKeysetParameters({ kind: 'scp80', kvn: options.scp80Kvn ?? 1 });
    isdrKeysetParameters({ kind: 'scp81', kvn: options.scp81Kvn ?? 0x40 });
    this.#o = options;
  }

  /**
   * Stops retrying: an ES5 command waiting for its next attempt gives up with its last failure (the
   * process is going down; recover() at the next start takes the rows over).
   */
  close(): void {
    this.#closed = true;
    for (const wake of this.#sleepers) wake();
    this.#sleepers.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  /**
   * One ES5 command to the ISD-R, sent again after a TRANSIENT failure (the eUICC out of reach) with
   * a doubling wait while `deadline` (the procedure's validity period) lasts; at least one attempt.
   * `attempts` counts them (a command that timed out may have run on the card all the same).
   * `relay` (SM-SR1 relaying for SM-SR2, which waits for the answer within the same validity period):
   * an attempt still waiting for the card when the validity period ends counts as ES5_TIMEOUT then —
   * over HTTPS one attempt may wait minutes for the card's session — so SM-SR2 hears why.
   */
  async #es5(
    eid: string,
    command: Uint8Array,
    deadline: number,
    relay = false,
  ): Promise<{ outcome: Es5Outcome; attempts: number }> {
    let delay = this.#o.es5Retry?.baseMs ?? 5_000;
    const max = this.#o.es5Retry?.maxMs ?? 60_000;
    for (let attempts = 1; ; attempts++) {
      const sent = this.#o.transport.send(eid, ISD_R_AID, [command]);
      const outcome = relay ? await this.#until(sent, deadline) : await sent;
      if (outcome.ok || !TRANSIENT.has(outcome.code)) return { outcome, attempts };
      if (this.#closed || this.#now() + delay >= deadline)
        return {
          outcome: {
            ...outcome,
            message: `${outcome.message} (${attempts} attempt${attempts === 1 ? '' : 's'} within the validity period)`,
          },
          attempts,
        };
      await this.#sleep(delay);
      delay = Math.min(delay * 2, max);
    }
  }

  /**
   * `sent`, or ES5_TIMEOUT once `deadline` passes first (real time for what is left of it by the
   * clock). The command stays with the transport: should the card still run it, its answer is dropped.
   */
  async #until(sent: Promise<Es5Outcome>, deadline: number): Promise<Es5Outcome> {
    const left = deadline - this.#now();
    if (left <= 0) return sent;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<Es5Outcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            code: 'ES5_TIMEOUT',
            message: 'the validity period ended while the eUICC was awaited',
          }),
        left,
      );
      timer.unref();
    });
    try {
      return await Promise.race([sent, ended]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What is left of `deadline` as a ValidityPeriod (whole seconds, at least 1). */
  #remainingSeconds(deadline: number): number {
    return Math.max(1, Math.ceil((deadline - this.#now()) / 1000));
  }

  get #db(): Executor {
    return this.#o.store.db;
  }

  #now(): number {
    return this.#o.clock.now();
  }

  #deadline(b: BaseRequest): number {
    return deadlineOf(this.#now(), b.validityPeriod, this.#o.defaultValiditySeconds ?? 600);
  }

  // --- the ports ------------------------------------------------------------------------------------

  /** ES4 PrepareSMSRChange / SMSRChange for the operator `mnoId`. */
  es4For(mnoId: string): Es4SmSrChangePort {
    return {
      prepareSMSRChange: async (b) => ({ functionExecutionStatus: await this.#prepare(b, mnoId) }),
      smsrChange: async (b) => ({ functionExecutionStatus: await this.#handOver(b, mnoId) }),
    };
  }

  /** ES7 for the partner SM-SR `smsrId` (the caller, as the transport authenticated it). */
  es7For(smsrId: string): Es7Port {
    return {
      handoverEUICC: async (b) => ({ functionExecutionStatus: await this.#takeOver(b, smsrId) }),
      authenticateSMSR: async (b) => {
        const r = await this.#relayCertificate(b, smsrId);
        return { functionExecutionStatus: r.status, randomChallenge: r.rc ?? new Uint8Array(0) };
      },
      createAdditionalKeySet: async (b) => {
        const r = await this.#relayKeyAgreement(b, smsrId);
        return {
          functionExecutionStatus: r.status,
          derivationRandom: r.dr ?? new Uint8Array(0),
          receipt: r.receipt ?? new Uint8Array(0),
        };
      },
    };
  }

  // --- SM-SR1: ES4.SMSRChange (§3.8 steps 4–6, 28–30) -----------------------------------------------

  async #handOver(
    b: MessageBodies['ES4-SMSRChangeRequest'],
    mnoId: string,
  ): Promise<FunctionExecutionStatus> {
    const partner = this.#o.partner(b.targetSmsrId);
    if (partner === undefined || b.targetSmsrId === this.#o.smsrId) return unknownPartner(b.targetSmsrId);
    // A hand-over whose HandoverEUICC got no answer is still open: the operator's retry to the same
    // SM-SR asks it again now; to another SM-SR it is busy like any procedure on the eUICC.
    // A hand-over given up with its outcome unknown: no new one until SM-SR2 answers the old one.
    const givenUp = await this.#givenUpMarker(b.eid);
    if (givenUp !== undefined) return handoverGivenUpStatus(givenUp);
    const open = await activeProcedure(this.#db, b.eid);
    if (open !== undefined && open.function === SM_SR_CHANGE_FUNCTIONS.handOver && open.step !== 'started') {
      if (fromJson<HandOverData>(open.data).target !== b.targetSmsrId || this.#waiting.has(open.procedure_id))
        return EUICC_BUSY;
      return (await this.#askAgain(open, 'retry')) ?? this.#unresolved(open.procedure_id, 'no answer again');
    }
    const data: HandOverData = { target: b.targetSmsrId };
    const id = await beginProcedure(
      this.#db,
      {
        eid: b.eid,
        function: SM_SR_CHANGE_FUNCTIONS.handOver,
        requester: `operator:${mnoId}`,
        functionCallId: b.functionCallIdentifier,
        step: 'started',
        data,
        deadline: this.#deadline(b),
      },
      this.#now(),
    );
    if (id === undefined) return EUICC_BUSY;
    this.#waiting.add(id);
    try {
      const eis = await loadEis(this.#db, b.eid);
      if (eis === undefined) {
        await discardProcedure(this.#db, id);
        return unknownEid(b.eid);
      }
      // Step 5: the requester is an operator with a profile on this eUICC.
      if (!eis.profiles.some((p) => p.mnoId === mnoId))
        return this.#end(
          id,
          failed(SUBJECT_CODES.EID, REASON_CODES.NOT_ALLOWED, 'no profile of yours on this eUICC', b.eid),
        );
      // Step 6: the EIS as GetEIS shows it (no key values: SM-SR1's keys never leave).
      await recordStep(this.#db, id, 'handover-sent', data, this.#now());
      const { auditTrail: _trail, ...handed } = eis;
      const answer = await this.#ask(partner, {
        functionCallIdentifier: b.functionCallIdentifier,
        ...(b.validityPeriod === undefined ? {} : { validityPeriod: b.validityPeriod }),
        eis: handed,
      });
      if ('unknown' in answer) return this.#unresolved(id, answer.unknown);
      const s = answer.status;
      if (!isSuccess(s)) {
        const message = s.statusCodeData?.message ?? s.status;
        return this.#end(
          id,
          failed(SUBJECT_CODES.SM_SR, REASON_CODES.REFUSED, `the new SM-SR ended HandoverEUICC: ${message}`),
        );
      }
      // Steps 28–29: SM-SR2 manages the eUICC; our EIS goes with the end of the procedure.
      return this.#handedOver(id, b.eid, s.status === 'EXECUTED_SUCCESS' ? SUCCESS : s);
    } finally {
      this.#waiting.delete(id);
    }
  }

  async #end(id: string, status: FunctionExecutionStatus): Promise<FunctionExecutionStatus> {
    await endProcedure(this.#db, id, status, this.#now());
    return status;
  }

  /** SM-SR2 took the eUICC over: our EIS is deleted with the end of the procedure (one transaction). */
  async #handedOver(id: string, eid: string, status: FunctionExecutionStatus) {
    await this.#o.store.db.transaction().execute(async (tx) => {
      await deleteEis(tx, eid);
      await endProcedure(tx, id, status, this.#now());
    });
    return status;
  }

  /**
   * HandoverEUICC and its answer, or why its outcome is unknown: the port threw (the transport broke),
   * or the answer says nobody knows whether SM-SR2 ran it to its end (handoverOutcomeUnknown).
   */
  async #ask(
    partner: Es7Port,
    body: MessageBodies['ES7-HandoverEUICCRequest'],
  ): Promise<{ status: FunctionExecutionStatus } | { unknown: string }> {
    try {
      const s = (await partner.handoverEUICC(body)).functionExecutionStatus;
      return handoverOutcomeUnknown(s) ? { unknown: s.statusCodeData?.message ?? s.status } : { status: s };
    } catch (e) {
      return { unknown: (e as Error).message };
    }
  }

  /**
   * No answer to HandoverEUICC: SM-SR2 may have committed, so we are not in charge any more — nor
   * sure we are not. The row stays open (the EID locked: nothing of ours runs on the eUICC) until
   * SM-SR2 answers a HandoverEUICC asked again (resolveHandovers, recover, the operator's retry).
   */
  async #unresolved(id: string, why: string): Promise<FunctionExecutionStatus> {
    const p = await this.#db
      .selectFrom('esim_sr_procedures')
      .select('data')
      .where('procedure_id', '=', id)
      .executeTakeFirst();
    if (p !== undefined) await recordStep(this.#db, id, 'handover-unresolved', fromJson(p.data), this.#now());
    return failed(
      SUBJECT_CODES.SM_SR,
      REASON_CODES.UNAVAILABLE,
      `the new SM-SR did not answer HandoverEUICC (${why}): whether it took the eUICC over is not known ` +
        'yet; the eUICC stays locked here and this SM-SR asks it again (an SMSRChange to the same SM-SR asks at once)',
    );
  }

  /** Our running hand-over of `eid` to `partnerId`, at one of `steps`. */
  async #handOverTo(eid: string, partnerId: string, steps: readonly string[]) {
    const p = await activeProcedure(this.#db, eid);
    if (p === undefined || p.function !== SM_SR_CHANGE_FUNCTIONS.handOver) return undefined;
    const data = fromJson<HandOverData>(p.data);
    if (data.target !== partnerId || !steps.includes(p.step)) return undefined;
    if (Number(p.deadline) <= this.#now()) return undefined;
    return { p, data };
  }

  // --- SM-SR1: ES7.AuthenticateSMSR (steps 7–13) ----------------------------------------------------

  async #relayCertificate(
    b: MessageBodies['ES7-AuthenticateSMSRRequest'],
    partnerId: string,
  ): Promise<{ status: FunctionExecutionStatus; rc?: Uint8Array }> {
    const eid = b.eis.eumSignedInfo.eid;
    const run = await this.#handOverTo(eid, partnerId, ['handover-sent']);
    if (run === undefined) return { status: notRunning('no SM-SR change of this eUICC to you is running') };
    // The card checks the certificate as well (3A01: 6982); we refuse to relay one not under our CI
    // or not naming the caller.
    const chain = await this.#o.chains.verify({
      certificate: b.smsrCertificate,
      role: 'sm-sr',
      subjectId: encodeOid(partnerId),
    });
    if (!chain.ok)
      return {
        status: failed(
          SUBJECT_CODES.SM_SR_CERTIFICATE,
          REASON_CODES.VERIFICATION_FAILED,
          `${chain.error.code}: ${chain.error.reason}`,
        ),
      };
    await recordStep(this.#db, run.p.procedure_id, 'certificate-sent', run.data, this.#now());
    const { outcome: o } = await this.#es5(
      eid,
      establishIsdrKeySetCertificateApdu(b.smsrCertificate),
      Number(run.p.deadline),
      true,
    );
    const data = answer(o);
    const rc = data === undefined ? undefined : decodeRandomChallenge(data);
    if (rc === undefined || !rc.ok) return { status: es5Failed('EstablishISDRKeySet (certificate)', o) };
    await recordStep(this.#db, run.p.procedure_id, 'challenge-received', run.data, this.#now());
    return { status: SUCCESS, rc: rc.value };
  }

  // --- SM-SR1: ES7.CreateAdditionalKeySet (steps 15–22) ---------------------------------------------

  async #relayKeyAgreement(
    b: MessageBodies['ES7-CreateAdditionalKeySetRequest'],
    partnerId: string,
  ): Promise<{ status: FunctionExecutionStatus; dr?: Uint8Array; receipt?: Uint8Array }> {
    const run = await this.#handOverTo(b.eid, partnerId, ['challenge-received']);
    if (run === undefined)
      return { status: notRunning('no key establishment of this eUICC by you is running') };
    const invalid = (message: string) => ({
      status: failed(SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID, message),
    });
    const curve = ECASD_CURVE_OF_KEY_LENGTH[b.eccKeyLength as keyof typeof ECASD_CURVE_OF_KEY_LENGTH];
    if (curve === undefined) return invalid(`ECCKeyLength ${b.eccKeyLength} is not supported (ECC-256)`);
    if (b.hostId.length > 0) return invalid('HostId is not supported: the ISD-R has no SIN for it');
    // "Delete existing keys" replaces the card's key set of that KVN (a leftover of an earlier
    // attempt); until the commit point our own key sets must stay, so never one of ours.
    const replace = (b.scenarioParameter & SCENARIO_PARAMETER.deleteExistingKeys) !== 0;
    const ours = (await loadEis(this.#db, b.eid))?.isdR.keysets.map((k) => k.version) ?? [];
    if (ours.includes(b.keyVersionNumber))
      return invalid(
        `key set ${b.keyVersionNumber} is the current SM-SR's: it stays until the handover is final`,
      );
    let parameters: KeyEstablishmentParameters;
    try {
      parameters = isdrKeysetParameters({
        kind: 'scp80',
        kvn: b.keyVersionNumber,
        initialCounter: b.initialSequenceCounter,
        deleteExistingKeys: replace,
      });
    } catch (e) {
      return invalid((e as Error).message);
    }
    if (scenarioParameter(parameters) !== b.scenarioParameter)
      return invalid(`ScenarioParameter ${b.scenarioParameter} is not the one of this key set`);
    if (b.ephemeralPublicKey.length !== 65 || b.ephemeralPublicKey[0] !== 0x04)
      return invalid('EphemeralPublicKey is an uncompressed P-256 point (65 bytes)');
    // The 3A02 as SM-SR2 signed it: {3A02 L CRT} 7F49 ePK 5F37 signature (esim.md §4.2 (c)).
    const storeData = Uint8Array.from([
      ...encodeDgi(0x3a02, encodeKeyEstablishmentCrt(parameters)),
      ...encodeBerTlv(0x7f49, encodeEcPublicKeyTlvValue(curve, b.ephemeralPublicKey)),
      ...encodeBerTlv(0x5f37, b.signature),
    ]);
    await recordStep(this.#db, run.p.procedure_id, 'key-agreement-sent', run.data, this.#now());
    // Sent again while the card is out of reach; if an attempt ran but its PoR was lost, the card
    // refuses the repeat (its RC is spent: 6985) and the change fails before the commit point.
    const { outcome: o } = await this.#es5(
      b.eid,
      establishIsdrKeySetApdu(storeData),
      Number(run.p.deadline),
      true,
    );
    const data = answer(o);
    const parsed = data === undefined ? undefined : decodeKeyEstablishmentResponse(data);
    if (parsed === undefined || !parsed.ok)
      return { status: es5Failed('EstablishISDRKeySet (key agreement)', o) };
    await recordStep(this.#db, run.p.procedure_id, 'receipt-relayed', run.data, this.#now());
    return { status: SUCCESS, dr: parsed.value.derivationRandom, receipt: parsed.value.receipt };
  }

  // --- SM-SR2: ES4.PrepareSMSRChange (steps 1–3) ----------------------------------------------------

  async #prepare(
    b: MessageBodies['ES4-PrepareSMSRChangeRequest'],
    mnoId: string,
  ): Promise<FunctionExecutionStatus> {
    if (this.#o.partner(b.currentSmsrId) === undefined || b.currentSmsrId === this.#o.smsrId)
      return unknownPartner(b.currentSmsrId);
    if ((await loadEis(this.#db, b.eid)) !== undefined)
      return failed(SUBJECT_CODES.EID, REASON_CODES.ALREADY_IN_USE, 'this SM-SR manages this eUICC', b.eid);
    const data: TakeOverData = { current: b.currentSmsrId, requester: mnoId };
    const id = await beginProcedure(
      this.#db,
      {
        eid: b.eid,
        function: SM_SR_CHANGE_FUNCTIONS.takeOver,
        requester: `operator:${mnoId}`,
        functionCallId: b.functionCallIdentifier,
        step: 'prepared',
        data,
        deadline: this.#deadline(b),
      },
      this.#now(),
    );
    if (id !== undefined) return SUCCESS;
    // A prepare nobody followed holds the EID past its validity period: it ends here (expired), and
    // this one takes its place; anything else on the eUICC is busy.
    if ((await this.expireProcedures()) > 0) return this.#prepare(b, mnoId);
    return EUICC_BUSY;
  }

  // --- SM-SR2: ES7.HandoverEUICC (steps 6–27) -------------------------------------------------------

  async #takeOver(
    b: MessageBodies['ES7-HandoverEUICCRequest'],
    partnerId: string,
  ): Promise<FunctionExecutionStatus> {
    const eid = b.eis.eumSignedInfo.eid;
    const p = await activeProcedure(this.#db, eid);
    const prepared =
      p !== undefined &&
      p.function === SM_SR_CHANGE_FUNCTIONS.takeOver &&
      p.step === 'prepared' &&
      fromJson<TakeOverData>(p.data).current === partnerId;
    if (!prepared || p === undefined) {
      // §3.8 failure rules: a HandoverEUICC repeated after our commit (SM-SR1 restarted, or lost our
      // answer) is told the eUICC is managed here, and SM-SR1 completes with a warning.
      const last = await lastProcedureOf(this.#db, eid, SM_SR_CHANGE_FUNCTIONS.takeOver);
      const managed = (await loadEis(this.#db, eid))?.smsrId === this.#o.smsrId;
      if (managed && last !== undefined && fromJson<TakeOverData>(last.data).current === partnerId)
        return withWarning(
          SUBJECT_CODES.EID,
          REASON_CODES.ALREADY_IN_USE,
          'the eUICC is already managed here',
          eid,
        );
      // Asked again while our take-over from this SM-SR still runs before its commit: neither yes
      // nor no yet (SM-SR1 keeps the eUICC locked and asks later).
      if (
        p !== undefined &&
        p.function === SM_SR_CHANGE_FUNCTIONS.takeOver &&
        fromJson<TakeOverData>(p.data).current === partnerId
      )
        return failed(
          SUBJECT_CODES.EUICC,
          REASON_CODES.UNAVAILABLE,
          'the take-over of this eUICC from you is still running here; ask again later',
          eid,
        );
      return notRunning('no PrepareSMSRChange of this eUICC from you is pending here');
    }
    const end = async (status: FunctionExecutionStatus) => {
      await endProcedure(this.#db, p.procedure_id, status, this.#now());
      return status;
    };
    if (Number(p.deadline) <= this.#now()) return end(EXPIRED);
    const data = fromJson<TakeOverData>(p.data);
    const partner = this.#o.partner(partnerId);
    if (partner === undefined) return end(unknownPartner(partnerId));

    // Step 6: the EIS is the partner's, signed by a known EUM, its ECASD certificate under EUM and CI.
    const checked = await this.#checkEis(b.eis, partnerId);
    if ('status' in checked) return end(checked.status);
    const kvn = freeScp80Kvn(
      b.eis.isdR.keysets.map((k) => k.version),
      this.#o.scp80Kvn ?? 1,
    );
    if (kvn === undefined)
      return end(
        failed(SUBJECT_CODES.EIS, REASON_CODES.ALREADY_IN_USE, 'the ISD-R lists every SCP80 key version'),
      );

    // Phase 3: SM-SR1 relays our certificate to the ISD-R; the card answers RC. From here on the
    // take-over lasts the HandoverEUICC's validity period (the prepare's bounded only the wait for it).
    const deadline = this.#deadline(b);
    await this.#o.store.db.transaction().execute(async (tx) => {
      await setDeadline(tx, p.procedure_id, deadline);
      await recordStep(tx, p.procedure_id, 'authenticate-sent', data, this.#now());
    });
    // SM-SR1's relays carry what is left of our validity period: should SM-SR1 die meanwhile, we
    // wait for its answer no longer than that (not the SOAP node's response bound).
    const auth = await partner.authenticateSMSR({
      functionCallIdentifier: `${p.function_call_id}:authenticate`,
      validityPeriod: this.#remainingSeconds(deadline),
      eis: b.eis,
      smsrCertificate: this.#o.identity.certificate,
    });
    if (!isSuccess(auth.functionExecutionStatus)) return end(relayed('AuthenticateSMSR', auth));

    // Phase 4: our key agreement over RC, relayed by SM-SR1; the ephemeral key is kept sealed in the
    // step so a restart could still verify the receipt.
    const counter = this.#o.initialCounter ?? 0;
    // "Delete existing keys": a KS2 left on the card by an earlier attempt that never committed is
    // replaced (SM-SR1 refuses the bit for its own KVNs, the card for the KVN securing the script).
    const parameters = isdrKeysetParameters({
      kind: 'scp80',
      kvn,
      initialCounter: counter,
      deleteExistingKeys: true,
    });
    let request: ReturnType<typeof buildKeyEstablishmentRequest>;
    try {
      request = buildKeyEstablishmentRequest({
        curve: CURVE,
        parameters,
        signingKey: this.#o.identity.privateKey,
        randomChallenge: auth.randomChallenge,
      });
    } catch (e) {
      return end(
        failed(SUBJECT_CODES.ECASD, REASON_CODES.INVALID, `RandomChallenge: ${(e as Error).message}`),
      );
    }
    await recordStep(
      this.#db,
      p.procedure_id,
      'key-agreement-sent',
      {
        ...data,
        kvn,
        counter,
        ephemeral: this.#o.keyRing.seal(request.ephemeral.privateKey, `esim-sr-change:${eid}`),
      },
      this.#now(),
    );
    const created = await partner.createAdditionalKeySet({
      functionCallIdentifier: `${p.function_call_id}:keyset`,
      validityPeriod: this.#remainingSeconds(deadline),
      eid,
      keyVersionNumber: kvn,
      initialSequenceCounter: counter,
      eccKeyLength: 'ECC-256',
      scenarioParameter: scenarioParameter(parameters),
      hostId: new Uint8Array(0),
      ephemeralPublicKey: request.ephemeral.publicKey,
      signature: request.signature,
    });
    if (!isSuccess(created.functionExecutionStatus)) return end(relayed('CreateAdditionalKeySet', created));

    // Step 23, the commit point: the receipt proves the card holds KS2.
    const ks2 = verifyKeyEstablishmentReceipt({
      curve: CURVE,
      parameters,
      ephemeralPrivateKey: request.ephemeral.privateKey,
      ecasdPublicKey: checked.ecasdPublicKey,
      response: Uint8Array.from([
        ...encodeBerTlv(0x85, created.derivationRandom),
        ...encodeBerTlv(0x86, created.receipt),
      ]),
    });
    if (!ks2.ok)
      return end(
        failed(
          SUBJECT_CODES.EUICC,
          REASON_CODES.VERIFICATION_FAILED,
          `${ks2.error.code}: ${ks2.error.message}`,
        ),
      );
    const committed: Eis = {
      ...b.eis,
      smsrId: this.#o.smsrId,
      isdR: { ...b.eis.isdR, keysets: [keysetOf(ks2.value, 'SCP80', counter)] },
    };
    const { auditTrail: _trail, ...own } = committed;
    const after: CommittedData = {
      ...data,
      kvn,
      old: b.eis.isdR.keysets
        .filter((k) => (k.type === 'SCP80' || k.type === 'SCP81') && k.version !== kvn)
        .map((k) => k.version),
    };
    await this.#o.store.db.transaction().execute(async (tx) => {
      await insertEis(tx, this.#o.keyRing, own, checked.eumCertificate, this.#now());
      await recordStep(tx, p.procedure_id, 'committed', after, this.#now());
    });
    const status = await this.#finalise(
      p.procedure_id,
      eid,
      after,
      checked.ecasdPublicKey,
      'committed',
      deadline,
    );
    return this.#complete(p.procedure_id, eid, status);
  }

  /**
   * Phase 5 (steps 24–26) from `from`: FinaliseISDRhandover, UpdateSMSRAddressingParameters (when
   * configured), then the SCP81 key set, under KS2, each sent again while the card is out of reach
   * until `deadline`. The eUICC is ours already: a failure is a warning, and the steps after it run
   * all the same (a FinaliseISDRhandover that failed leaves SM-SR1's keys on the card: the SCP81 key
   * set, made with "delete existing keys", replaces SM-SR1's of the same KVN).
   */
  async #finalise(
    procedureId: string,
    eid: string,
    data: CommittedData,
    ecasdPublicKey: Uint8Array,
    from: Phase5Step,
    deadline: number,
  ): Promise<FunctionExecutionStatus> {
    const warnings: string[] = [];
    const at = PHASE_5.indexOf(from);
    if (at <= PHASE_5.indexOf('finalise-sent')) {
      await recordStep(this.#db, procedureId, 'finalise-sent', data, this.#now());
      const refs = data.old.map((kvn) => isdrKeysetReference(kvn));
      const fin = await this.#es5(eid, finaliseIsdrHandoverApdu(refs), deadline);
      // 6A88 (no such key set) to a repeat whose first attempt got no answer: that attempt ran it (the
      // card deletes all of them or none).
      const ranBefore = fin.attempts > 1 && fin.outcome.ok && fin.outcome.responses[0]?.sw === 0x6a88;
      if (answer(fin.outcome) === undefined && !ranBefore)
        warnings.push(es5Failed('FinaliseISDRhandover', fin.outcome).statusCodeData?.message ?? '');
    }
    if (at <= PHASE_5.indexOf('addressing-sent') && this.#o.addressing !== undefined) {
      await recordStep(this.#db, procedureId, 'addressing-sent', data, this.#now());
      const upd = await this.#es5(eid, updateSmsrAddressingApdu(this.#o.addressing), deadline);
      if (!upd.outcome.ok || upd.outcome.responses[0]?.sw !== 0x9000)
        warnings.push(es5Failed('UpdateSMSRAddressingParameters', upd.outcome).statusCodeData?.message ?? '');
    }
    await recordStep(this.#db, procedureId, 'scp81-sent', data, this.#now());
    const scp81 = await this.#scp81Keyset(eid, ecasdPublicKey, deadline);
    if (scp81 !== undefined) warnings.push(scp81);
    return warnings.length === 0
      ? SUCCESS
      : withWarning(
          SUBJECT_CODES.EUICC,
          REASON_CODES.EXECUTION_ERROR,
          `the eUICC is managed here; ${warnings.join('; ')}`,
        );
  }

  /**
   * The end of a take-over after the commit point (steps 27, 31–32): the procedure row ends and the
   * HandleSMSRChangeNotification rows are written in one transaction — ES4 to each operator with a
   * profile on the eUICC, ES3 to each SM-DP of a profile (one per operator it acts for) — then
   * delivered once; the outbox's job repeats what failed. The EIS they carry is ours as it is now,
   * without audit trail or key values; the idempotency key (procedure, interface, receiver) keeps a
   * resumed end from writing them twice.
   */
  async #complete(
    procedureId: string,
    eid: string,
    status: FunctionExecutionStatus,
  ): Promise<FunctionExecutionStatus> {
    const n = this.#o.notifications;
    const eis = n === undefined ? undefined : await loadEis(this.#db, eid);
    const profiles = n === undefined ? [] : await profilesOf(this.#db, eid);
    const ids = await this.#o.store.db.transaction().execute(async (tx) => {
      await endProcedure(tx, procedureId, status, this.#now());
      if (n === undefined || eis === undefined) return [];
      const { auditTrail: _trail, ...body } = eis;
      const completionTimestamp = new Date(this.#now());
      const written: (number | undefined)[] = [];
      const write = (iface: 'ES3' | 'ES4', receiverId: string, mnoId?: string) =>
        n.outbox.enqueue(tx, {
          interface: iface,
          receiverId,
          kind: 'smsr-changed',
          body: { eid, iccid: '', ...(mnoId === undefined ? {} : { mnoId }), completionTimestamp, eis: body },
          idempotencyKey: `smsr-change:${this.#o.smsrId}:${procedureId}:${iface}:${receiverId}:${mnoId ?? ''}`,
        });
      for (const mnoId of new Set(profiles.map((p) => p.mno_id)))
        if (n.directory.operator(mnoId)?.handleSMSRChangeNotification !== undefined)
          written.push(await write('ES4', mnoId));
      const pairs = new Set(
        profiles.flatMap((p) => (p.smdp_id === null ? [] : [JSON.stringify([p.smdp_id, p.mno_id])])),
      );
      for (const pair of pairs) {
        const [smdpId, mnoId] = JSON.parse(pair) as [string, string];
        if (n.directory.smdp(smdpId)?.handleSMSRChangeNotification !== undefined)
          written.push(await write('ES3', smdpId, mnoId));
      }
      return written;
    });
    await n?.outbox.deliver(ids);
    return status;
  }

  // --- restart -------------------------------------------------------------------------------------

  /**
   * After a restart, before SmSr.recover(): ends or resumes every SM-SR change this deployment was
   * running (rows of other functions are left to SmSr). Returns how many it ended.
   *   SM-SR2, `prepared`                        still waits for HandoverEUICC (until its deadline)
   *   SM-SR2, before the commit point           FAILED: SM-SR1 stays in charge (KS2, if the card made
   *                                             it, is never used; the next attempt replaces it)
   *   SM-SR2, committed / finalise / SCP81      phase 5 resumed from its step; ends with a warning
   *   SM-SR1, `started`                         FAILED (nothing left)
   *   SM-SR1, after HandoverEUICC left          HandoverEUICC again, which asks SM-SR2 where it is: it
   *                                             runs the take-over if it never got it, answers
   *                                             "already managed" after its commit (SM-SR1 deletes its
   *                                             EIS, warning), refuses otherwise (SM-SR1 in charge)
   */
  async recover(): Promise<number> {
    let ended = 0;
    for (const p of await runningProcedures(this.#db)) {
      const status =
        p.function === SM_SR_CHANGE_FUNCTIONS.takeOver
          ? await this.#resumeTakeOver(p)
          : p.function === SM_SR_CHANGE_FUNCTIONS.handOver
            ? await this.#resumeHandOver(p)
            : undefined;
      if (status !== undefined) ended++;
    }
    return ended;
  }

  async #resumeTakeOver(p: ProcedureRow): Promise<FunctionExecutionStatus | undefined> {
    if (p.step === 'prepared') return undefined;
    let status: FunctionExecutionStatus = failed(
      SUBJECT_CODES.SM_SR,
      REASON_CODES.EXECUTION_ERROR,
      `interrupted at ${p.step}, before the commit point: the current SM-SR stays in charge`,
    );
    const eis = await loadEis(this.#db, p.eid);
    const point = eis === undefined ? undefined : ecasdPointOf(eis);
    const step = PHASE_5.find((x) => x === p.step);
    if (step === undefined || point === undefined) {
      await endProcedure(this.#db, p.procedure_id, status, this.#now());
      return status;
    }
    // After the commit point: phase 5 from the stored step (each step gets one attempt at least,
    // retries while the validity period lasts), then the notifications with the end.
    const data = fromJson<CommittedData>(p.data);
    const s = await this.#finalise(p.procedure_id, p.eid, data, point, step, Number(p.deadline));
    status = withWarning(
      SUBJECT_CODES.SM_SR,
      REASON_CODES.EXECUTION_ERROR,
      `resumed at ${p.step} after a restart${s.statusCodeData?.message ? `; ${s.statusCodeData.message}` : ''}`,
    );
    return this.#complete(p.procedure_id, p.eid, status);
  }

  /**
   * The SM-SR change's own expiry (SmSr.expireProcedures leaves change rows alone): a prepare whose
   * HandoverEUICC never came ends EXPIRED when its validity period is over, which unlocks the EID.
   * Every other change row is running (its own steps stop at the deadline) or waits for recover() /
   * resolveHandovers(). Returns how many it ended.
   */
  async expireProcedures(): Promise<number> {
    let n = 0;
    const now = this.#now();
    for (const p of await expiredPrepares(this.#db, SM_SR_CHANGE_FUNCTIONS.takeOver, now))
      if (await endProcedure(this.#db, p.procedure_id, EXPIRED, now)) n++;
    return n;
  }

  async #resumeHandOver(p: ProcedureRow): Promise<FunctionExecutionStatus | undefined> {
    // A question about a given-up hand-over that a stopped process left: the next round asks again.
    if (p.step === GIVEN_UP_ASKING) {
      await discardProcedure(this.#db, p.procedure_id);
      return undefined;
    }
    if (p.step === 'started')
      return this.#end(
        p.procedure_id,
        failed(SUBJECT_CODES.SM_SR, REASON_CODES.EXECUTION_ERROR, `interrupted at ${p.step}`),
      );
    return this.#askAgain(p, 'restart');
  }

  /**
   * HandoverEUICC again for an open hand-over (after a restart, a retry, or no answer): SM-SR2 runs
   * the take-over if it never got it, answers "already managed" after its commit (we delete our EIS),
   * "still running" before it (unknown: asked again later), refuses otherwise (we stay in charge).
   * Undefined while the outcome is still unknown (the row stays open).
   */
  async #askAgain(p: ProcedureRow, why: 'restart' | 'retry' | 'resolve') {
    if (this.#waiting.has(p.procedure_id)) return undefined;
    this.#waiting.add(p.procedure_id);
    try {
      const data = fromJson<HandOverData>(p.data);
      const eis = await loadEis(this.#db, p.eid);
      if (eis === undefined)
        return this.#end(
          p.procedure_id,
          failed(SUBJECT_CODES.EID, REASON_CODES.UNKNOWN, 'no EIS for this EID', p.eid),
        );
      const partner = this.#o.partner(data.target);
      if (partner === undefined) {
        // Removed from the partners meanwhile: nobody can say whether it committed; it stays open.
        await this.#unresolved(p.procedure_id, `${data.target} is no longer a partner SM-SR here`);
        return undefined;
      }
      // The relays accept SM-SR2's calls again from the start of the handover.
      await recordStep(this.#db, p.procedure_id, 'handover-sent', data, this.#now());
      const { auditTrail: _trail, ...handed } = eis;
      const answer = await this.#ask(partner, { functionCallIdentifier: p.function_call_id, eis: handed });
      if ('unknown' in answer) {
        await this.#unresolved(p.procedure_id, answer.unknown);
        return undefined;
      }
      const s = answer.status;
      const after = why === 'restart' ? 'after a restart, ' : '';
      if (!isSuccess(s))
        return this.#end(
          p.procedure_id,
          failed(
            SUBJECT_CODES.SM_SR,
            REASON_CODES.REFUSED,
            `${after}the new SM-SR ended HandoverEUICC: ${s.statusCodeData?.message ?? s.status}`,
          ),
        );
      const status =
        s.status === 'EXECUTED_SUCCESS'
          ? why === 'retry'
            ? SUCCESS
            : withWarning(
                SUBJECT_CODES.SM_SR,
                REASON_CODES.EXECUTION_ERROR,
                `completed ${why === 'restart' ? 'after a restart' : 'when asked again'}`,
              )
          : why === 'retry'
            ? s
            : withWarning(
                SUBJECT_CODES.SM_SR,
                REASON_CODES.EXECUTION_ERROR,
                `completed ${why === 'restart' ? 'after a restart' : 'when asked again'}: ${s.statusCodeData?.message ?? ''}`,
              );
      return this.#handedOver(p.procedure_id, p.eid, status);
    } finally {
      this.#waiting.delete(p.procedure_id);
    }
  }

  /**
   * Asks SM-SR2 again about every hand-over whose HandoverEUICC got no answer (serve calls this
   * periodically; nothing else of this SM-SR runs on those eUICCs meanwhile). Returns how many ended.
   */
  async resolveHandovers(): Promise<number> {
    let ended = 0;
    for (const p of await runningProcedures(this.#db)) {
      if (p.function !== SM_SR_CHANGE_FUNCTIONS.handOver || p.step === 'started') continue;
      if (p.step === GIVEN_UP_ASKING || this.#waiting.has(p.procedure_id)) continue;
      if ((await this.#askAgain(p, 'resolve')) !== undefined) ended++;
    }
    const givenUp = await this.#db
      .selectFrom('esim_sr_eis')
      .select(['eid', 'handover_unknown'])
      .where('handover_unknown', 'is not', null)
      .execute();
    for (const m of givenUp)
      if ((await this.#askGivenUp(m.eid, m.handover_unknown as string)) !== undefined) ended++;
    return ended;
  }

  // --- SM-SR1: an unresolved hand-over given up (operator layer) ------------------------------------
  //
  // SGP.02 §3.8 puts the commit point at SM-SR2 (its check of the card's receipt); an SM-SR1 that got
  // no answer to HandoverEUICC cannot know which side of it SM-SR2 is. Giving up therefore never
  // makes SM-SR1 act as if in charge: the procedure ends (the lock goes) but the EIS is marked
  // (esim_sr_eis.handover_unknown) and SmSr refuses every function on it but AuditEIS
  // (handoverGivenUpStatus) — AuditEIS only reads the card over SM-SR1's keys, which shows whether
  // FinaliseISDRhandover deleted them (then SM-SR2 committed) or not (which proves nothing: a
  // FinaliseISDRhandover may not have reached the card yet). What ends the mark is SM-SR2's word,
  // asked by resolveHandovers with SM-SR1's relays closed (no row at handover-sent), so the question
  // itself can never make SM-SR2 commit: "already managed" → SM-SR1 deletes its EIS; a refusal →
  // SM-SR2 never committed (it would answer "already managed") → SM-SR1 manages the eUICC again.

  /** The operator `mnoId`'s hand-overs at this SM-SR. */
  handoversFor(mnoId: string): SmSrHandovers {
    const requester = `operator:${mnoId}`;
    return {
      get: async (eid) => (await this.#handover(eid, requester))?.view,
      abandon: (eid, by) => this.abandonHandover(eid, requester, by),
    };
  }

  /** The eUICC's hand-over requested by `requester`: its running row, or its given-up mark. */
  async #handover(
    eid: string,
    requester: string,
  ): Promise<{ view: HandoverView; row?: ProcedureRow } | undefined> {
    const marker = await this.#givenUpMarker(eid);
    if (marker !== undefined) {
      const m = JSON.parse(marker) as HandoverUnknown;
      if (m.requester !== requester) return undefined;
      return {
        view: { eid, targetSmsrId: m.target, state: 'given-up', since: m.since, givenUpBy: m.by, why: m.why },
      };
    }
    const p = await activeProcedure(this.#db, eid);
    if (p === undefined || p.function !== SM_SR_CHANGE_FUNCTIONS.handOver || p.requester !== requester)
      return undefined;
    const unresolved = p.step === 'handover-unresolved' && !this.#waiting.has(p.procedure_id);
    return {
      row: p,
      view: {
        eid,
        targetSmsrId: fromJson<HandOverData>(p.data).target,
        state: unresolved ? 'unresolved' : 'running',
        since: Number(p.created_at),
        givenUpBy: null,
        why: unresolved ? (fromJson<HandOverData & { why?: string }>(p.data).why ?? null) : null,
      },
    };
  }

  async #givenUpMarker(eid: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('esim_sr_eis')
      .select('handover_unknown')
      .where('eid', '=', eid)
      .executeTakeFirst();
    return row?.handover_unknown ?? undefined;
  }

  /**
   * Gives up the hand-over of `eid` whose HandoverEUICC got no final answer (step handover-unresolved,
   * nobody asking SM-SR2 right now), for the operator that requested it. SM-SR2 is asked once more
   * first (relays closed, a short ValidityPeriod): a final answer ends the hand-over as it says. Else
   * one transaction ends the procedure (the eUICC's lock goes) and marks the EIS given-up.
   */
  async abandonHandover(eid: string, requester: string, by: string): Promise<AbandonOutcome | undefined> {
    const found = await this.#handover(eid, requester);
    if (found === undefined) return undefined;
    const { view, row: p } = found;
    if (view.state === 'given-up') return { outcome: 'given-up', handover: view };
    if (view.state !== 'unresolved' || p === undefined) return { outcome: 'running', handover: view };
    this.#waiting.add(p.procedure_id);
    try {
      const target = view.targetSmsrId;
      const partner = this.#o.partner(target);
      let why = `${target} is no longer a partner SM-SR here`;
      if (partner !== undefined) {
        const eis = await loadEis(this.#db, eid);
        if (eis === undefined) return undefined;
        const { auditTrail: _trail, ...handed } = eis;
        const answer = await this.#ask(partner, {
          functionCallIdentifier: p.function_call_id,
          validityPeriod: GIVEN_UP_ASK_SECONDS,
          eis: handed,
        });
        if ('status' in answer) {
          const s = answer.status;
          if (isSuccess(s))
            return {
              outcome: 'handed-over',
              targetSmsrId: target,
              status: await this.#handedOver(
                p.procedure_id,
                eid,
                withWarning(
                  SUBJECT_CODES.SM_SR,
                  REASON_CODES.EXECUTION_ERROR,
                  `completed when asked again as the hand-over was being given up: ${s.statusCodeData?.message ?? s.status}`,
                ),
              ),
            };
          return {
            outcome: 'in-charge',
            targetSmsrId: target,
            status: await this.#end(
              p.procedure_id,
              failed(
                SUBJECT_CODES.SM_SR,
                REASON_CODES.REFUSED,
                `the new SM-SR ended HandoverEUICC: ${s.statusCodeData?.message ?? s.status}`,
              ),
            ),
          };
        }
        why = answer.unknown;
      }
      const now = this.#now();
      const marker: HandoverUnknown = {
        target,
        functionCallId: p.function_call_id,
        requester,
        procedureId: p.procedure_id,
        since: now,
        by,
        why,
      };
      await this.#o.store.db.transaction().execute(async (tx) => {
        await endProcedure(
          tx,
          p.procedure_id,
          failed(
            SUBJECT_CODES.SM_SR,
            REASON_CODES.UNAVAILABLE,
            `given up by ${by}: whether ${target} took the eUICC over is not known (${why}); only AuditEIS runs on it until ${target} answers`,
          ),
          now,
        );
        await tx
          .updateTable('esim_sr_eis')
          .set({ handover_unknown: JSON.stringify(marker), updated_at: now })
          .where('eid', '=', eid)
          .execute();
      });
      return {
        outcome: 'given-up',
        handover: { eid, targetSmsrId: target, state: 'given-up', since: now, givenUpBy: by, why },
      };
    } finally {
      this.#waiting.delete(p.procedure_id);
    }
  }

  /**
   * Asks SM-SR2 about a given-up hand-over (resolveHandovers), under the eUICC's lock (an AuditEIS
   * running: next round) at step GIVEN_UP_ASKING, which SM-SR1's relays refuse. Its answer ends the
   * mark; none leaves it (the question leaves no row). The status it ended with, else undefined.
   */
  async #askGivenUp(eid: string, marker: string): Promise<FunctionExecutionStatus | undefined> {
    const m = JSON.parse(marker) as HandoverUnknown;
    const partner = this.#o.partner(m.target);
    if (partner === undefined) return undefined;
    const now = this.#now();
    const id = await beginProcedure(
      this.#db,
      {
        eid,
        function: SM_SR_CHANGE_FUNCTIONS.handOver,
        requester: m.requester,
        functionCallId: m.functionCallId,
        step: GIVEN_UP_ASKING,
        data: { target: m.target } satisfies HandOverData,
        deadline: now + GIVEN_UP_ASK_SECONDS * 1000,
      },
      now,
    );
    if (id === undefined) return undefined;
    this.#waiting.add(id);
    try {
      const eis = await loadEis(this.#db, eid);
      if (eis === undefined) {
        await discardProcedure(this.#db, id);
        return undefined;
      }
      const { auditTrail: _trail, ...handed } = eis;
      const answer = await this.#ask(partner, {
        functionCallIdentifier: m.functionCallId,
        validityPeriod: GIVEN_UP_ASK_SECONDS,
        eis: handed,
      });
      if ('unknown' in answer) {
        await discardProcedure(this.#db, id);
        return undefined;
      }
      const s = answer.status;
      if (isSuccess(s))
        return this.#handedOver(
          id,
          eid,
          withWarning(
            SUBJECT_CODES.SM_SR,
            REASON_CODES.EXECUTION_ERROR,
            `${m.target} took the eUICC over (asked after the hand-over was given up): ${s.statusCodeData?.message ?? s.status}`,
          ),
        );
      const status = failed(
        SUBJECT_CODES.SM_SR,
        REASON_CODES.REFUSED,
        `${m.target} did not take the eUICC over (${s.statusCodeData?.message ?? s.status}): this SM-SR manages it again`,
      );
      const at = this.#now();
      await this.#o.store.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('esim_sr_eis')
          .set({ handover_unknown: null, updated_at: at })
          .where('eid', '=', eid)
          .execute();
        await endProcedure(tx, id, status, at);
      });
      return status;
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** Step 6's checks; the EUM certificate and PK.ECASD.ECKA for what follows. */
  async #checkEis(
    eis: Eis,
    partnerId: string,
  ): Promise<{ status: FunctionExecutionStatus } | { eumCertificate: string; ecasdPublicKey: Uint8Array }> {
    const eid = eis.eumSignedInfo.eid;
    const refuse = (subject: (typeof SUBJECT_CODES)[keyof typeof SUBJECT_CODES], message: string) => ({
      status: failed(subject, REASON_CODES.VERIFICATION_FAILED, message),
    });
    if (eis.smsrId !== partnerId)
      return {
        status: failed(SUBJECT_CODES.EIS, REASON_CODES.INVALID, 'the EIS names another SM-SR', eis.smsrId),
      };
    const eumCertificate = await this.#o.eumCertificate(eis.eumSignedInfo.eumId);
    if (eumCertificate === undefined)
      return {
        status: failed(SUBJECT_CODES.EIS, REASON_CODES.UNKNOWN, 'the EUM of this EIS is not known here'),
      };
    try {
      verifyEisSignature(eis, eumCertificate);
    } catch {
      return refuse(SUBJECT_CODES.EIS, 'the EUM signature of the EIS does not verify');
    }
    const ecasdCertificate = eis.eumSignedInfo.ecasd.keysets.flatMap((k) => k.certificates)[0]?.value;
    const decoded = ecasdCertificate === undefined ? undefined : decodeGpCertificate(ecasdCertificate);
    if (ecasdCertificate === undefined || decoded === undefined || !decoded.ok)
      return refuse(SUBJECT_CODES.ECASD, 'no readable CERT.ECASD.ECKA in the EIS');
    if (toHex(decoded.value.subjectId).toUpperCase() !== eid.toUpperCase())
      return refuse(SUBJECT_CODES.ECASD, 'CERT.ECASD.ECKA is not issued for this EID');
    const chain = await this.#o.chains.verify({
      certificate: ecasdCertificate,
      role: 'ecasd',
      eumCertificate,
    });
    if (!chain.ok) return refuse(SUBJECT_CODES.ECASD, `${chain.error.code}: ${chain.error.reason}`);
    return { eumCertificate, ecasdPublicKey: decoded.value.publicKey.point };
  }

  /**
   * Step 26: our SCP81 PSK key set by another key establishment, now over KS2 (njiwa
   * CreateSCP81KeySet). Undefined when done; else the warning. A key agreement that got no answer
   * is not sent again (its RC may be spent): the pair starts over with a new certificate (3A01), the
   * key set made with "delete existing keys", while the validity period lasts.
   */
  async #scp81Keyset(eid: string, ecasdPublicKey: Uint8Array, deadline: number): Promise<string | undefined> {
    const parameters = isdrKeysetParameters({
      kind: 'scp81',
      kvn: this.#o.scp81Kvn ?? 0x40,
      deleteExistingKeys: true,
    });
    for (;;) {
      const first = await this.#es5(
        eid,
        establishIsdrKeySetCertificateApdu(this.#o.identity.certificate),
        deadline,
      );
      const rcData = answer(first.outcome);
      const rc = rcData === undefined ? undefined : decodeRandomChallenge(rcData);
      if (rc === undefined || !rc.ok)
        return (
          es5Failed('SCP81 key set (certificate)', first.outcome).statusCodeData?.message ?? 'SCP81 key set'
        );
      const request = buildKeyEstablishmentRequest({
        curve: CURVE,
        parameters,
        signingKey: this.#o.identity.privateKey,
        randomChallenge: rc.value,
      });
      const second = await this.#o.transport.send(eid, ISD_R_AID, [
        establishIsdrKeySetApdu(request.storeData),
      ]);
      const response = answer(second);
      if (response === undefined) {
        const again = !second.ok && TRANSIENT.has(second.code) && !this.#closed;
        const wait = this.#o.es5Retry?.baseMs ?? 5_000;
        if (again && this.#now() + wait < deadline) {
          await this.#sleep(wait);
          continue;
        }
        return es5Failed('SCP81 key set (key agreement)', second).statusCodeData?.message ?? 'SCP81 key set';
      }
      const ks = verifyKeyEstablishmentReceipt({
        curve: CURVE,
        parameters,
        ephemeralPrivateKey: request.ephemeral.privateKey,
        ecasdPublicKey,
        response,
      });
      if (!ks.ok) return `SCP81 key set: ${ks.error.message}`;
      await this.#o.store.db
        .transaction()
        .execute((tx) =>
          addIsdrKeyset(tx, this.#o.keyRing, eid, keysetOf(ks.value, 'SCP81', 0), this.#now()),
        );
      return undefined;
    }
  }
}

/** A partner's failure relayed as ours, naming the function. */
function relayed(
  fn: string,
  r: { functionExecutionStatus: FunctionExecutionStatus },
): FunctionExecutionStatus {
  const s = r.functionExecutionStatus;
  const data = s.statusCodeData;
  if (s.status === 'EXPIRED') return EXPIRED;
  return failed(
    (data?.subject as (typeof SUBJECT_CODES)[keyof typeof SUBJECT_CODES] | undefined) ?? SUBJECT_CODES.SM_SR,
    (data?.reason as (typeof REASON_CODES)[keyof typeof REASON_CODES] | undefined) ??
      REASON_CODES.EXECUTION_ERROR,
    `${fn} at the current SM-SR: ${data?.message ?? s.status}`,
  );
}

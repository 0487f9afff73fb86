// "Switch carrier" (issue 16; the seed's Figures 4 and 5): the operator moves one of its eUICCs to
// another operator's deployment — SGP.02 §3.8 SM-SR change to the target's SM-SR, then §3.1 profile
// download with enable through the target's SM-DP. One operation resource (esim_operations kind
// `switch`) whose steps are this table, run in order by the operator layer (operations-service.ts):
//
//   step          message (FunctionCallIdentifier = the operation id)        at
//   prepare       ES4.PrepareSMSRChange(Eid, CurrentSMSRid = ours)            the target SM-SR (SM-SR2)
//   smsr-change   ES4.SMSRChange(Eid, Target-Smsr-id)                         our SM-SR (SM-SR1), which
//                 runs ES7 HandoverEUICC … and deletes its EIS on success      → the SIM is handed over
//   download      ES2.DownloadProfile(Eid, SmSr-id = SM-SR2, ProfileType,    the target SM-DP
//                 Iccid?, EnableProfile = true)
//   (enable)      the EnableProfile part of that answer: EXECUTED_SUCCESS = installed and enabled,
//                 EXECUTED_WITHWARNING = installed, not enabled (SGP.02 §3.1 step 23)
//
// Each step is stored in esim_switches.step BEFORE its message leaves, so a restarted platform
// resumes (resumed = true) knowing what may already have happened:
//   prepare      sent again; a busy answer (8.1/3.7) is our earlier prepare still holding the EID
//   smsr-change  sent again; busy (our SM-SR's recovery still runs the handover) is waited out;
//                "no EIS for this EID" (8.1.1/3.9) means the earlier SMSRChange completed — SM-SR1
//                deletes its EIS only after SM-SR2 took the eUICC over
// An SMSRChange whose HandoverEUICC got no answer (8.7/3.7: SM-SR2 down, or its answer lost after
// its commit) has an outcome nobody knows yet: not a failure. The step stays running and SMSRChange
// is sent again (which makes our SM-SR ask SM-SR2 again) until an answer is final; "no EIS" then
// means our SM-SR learnt meanwhile that SM-SR2 took the eUICC over, as after a restart.
//   download     sent again with the same FunctionCallIdentifier: the target answers the download it
//                already ran or runs (switch/target.ts keys it by that id), never a second one
// Before the SM-SR change commits nothing has moved (our SM-SR stays in charge); after it, the SIM
// is handed over whatever the download does, and the outcome says which of the two happened.

import type { Clock } from '../../../lib/clock.js';
import type { Store } from '../../store/database.js';
import {
  type FunctionExecutionStatus,
  REASON_CODES,
  SUBJECT_CODES,
  withWarning,
} from '../es-soap/sgp-02-status-codes.js';
import type { Es2DownloadPort } from '../operations/ports.js';
import type { EsimStepState } from '../operations/progress.js';
import { handoverGivenUp } from '../sm-sr/sm-sr-service.js';
import type { Es4SmSrChangePort } from '../sm-sr-change/sm-sr-change-service.js';
import { markHandedOver, type SwitchRow, setSwitchStep } from './switch-store.js';

/** The operation's step names (esim_operation_steps.name), in order. */
export const SWITCH_STEP_NAMES = {
  prepare: 'ES4.PrepareSMSRChange',
  change: 'ES4.SMSRChange',
  download: 'ES2.DownloadProfile',
  enable: 'EnableProfile',
} as const;

/** The ports of one switch, bound to the operator (resolved from EsimRolePorts). */
export interface SwitchPorts {
  /** ES4 at the target SM-SR (SM-SR2). */
  readonly prepare: Pick<Es4SmSrChangePort, 'prepareSMSRChange'>;
  /** ES4 at our SM-SR (SM-SR1). */
  readonly change: Pick<Es4SmSrChangePort, 'smsrChange'>;
  /** ES2 at the target SM-DP. */
  readonly download: Es2DownloadPort;
}

/** What the run needs of the operator layer: its store and the operation's steps. */
export interface SwitchFrame {
  readonly store: Store;
  readonly clock: Clock;
  /** Opens step `name` unless it is open already (a resumed run). */
  open(operationId: string, name: string): Promise<void>;
  /** Ends the open step `name` (or records it ended). */
  close(
    operationId: string,
    name: string,
    state: Exclude<EsimStepState, 'running'>,
    status?: FunctionExecutionStatus,
    detail?: string,
  ): Promise<void>;
  /** A new progress line on the open step `name` (a wait). */
  note(operationId: string, name: string, message: string): Promise<void>;
}

export interface SwitchTiming {
  /** Waits between the attempts of an SMSRChange our SM-SR answers busy (a fresh run). */
  readonly busyRetryMs: readonly number[];
  /** A resumed run waits this long, at most, for our SM-SR's recovery to finish the handover. */
  readonly resumeWaitMs: number;
  /** Between two attempts of that wait. */
  readonly resumePollMs: number;
  /** ValidityPeriod of PrepareSMSRChange: how long SM-SR2 holds the EID for the handover (s). */
  readonly prepareValiditySeconds: number;
  /**
   * ValidityPeriod of SMSRChange (s): how long the SM-SRs may take to hand the eUICC over — our
   * SM-SR passes it on in HandoverEUICC, and every wait of the change (the card retried, a partner's
   * answer) ends with it. Undefined: none is sent (our SM-SR's default, 600 s).
   */
  readonly changeValiditySeconds?: number | undefined;
  /**
   * Waits before SMSRChange goes again while the hand-over's outcome is unknown (8.7/3.7), the last
   * one repeated; the step notes each.
   */
  readonly unresolvedRetryMs: readonly number[];
  /** How long, at most, the switch waits for that outcome before it ends FAILED saying it is unknown. */
  readonly unresolvedWaitMs: number;
  /** Waits before asking the target SM-DP again when DownloadProfile got no answer (1.2/3.7). */
  readonly downloadRetryMs: readonly number[];
}

export const DEFAULT_SWITCH_TIMING: SwitchTiming = Object.freeze({
  busyRetryMs: [250, 500, 1000, 1000, 1500, 1500, 2000],
  resumeWaitMs: 600_000,
  resumePollMs: 2_000,
  prepareValiditySeconds: 300,
  unresolvedRetryMs: [1_000, 2_000, 5_000, 10_000, 30_000],
  unresolvedWaitMs: 3_600_000,
  downloadRetryMs: [2_000, 10_000, 30_000, 60_000],
});

const ok = (s: FunctionExecutionStatus) =>
  s.status === 'EXECUTED_SUCCESS' || s.status === 'EXECUTED_WITHWARNING';
const codeIs = (s: FunctionExecutionStatus, subject: string, reason: string) =>
  s.status === 'FAILED' && s.statusCodeData?.subject === subject && s.statusCodeData.reason === reason;
/** 8.1/3.7: another procedure holds the eUICC (SGP.02: one at a time). */
const isBusy = (s: FunctionExecutionStatus) => codeIs(s, SUBJECT_CODES.EUICC, REASON_CODES.UNAVAILABLE);
/** 1.2/3.7: the provider did not answer (port-clients.ts: unreachable, no response in time). */
const isUnanswered = (s: FunctionExecutionStatus) =>
  codeIs(s, SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.UNAVAILABLE);
/**
 * 8.7/3.7 from our SM-SR's SMSRChange: the new SM-SR did not answer HandoverEUICC, so whether it
 * took the eUICC over is not known yet (sm-sr-change-service.ts: the hand-over stays open there).
 */
const isUnresolved = (s: FunctionExecutionStatus) => codeIs(s, SUBJECT_CODES.SM_SR, REASON_CODES.UNAVAILABLE);
const messageOf = (s: FunctionExecutionStatus) => s.statusCodeData?.message ?? s.status;

/** The same status with `what` before its message (the outcome names the step and what it means). */
function explained(s: FunctionExecutionStatus, what: string): FunctionExecutionStatus {
  const d = s.statusCodeData;
  if (d === undefined)
    return { status: s.status, statusCodeData: { subject: '1.2', reason: '4.2', message: what } };
  return { status: s.status, statusCodeData: { ...d, message: `${what}: ${d.message ?? s.status}` } };
}

/** A port that threw (a bug, a process going down) answers like a provider that failed. */
async function call<T extends { functionExecutionStatus: FunctionExecutionStatus }>(
  fn: () => Promise<T>,
): Promise<T | { functionExecutionStatus: FunctionExecutionStatus }> {
  try {
    return await fn();
  } catch {
    return {
      functionExecutionStatus: {
        status: 'FAILED',
        statusCodeData: { subject: '1.2', reason: '4.2', message: 'the role did not answer (port failure)' },
      },
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs (or resumes) one switch from the step its row holds; resolves with the operation's outcome.
 * The caller ends the operation with it.
 */
export async function runSwitch(
  frame: SwitchFrame,
  row: SwitchRow,
  ports: SwitchPorts,
  o: { resumed: boolean; timing: SwitchTiming; simId: string },
): Promise<FunctionExecutionStatus> {
  const id = row.operation_id;
  const warnings: string[] = [];
  let step = row.step;

  if (step === 'prepare') {
    await frame.open(id, SWITCH_STEP_NAMES.prepare);
    const r = await call(() =>
      ports.prepare.prepareSMSRChange({
        functionCallIdentifier: id,
        validityPeriod: o.timing.prepareValiditySeconds,
        eid: row.eid,
        currentSmsrId: row.source_smsr_id,
      }),
    );
    let s = r.functionExecutionStatus;
    // Resumed: our own prepare (sent before the restart) still holds the EID at SM-SR2.
    const earlier = o.resumed && isBusy(s);
    if (!ok(s) && !earlier) {
      const out = explained(
        s,
        `the target SM-SR ${row.target_smsr_id} did not prepare the SM-SR change, nothing moved (this deployment's SM-SR still manages the eUICC)`,
      );
      await frame.close(id, SWITCH_STEP_NAMES.prepare, 'failed', s);
      return out;
    }
    if (earlier)
      s = withWarning(SUBJECT_CODES.EUICC, REASON_CODES.UNAVAILABLE, 'prepared before the restart');
    await setSwitchStep(frame.store.db, id, 'smsr-change', frame.clock.now());
    step = 'smsr-change';
    await frame.close(id, SWITCH_STEP_NAMES.prepare, 'succeeded', s);
  }

  if (step === 'smsr-change') {
    await frame.open(id, SWITCH_STEP_NAMES.change);
    const resumed = o.resumed && row.step === 'smsr-change';
    const { status: s, unresolved } = await smsrChange(frame, row, ports, resumed, o.timing);
    // Resumed, or after an answer that left the hand-over open: SM-SR1 deletes its EIS only after
    // SM-SR2 took the eUICC over (§3.8 step 29).
    const doneBefore = (resumed || unresolved) && codeIs(s, SUBJECT_CODES.EID, REASON_CODES.UNKNOWN);
    if (!ok(s) && !doneBefore) {
      await frame.close(id, SWITCH_STEP_NAMES.change, 'failed', s);
      // The operator gave the unresolved hand-over up (sm-sr-change handoversFor().abandon): not a
      // failure before the commit point either — nobody knows where the eUICC is.
      if (handoverGivenUp(s))
        return explained(
          s,
          `the hand-over to ${row.target_smsr_id} was given up with its outcome unknown; the switch did not finish`,
        );
      if (isUnresolved(s))
        return explained(
          s,
          `whether ${row.target_smsr_id} took the eUICC over is still not known after ${Math.round(o.timing.unresolvedWaitMs / 1000)} s: this deployment's SM-SR keeps the eUICC locked and asks it again; the switch did not finish`,
        );
      return explained(
        s,
        `the SM-SR change to ${row.target_smsr_id} failed before its commit point: this deployment's SM-SR still manages the eUICC (the target's prepare ends with its validity period)`,
      );
    }
    if (s.status === 'EXECUTED_WITHWARNING') warnings.push(`SMSRChange: ${messageOf(s)}`);
    const now = frame.clock.now();
    await frame.store.transaction(async (trx) => {
      await markHandedOver(trx, o.simId, row.target_smsr_id, now);
      await setSwitchStep(trx, id, 'download', now);
    });
    step = 'download';
    await frame.close(
      id,
      SWITCH_STEP_NAMES.change,
      'succeeded',
      doneBefore
        ? withWarning(
            SUBJECT_CODES.EID,
            REASON_CODES.UNKNOWN,
            `handed over to ${row.target_smsr_id} ${resumed ? 'before the restart' : 'while its answer was awaited'} (this SM-SR holds no EIS of the eUICC any more)`,
          )
        : s,
      `handed over to ${row.target_smsr_id}`,
    );
  }

  if (step === 'download') {
    await frame.open(id, SWITCH_STEP_NAMES.download);
    const download = () =>
      call(() =>
        ports.download.downloadProfile({
          functionCallIdentifier: id,
          eid: row.eid,
          smsrId: row.target_smsr_id,
          profileType: row.profile_type,
          ...(row.iccid === null ? {} : { iccid: row.iccid }),
          enableProfile: true,
        }),
      );
    let r = await download();
    // No answer (the partner unreachable, its answer lost, a download still running there): asked
    // again under the same FunctionCallIdentifier, which the target answers with that download.
    for (const wait of o.timing.downloadRetryMs) {
      if (!isUnanswered(r.functionExecutionStatus)) break;
      await frame.note(
        id,
        SWITCH_STEP_NAMES.download,
        `${messageOf(r.functionExecutionStatus)}; asking again in ${wait} ms`,
      );
      await sleep(wait);
      r = await download();
    }
    const s = r.functionExecutionStatus;
    const iccid = 'iccid' in r && typeof r.iccid === 'string' && r.iccid !== '' ? r.iccid : undefined;
    await setSwitchStep(frame.store.db, id, 'ended', frame.clock.now(), iccid);
    if (!ok(s)) {
      await frame.close(id, SWITCH_STEP_NAMES.download, 'failed', s);
      return explained(
        s,
        `the eUICC is handed over to ${row.target_smsr_id}, but the profile download at ${row.target_smdp_id} failed (the target operator can download it again)`,
      );
    }
    await frame.close(
      id,
      SWITCH_STEP_NAMES.download,
      'succeeded',
      undefined,
      `profile ${iccid ?? '?'} installed`,
    );
    // DownloadProfile(EnableProfile = true): a warning is the enable that did not happen (§3.1 step 23).
    if (s.status === 'EXECUTED_WITHWARNING') {
      await frame.open(id, SWITCH_STEP_NAMES.enable);
      await frame.close(id, SWITCH_STEP_NAMES.enable, 'failed', s);
      warnings.push(`DownloadProfile: ${messageOf(s)}`);
    } else {
      await frame.open(id, SWITCH_STEP_NAMES.enable);
      await frame.close(
        id,
        SWITCH_STEP_NAMES.enable,
        'succeeded',
        undefined,
        `enabled, as the target SM-DP's DownloadProfile answered`,
      );
    }
  }

  if (warnings.length > 0)
    return withWarning(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.EXECUTION_ERROR, warnings.join('; '));
  return { status: 'EXECUTED_SUCCESS' };
}

/**
 * ES4.SMSRChange at our SM-SR. Busy (8.1/3.7: another procedure of our SM-SR on the eUICC) is tried
 * again: after each of timing.busyRetryMs on a fresh run; on a resumed one for up to
 * timing.resumeWaitMs, as our SM-SR's own recovery may still be running the handover. An unresolved
 * hand-over (8.7/3.7) is asked again after timing.unresolvedRetryMs (the last repeated) for up to
 * timing.unresolvedWaitMs; meanwhile busy is our SM-SR asking SM-SR2 itself, and is waited the same.
 * `unresolved`: an answer left the hand-over open at least once.
 */
async function smsrChange(
  frame: SwitchFrame,
  row: SwitchRow,
  ports: SwitchPorts,
  resumed: boolean,
  timing: SwitchTiming,
): Promise<{ status: FunctionExecutionStatus; unresolved: boolean }> {
  const id = row.operation_id;
  const once = async () =>
    (
      await call(() =>
        ports.change.smsrChange({
          functionCallIdentifier: id,
          ...(timing.changeValiditySeconds === undefined
            ? {}
            : { validityPeriod: timing.changeValiditySeconds }),
          eid: row.eid,
          targetSmsrId: row.target_smsr_id,
        }),
      )
    ).functionExecutionStatus;
  let s = await once();
  // Waits are real time (the injectable clock only stamps the rows).
  const deadline = performance.now() + timing.resumeWaitMs;
  let unresolvedSince: number | undefined;
  let unresolvedAttempt = 0;
  for (let attempt = 0; ; attempt++) {
    if (isUnresolved(s)) unresolvedSince ??= performance.now();
    if (unresolvedSince !== undefined && (isUnresolved(s) || isBusy(s))) {
      const waits = timing.unresolvedRetryMs;
      const wait = waits[Math.min(unresolvedAttempt, waits.length - 1)] ?? 1_000;
      if (performance.now() + wait > unresolvedSince + timing.unresolvedWaitMs) break;
      unresolvedAttempt++;
      await frame.note(
        id,
        SWITCH_STEP_NAMES.change,
        `${messageOf(s)}; asking again in ${wait} ms (the hand-over's outcome is not known yet)`,
      );
      await sleep(wait);
      s = await once();
      continue;
    }
    if (!isBusy(s)) break;
    const wait = resumed ? timing.resumePollMs : timing.busyRetryMs[attempt];
    if (wait === undefined || (resumed && performance.now() + wait > deadline)) break;
    await frame.note(
      id,
      SWITCH_STEP_NAMES.change,
      `${messageOf(s)}; attempt ${attempt + 2}${resumed ? '' : ` of ${timing.busyRetryMs.length + 1}`} in ${wait} ms`,
    );
    await sleep(wait);
    s = await once();
  }
  return { status: s, unresolved: unresolvedSince !== undefined };
}

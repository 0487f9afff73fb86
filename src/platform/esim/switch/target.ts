// The target side of a switch (issue 16; the seed's Figure 5 at operator 2): a partner operator
// whose customer switches an eUICC to this deployment calls our SM-DP's ES2 DownloadProfile (after
// the SM-SR change moved the eUICC to our SM-SR). The profile is this deployment operator's (the
// owner's): its inventory, its MNO id on the card. What the port enforces, in order:
//
//   the request is idempotent by the partner's FunctionCallIdentifier: a repeat (the partner's
//       platform restarted and resumes its switch) answers the download that id started — waiting for
//       it while it runs — and never starts a second one;
//   only profiles the owner put in the switch pool are served: SIMs of its inventory in status
//       `ready` tagged `esimSwitchProfileType` = the profile type asked for, whose ICCID is on no
//       eUICC and was never downloaded (a partner naming an ICCID gets it only if it is in the pool;
//       without one, a free one of the pool, another one when a concurrent switch reserved it first)
//       — a partner can never make a clone of another SIM of the inventory;
//   the SM-DP runs the download as for the owner (SmDp.downloadProfile: ECASD chain, key
//       establishment, SCP03t, enable); installed, the eUICC enters the owner's inventory
//       (EsimOperations.adoptEuicc: its profiles from our SM-SR's EIS, an audit record).

import { randomInt } from 'node:crypto';
import type { Store } from '../../store/database.js';
import type { MessageBodies } from '../es-soap/sgp-02-messages.js';
import {
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from '../es-soap/sgp-02-status-codes.js';
import type { Es2DownloadPort } from '../operations/ports.js';
import type { DownloadResult, Es2Caller, Es2Port } from '../sm-dp/sm-dp-service.js';

/** The SIM tag that puts an inventory SIM in the switch pool; its value is the profile type. */
export const SWITCH_POOL_TAG = 'esimSwitchProfileType';

export interface EsimSwitchTargetOptions {
  readonly store: Store;
  /** This deployment's SM-DP (SmDp fits). */
  readonly smdp: {
    downloadProfile(
      b: MessageBodies['ES2-DownloadProfileRequest'],
      caller: Es2Caller,
    ): Promise<DownloadResult & { installed: boolean }>;
  };
  /** The deployment's operator whose inventory serves partners' switches, as our SM-DP knows it. */
  readonly owner: Es2Caller;
  /** Adds the eUICC to the owner's inventory (EsimOperations.adoptEuicc). */
  readonly adopt: (operatorId: string, eid: string, detail: Record<string, unknown>) => Promise<boolean>;
  /** Between two reads of a download a repeated request waits for (default 500 ms). */
  readonly pollMs?: number;
  /** How long a repeated request waits for that download at most (default 15 min). */
  readonly waitMs?: number;
  /**
   * Which of the free profiles `free` (ICCID order, never empty) a request without an ICCID takes.
   * Default: one at random, so partners' switches running at once rarely pick the same.
   */
  readonly pick?: (free: readonly string[]) => string | Promise<string>;
}

/**
 * Partners' switches that run at once each pick at random among the first FREE_WINDOW free profiles,
 * so they rarely collide; one that lost a race (another switch's download reserved the profile
 * between its pick and its own reservation) takes another free one, as long as there is one. A
 * profile lost and free again (that download failed) is tried again, LOST_TRIES times at most.
 */
const FREE_WINDOW = 64;
const LOST_TRIES = 2;

/**
 * The SM-DP's answers that mean another download got the profile first: it reserves an ICCID by its
 * unique running download (3.7 "a download of this ICCID is running") and serves it once (3.3
 * "this profile was downloaded").
 */
const lostRace = (s: FunctionExecutionStatus) =>
  s.statusCodeData?.subject === SUBJECT_CODES.PROFILE_ICCID &&
  (s.statusCodeData.reason === REASON_CODES.UNAVAILABLE ||
    s.statusCodeData.reason === REASON_CODES.ALREADY_IN_USE);

export class EsimSwitchTarget {
  readonly #o: EsimSwitchTargetOptions;

  constructor(options: EsimSwitchTargetOptions) {
    this.#o = options;
  }

  /** ES2 DownloadProfile for the partner operator `partnerMnoId` (as the transport authenticated it). */
  es2For(partnerMnoId: string): Es2DownloadPort {
    return { downloadProfile: (b) => this.#download(b, partnerMnoId) };
  }

  /**
   * The whole ES2 of our SM-DP as a partner operator sees it (the SOAP listener's port): only
   * DownloadProfile for a switch; the other functions act on the owner's profiles, so they are refused
   * (1.1/1.2: the requester may not).
   */
  es2PortFor(partnerMnoId: string): Es2Port {
    const refused = async () => ({
      functionExecutionStatus: failed(
        SUBJECT_CODES.FUNCTION_REQUESTER,
        REASON_CODES.NOT_ALLOWED,
        'a partner operator may only download a profile for a switch here',
      ),
    });
    return {
      ...this.es2For(partnerMnoId),
      getEIS: refused,
      updatePolicyRules: refused,
      updateSubscriptionAddress: refused,
      enableProfile: refused,
      disableProfile: refused,
      deleteProfile: refused,
    };
  }

  async #download(
    b: MessageBodies['ES2-DownloadProfileRequest'],
    partner: string,
  ): Promise<MessageBodies['ES2-DownloadProfileResponse']> {
    // The partner's id for the request, kept apart from every other partner's and from our own.
    const key = `switch:${partner}:${b.functionCallIdentifier}`;
    const earlier = await this.#earlier(key);
    if (earlier !== undefined) return this.#answer(b, partner, earlier.status, earlier.iccid);
    const type = b.profileType;
    if (type === undefined)
      return refuse(
        failed(SUBJECT_CODES.FUNCTION, REASON_CODES.MANDATORY_ELEMENT_MISSING, 'name the profile type'),
      );
    const named = b.iccid;
    // Free profiles this request lost to other partners' switches (their downloads took them between
    // our pick and our reservation), with how often: a lost one is tried again only when it is free
    // again (that download failed) and at most LOST_TRIES times, so the loop ends.
    const lost = new Map<string, number>();
    for (;;) {
      const iccid = named ?? (await this.#free(type, lost));
      if (iccid === undefined) {
        // None free now, but downloads running for others' switches hold some: they may yet fail.
        if (lost.size > 0 || (await this.#held(type)))
          return refuse(
            failed(
              SUBJECT_CODES.PROFILE_ICCID,
              REASON_CODES.UNAVAILABLE,
              `the free profiles of type ${type} are being taken; retry`,
            ),
          );
        return refuse(
          failed(
            SUBJECT_CODES.PROFILE_ICCID,
            REASON_CODES.UNKNOWN,
            `no free profile of type ${type} for switches in this operator's inventory`,
          ),
        );
      }
      if (!(await this.#inPool(iccid, type))) {
        if (named !== undefined)
          return refuse(
            failed(
              SUBJECT_CODES.PROFILE_ICCID,
              REASON_CODES.UNKNOWN,
              `profile ${named} is not offered for switches as ${type}`,
            ),
          );
        // Picked free a moment ago, taken since by another switch's download: pick another.
        lost.set(iccid, (lost.get(iccid) ?? 0) + 1);
        continue;
      }
      const r = await this.#o.smdp.downloadProfile(
        { ...b, functionCallIdentifier: key, iccid, profileType: type },
        this.#o.owner,
      );
      // The SM-DP reserved nothing (downloadId ''): another partner's switch reserved this profile
      // (3.7: its download runs) or downloaded it (3.3) since our pick — take another.
      if (named === undefined && r.downloadId === '' && lostRace(r.status)) {
        lost.set(iccid, (lost.get(iccid) ?? 0) + 1);
        continue;
      }
      return this.#answer(b, partner, r.status, r.installed ? iccid : undefined);
    }
  }

  async #answer(
    b: MessageBodies['ES2-DownloadProfileRequest'],
    partner: string,
    status: FunctionExecutionStatus,
    iccid: string | undefined,
  ): Promise<MessageBodies['ES2-DownloadProfileResponse']> {
    if (iccid !== undefined)
      await this.#o.adopt(this.#o.owner.operatorId, b.eid, { switchFrom: partner, iccid }).catch(() => false);
    return { functionExecutionStatus: status, ...(iccid === undefined ? {} : { iccid }) };
  }

  /** The download a request with this key started: its outcome, waited for while it runs. */
  async #earlier(
    key: string,
  ): Promise<{ status: FunctionExecutionStatus; iccid: string | undefined } | undefined> {
    const read = () =>
      this.#o.store.db
        .selectFrom('esim_dp_downloads')
        .select(['iccid', 'status', 'result'])
        .where('function_call_id', '=', key)
        .where('operator_id', '=', this.#o.owner.operatorId)
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
    let row = await read();
    if (row === undefined) return undefined;
    const deadline = performance.now() + (this.#o.waitMs ?? 900_000);
    while (row !== undefined && row.status === 'running' && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, this.#o.pollMs ?? 500));
      row = await read();
    }
    if (row === undefined || row.status === 'running' || row.result === null)
      return {
        status: failed(
          SUBJECT_CODES.FUNCTION_PROVIDER,
          REASON_CODES.UNAVAILABLE,
          'the download this request started still runs; ask again later',
        ),
        iccid: undefined,
      };
    const status = JSON.parse(row.result) as FunctionExecutionStatus;
    const installed = status.status === 'EXECUTED_SUCCESS' || status.status === 'EXECUTED_WITHWARNING';
    return { status, iccid: installed ? row.iccid : undefined };
  }

  /**
   * One free profile of the pool, picked (options.pick, default at random) among the first
   * FREE_WINDOW by ICCID that this request did not lose yet; else among those it lost fewer than
   * LOST_TRIES times that are free again (the download that took them failed). Undefined: none.
   */
  async #free(type: string, lost: ReadonlyMap<string, number>): Promise<string | undefined> {
    const rows = (
      await this.#pool(type)
        .orderBy('p.iccid')
        .limit(lost.size + FREE_WINDOW)
        .execute()
    ).map((r) => r.iccid);
    const untried = rows.filter((i) => !lost.has(i));
    const from = untried.length > 0 ? untried : rows.filter((i) => (lost.get(i) ?? 0) < LOST_TRIES);
    if (from.length === 0) return undefined;
    return this.#o.pick === undefined ? from[randomInt(from.length)] : await this.#o.pick(from);
  }

  /** Whether a profile of the pool is held by a download still running (free again if it fails). */
  async #held(type: string): Promise<boolean> {
    const row = await this.#pool(type, { running: true }).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async #inPool(iccid: string, type: string): Promise<boolean> {
    return (await this.#pool(type).where('p.iccid', '=', iccid).executeTakeFirst()) !== undefined;
  }

  /**
   * Free profiles of the switch pool: tagged with the type, SIM ready, on no eUICC, never downloaded;
   * with `running`, those of the pool a running download holds instead.
   */
  #pool(type: string, o: { running?: boolean } = {}) {
    const owner = this.#o.owner.operatorId;
    return this.#o.store.db
      .selectFrom('sim_profiles as p')
      .innerJoin('sims as s', 's.sim_id', 'p.sim_id')
      .innerJoin('sim_tags as t', 't.sim_id', 'p.sim_id')
      .select('p.iccid')
      .where('p.operator_id', '=', owner)
      .where('s.operator_id', '=', owner)
      .where('s.status', '=', 'ready')
      .where('s.type', '!=', 'euicc')
      .where('t.operator_id', '=', owner)
      .where('t.name', '=', SWITCH_POOL_TAG)
      .where('t.value', '=', type)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('esim_profiles as e').select('e.iccid').whereRef('e.iccid', '=', 'p.iccid'))),
      )
      .where(({ not, exists, selectFrom }) => {
        const downloads = (statuses: string[]) =>
          exists(
            selectFrom('esim_dp_downloads as d')
              .select('d.iccid')
              .whereRef('d.iccid', '=', 'p.iccid')
              .where('d.status', 'in', statuses),
          );
        return o.running === true
          ? downloads(['running'])
          : not(downloads(['running', 'EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING']));
      });
  }
}

const refuse = (status: FunctionExecutionStatus): MessageBodies['ES2-DownloadProfileResponse'] => ({
  functionExecutionStatus: status,
});

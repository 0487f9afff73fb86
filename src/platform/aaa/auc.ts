// The authentication centre (TS 33.102 §6.3): authentication vectors per SIM profile, SQN management
// (Annex C) and resynchronisation (§6.3.5). Ki and OPc are opened here and nowhere else in the
// platform; they never leave this module.
//
// SQN (48 bits) = SEQ ‖ IND, IND being the low `ind_bits` bits of the profile (5 by default). Each
// vector takes the next SEQ and the next IND slot (TS 33.102 Annex C.1.2 and C.3.2, "profile 2",
// IND := IND + 1 mod 2^a as hostapd's hlr_auc_gw does), so up to 2^a vectors handed to different
// consumers (instances, EAP conversations, a VLR over GSUP) are accepted by the USIM in any order.
//
// The SQN advance is ONE SQL statement — `UPDATE … SET sqn = next(sqn) … RETURNING` — so two
// instances on one PostgreSQL (or two processes on one SQLite file) never hand out the same SQN.
// Statements are group-committed: concurrent requests share a transaction (and its fsync), and no
// vector is returned before the SQN it uses is durable.

import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { type AkaAlgorithm, akaGsm, akaRecoverSqn, akaVector } from '../../crypto/aka-algorithm.js';
import { sqnFromNumber, sqnToNumber } from '../../crypto/milenage.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { fromHex } from '../../lib/hex.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { KeyRing } from '../secrets/key-ring.js';
import { profileSecretContext, unpackSecrets } from '../sims/model.js';
import { incrementCounter, readCounter } from '../store/atomic.js';
import type { Executor, Store } from '../store/database.js';
import type { GroupCommit } from '../store/group-commit.js';

export interface UmtsVector {
  rand: Uint8Array;
  autn: Uint8Array;
  xres: Uint8Array;
  ck: Uint8Array;
  ik: Uint8Array;
  /** The SQN in AUTN, as a number (SEQ · 2^a + IND). */
  sqn: number;
  amf: Uint8Array;
}

export interface GsmTriplet {
  rand: Uint8Array;
  sres: Uint8Array;
  kc: Uint8Array;
}

export type AucFailure = 'UNKNOWN_SUBSCRIBER' | 'RESYNC_FAILED';

export interface VectorOptions {
  /** Number of vectors (1–32, default 1). */
  count?: number;
  /** Set AMF bit 0, the "separation bit" (TS 33.102 Annex H), as EAP-AKA' and EPS require. */
  separationBit?: boolean;
  /** Resynchronise first (TS 33.102 §6.3.5): RAND of the failed challenge and the USIM's AUTS. */
  resync?: { rand: Uint8Array; auts: Uint8Array };
}

export interface AucOptions {
  /** Wrong-MAC-S AUTS accepted per IMSI within the window; then resync is refused. */
  readonly resyncFailureLimit: number;
  readonly resyncFailureWindowMs: number;
}

/** Counters for metrics (process-local). */
export interface AucStats {
  vectors: number;
  triplets: number;
  resyncs: number;
  /** AUTS whose MAC-S did not verify. */
  badAuts: number;
  /** Resynchronisations refused because the IMSI reached the bad-AUTS limit. */
  resyncRefused: number;
  unknownSubscriber: number;
}

/** TS 33.102 Annex C.2.1: the USIM refuses a SEQ more than Δ above its highest; 2^28 as in C.3.2. */
export const SQN_DELTA = 2 ** 28;
export const MAX_VECTORS = 32;
const SQN_BITS = 48;
const BAD_AUTS_SCOPE = 'auc-bad-auts';

interface ProfileRow {
  iccid: string;
  secrets: string;
  amf: string;
  sqn: number;
  ind_bits: number;
}

/**
 * SQL for "n vectors after x": SEQ(x) + n with IND(x) + n mod 2^a, where a = ind_bits of the row.
 * `x` is an SQL expression over the row (the old sqn, or the SQN adopted from AUTS).
 */
function advanced(x: ReturnType<typeof sql>, n: number) {
  const size = sql`(cast(1 as bigint) << ind_bits)`;
  return sql`(((((${x}) >> ind_bits) + ${n}) << ind_bits) | ((((${x}) & (${size} - 1)) + ${n}) & (${size} - 1)))`;
}

/** The row condition that SEQ stays inside 48 − a bits after the advance. */
function fits(x: ReturnType<typeof sql>, n: number) {
  return sql`(((${x}) >> ind_bits) + ${n}) < (cast(1 as bigint) << (${SQN_BITS} - ind_bits))`;
}

export class AuthenticationCentre {
  readonly stats: AucStats = {
    vectors: 0,
    triplets: 0,
    resyncs: 0,
    badAuts: 0,
    resyncRefused: 0,
    unknownSubscriber: 0,
  };

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    private readonly committer: GroupCommit,
    private readonly options: AucOptions,
  ) {}

  /** `count` fresh vectors (default 1). `separationBit` sets AMF bit 0 (EAP-AKA', EPS). With `resync`, MAC-S is verified and SQN_MS adopted first. */
  async vectors(imsi: string, options: VectorOptions = {}): Promise<Result<UmtsVector[], AucFailure>> {
    const count = options.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_VECTORS) {
      throw new RangeError(`vector count must be 1–${MAX_VECTORS}, got ${count}`);
    }
    if (!/^\d{6,15}$/.test(imsi)) return this.unknown();

    let row: ProfileRow | undefined;
    if (options.resync) {
      const adopted = await this.resync(imsi, options.resync, count);
      if (!adopted.ok) return adopted;
      row = adopted.value;
    } else {
      const current = sql`sqn`;
      row = await this.committer.run((trx) => this.advance(trx, imsi, current, count));
      if (row === undefined) {
        if (await this.exists(imsi)) throw this.exhausted(imsi);
        return this.unknown();
      }
    }
    return ok(this.generate(row, count, options.separationBit === true));
  }

  /** Resolves when no SQN advance is queued or committing. */
  drained(): Promise<void> {
    return this.committer.drained();
  }

  /** GSM triplets via GSM-Milenage (c2/c3) for EAP-SIM (c2/c3 of the test algorithm for its SIMs). */
  async triplets(imsi: string, count: number): Promise<Result<GsmTriplet[], AucFailure>> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_VECTORS) {
      throw new RangeError(`triplet count must be 1–${MAX_VECTORS}, got ${count}`);
    }
    if (!/^\d{6,15}$/.test(imsi)) return this.unknown();
    const row = await this.profile(this.store.db, imsi);
    if (!row) return this.unknown();
    const { ki, opc, algorithm } = this.open(row);
    const rands = randomBytes(16 * count);
    const out: GsmTriplet[] = [];
    for (let i = 0; i < count; i++) {
      const rand = new Uint8Array(rands.subarray(16 * i, 16 * (i + 1)));
      // TS 55.205 / TS 33.102 §6.8.1.2: SRES by c2, Kc by c3 from the UMTS functions.
      const { sres, kc } = akaGsm(algorithm, ki, opc, rand);
      out.push({ rand, sres: sres.slice(), kc: kc.slice() });
    }
    ki.fill(0);
    opc.fill(0);
    this.stats.triplets += count;
    return ok(out);
  }

  /**
   * TS 33.102 §6.3.5: verify MAC-S of AUTS (f1* with AMF* = 0) against the RAND it answers, recover
   * SQN_MS = AUTS[0..6) ⊕ f5*, and adopt it — unless the current SQN_HE would already be accepted
   * (SEQ_HE ≥ SEQ_MS and within Δ), in which case SQN_HE stays. Then advance, in one statement.
   */
  private async resync(
    imsi: string,
    resync: { rand: Uint8Array; auts: Uint8Array },
    count: number,
  ): Promise<Result<ProfileRow, AucFailure>> {
    const now = this.clock.now();
    const profile = await this.profile(this.store.db, imsi);
    if (!profile) return this.unknown();
    const failures = await readCounter(this.store.db, BAD_AUTS_SCOPE, imsi, now);
    if (failures && failures.value >= this.options.resyncFailureLimit) {
      this.stats.resyncRefused++;
      return err('RESYNC_FAILED');
    }
    if (resync.rand.length !== 16 || resync.auts.length !== 14) return this.badAuts(imsi, now);
    const { ki, opc, algorithm } = this.open(profile);
    const recovered = akaRecoverSqn(algorithm, ki, opc, resync.rand, resync.auts);
    ki.fill(0);
    opc.fill(0);
    if (!recovered.ok) return this.badAuts(imsi, now);
    const sqnMs = sqnToNumber(recovered.value);
    const ms = sql`cast(${sqnMs} as bigint)`;
    const keep = sql`((sqn >> ind_bits) >= (${ms} >> ind_bits) and (sqn >> ind_bits) - (${ms} >> ind_bits) <= ${SQN_DELTA})`;
    const base = sql`case when ${keep} then sqn else ${ms} end`;
    const row = await this.committer.run((trx) => this.advance(trx, imsi, base, count));
    if (!row) throw this.exhausted(imsi);
    this.stats.resyncs++;
    return ok(row);
  }

  private async badAuts(imsi: string, now: number): Promise<Result<never, AucFailure>> {
    this.stats.badAuts++;
    await incrementCounter(this.store.db, {
      scope: BAD_AUTS_SCOPE,
      key: imsi,
      now,
      windowMs: this.options.resyncFailureWindowMs,
    });
    return err('RESYNC_FAILED');
  }

  /** The one statement that reserves `count` SQNs after `base` and returns the profile. */
  private async advance(
    db: Executor,
    imsi: string,
    base: ReturnType<typeof sql>,
    count: number,
  ): Promise<ProfileRow | undefined> {
    const result = await sql<ProfileRow>`
      update sim_profiles set sqn = ${advanced(base, count)}
      where imsi = ${imsi} and ${fits(base, count)}
      returning iccid, secrets, amf, sqn, ind_bits`.execute(db);
    return result.rows[0];
  }

  private profile(db: Executor, imsi: string): Promise<ProfileRow | undefined> {
    return db
      .selectFrom('sim_profiles')
      .select(['iccid', 'secrets', 'amf', 'sqn', 'ind_bits'])
      .where('imsi', '=', imsi)
      .executeTakeFirst();
  }

  private async exists(imsi: string): Promise<boolean> {
    return (await this.profile(this.store.db, imsi)) !== undefined;
  }

  /** Ki, OPc and the AKA algorithm sealed with them (sims/model.ts packSecrets). */
  private open(row: ProfileRow): { ki: Buffer; opc: Buffer; algorithm: AkaAlgorithm } {
    const { ki, opc, algorithm } = unpackSecrets(
      this.keyRing.open(row.secrets, profileSecretContext(row.iccid)),
    );
    return { ki: Buffer.from(ki), opc: Buffer.from(opc), algorithm };
  }

  /** The `count` vectors ending at the stored SQN: SEQ and IND both step by one per vector. */
  private generate(row: ProfileRow, count: number, separationBit: boolean): UmtsVector[] {
    const amf = fromHex(row.amf) ?? new Uint8Array([0x80, 0x00]);
    if (separationBit) amf[0] = (amf[0] ?? 0) | 0x80;
    const size = 2 ** row.ind_bits;
    const last = Number(row.sqn);
    const lastSeq = Math.floor(last / size);
    const lastInd = last % size;
    const { ki, opc, algorithm } = this.open(row);
    const rands = randomBytes(16 * count);
    const out: UmtsVector[] = [];
    for (let i = 0; i < count; i++) {
      const back = count - 1 - i;
      const seq = lastSeq - back;
      const ind = (((lastInd - back) % size) + size) % size;
      const sqnNumber = seq * size + ind;
      const sqn = sqnFromNumber(sqnNumber);
      const rand = new Uint8Array(rands.subarray(16 * i, 16 * (i + 1)));
      // TS 33.102 §6.3.2: XRES = f2, CK = f3, IK = f4, AUTN = SQN ⊕ AK ‖ AMF ‖ f1 (Milenage, or
      // the TS 34.108 test algorithm for SIMs whose profile says so).
      const o = akaVector(algorithm, ki, opc, rand, sqn, amf);
      out.push({
        rand,
        autn: o.autn,
        xres: o.res,
        ck: o.ck,
        ik: o.ik,
        sqn: sqnNumber,
        amf: amf.slice(),
      });
    }
    ki.fill(0);
    opc.fill(0);
    this.stats.vectors += count;
    return out;
  }

  private unknown(): Result<never, AucFailure> {
    this.stats.unknownSubscriber++;
    return err('UNKNOWN_SUBSCRIBER');
  }

  private exhausted(imsi: string): SimtrustError {
    // 2^43 vectors for one SIM: unreachable in practice; refuse rather than wrap SQN around.
    return new SimtrustError('ERR_INTERNAL', `SQN space of IMSI ${imsi} is exhausted`);
  }
}

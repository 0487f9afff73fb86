// Remote management of a SIM's anti-theft applet over SCP80 (ETSI TS 102 225 / TS 31.115): per-SIM
// key sets sealed with the key ring, a command counter per key set moved atomically before each
// packet, command packets built from the applet's remote commands (lib/anti-theft-encoding.ts),
// and the card's Response Packets opened: PoRs settle the pending command they answer, alerts
// become events on the SIM. Deny by default: only a packet whose CC verifies under one of the SIM's
// key sets is looked at, a PoR settles only a pending command (a replayed PoR does nothing), and an
// alert counts only with a report counter higher than every one accepted before.

import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import {
  type ChecksumAlgorithm,
  type CipherAlgorithm,
  checksumSpec,
  cipherSpec,
  isValidChecksumKey,
  isValidCipherKey,
  type OtaKeySet,
} from '../../crypto/ts-102-225-scp80.js';
import {
  type Alert,
  AlertTlv,
  type AntiTheftState,
  type Cell,
  type Command,
  type CommandResult,
  encodeCommands,
  type LocalInfo,
  LocalInfoTlv,
  type Reason,
  ResultTlv,
  StateReportTlv,
} from '../../lib/anti-theft-encoding.js';
import { type BerTlv, decodeBerTlvList } from '../../lib/ber-tlv.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { encodeUserData, IEI, segmentSecuredPacket, type UserData } from '../../lib/ts-23-040-sms-tpdu.js';
import { applicationTarProblem } from '../../lib/ts-101-220-tar.js';
import {
  MAX_COUNTER,
  openResponsePacket,
  ResponseStatus,
  readResponseTar,
  type Spi,
  secureCommandPacket,
} from '../../lib/ts-102-225-secured-packet.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Executor, Store } from '../store/database.js';
import { GroupCommit, type GroupCommitStats } from '../store/group-commit.js';
import type { AntiTheftAlertsTable, OtaCommandsTable } from '../store/schema.js';
import { LOCAL_INFO_EVENT, loadLocalInfos, recordLocalInfo, type SimLocalInfo } from './local-info.js';
import { Batcher } from './ota-batch.js';
import {
  acceptReportCounter,
  appletOfSim,
  type OtaCommandStatus,
  readSnapshot,
  recordReportedStates,
  reserveCommandCounters,
  settlePendingCommands,
} from './ota-store.js';

/** The applet's default TAR (card file `applets[].tar`, docs/anti-theft.md). */
export const DEFAULT_ANTI_THEFT_TAR = 'C0A7C0';

/**
 * The SPI of every command (TS 102 225 §5.1.1): CC, ciphering, counter must be higher (what the
 * applet's minimum security level demands), PoR always, with CC and ciphered, sent back by
 * SMS-SUBMIT so it reaches the platform as an MO SMS.
 */
export const COMMAND_SPI: Spi = {
  integrity: 'cc',
  ciphering: true,
  counter: 'higher',
  por: 'always',
  porIntegrity: 'cc',
  porCiphered: true,
  porViaSubmit: true,
};

export interface OtaKeySetInput {
  readonly kvn: number;
  readonly kicAlgorithm: CipherAlgorithm;
  readonly kic: Uint8Array;
  readonly kidAlgorithm: ChecksumAlgorithm;
  readonly kid: Uint8Array;
}

/** A fresh AES-128 key set (AES-CBC for KIc, AES-CMAC for KID) from the system CSPRNG. */
export function generateOtaKeySet(kvn: number): OtaKeySetInput {
  return {
    kvn,
    kicAlgorithm: 'aes-cbc',
    kic: new Uint8Array(randomBytes(16)),
    kidAlgorithm: 'aes-cmac',
    kid: new Uint8Array(randomBytes(16)),
  };
}

export interface AntiTheftProvision {
  /** 6 hex digits; default DEFAULT_ANTI_THEFT_TAR. */
  readonly tar?: string;
  readonly kvn: number;
  readonly reportKvn: number;
  readonly quarantineImsi: string;
}

export type AntiTheftEvent =
  | 'ANTITHEFT_IMEI_BLOCKED'
  | 'ANTITHEFT_CELL_BLOCKED'
  | 'ANTITHEFT_REMOTE_BLOCKED'
  | 'ANTITHEFT_UNBLOCKED'
  | typeof LOCAL_INFO_EVENT;

const EVENT_OF_REASON: Record<Reason, AntiTheftEvent | undefined> = {
  none: undefined,
  imei_mismatch: 'ANTITHEFT_IMEI_BLOCKED',
  cell_not_registered: 'ANTITHEFT_CELL_BLOCKED',
  remote_block: 'ANTITHEFT_REMOTE_BLOCKED',
};

export interface SentCommand {
  readonly commandId: number;
  readonly counter: number;
  /** The SMS user data of each segment (UDH `02 70 00`, or concatenation headers). */
  readonly userData: readonly Uint8Array[];
}

/** What a received Response Packet turned out to be; only `alert` and `por` changed anything. */
export type ReceiveOutcome =
  | { readonly kind: 'alert'; readonly event: AntiTheftEvent | undefined; readonly alert: Alert }
  | { readonly kind: 'localInfo'; readonly localInfo: LocalInfo }
  | {
      readonly kind: 'por';
      readonly commandId: number;
      readonly status: OtaCommandStatus;
      readonly porStatus: number;
      readonly result?: CommandResult;
      readonly state?: AntiTheftState;
    }
  | { readonly kind: 'refused'; readonly code: string; readonly message: string };

const refused = (code: string, message: string): ReceiveOutcome => ({ kind: 'refused', code, message });

const isKvn = (n: number) => Number.isInteger(n) && n >= 1 && n <= 15;
const isTar = (s: string) => /^[0-9A-Fa-f]{6}$/.test(s);
const isImsi = (s: string) => /^[0-9]{6,15}$/.test(s);

const keySetContext = (simId: string, kvn: number) => `ota-key-set:${simId}:${kvn}`;

/** Opened key sets kept in memory at most. */
const KEY_CACHE_SIZE = 10_000;

function packKeys(kic: Uint8Array, kid: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + kic.length + kid.length);
  out[0] = kic.length;
  out.set(kic, 1);
  out[1 + kic.length] = kid.length;
  out.set(kid, 2 + kic.length);
  return out;
}

function unpackKeys(packed: Uint8Array): { kic: Uint8Array; kid: Uint8Array } | undefined {
  const kicLength = packed[0];
  if (kicLength === undefined) return undefined;
  const kidLength = packed[1 + kicLength];
  if (kidLength === undefined || packed.length !== 2 + kicLength + kidLength) return undefined;
  return {
    kic: packed.slice(1, 1 + kicLength),
    kid: packed.slice(2 + kicLength),
  };
}

/** The KIc and KID bytes of a key set: key version in b8–b5, algorithm in b4–b1 (TS 102 225 §5.1.2). */
export const keyIdentifiers = (kvn: number, keys: OtaKeySet): { kic: number; kid: number } => ({
  kic: (kvn << 4) | cipherSpec(keys.kic.algorithm).nibble,
  kid: (kvn << 4) | checksumSpec(keys.kid.algorithm).nibble,
});

// The serialized cell in rows and answers: the TS 102 223 §8.19 fields.
const cellJson = (cell: Cell | undefined): string | null =>
  cell === undefined ? null : JSON.stringify(cell);

/** Where command packets go: an OtaSmppLink, or anything that sends SIM data to an MSISDN. */
export interface OtaLink {
  send(destination: string, userData: readonly Uint8Array[]): Promise<void>;
}

export interface OtaServiceOptions {
  /** Most counter reservations and PoR settlements sharing one transaction (default 256). */
  readonly maxBatch?: number;
  /** Such transactions in flight at once on PostgreSQL (default 2; SQLite: 1). */
  readonly concurrency?: number;
}

/** A reservation that could not be made: thrown to its caller after the batch committed. */
type Refusal = { readonly refusal: SimtrustError };

interface PorSettlement {
  readonly operatorId: string;
  readonly simId: string;
  readonly kvn: number;
  readonly counter: number;
  readonly status: OtaCommandStatus;
  readonly porStatus: number;
  readonly result: CommandResult | undefined;
  readonly state: AntiTheftState | undefined;
}

interface Reservation {
  readonly operatorId: string;
  readonly simId: string;
  readonly commands: readonly Command[];
  readonly data: Uint8Array;
  /** Refused without a counter when the SIM's primary profile has no MSISDN (a send). */
  readonly toMsisdn: boolean;
}

/** A reservation made, with the MSISDN its packet goes to (null when the SIM has none). */
type Reserved = { readonly sent: SentCommand; readonly msisdn: string | null };

export class OtaService {
  #link: OtaLink | undefined;
  readonly #linkWaiters = new Set<() => void>();
  /**
   * Group commit of the send and receive paths (store/group-commit.ts): counter reservations and
   * PoR/alert settlements that arrive while a transaction commits share the next one, and its
   * fsync. Each caller still gets its own result once that transaction committed; one that fails
   * is re-run alone, so it never fails the others.
   */
  readonly #writes: GroupCommit;
  /** The send path's batches: all counters in one statement, all command rows in another. */
  readonly #reservations: Batcher<Reservation, Reserved | Refusal>;
  /** The receive path's batches: every PoR's command settled in one statement. */
  readonly #settlements: Batcher<PorSettlement, ReceiveOutcome>;

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    options: OtaServiceOptions = {},
  ) {
    const batching = { maxBatch: options.maxBatch ?? 256, concurrency: options.concurrency ?? 2 };
    this.#writes = new GroupCommit(store, batching);
    this.#reservations = new Batcher(store, (trx, items) => this.reserve(trx, items), batching);
    this.#settlements = new Batcher(store, (trx, items) => this.settle(trx, items), batching);
  }

  /** Transactions and operations of the send and receive paths so far (bench/ota.ts shows them). */
  get writeStats(): Readonly<GroupCommitStats> {
    const all = [this.#writes.stats, this.#reservations.stats, this.#settlements.stats];
    const sum = (k: keyof GroupCommitStats) => all.reduce((n, s) => n + s[k], 0);
    return {
      commits: sum('commits'),
      operations: sum('operations'),
      splitBatches: sum('splitBatches'),
      failed: sum('failed'),
    };
  }

  /**
   * Stores a SIM's key sets (sealed) and, when given, its anti-theft applet. Run inside the
   * transaction that creates the SIM, so a SIM never exists with half its OTA data.
   */
  async provision(
    db: Executor,
    operatorId: string,
    simId: string,
    keysets: readonly OtaKeySetInput[],
    antiTheft?: AntiTheftProvision,
  ): Promise<void> {
    const o = db;
    const now = this.clock.now();
    const kvns = new Set<number>();
    for (const k of keysets) {
      if (!isKvn(k.kvn)) throw new SimtrustError('ERR_VALIDATION', 'an OTA key version is 1..15');
      if (kvns.has(k.kvn))
        throw new SimtrustError('ERR_VALIDATION', `OTA key version ${k.kvn} appears twice`);
      kvns.add(k.kvn);
      if (!isValidCipherKey({ algorithm: k.kicAlgorithm, key: k.kic }))
        throw new SimtrustError(
          'ERR_VALIDATION',
          `the KIc of key version ${k.kvn} does not fit ${k.kicAlgorithm}`,
        );
      if (!isValidChecksumKey({ algorithm: k.kidAlgorithm, key: k.kid }))
        throw new SimtrustError(
          'ERR_VALIDATION',
          `the KID of key version ${k.kvn} does not fit ${k.kidAlgorithm}`,
        );
    }
    if (antiTheft !== undefined) {
      const tar = antiTheft.tar ?? DEFAULT_ANTI_THEFT_TAR;
      if (!isTar(tar)) throw new SimtrustError('ERR_VALIDATION', 'the anti-theft TAR is 6 hex digits');
      // The card file's rule for applets[].tar (TS 101 220 §6): no TAR of a reserved block.
      const tarProblem = applicationTarProblem(tar);
      if (tarProblem !== undefined)
        throw new SimtrustError('ERR_VALIDATION', `the anti-theft TAR ${tarProblem}`);
      if (!isImsi(antiTheft.quarantineImsi))
        throw new SimtrustError('ERR_VALIDATION', 'the quarantine IMSI is 6 to 15 digits');
      if (!kvns.has(antiTheft.kvn) || !kvns.has(antiTheft.reportKvn))
        throw new SimtrustError(
          'ERR_VALIDATION',
          'the anti-theft applet names a key version the SIM has no key set for; provision that key set too',
        );
    }
    for (const k of keysets) {
      await o
        .insertInto('ota_key_sets')
        .values({
          sim_id: simId,
          kvn: k.kvn,
          operator_id: operatorId,
          kic_algorithm: k.kicAlgorithm,
          kid_algorithm: k.kidAlgorithm,
          secrets: this.keyRing.seal(packKeys(k.kic, k.kid), keySetContext(simId, k.kvn)),
          counter: 0,
          report_counter: 0,
          created_at: now,
        })
        .execute();
    }
    if (antiTheft !== undefined) {
      await o
        .insertInto('anti_theft_sims')
        .values({
          sim_id: simId,
          operator_id: operatorId,
          tar: (antiTheft.tar ?? DEFAULT_ANTI_THEFT_TAR).toUpperCase(),
          kvn: antiTheft.kvn,
          report_kvn: antiTheft.reportKvn,
          quarantine_imsi: antiTheft.quarantineImsi,
          desired: null,
          reported: null,
          reported_at: null,
          updated_at: now,
        })
        .execute();
    }
  }

  /**
   * Opened key sets by `simId:kvn` (a bounded cache, oldest out first): key sets are written once at
   * provisioning and never change, and unsealing and reading one per packet was the largest cost
   * after the database writes (bench/ota.ts). The cache lives in this process's memory only.
   */
  readonly #keyCache = new Map<string, OtaKeySet>();

  /** The opened key set; never leaves the platform layer. */
  private async keySet(db: Executor, simId: string, kvn: number): Promise<OtaKeySet | undefined> {
    const cacheKey = `${simId}:${kvn}`;
    const cached = this.#keyCache.get(cacheKey);
    if (cached !== undefined) return cached;
    const keys = await this.readKeySet(db, simId, kvn);
    if (keys !== undefined) {
      this.#keyCache.set(cacheKey, keys);
      if (this.#keyCache.size > KEY_CACHE_SIZE)
        this.#keyCache.delete(this.#keyCache.keys().next().value as string);
    }
    return keys;
  }

  private async readKeySet(db: Executor, simId: string, kvn: number): Promise<OtaKeySet | undefined> {
    const row = await db
      .selectFrom('ota_key_sets')
      .select(['kic_algorithm', 'kid_algorithm', 'secrets'])
      .where('sim_id', '=', simId)
      .where('kvn', '=', kvn)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const keys = unpackKeys(this.keyRing.open(row.secrets, keySetContext(simId, kvn)));
    if (keys === undefined)
      throw new SimtrustError('ERR_DECRYPT', `stored OTA key set ${kvn} of ${simId} is malformed`);
    return {
      kic: { algorithm: row.kic_algorithm as CipherAlgorithm, key: keys.kic },
      kid: { algorithm: row.kid_algorithm as ChecksumAlgorithm, key: keys.kid },
    };
  }

  /** The SIM's anti-theft row, scoped to its operator. */
  async antiTheftOf(operatorId: string, simId: string, db: Executor = this.store.db) {
    return db
      .selectFrom('anti_theft_sims')
      .selectAll()
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
  }

  /**
   * What the platform knows of a SIM's applet: its TAR, key versions and quarantine IMSI (no key
   * material), the state the card last reported, the last alert (a real one: local information
   * reports are `localInfo`), the mode to show (`mode`, see effectiveMode), the last settled PoR and
   * the commands still waiting for a PoR. All read on one snapshot (readSnapshot), so a PoR never
   * shows beside the reported state from before it. Undefined when the SIM has no applet known.
   */
  async view(operatorId: string, simId: string): Promise<AntiTheftView | undefined> {
    return readSnapshot(this.store, async (db) => {
      const applet = await this.antiTheftOf(operatorId, simId, db);
      if (applet === undefined) return undefined;
      const lastAlert = await db
        .selectFrom('anti_theft_alerts')
        .selectAll()
        .where('sim_id', '=', simId)
        .where('operator_id', '=', operatorId)
        .where('event', '!=', LOCAL_INFO_EVENT)
        .orderBy('id', 'desc')
        .executeTakeFirst();
      const lastPor = await db
        .selectFrom('ota_commands')
        .selectAll()
        .where('sim_id', '=', simId)
        .where('operator_id', '=', operatorId)
        .where('status', '!=', 'pending')
        .orderBy('updated_at', 'desc')
        .orderBy('id', 'desc')
        .executeTakeFirst();
      const pending = await db
        .selectFrom('ota_commands')
        .selectAll()
        .where('sim_id', '=', simId)
        .where('operator_id', '=', operatorId)
        .where('status', '=', 'pending')
        .orderBy('id')
        .limit(100)
        .execute();
      const localInfo = (await loadLocalInfos(db, [simId])).get(simId) ?? null;
      const reported = applet.reported === null ? null : (JSON.parse(applet.reported) as ReportedState);
      const reportedTime = applet.reported_at === null ? null : Number(applet.reported_at);
      const alert = lastAlert === undefined ? null : alertView(lastAlert);
      return {
        simId,
        tar: applet.tar,
        kvn: applet.kvn,
        reportKvn: applet.report_kvn,
        quarantineImsi: applet.quarantine_imsi,
        desired: applet.desired === null ? null : (JSON.parse(applet.desired) as unknown),
        reported,
        reportedTime,
        mode: effectiveMode(reported, reportedTime, alert),
        lastAlert: alert,
        lastPor: lastPor === undefined ? null : commandView(lastPor),
        pendingCommands: pending.map(commandView),
        localInfo,
      };
    });
  }

  /** The SIM's anti-theft events (alerts, unblocks), newest first. */
  async events(operatorId: string, simId: string, limit: number): Promise<AntiTheftEventView[]> {
    const rows = await this.store.db
      .selectFrom('anti_theft_alerts')
      .selectAll()
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(alertView);
  }

  /** The SIM whose quarantine identity this IMSI is (anti-theft blocked), if any. */
  async quarantineOwner(imsi: string): Promise<{ simId: string; operatorId: string } | undefined> {
    const row = await this.store.db
      .selectFrom('anti_theft_sims')
      .select(['sim_id', 'operator_id'])
      .where('quarantine_imsi', '=', imsi)
      .executeTakeFirst();
    return row === undefined ? undefined : { simId: row.sim_id, operatorId: row.operator_id };
  }

  /**
   * Builds the secured command packet for `commands` at the applet's TAR: the counter moves first (one
   * statement), the command is recorded as pending with that counter, in one transaction — shared
   * with the reservations of concurrent sends (group commit); this resolves once it committed, so
   * a counter handed out is on disk before its packet can leave, and never handed out again.
   */
  async secureAntiTheftCommands(
    operatorId: string,
    simId: string,
    commands: readonly Command[],
  ): Promise<SentCommand> {
    return (await this.reserveOne(operatorId, simId, commands, false)).sent;
  }

  private async reserveOne(
    operatorId: string,
    simId: string,
    commands: readonly Command[],
    toMsisdn: boolean,
  ): Promise<Reserved> {
    if (commands.length === 0) throw new SimtrustError('ERR_VALIDATION', 'send at least one command');
    const data = encodeCommands(commands);
    const reserved = await this.#reservations.submit({ operatorId, simId, commands, data, toMsisdn });
    if ('refusal' in reserved) throw reserved.refusal;
    return reserved;
  }

  /**
   * A batch of reservations, in its transaction: the applets in one read, every key set's counter
   * moved once by as many commands as it has in the batch (callers of one SIM get their counters in
   * the order they asked), every command row in one insert. What a caller did wrong comes back as a
   * value, not thrown, so it does not roll back the others (a counter spent by a packet that then
   * could not be built stays spent).
   */
  private async reserve(o: Executor, items: readonly Reservation[]): Promise<Array<Reserved | Refusal>> {
    const simIds = [...new Set(items.map((i) => i.simId))];
    // Each applet with the MSISDN of its SIM's primary profile (of the applet's operator).
    const found = await o
      .selectFrom('anti_theft_sims as a')
      .leftJoin('sim_profiles as p', (join) =>
        join
          .onRef('p.sim_id', '=', 'a.sim_id')
          .onRef('p.operator_id', '=', 'a.operator_id')
          .on('p.is_primary', '=', 1),
      )
      .selectAll('a')
      .select('p.msisdn')
      .where('a.sim_id', 'in', simIds)
      .execute();
    const applets = new Map(found.map((a) => [a.sim_id, a]));
    type Applet = (typeof found)[number];
    const out: Array<Reserved | Refusal | undefined> = items.map(() => undefined);
    const groups = new Map<string, { simId: string; kvn: number; indexes: number[] }>();
    const keysOf: Array<OtaKeySet | undefined> = [];
    for (const [i, item] of items.entries()) {
      const applet = applets.get(item.simId);
      if (applet === undefined || applet.operator_id !== item.operatorId) {
        out[i] = {
          refusal: new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${item.simId} has no anti-theft applet known to the platform; provision it with its OTA key sets`,
          ),
        };
        continue;
      }
      if (item.toMsisdn && applet.msisdn == null) {
        out[i] = {
          refusal: new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${item.simId} has no MSISDN, so no OTA SMS can reach it; give its profile an MSISDN`,
          ),
        };
        continue;
      }
      const keys = await this.keySet(o, item.simId, applet.kvn);
      if (keys === undefined) {
        out[i] = {
          refusal: new SimtrustError(
            'ERR_ANTI_THEFT_NOT_PROVISIONED',
            `SIM ${item.simId} has no OTA key set ${applet.kvn}`,
          ),
        };
        continue;
      }
      keysOf[i] = keys;
      const key = `${item.simId}:${applet.kvn}`;
      const group = groups.get(key) ?? { simId: item.simId, kvn: applet.kvn, indexes: [] };
      group.indexes.push(i);
      groups.set(key, group);
    }
    const moved = await reserveCommandCounters(
      o,
      [...groups.values()].map((g) => ({ simId: g.simId, kvn: g.kvn, n: g.indexes.length })),
      MAX_COUNTER,
    );
    const now = this.clock.now();
    const rows: Array<{ index: number; counter: number; segments: UserData[] }> = [];
    for (const [key, g] of groups) {
      const last = moved.get(key);
      for (const [k, i] of g.indexes.entries()) {
        const item = items[i] as Reservation;
        const applet = applets.get(item.simId) as Applet;
        if (last === undefined) {
          out[i] = {
            refusal: new SimtrustError(
              'ERR_OTA_COUNTER_EXHAUSTED',
              `the OTA counter of key set ${g.kvn} of SIM ${g.simId} is exhausted; provision a new key set`,
            ),
          };
          continue;
        }
        const counter = last - g.indexes.length + 1 + k;
        const keys = keysOf[i] as OtaKeySet;
        const packet = secureCommandPacket({
          spi: COMMAND_SPI,
          ...keyIdentifiers(g.kvn, keys),
          tar: fromHex(applet.tar) as Uint8Array,
          counter,
          keys,
          data: item.data,
        });
        if (!packet.ok) {
          out[i] = { refusal: new SimtrustError('ERR_VALIDATION', packet.error.message) };
          continue;
        }
        const segments = segmentSecuredPacket(packet.value, IEI.COMMAND_PACKET, counter & 0xff);
        if (!segments.ok) {
          out[i] = { refusal: new SimtrustError('ERR_VALIDATION', segments.error.message) };
          continue;
        }
        rows.push({ index: i, counter, segments: segments.value });
      }
    }
    if (rows.length > 0) {
      const inserted = await o
        .insertInto('ota_commands')
        .values(
          rows.map((r) => {
            const item = items[r.index] as Reservation;
            const applet = applets.get(item.simId) as Applet;
            return {
              operator_id: item.operatorId,
              sim_id: item.simId,
              kvn: applet.kvn,
              counter: r.counter,
              tar: applet.tar,
              commands: JSON.stringify(item.commands),
              status: 'pending' as const,
              por_status: null,
              result: null,
              created_at: now,
              updated_at: now,
            };
          }),
        )
        .returning(['id', 'sim_id', 'kvn', 'counter'])
        .execute();
      const ids = new Map(inserted.map((r) => [`${r.sim_id}:${Number(r.kvn)}:${Number(r.counter)}`, r.id]));
      for (const r of rows) {
        const item = items[r.index] as Reservation;
        const applet = applets.get(item.simId) as Applet;
        const id = ids.get(`${item.simId}:${applet.kvn}:${r.counter}`);
        if (id === undefined) throw new Error('a command row of the batch was not inserted');
        out[r.index] = {
          sent: {
            commandId: Number(id),
            counter: r.counter,
            userData: r.segments.map((ud) => encodeUserData(ud)),
          },
          msisdn: applet.msisdn ?? null,
        };
      }
    }
    return out as Array<Reserved | Refusal>;
  }

  /** The link `send` uses (the runtime sets it once bound; undefined: none). */
  useLink(link: OtaLink | undefined): void {
    this.#link = link;
    if (link === undefined) return;
    for (const w of this.#linkWaiters) w();
    this.#linkWaiters.clear();
  }

  /** Resolves once a link is bound (at once while one is): what must reach cards waits for it. */
  linked(): Promise<void> {
    if (this.#link !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#linkWaiters.add(resolve));
  }

  /**
   * The platform's SMPP link as others use it (the SM-SR's ES5 over SMS): each send goes over the link
   * bound at that moment, ERR_OTA_UNAVAILABLE while there is none.
   */
  readonly sharedLink: OtaLink = {
    send: (destination, userData) => {
      const link = this.#link;
      if (link === undefined)
        return Promise.reject(
          new SimtrustError('ERR_OTA_UNAVAILABLE', 'no SMPP link for OTA; set otaSmppUrl and check the SMSC'),
        );
      return link.send(destination, userData);
    },
  };

  /** Secures and sends `commands` over the platform's link; ERR_OTA_UNAVAILABLE without one. */
  send(operatorId: string, simId: string, commands: readonly Command[]): Promise<SentCommand> {
    const link = this.#link;
    if (link === undefined)
      return Promise.reject(
        new SimtrustError('ERR_OTA_UNAVAILABLE', 'no SMPP link for OTA; set otaSmppUrl and check the SMSC'),
      );
    return this.sendAntiTheftCommands(operatorId, simId, commands, link);
  }

  /** Records the operator's desired configuration (shown by `view`). */
  async setDesired(operatorId: string, simId: string, desired: unknown): Promise<void> {
    await this.store.db
      .updateTable('anti_theft_sims')
      .set({ desired: JSON.stringify(desired), updated_at: this.clock.now() })
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .execute();
  }

  /** One command row as the API shows it. */
  async command(operatorId: string, commandId: number): Promise<OtaCommandView | undefined> {
    const row = await this.store.db
      .selectFrom('ota_commands')
      .selectAll()
      .where('id', '=', commandId)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    return row === undefined ? undefined : commandView(row);
  }

  /**
   * Secures `commands` and sends them over `link` (an OtaSmppLink) to the SIM's MSISDN. A command the
   * SMSC did not take is marked failed (no PoR can come for it); the counter it used stays spent.
   */
  async sendAntiTheftCommands(
    operatorId: string,
    simId: string,
    commands: readonly Command[],
    link: OtaLink,
  ): Promise<SentCommand> {
    // The MSISDN is read in the reservation's batch; without one no counter is spent.
    const { sent, msisdn } = await this.reserveOne(operatorId, simId, commands, true);
    try {
      await link.send(msisdn as string, sent.userData);
    } catch (e) {
      await this.store.db
        .updateTable('ota_commands')
        .set({ status: 'failed', updated_at: this.clock.now() })
        .where('id', '=', sent.commandId)
        .where('status', '=', 'pending')
        .execute();
      throw e;
    }
    return sent;
  }

  /**
   * A Response Packet (from RPL on, reassembled) that arrived from the SIM `simId`: opened with the
   * SIM's command and report key sets; an alert (`A3`) must come under the report key set with a
   * higher report counter; a PoR must answer a pending command. Anything else changes nothing.
   */
  async receive(simId: string, packet: Uint8Array): Promise<ReceiveOutcome> {
    const [applet] = await appletOfSim(this.store.db, { simId });
    return this.receiveFrom(simId, applet, packet);
  }

  /** receive() with the SIM's applet already read (OtaInbound reads it with the sender: appletOfSender). */
  async receiveFrom(
    simId: string,
    applet: ReceivingApplet | undefined,
    packet: Uint8Array,
  ): Promise<ReceiveOutcome> {
    const o = this.store.db;
    if (applet === undefined) return refused('OTA_UNKNOWN_SIM', 'no anti-theft applet is known for this SIM');
    const tar = readResponseTar(packet);
    if (!tar.ok) return refused(tar.error.code, tar.error.message);
    if (toHex(tar.value).toUpperCase() !== applet.tar.toUpperCase())
      return refused('OTA_TAR_UNKNOWN', 'the packet does not come from the applet’s TAR');
    for (const kvn of new Set([applet.kvn, applet.report_kvn])) {
      const keys = await this.keySet(o, simId, kvn);
      if (keys === undefined) continue;
      const opened = openResponsePacket(packet, {
        integrity: 'cc',
        ciphered: true,
        keys,
        ...keyIdentifiers(kvn, keys),
      });
      if (!opened.ok || !opened.value.authenticated) continue;
      const { counter, status, data } = opened.value;
      const list = decodeBerTlvList(data);
      if (!list.ok) return refused('OTA_DATA', 'the verified packet carries no BER-TLV list');
      if (list.value[0]?.tag === AlertTlv.tag) {
        if (kvn !== applet.report_kvn || list.value.length !== 1)
          return refused('OTA_ALERT', 'an alert comes alone under the report key set');
        const alert = AlertTlv.fromTlv(list.value[0]);
        if (!alert.ok) return refused(alert.error.code, alert.error.message);
        return this.recordAlert(applet.operator_id, simId, kvn, counter, alert.value);
      }
      if (list.value[0]?.tag === LocalInfoTlv.tag) {
        if (kvn !== applet.report_kvn || list.value.length !== 1)
          return refused('OTA_LOCAL_INFO', 'a local information report comes alone under the report key set');
        const info = LocalInfoTlv.fromTlv(list.value[0]);
        if (!info.ok) return refused(info.error.code, info.error.message);
        const report = { operatorId: applet.operator_id, simId, kvn, counter, info: info.value };
        const at = this.clock.now();
        const recorded = await this.store.transaction((trx) => recordLocalInfo(trx, { ...report, at }));
        if (!recorded)
          return refused('OTA_REPLAY', 'the report counter is not higher than the last one accepted');
        return { kind: 'localInfo', localInfo: info.value };
      }
      if (kvn !== applet.kvn) continue;
      return this.settleCommand(applet.operator_id, simId, kvn, counter, status, list.value);
    }
    return refused('OTA_NOT_AUTHENTIC', 'the packet does not verify under any key set of this SIM');
  }

  private async recordAlert(
    operatorId: string,
    simId: string,
    kvn: number,
    counter: number,
    alert: Alert,
  ): Promise<ReceiveOutcome> {
    const event = EVENT_OF_REASON[alert.reason];
    return this.#writes.run(async (trx) => {
      const o = trx;
      if (!(await acceptReportCounter(o, simId, kvn, counter)))
        return refused('OTA_REPLAY', 'the report counter is not higher than the last one accepted');
      await o
        .insertInto('anti_theft_alerts')
        .values({
          operator_id: operatorId,
          sim_id: simId,
          event: event ?? 'ANTITHEFT_ALERT',
          reason: alert.reason,
          imei: alert.imei ?? null,
          cell: cellJson(alert.cell),
          counter,
          at: this.clock.now(),
        })
        .execute();
      return { kind: 'alert', event, alert } as const;
    });
  }

  private async settleCommand(
    operatorId: string,
    simId: string,
    kvn: number,
    counter: number,
    porStatus: number,
    tlvs: readonly BerTlv[],
  ): Promise<ReceiveOutcome> {
    let result: CommandResult | undefined;
    let state: AntiTheftState | undefined;
    for (const tlv of tlvs) {
      if (tlv.tag === ResultTlv.tag && result === undefined) {
        const r = ResultTlv.fromTlv(tlv);
        if (!r.ok) return refused(r.error.code, r.error.message);
        result = r.value;
      } else if (tlv.tag === StateReportTlv.tag && state === undefined) {
        const s = StateReportTlv.fromTlv(tlv);
        if (!s.ok) return refused(s.error.code, s.error.message);
        state = s.value;
      } else return refused('OTA_DATA', `unexpected tag ${tlv.tag.toString(16)} in a PoR`);
    }
    // A CNTR-low PoR answers a packet whose counter the card had already passed: a replay of a command
    // (whose own PoR may have been lost) or a command overtaken by a later one. It cannot tell which,
    // so it settles nothing; READ STATE shows what the card holds.
    if (porStatus === ResponseStatus.COUNTER_LOW)
      return refused(
        'OTA_POR_COUNTER_LOW',
        'the card refused a packet with this counter as not higher; nothing settled',
      );
    const status: OtaCommandStatus = porStatus === 0 && result?.result === 'ok' ? 'applied' : 'failed';
    return this.#settlements.submit({
      operatorId,
      simId,
      kvn,
      counter,
      status,
      porStatus,
      result,
      state,
    });
  }

  /**
   * A batch of verified PoRs, in its transaction: every pending command they answer settled in one
   * statement, every reported state recorded in another (a SIM's last PoR in the batch wins, as it
   * would one after the other), an ANTITHEFT_UNBLOCKED event for each applied unblock.
   */
  private async settle(o: Executor, items: readonly PorSettlement[]): Promise<ReceiveOutcome[]> {
    // The batch's time, taken in its transaction as recordAlert takes an alert's: the reported state
    // and a blocking alert then order as the platform learnt them (effectiveMode).
    const now = this.clock.now();
    const keyOf = (x: PorSettlement) => `${x.simId}:${x.kvn}:${x.counter}`;
    // A PoR twice in one batch: the first settles, the second finds nothing pending (as in a row).
    const firsts = new Map<string, PorSettlement>();
    for (const x of items) if (!firsts.has(keyOf(x))) firsts.set(keyOf(x), x);
    const settled = await settlePendingCommands(
      o,
      [...firsts.values()].map((x) => ({
        simId: x.simId,
        kvn: x.kvn,
        counter: x.counter,
        status: x.status,
        porStatus: x.porStatus,
        result: x.result === undefined ? null : JSON.stringify(x.result),
        now,
      })),
    );
    const states = new Map<string, { simId: string; reported: string; now: number }>();
    const unblocked: PorSettlement[] = [];
    const out = items.map((x): ReceiveOutcome => {
      const command = firsts.get(keyOf(x)) === x ? settled.get(keyOf(x)) : undefined;
      if (command === undefined) return refused('OTA_POR_UNMATCHED', 'no pending command has this counter');
      if (x.state !== undefined)
        states.set(x.simId, { simId: x.simId, reported: JSON.stringify(stateJson(x.state)), now });
      const commands = JSON.parse(command.commands) as Command[];
      if (x.status === 'applied' && commands.some((c) => c.op === 'unblock')) unblocked.push(x);
      return {
        kind: 'por',
        commandId: command.id,
        status: x.status,
        porStatus: x.porStatus,
        ...(x.result === undefined ? {} : { result: x.result }),
        ...(x.state === undefined ? {} : { state: x.state }),
      };
    });
    await recordReportedStates(o, [...states.values()]);
    if (unblocked.length > 0)
      await o
        .insertInto('anti_theft_alerts')
        .values(
          unblocked.map((x) => ({
            operator_id: x.operatorId,
            sim_id: x.simId,
            event: 'ANTITHEFT_UNBLOCKED',
            reason: 'none',
            imei: null,
            cell: null,
            counter: x.counter,
            at: now,
          })),
        )
        .execute();
    return out;
  }
}

/** The applet columns the receive path needs. */
export interface ReceivingApplet {
  readonly operator_id: string;
  readonly tar: string;
  readonly kvn: number;
  readonly report_kvn: number;
}

export type ReportedState = ReturnType<typeof stateJson>;

export interface AntiTheftEventView {
  readonly time: number;
  readonly event: string;
  readonly reason: string;
  readonly imei: string | null;
  readonly cell: Cell | null;
}

export interface OtaCommandView {
  readonly id: number;
  readonly counter: number;
  readonly commands: Command[];
  readonly status: OtaCommandStatus;
  readonly porStatus: number | null;
  readonly result: CommandResult | null;
  readonly createdTime: number;
  readonly updatedTime: number;
}

export interface AntiTheftView {
  readonly simId: string;
  readonly tar: string;
  readonly kvn: number;
  readonly reportKvn: number;
  readonly quarantineImsi: string;
  readonly desired: unknown;
  readonly reported: ReportedState | null;
  readonly reportedTime: number | null;
  /** The mode to show, from the card's last READ STATE or a newer blocking alert (effectiveMode). */
  readonly mode: AntiTheftMode | null;
  /** The last real alert (blocked, unblocked); never a local information report. */
  readonly lastAlert: AntiTheftEventView | null;
  readonly lastPor: OtaCommandView | null;
  readonly pendingCommands: OtaCommandView[];
  /** What the card last reported to REPORT LOCAL INFO (POST /v1/sims/{sim_id}/report_local_info). */
  readonly localInfo: SimLocalInfo | null;
}

/** The events by which a card tells the platform it blocked itself (EVENT_OF_REASON). */
const BLOCK_EVENTS: ReadonlySet<string> = new Set(
  Object.values(EVENT_OF_REASON).filter((e): e is AntiTheftEvent => e !== undefined),
);

export interface AntiTheftMode {
  readonly mode: string;
  readonly reason: string;
  /** `reported`: the card's last READ STATE; `alert`: a blocking alert received after it. */
  readonly source: 'reported' | 'alert';
  /** When the platform received what the mode comes from (ms). */
  readonly time: number;
}

/**
 * The applet's mode as the platform knows it: the card's last READ STATE, unless a blocking alert
 * was received after it (a card that blocks says so by an alert, not by a READ STATE). Both times
 * are the platform's clock when the receiving transaction ran (alerts: recordAlert; PoRs: the
 * settlement batch), so they order as the platform learnt them; at the same millisecond the card's
 * READ STATE wins. An applied unblock records ANTITHEFT_UNBLOCKED with its PoR, so an older block
 * alert never outlives it.
 */
export function effectiveMode(
  reported: { readonly mode: string; readonly reason: string } | null,
  reportedTime: number | null,
  lastAlert: AntiTheftEventView | null,
): AntiTheftMode | null {
  if (
    lastAlert !== null &&
    BLOCK_EVENTS.has(lastAlert.event) &&
    (reported === null || reportedTime === null || lastAlert.time > reportedTime)
  )
    return { mode: 'blocked', reason: lastAlert.reason, source: 'alert', time: lastAlert.time };
  if (reported === null || reportedTime === null) return null;
  return { mode: reported.mode, reason: reported.reason, source: 'reported', time: reportedTime };
}

const alertView = (r: Selectable<AntiTheftAlertsTable>): AntiTheftEventView => ({
  time: Number(r.at),
  event: r.event,
  reason: r.reason,
  imei: r.imei,
  cell: r.cell === null ? null : (JSON.parse(r.cell) as Cell),
});

const commandView = (r: Selectable<OtaCommandsTable>): OtaCommandView => ({
  id: Number(r.id),
  counter: Number(r.counter),
  commands: JSON.parse(r.commands) as Command[],
  status: r.status,
  porStatus: r.por_status,
  result: r.result === null ? null : (JSON.parse(r.result) as CommandResult),
  createdTime: Number(r.created_at),
  updatedTime: Number(r.updated_at),
});

/** The reported state as stored and answered (no saved IMSI: READ STATE never carries it). */
export function stateJson(s: AntiTheftState) {
  return {
    mode: s.mode,
    reason: s.reason,
    strikes: s.strikes,
    tolerance: s.tolerance,
    imeis: [...s.imeis],
    cells: [...s.cells],
    ...(s.alertDestination === undefined ? {} : { alertDestination: s.alertDestination }),
    ...(s.pendingAlert === undefined ? {} : { pendingAlert: s.pendingAlert }),
  };
}

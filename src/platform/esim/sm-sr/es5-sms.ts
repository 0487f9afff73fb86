// ES5 over SMS (SGP.02 §2.4.3, esim.md §4.4): the C-APDUs in a TS 102 226 expanded command script,
// secured as an SCP80 command packet (ETSI TS 102 225) for the ISD-R TAR 000001 with the EIS's ISD-R
// key set and a counter taken atomically from the store before the packet leaves, sent as SIM data
// download SMS (concatenated when it spans several) to the MSISDN of the eUICC's enabled profile
// through the platform's SMPP link (the OtaLink the anti-theft OTA uses). The card's PoR comes back
// as MO SMS; OtaInbound hands packets from an eUICC here (`receive`), which
//   - settles the waiting send whose counter the verified PoR names (a PoR that does not verify, or
//     answers nothing pending, changes nothing), and
//   - opens the ISD-R's default notifications (command packets, UDH IEI 70, CNTR 0 / "no counter",
//     esim.md §3.5) and passes their E1 data to the SM-SR.
// Script chaining (Annex K, TLV 83) is not used: each ES5 function here fits one concatenated SMS
// chain (a packet is segmented by segmentSecuredPacket, up to 255 segments).
//
// Which key set: the one this SM-SR holds for that eUICC — its `kvn` option when the EIS lists that
// SCP80 key set, else the lowest SCP80 KVN it lists. After an SM-SR change the new SM-SR holds only
// the key set it made, whose KVN it chose free in the EIS (sm-sr-change), so two deployments with
// the same default KVN never address the card with each other's KVN. A notification is opened with
// the key set its KID names.

import { sql } from 'kysely';
import type { ChecksumAlgorithm, CipherAlgorithm, OtaKeySet } from '../../../crypto/ts-102-225-scp80.js';
import { checksumSpec, cipherSpec } from '../../../crypto/ts-102-225-scp80.js';
import { fromHex, toHex } from '../../../lib/hex.js';
import { encodeUserData, IEI, segmentSecuredPacket } from '../../../lib/ts-23-040-sms-tpdu.js';
import {
  openCommandPacket,
  openResponsePacket,
  readResponseTar,
  type Spi,
  secureCommandPacket,
} from '../../../lib/ts-102-225-secured-packet.js';
import { commandScript, decodeResponseScript } from '../../../lib/ts-102-226-remote-command.js';
import type { OtaLink } from '../../ota/ota-service.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import type { GroupCommit } from '../../store/group-commit.js';
import { param, prepared } from '../../store/prepared.js';
import type { FunctionExecutionStatus } from '../es-soap/sgp-02-status-codes.js';
import { fromJson, type IsdrKeyset, keysetContext, reserveIsdrCommandCounter } from './eis-store.js';
import { type Es5Outcome, type Es5Transport, ISD_R_AID, isScp03tTlv } from './es5-transport.js';

export const ISD_R_TAR = '000001';

/** Where MT SMS reach an eUICC (built once: it runs before every packet, store/prepared.ts). */
const enabledAddresses = prepared((db) =>
  db
    .selectFrom('esim_sr_profiles')
    .select(['msisdn', 'imsi'])
    .where('eid', '=', param('eid'))
    .where('state', '=', 'Enabled')
    .limit(1),
);

/**
 * SPI of an ES5 command (esim.md §4.4: SPI1 16 = CC + ciphering + counter higher, what the ISD-R's
 * minimum security level demands; SPI2 39 = PoR always, with CC, ciphered, by SMS-SUBMIT).
 */
export const ES5_COMMAND_SPI: Spi = {
  integrity: 'cc',
  ciphering: true,
  counter: 'higher',
  por: 'always',
  porIntegrity: 'cc',
  porCiphered: true,
  porViaSubmit: true,
};

/** GP key type '88' (AES) of an SCP80 key set: KIc AES-CBC, KID AES-CMAC (esim.md §4.4). */
function otaKeysOf(
  keys: readonly { index: number; components: readonly { type: number; value: Uint8Array }[] }[],
): OtaKeySet | undefined {
  const key = (i: number) => keys.find((k) => k.index === i)?.components.find((c) => c.type === 0x88)?.value;
  const kic = key(1);
  const kid = key(2);
  if (kic === undefined || kid === undefined) return undefined;
  const kicAlgorithm: CipherAlgorithm = 'aes-cbc';
  const kidAlgorithm: ChecksumAlgorithm = 'aes-cmac';
  return { kic: { algorithm: kicAlgorithm, key: kic }, kid: { algorithm: kidAlgorithm, key: kid } };
}

const identifiers = (kvn: number, keys: OtaKeySet) => ({
  kic: (kvn << 4) | cipherSpec(keys.kic.algorithm).nibble,
  kid: (kvn << 4) | checksumSpec(keys.kid.algorithm).nibble,
});

/** A response packet from the ISD-R TAR (a PoR of the SM-SR's; anything else is not for it). */
function fromIsdr(packet: Uint8Array): boolean {
  const tar = readResponseTar(packet);
  return tar.ok && toHex(tar.value).toUpperCase() === ISD_R_TAR;
}

export type Es5SmsReceipt =
  | { readonly kind: 'esim-por'; readonly eid: string; readonly counter: number }
  | { readonly kind: 'esim-notification'; readonly eid: string; readonly status: FunctionExecutionStatus }
  | { readonly kind: 'ignored'; readonly code: string; readonly message: string };

export interface Es5SmsOptions {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly link: OtaLink;
  /**
   * The ISD-R SCP80 key set preferred for commands (KVN 01–0F), default 1; an eUICC whose EIS lists
   * no such key set is addressed with the lowest SCP80 KVN it lists.
   */
  readonly kvn?: number;
  /** How long a PoR is awaited (ms); default 60 s. */
  readonly porTimeoutMs?: number;
  /** Where verified default notifications go (SmSr.handleNotification). */
  readonly notifications: (eid: string, e1: Uint8Array) => Promise<FunctionExecutionStatus>;
  /**
   * The group commit the counter reservations join (the SM-SR's; store/group-commit.ts). Absent: each
   * reservation commits alone.
   */
  readonly writer?: GroupCommit;
}

interface Waiting {
  readonly resolve: (o: Es5Outcome) => void;
  readonly timer: NodeJS.Timeout;
}

/** The eUICC and key set of the commands waiting for a PoR from one number (MSISDN or IMSI). */
interface AwaitedSender {
  readonly eid: string;
  readonly kvn: number;
  readonly keys: OtaKeySet;
  /** Commands waiting (the entry goes with the last). */
  waiting: number;
}

export class Es5Sms implements Es5Transport {
  readonly #o: Es5SmsOptions;
  readonly #waiting = new Map<string, Waiting>();
  /** By the sender a PoR comes from: see AwaitedSender. */
  readonly #senders = new Map<string, AwaitedSender>();

  constructor(options: Es5SmsOptions) {
    this.#o = options;
  }

  /**
   * The eUICC's ISD-R SCP80 key sets this SM-SR holds, the one commands are secured with first (the
   * preferred KVN, else the lowest); `limit` 1 for a send. Keys stay sealed until #open.
   */
  #keysets(eid: string, limit?: number) {
    let q = this.#o.store.db
      .selectFrom('esim_sr_keysets')
      .select(['kvn', 'secrets'])
      .where('eid', '=', eid)
      .where('type', '=', 'SCP80')
      .where('kvn', '>=', 0x01)
      .where('kvn', '<=', 0x0f)
      .orderBy(sql`case when kvn = ${this.#o.kvn ?? 1} then 0 else 1 end`)
      .orderBy('kvn');
    if (limit !== undefined) q = q.limit(limit);
    return q.execute();
  }

  #open(eid: string, row: { kvn: number; secrets: string }): { kvn: number; keys: OtaKeySet } | undefined {
    const kvn = Number(row.kvn);
    const keys = otaKeysOf(
      fromJson<IsdrKeyset['keys']>(
        this.#o.keyRing.open(row.secrets, keysetContext(eid, kvn)).toString('utf8'),
      ),
    );
    return keys === undefined ? undefined : { kvn, keys };
  }

  /** The key set commands to `eid` are secured with (see #keysets). */
  async #commandKeys(eid: string): Promise<{ kvn: number; keys: OtaKeySet } | undefined> {
    const [row] = await this.#keysets(eid, 1);
    return row === undefined ? undefined : this.#open(eid, row);
  }

  /**
   * The key set commands to `eid` are secured with (see #keysets) and its next counter, reserved
   * durably (through the writer when there is one) before the packet may leave.
   */
  async #reserve(eid: string): Promise<{ kvn: number; keys: OtaKeySet; counter: number } | Es5Outcome> {
    const reserve = (db: Executor) => reserveIsdrCommandCounter(db, eid, this.#o.kvn ?? 1);
    const row = await (this.#o.writer === undefined
      ? reserve(this.#o.store.db)
      : this.#o.writer.run(reserve));
    if (row === undefined)
      return (await this.#keysets(eid, 1)).length === 0
        ? { ok: false, code: 'ES5_NO_KEYSET', message: 'no ISD-R SCP80 key set' }
        : { ok: false, code: 'ES5_NO_KEYSET', message: 'the SCP80 counter is spent' };
    const ks = this.#open(eid, row);
    if (ks === undefined) return { ok: false, code: 'ES5_NO_KEYSET', message: 'no ISD-R SCP80 key set' };
    return { ...ks, counter: row.counter };
  }

  /** The enabled profile's MSISDN (where MT SMS reach the eUICC) and IMSI (a PoR may come from either). */
  async #addresses(eid: string): Promise<{ msisdn: string | null; imsi: string | null } | undefined> {
    return (await enabledAddresses(this.#o.store.db, { eid }))[0];
  }

  /** A command to `eid` waits for its PoR from these numbers (see AwaitedSender). */
  #await(eid: string, kvn: number, keys: OtaKeySet, senders: readonly string[]): () => void {
    for (const sender of senders) {
      const a = this.#senders.get(sender);
      if (a !== undefined && a.eid === eid && a.kvn === kvn) a.waiting++;
      else this.#senders.set(sender, { eid, kvn, keys, waiting: 1 });
    }
    return () => {
      for (const sender of senders) {
        const a = this.#senders.get(sender);
        if (a === undefined || a.eid !== eid || a.kvn !== kvn) continue;
        if (--a.waiting <= 0) this.#senders.delete(sender);
      }
    };
  }

  async send(eid: string, targetAid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    // C-APDUs for an ISD-P ride the ISD-R's script (es5-transport.ts); SCP03t TLVs need HTTPS.
    if (targetAid.toUpperCase() !== ISD_R_AID && commands.some((c) => isScp03tTlv(c)))
      return { ok: false, code: 'ES5_SEND_FAILED', message: 'SCP03t data goes over HTTPS, not SMS' };
    const addresses = await this.#addresses(eid);
    const destination = addresses?.msisdn ?? undefined;
    if (destination === undefined)
      return { ok: false, code: 'ES5_SEND_FAILED', message: 'the enabled profile has no MSISDN' };
    const ks = await this.#reserve(eid);
    if ('ok' in ks) return ks;
    const { kvn, keys, counter } = ks;
    const packet = secureCommandPacket({
      spi: ES5_COMMAND_SPI,
      ...identifiers(kvn, keys),
      tar: fromHex(ISD_R_TAR) as Uint8Array,
      counter,
      keys,
      data: commandScript(commands),
    });
    if (!packet.ok) return { ok: false, code: 'ES5_SEND_FAILED', message: packet.error.message };
    const segments = segmentSecuredPacket(packet.value, IEI.COMMAND_PACKET, counter & 0xff);
    if (!segments.ok) return { ok: false, code: 'ES5_SEND_FAILED', message: segments.error.message };
    const key = `${eid}:${counter}`;
    const done = this.#await(
      eid,
      kvn,
      keys,
      addresses?.imsi === null || addresses?.imsi === undefined
        ? [destination]
        : [destination, addresses.imsi],
    );
    const answered = new Promise<Es5Outcome>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        resolve({ ok: false, code: 'ES5_TIMEOUT', message: 'no PoR in time' });
      }, this.#o.porTimeoutMs ?? 60_000);
      timer.unref();
      this.#waiting.set(key, { resolve, timer });
    }).finally(done);
    try {
      await this.#o.link.send(
        destination,
        segments.value.map((ud) => encodeUserData(ud)),
      );
    } catch (e) {
      const w = this.#waiting.get(key);
      if (w !== undefined) {
        clearTimeout(w.timer);
        w.resolve({ ok: false, code: 'ES5_SEND_FAILED', message: (e as Error).message });
      }
      this.#waiting.delete(key);
      return { ok: false, code: 'ES5_SEND_FAILED', message: (e as Error).message };
    }
    return answered;
  }

  /**
   * One secured packet to the ISD-R without waiting for a PoR (SPI2: no PoR): the SCP81 push, whose
   * secured data is the '81' Administration Session Triggering Parameters (GP Amd B §3.7).
   */
  async push(eid: string, securedData: Uint8Array): Promise<Es5Outcome> {
    const destination = (await this.#addresses(eid))?.msisdn ?? undefined;
    if (destination === undefined)
      return { ok: false, code: 'ES5_SEND_FAILED', message: 'the enabled profile has no MSISDN' };
    const ks = await this.#reserve(eid);
    if ('ok' in ks) return ks;
    const { kvn, keys, counter } = ks;
    const packet = secureCommandPacket({
      spi: { ...ES5_COMMAND_SPI, por: 'none', porIntegrity: 'none', porCiphered: false, porViaSubmit: false },
      ...identifiers(kvn, keys),
      tar: fromHex(ISD_R_TAR) as Uint8Array,
      counter,
      keys,
      data: securedData,
    });
    if (!packet.ok) return { ok: false, code: 'ES5_SEND_FAILED', message: packet.error.message };
    const segments = segmentSecuredPacket(packet.value, IEI.COMMAND_PACKET, counter & 0xff);
    if (!segments.ok) return { ok: false, code: 'ES5_SEND_FAILED', message: segments.error.message };
    try {
      await this.#o.link.send(
        destination,
        segments.value.map((ud) => encodeUserData(ud)),
      );
    } catch (e) {
      return { ok: false, code: 'ES5_SEND_FAILED', message: (e as Error).message };
    }
    return { ok: true, responses: [] };
  }

  /**
   * A PoR of `eid` opened with the key set `ks`: settles the command its counter names. Undefined when
   * it is not from the ISD-R TAR (not the SM-SR's).
   */
  #por(eid: string, ks: { kvn: number; keys: OtaKeySet }, packet: Uint8Array): Es5SmsReceipt | undefined {
    if (!fromIsdr(packet)) return undefined;
    const opened = openResponsePacket(packet, {
      integrity: 'cc',
      ciphered: true,
      keys: ks.keys,
      ...identifiers(ks.kvn, ks.keys),
    });
    if (!opened.ok || !opened.value.authenticated)
      return { kind: 'ignored', code: 'ES5_POR_NOT_AUTHENTIC', message: 'the PoR does not verify' };
    const { counter, status, data } = opened.value;
    const w = this.#waiting.get(`${eid}:${counter}`);
    if (w === undefined)
      return { kind: 'ignored', code: 'ES5_POR_UNEXPECTED', message: 'no command waits for it' };
    clearTimeout(w.timer);
    this.#waiting.delete(`${eid}:${counter}`);
    if (status !== 0) {
      w.resolve({
        ok: false,
        code: 'ES5_POR_ERROR',
        message: `PoR status ${status.toString(16).padStart(2, '0')}`,
      });
    } else {
      const script = decodeResponseScript(data);
      w.resolve(
        script.ok
          ? {
              ok: true,
              responses: script.value.items.flatMap((i) =>
                i.type === 'r-apdu'
                  ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
                  : [],
              ),
            }
          : { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code },
      );
    }
    return { kind: 'esim-por', eid, counter };
  }

  /** The EID whose enabled profile has this MSISDN (or IMSI); undefined: not an eUICC of this SM-SR. */
  async eidOfSender(sender: string): Promise<string | undefined> {
    const row = await this.#o.store.db
      .selectFrom('esim_sr_profiles')
      .select('eid')
      .where((eb) => eb.or([eb('msisdn', '=', sender), eb('imsi', '=', sender)]))
      .orderBy('state', 'desc')
      .executeTakeFirst();
    return row?.eid;
  }

  /**
   * A secured packet from `sender` (already reassembled): IEI 71 a PoR, IEI 70 a notification.
   * Undefined when it is not for the SM-SR (sender not an eUICC, or not from the ISD-R TAR), so the
   * caller can offer it to the anti-theft OTA.
   */
  async receive(sender: string, identifier: number, packet: Uint8Array): Promise<Es5SmsReceipt | undefined> {
    if (identifier === IEI.RESPONSE_PACKET) {
      // A command to this number waits: its key set opens the PoR (no look-up); else the store's.
      const awaited = this.#senders.get(sender);
      if (awaited !== undefined) {
        const receipt = this.#por(awaited.eid, awaited, packet);
        if (receipt === undefined || receipt.kind === 'esim-por') return receipt;
      }
      const eid = await this.eidOfSender(sender);
      if (eid === undefined || !fromIsdr(packet)) return undefined;
      // A PoR answers a command of ours: secured with the key set commands use.
      const ks = await this.#commandKeys(eid);
      if (ks === undefined) return { kind: 'ignored', code: 'ES5_NO_KEYSET', message: 'no ISD-R key set' };
      return this.#por(eid, ks, packet);
    }
    const eid = await this.eidOfSender(sender);
    if (eid === undefined) return undefined;
    if (identifier !== IEI.COMMAND_PACKET) return undefined;
    // The ISD-R notifies with a key set of its choice (the software eUICC: its lowest KVN).
    const rows = await this.#keysets(eid);
    if (rows.length === 0) return { kind: 'ignored', code: 'ES5_NO_KEYSET', message: 'no ISD-R key set' };
    const opened = openCommandPacket(packet, {
      keysFor: (h) => {
        const row = rows.find((r) => Number(r.kvn) === h.kid >> 4);
        return row === undefined ? undefined : this.#open(eid, row)?.keys;
      },
      lastCounter: () => 0,
      isKnownTar: (tar) => toHex(tar).toUpperCase() === ISD_R_TAR,
      // The notification's own sequence number identifies it (esim.md §3.5): CC and ciphering, no counter.
      minimumSecurity: () => ({ checksum: true, ciphering: true, counter: 'none' }),
    });
    if (!opened.ok)
      return opened.error.code === 'SCP80_TAR_UNKNOWN'
        ? undefined
        : { kind: 'ignored', code: opened.error.code, message: opened.error.message };
    const status = await this.#o.notifications(eid, opened.value.data);
    return { kind: 'esim-notification', eid, status };
  }
}

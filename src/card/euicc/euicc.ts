// The eUICC of the software card (GSMA SGP.02 §2.2): the ECASD, the ISD-R and its ISD-Ps around the
// card's one live USIM. The Uicc (uicc.ts) owns the live file system, SQN array and Ki/OPc that
// AUTHENTICATE and the file commands use; it attaches itself here so that enabling a profile swaps
// the enabled profile's content in and the previous one's out (`switchProfile`). What reaches the
// eUICC:
//   - from the terminal: SELECT of the ECASD or ISD-R by AID, GET DATA '5A' (EID) and 'BF30' (the
//     ECASD certificate) on the ECASD, as pySim reads them; every management command answers '6982',
//     since ES5 only comes through a secured channel;
//   - from the SM-SR: the ES5 functions of sgp-02-isd-r.ts, through SCP80 at the ISD-R TAR
//     (isd-r-ota.ts) or SCP81; on an SM-SR change the ISD-R's own key sets come and go
//     (sgp-02-isd-r-keysets.ts), and the card's OTA runtime follows them (`useOta`);
//   - from the profile installer: `installProfile`, which turns a decoded profile into the ISD-P's
//     file system and USIM keys;
//   - from the modem: LOCATION STATUS events, which send the default notifications and detect a
//     connectivity failure after a profile change (`connectivity`).

import type { OtaKeySet } from '../../crypto/ts-102-225-scp80.js';
import { concatBytes, encodeBerTlv } from '../../lib/ber-tlv.js';
import { type Clock, systemClock } from '../../lib/clock.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { isIccid, isImsi } from '../../lib/identities.js';
import { decodeError, ok, type Result } from '../../lib/result.js';
import { type CardIdentity, type EfNode, initialContent, isEf, walk } from '../file-system.js';
import type { CommandApdu } from '../iso-7816-4.js';
import { CARD_TREE } from '../profile.js';
import { emptySeqArray, type SqnPolicy } from '../ts-33-102-sqn.js';
import { SW } from '../ts-102-221.js';
import {
  copyEuiccState,
  copyFileContents,
  type EuiccState,
  type FileContents,
  filesSize,
  type Isdp,
  LIFE_CYCLE,
  NO_POL1,
  NOTIFICATION_TYPE,
  type PendingNotification,
  type Pol1,
} from './euicc-state.js';
import { ECASD_AID, ISD_R_AID } from './sgp-02-annex-h.js';
import { Es8 } from './sgp-02-es8.js';
import {
  changeProfile,
  enabledIsdp,
  fallbackIsdp,
  getData,
  type IsdrHost,
  processIsdrCommand,
  queueNotification,
  type RApdu,
  type ScriptEffects,
} from './sgp-02-isd-r.js';
import { IsdrKeysets, type Scp80Counters } from './sgp-02-isd-r-keysets.js';

/** What the Uicc lends the eUICC: its live USIM. */
export interface LiveCard {
  readonly files: FileContents;
  getSeqArray(): number[];
  setSeqArray(seq: number[]): void;
  setKeys(ki: Uint8Array, opc: Uint8Array, algorithm?: 'milenage' | 'test'): void;
  changed(): void;
}

/** A profile as the profile package decoder hands it to the eUICC (the on-card "install" hook). */
export interface DecodedProfile {
  readonly identity: CardIdentity;
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
  /** The akaParameter's algorithm; absent = Milenage ('test': TS 34.108, the TS.48 profiles). */
  readonly algorithm?: 'milenage' | 'test';
  /** File contents by path ('3F00/7FF0/6F07'), overriding what the identity gives each EF. */
  readonly files?: ReadonlyMap<string, Uint8Array | readonly Uint8Array[]>;
  readonly pol1?: Pol1;
}

export type SecurityDomain = 'isd-r' | 'ecasd';

/** Location status of TS 102 223 §8.27: 00 normal service, 01 limited service, 02 no service. */
export type ServiceStatus = 0 | 1 | 2;

export interface ConnectivityOutcome {
  /** Notifications to send now (MO SMS), oldest first. */
  readonly send: readonly PendingNotification[];
  /** A profile switch happened: the card asks for a REFRESH (UICC reset). */
  readonly refresh: boolean;
}

/**
 * The card's OTA runtime as the ISD-R's key sets reach it: SCP80 key sets by KVN (the ISD-R's and the
 * applets'), and the last counter accepted per KVN (both shared with the toolkit runtime).
 */
export interface OtaKeys {
  readonly keysets: Map<number, OtaKeySet>;
  readonly counters: Map<number, number>;
}

const otaKeySetOf = (k: EuiccState['scp80'][number]): OtaKeySet => ({
  kic: { algorithm: k.kicAlgorithm, key: k.kic },
  kid: { algorithm: k.kidAlgorithm, key: k.kid },
});

const EF_NODES: readonly EfNode[] = walk(CARD_TREE).filter(isEf);
const EF_BY_PATH = new Map(EF_NODES.map((n) => [n.path, n]));

export class Euicc {
  readonly #state: EuiccState;
  readonly #sqnPolicy: SqnPolicy;
  readonly #es8: Es8;
  readonly #keysets: IsdrKeysets;
  #live: LiveCard | undefined;
  #ota: OtaKeys | undefined;
  /** The KVNs the ISD-R has put into the OTA runtime's key sets. */
  #otaKvns = new Set<number>();
  /** Sequence numbers sent since the last reset: each goes once per power cycle until confirmed. */
  #sent = new Set<number>();

  constructor(state: EuiccState, sqnPolicy: SqnPolicy, clock: Clock = systemClock) {
    this.#state = state;
    this.#sqnPolicy = sqnPolicy;
    this.#es8 = new Es8({
      state,
      clock,
      changed: () => this.#live?.changed(),
      install: (aid, profile) => this.installProfile(aid, profile),
    });
    this.#keysets = new IsdrKeysets({
      state,
      clock,
      kvnTaken: (kvn) => this.#ota?.keysets.has(kvn) === true && !this.#otaKvns.has(kvn),
      keysetsChanged: (counters) => this.#syncOta(counters),
      changed: () => this.#live?.changed(),
    });
  }

  /**
   * Called once by whoever builds the card (card-file.ts): the OTA runtime's key sets and counters,
   * which the ISD-R keeps in step with its SCP80 key sets as EstablishISDRKeySet adds and
   * FinaliseISDRhandover deletes them.
   */
  useOta(ota: OtaKeys): void {
    this.#ota = ota;
    this.#syncOta(new Map());
  }

  #syncOta(counters: Scp80Counters): void {
    const ota = this.#ota;
    if (ota === undefined) return;
    const now = new Set(this.#state.scp80.map((k) => k.kvn));
    for (const kvn of this.#otaKvns) if (!now.has(kvn)) ota.keysets.delete(kvn);
    for (const k of this.#state.scp80) ota.keysets.set(k.kvn, otaKeySetOf(k));
    this.#otaKvns = now;
    for (const [kvn, counter] of counters) {
      if (counter === undefined) ota.counters.delete(kvn);
      else ota.counters.set(kvn, counter);
    }
  }

  /** Called once by the Uicc that carries this eUICC. */
  attach(live: LiveCard): void {
    this.#live = live;
  }

  get eid(): string {
    return this.#state.eid;
  }

  /** A copy of the persistent state without keys (Uicc.snapshot). */
  snapshot(): EuiccState {
    return copyEuiccState(this.#state, false);
  }

  /** A copy with keys, for the card file only (it holds Ki like any card file, mode 0600). */
  persistentState(): EuiccState {
    return copyEuiccState(this.#state, true);
  }

  reset(): void {
    this.#sent = new Set();
    this.#es8.reset();
    this.#keysets.reset();
  }

  #host(): IsdrHost {
    return {
      state: this.#state,
      switchProfile: (from, to) => this.#switchProfile(from, to),
      changed: () => this.#live?.changed(),
      es8: this.#es8,
      keysets: this.#keysets,
    };
  }

  /** Pack the live USIM into `from`'s ISD-P, unpack `to`'s into the live card. */
  #switchProfile(from: Isdp | undefined, to: Isdp): void {
    const live = this.#live;
    const incoming = to.profile;
    if (live === undefined || incoming?.stored === undefined) throw new Error('switch without a live card');
    if (from?.profile !== undefined) {
      from.profile.stored = { files: copyFileContents(live.files), seqArray: [...live.getSeqArray()] };
      from.state = LIFE_CYCLE.DISABLED;
    }
    for (const [path, content] of incoming.stored.files) live.files.set(path, content);
    live.setSeqArray([...incoming.stored.seqArray]);
    live.setKeys(incoming.ki, incoming.opc, incoming.algorithm ?? 'milenage');
    delete incoming.stored;
    to.state = LIFE_CYCLE.ENABLED;
    live.changed();
  }

  // --- ES5 through the secured channel ----------------------------------------------------------------

  /** ES8 DownloadAndInstallation: SCP03t TLVs for the ISD-P `aid`, the answer TLVs (sgp-02-es8.ts). */
  processIsdpData(aid: string, bytes: Uint8Array): Uint8Array {
    return this.#es8.processIsdpData(aid, bytes);
  }

  /** The ISD-Ps (AIDs) that exist now: the SCP81 agent routes X-Admin-Targeted-Application by them. */
  get isdpAids(): string[] {
    return this.#state.isdps.map((i) => i.aid);
  }

  /** One C-APDU of a script the SM-SR sent to the ISD-R (already deciphered and authenticated). */
  processIsdr(c: CommandApdu, fx: ScriptEffects): RApdu {
    return processIsdrCommand(this.#host(), c, fx);
  }

  // --- the terminal ---------------------------------------------------------------------------------

  /** SELECT by AID (a right-truncated AID selects too, as for the ADFs). */
  terminalSelect(aid: Uint8Array): { sd: SecurityDomain; fci: Uint8Array } | undefined {
    if (aid.length < 5) return undefined;
    const prefix = toHex(aid).toUpperCase();
    const match = ([ISD_R_AID, ECASD_AID] as const).find((a) => a.startsWith(prefix));
    if (match === undefined) return undefined;
    // GP §11.9.3.1: FCI template '6F' {84 AID, A5 proprietary data}.
    const fci = encodeBerTlv(
      0x6f,
      concatBytes([
        encodeBerTlv(0x84, fromHex(match) ?? new Uint8Array(0)),
        encodeBerTlv(0xa5, new Uint8Array(0)),
      ]),
    );
    return { sd: match === ISD_R_AID ? 'isd-r' : 'ecasd', fci };
  }

  /** A command from the terminal to a selected security domain. */
  terminalCommand(sd: SecurityDomain, c: CommandApdu): RApdu {
    if (c.ins === 0xca && sd === 'ecasd') {
      const tag = (c.p1 << 8) | c.p2;
      if (tag !== 0x005a && tag !== 0xbf30)
        return { data: new Uint8Array(0), sw: SW.REFERENCED_DATA_NOT_FOUND };
      return getData({ state: this.#state }, c);
    }
    // INSTALL, STORE DATA, DELETE, GET STATUS, GET DATA to the ISD-R: only the SM-SR, over SCP80/SCP81.
    return { data: new Uint8Array(0), sw: SW.SECURITY_STATUS_NOT_SATISFIED };
  }

  // --- installing a profile (the hook of the profile package decoder, ES8 DownloadAndInstallation) -----

  /**
   * Install `profile` into the ISD-P `aid`, created by CreateISDP and not yet holding a profile: its
   * file system is the card's tree with each EF from `profile.files` or, when absent, derived from
   * the identity (EF.ICCID, EF.IMSI, EF.AD …) exactly as for a new card; the SQN array starts empty.
   * The ISD-P becomes DISABLED, ready for EnableProfile.
   */
  installProfile(aid: string, profile: DecodedProfile): Result<true> {
    const s = this.#state;
    const isdp = s.isdps.find((i) => i.aid === aid.toUpperCase());
    if (isdp === undefined) return decodeError('EUICC_NO_ISDP', `no ISD-P ${aid}`);
    if (isdp.profile !== undefined)
      return decodeError('EUICC_PROFILE_PRESENT', `ISD-P ${aid} already holds a profile`);
    if (
      isdp.state !== LIFE_CYCLE.SELECTABLE &&
      isdp.state !== LIFE_CYCLE.PERSONALIZED &&
      isdp.state !== LIFE_CYCLE.INSTALLED
    )
      return decodeError('EUICC_ISDP_STATE', `ISD-P ${aid} is not waiting for a profile`);
    const { identity } = profile;
    if (!isIccid(identity.iccid) || !isImsi(identity.imsi))
      return decodeError('EUICC_PROFILE_IDENTITY', 'the profile needs a valid ICCID and IMSI');
    if (profile.ki.length !== 16 || profile.opc.length !== 16)
      return decodeError('EUICC_PROFILE_KEYS', 'Ki and OPc are 16 bytes');
    if (s.isdps.some((i) => i.profile?.identity.iccid === identity.iccid))
      return decodeError('EUICC_ICCID_TAKEN', `a profile with ICCID ${identity.iccid} is installed`);
    const files: FileContents = new Map();
    for (const node of EF_NODES) files.set(node.path, initialContent(node.decl, identity));
    for (const [path, content] of profile.files ?? []) {
      const node = EF_BY_PATH.get(path);
      if (node === undefined) return decodeError('EUICC_PROFILE_FILE', `no EF ${path} on this card`);
      const d = node.decl;
      if (d.structure === 'transparent') {
        if (!(content instanceof Uint8Array) || content.length !== d.size)
          return decodeError('EUICC_PROFILE_FILE', `${path}: ${d.size} bytes`);
        files.set(path, content.slice());
      } else {
        if (
          !Array.isArray(content) ||
          content.length !== d.records ||
          !content.every((r) => r.length === d.size)
        )
          return decodeError('EUICC_PROFILE_FILE', `${path}: ${d.records} records of ${d.size} bytes`);
        files.set(
          path,
          (content as readonly Uint8Array[]).map((r) => r.slice()),
        );
      }
    }
    if (isdp.memoryQuota > 0 && filesSize(files) > isdp.memoryQuota)
      return decodeError(
        'EUICC_PROFILE_MEMORY',
        `the profile needs ${filesSize(files)} bytes, the ISD-P has ${isdp.memoryQuota}`,
      );
    isdp.profile = {
      identity: { ...identity },
      ki: profile.ki.slice(),
      opc: profile.opc.slice(),
      ...(profile.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
      stored: { files, seqArray: emptySeqArray(this.#sqnPolicy) },
    };
    isdp.pol1 = { ...(profile.pol1 ?? NO_POL1) };
    isdp.state = LIFE_CYCLE.DISABLED;
    this.#live?.changed();
    return ok(true);
  }

  // --- connectivity and default notifications (SGP.02 §3.2.2, §3.15, §3.16) ------------------------------

  /**
   * The modem's LOCATION STATUS (TS 102 223 §7.5.3), our connectivity signal:
   *   - normal service: the enabled profile is attached. The first attach ever queues the eUICC
   *     declaration (type 01); every pending notification not yet sent since the last reset goes out.
   *   - limited or no service before the enabled profile ever attached: a connectivity failure. With a
   *     profile change awaiting confirmation, the ISD-R rolls back to the previous profile (type 03);
   *     otherwise it enables the fall-back profile (type 05), unless that is the one failing.
   *   A profile that has attached once keeps its place: losing coverage later is not a failure.
   * The design choice (a modem signal rather than a card timer) is documented in docs/euicc.md; SGP.02
   * leaves the detection to the eUICC — to verify against SGP.02 §3.2.2.
   */
  connectivity(status: ServiceStatus): ConnectivityOutcome {
    const s = this.#state;
    const enabled = enabledIsdp(s);
    let refresh = false;
    if (status === 0) {
      if (!s.attached) {
        s.attached = true;
        this.#live?.changed();
      }
      if (!s.declared && enabled !== undefined) {
        s.declared = true;
        queueNotification(s, NOTIFICATION_TYPE.EUICC_DECLARATION, enabled.aid);
        this.#live?.changed();
      }
    } else if (!s.attached && enabled !== undefined) {
      const host = this.#host();
      const previous = s.change === undefined ? undefined : s.isdps.find((i) => i.aid === s.change?.from);
      const fallback = fallbackIsdp(s);
      if (
        s.change !== undefined &&
        previous?.state === LIFE_CYCLE.DISABLED &&
        previous.profile !== undefined
      ) {
        const failed = s.change.seq;
        s.notifications = s.notifications.filter((n) => n.seq !== failed);
        changeProfile(host, previous, NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK);
        refresh = true;
      } else if (fallback !== undefined && fallback !== enabled && fallback.state === LIFE_CYCLE.DISABLED) {
        changeProfile(host, fallback, NOTIFICATION_TYPE.PROFILE_CHANGE_AFTER_FALLBACK);
        refresh = true;
      }
    }
    if (refresh || status !== 0) return { send: [], refresh };
    const send = s.notifications.filter((n) => !this.#sent.has(n.seq));
    for (const n of send) this.#sent.add(n.seq);
    return { send, refresh };
  }

  /** The ISD-R's first SCP80 key set: the one its notifications are secured with. */
  notificationKeys(): EuiccState['scp80'][number] | undefined {
    return [...this.#state.scp80].sort((a, b) => a.kvn - b.kvn)[0];
  }

  get smsrDestination(): string | undefined {
    return this.#state.smsr.destination;
  }
}

// The card's side of SCP80 (ETSI TS 102 225 §5–6, 3GPP TS 31.115): open a command packet with the
// card's key sets and counters, store the new counter with a compare-and-set (only when it changes),
// and build the PoR and secured reports. Which application gets the data is the runtime's business
// (toolkit/ts-102-223-runtime.ts dispatches by TAR); this module holds the security steps, all pure except the
// counter store.

import { checksumSpec, cipherSpec, type OtaKeySet } from '../../crypto/ts-102-225-scp80.js';
import { encodeUserData, IEI, segmentSecuredPacket } from '../../lib/ts-23-040-sms-tpdu.js';
import {
  type CommandHeader,
  type MinimumSecurityLevel,
  openCommandPacket,
  porSecurityFor,
  porWanted,
  RESPONSE_PACKET_UDH,
  ResponseStatus,
  secureResponsePacket,
} from '../../lib/ts-102-225-secured-packet.js';

export interface OpenOptions {
  readonly keysets: ReadonlyMap<number, OtaKeySet>;
  /** KVN → last accepted counter; updated here on success (compare-and-set). */
  readonly counters: Map<number, number>;
  isKnownTar(tar: Uint8Array): boolean;
  minimumSecurity(tar: Uint8Array): MinimumSecurityLevel;
  changed(): void;
}

export type OpenOutcome =
  | { readonly ok: true; readonly header: CommandHeader; readonly counter: number; readonly data: Uint8Array }
  | {
      readonly ok: false;
      readonly status: number;
      readonly code: string;
      readonly header?: CommandHeader;
      readonly counter?: number;
    };

/** The key version a packet addresses: KID's index when it carries a CC, else KIc's. */
export const kvnOf = (h: CommandHeader): number => (h.spi.integrity === 'none' ? h.kic : h.kid) >> 4;

/**
 * The key set for a header: both KIc and KID must name the same key version when both are used, so
 * a packet cannot mix key sets.
 */
function keysFor(h: CommandHeader, keysets: ReadonlyMap<number, OtaKeySet>): OtaKeySet | undefined {
  if (h.spi.ciphering && h.spi.integrity !== 'none' && h.kic >> 4 !== h.kid >> 4) return undefined;
  return keysets.get(kvnOf(h));
}

/**
 * TS 102 225 §6 on the card: verify, decipher, check the counter, then store it. The store is a
 * compare-and-set against the value read for the check: if the counter moved in between (a second
 * packet processed first), this one is refused as CNTR low, as a replay. Nothing is written on any
 * refusal, and nothing when the counter is not checked (SPI1 b5b4 00/01).
 */
export function openCommand(packet: Uint8Array, o: OpenOptions): OpenOutcome {
  let read: { kvn: number; last: number } | undefined;
  const opened = openCommandPacket(packet, {
    keysFor: (h) => keysFor(h, o.keysets),
    lastCounter: (h) => {
      const kvn = kvnOf(h);
      read = { kvn, last: o.counters.get(kvn) ?? 0 };
      return read.last;
    },
    isKnownTar: o.isKnownTar,
    minimumSecurity: o.minimumSecurity,
  });
  if (!opened.ok) {
    const e = opened.error;
    return {
      ok: false,
      status: e.status,
      code: e.code,
      ...(e.header ? { header: e.header } : {}),
      ...(e.counter === undefined ? {} : { counter: e.counter }),
    };
  }
  const { header, counter, data, counterToStore } = opened.value;
  if (counterToStore !== undefined && read !== undefined) {
    const now = o.counters.get(read.kvn) ?? 0;
    if (now !== read.last)
      return { ok: false, status: ResponseStatus.COUNTER_LOW, code: 'SCP80_COUNTER_LOW', header, counter };
    if (counterToStore !== now) {
      o.counters.set(read.kvn, counterToStore);
      o.changed();
    }
  }
  return { ok: true, header, counter, data };
}

/**
 * The PoR's SMS user data (UDH `02 71 00` or concatenation headers, one element per SMS), or
 * undefined when SPI2 asks for none for this status.
 */
export function porUserData(
  header: CommandHeader,
  status: number,
  counter: number,
  data: Uint8Array,
  keysets: ReadonlyMap<number, OtaKeySet>,
): Uint8Array[] | undefined {
  if (!porWanted(header.spi, status)) return undefined;
  const security = porSecurityFor(header.spi, status);
  const keys = security.integrity === 'none' && !security.ciphered ? undefined : keysFor(header, keysets);
  const packet = secureResponsePacket({
    tar: header.tar,
    counter,
    status,
    data,
    ...security,
    ...(keys ? { keys } : {}),
    kic: header.kic,
    kid: header.kid,
  });
  if (!packet.ok) return undefined;
  return toUserData(packet.value, counter);
}

function toUserData(packet: Uint8Array, reference: number): Uint8Array[] | undefined {
  const segments = segmentSecuredPacket(packet, IEI.RESPONSE_PACKET, reference & 0xff);
  if (!segments.ok) return undefined;
  // A single SMS carries UDH 02 71 00; the PoR CC covered exactly that header. Longer PoRs are
  // split after securing, as TS 31.115 §6 does for command packets.
  return segments.value.map((ud) => encodeUserData(ud));
}

/**
 * A secured report from an applet (an alert): a Response Packet from its TAR with status 00, the card's
 * report counter as CNTR (strictly increasing, so the platform can refuse replays), CC and ciphering
 * with the key set `kvn`. Undefined when the card has no such key set.
 */
export function secureReport(
  tar: Uint8Array,
  kvn: number,
  keysets: ReadonlyMap<number, OtaKeySet>,
  counter: number,
  data: Uint8Array,
): Uint8Array[] | undefined {
  const keys = keysets.get(kvn);
  if (keys === undefined) return undefined;
  const kic = (kvn << 4) | cipherSpec(keys.kic.algorithm).nibble;
  const kid = (kvn << 4) | checksumSpec(keys.kid.algorithm).nibble;
  const packet = secureResponsePacket({
    tar,
    counter,
    status: ResponseStatus.POR_OK,
    data,
    integrity: 'cc',
    ciphered: true,
    keys,
    kic,
    kid,
    udh: RESPONSE_PACKET_UDH,
  });
  if (!packet.ok) return undefined;
  return toUserData(packet.value, counter);
}

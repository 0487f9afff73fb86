// ETSI TS 102 225 secured packets as 3GPP TS 31.115 carries them in SMS-PP (SCP80): the Command
// Packet (platform → card) and the Response Packet, the Proof of Receipt (card → platform).
//
//   Command  (after UDH 02 70 00):  CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3) | CNTR(5) PCNTR(1) CC(0|8) data padding
//   Response (after UDH 02 71 00):  RPL(2) RHL(1) TAR(3) | CNTR(5) PCNTR(1) STATUS(1) CC(0|8) data padding
//                                                         `-- ciphered when SPI1 b3 (PoR: SPI2 b5) is set
//
// Both ends use the same two pairs of functions: the platform secures commands and opens PoRs, the card
// opens commands and secures PoRs. Neither keeps state: the caller looks keys up (`keysFor`), supplies the
// last accepted counter (`lastCounter`) and, on success, stores `counterToStore` with its own
// compare-and-set — so a card's EEPROM counter and a platform's database row are handled alike.
// Openers are total: any bytes give a value or a typed failure, never an exception.

import { constantTimeEqual } from '../crypto/constant-time.js';
import {
  CC_LENGTH,
  type ChecksumAlgorithm,
  type CipherAlgorithm,
  checksumFromKid,
  cipherFromKic,
  cryptographicChecksum,
  decipher,
  encipher,
  isValidChecksumKey,
  isValidCipherKey,
  type OtaKey,
  type OtaKeySet,
} from '../crypto/ts-102-225-scp80.js';
import { concatBytes } from './ber-tlv.js';
import { decodeError, err, ok, type Result } from './result.js';

// ---------------------------------------------------------------------------------------------------
// SPI — TS 102 225 §5.1.1 (first octet) and §5.1.1 / TS 31.115 §4.2 (second octet)

export type IntegrityMode = 'none' | 'rc' | 'cc' | 'ds';
export type CounterPolicy = 'none' | 'available' | 'higher' | 'next';
export type PorRequest = 'none' | 'always' | 'on-error';

export interface Spi {
  /** SPI1 b2b1: 00 none, 01 redundancy check, 10 cryptographic checksum, 11 digital signature. */
  readonly integrity: IntegrityMode;
  /** SPI1 b3: the counter, checksum and data are ciphered. */
  readonly ciphering: boolean;
  /** SPI1 b5b4: 00 no counter, 01 counter present but not checked, 10 must be higher, 11 must be one higher. */
  readonly counter: CounterPolicy;
  /** SPI2 b2b1: 00 no PoR, 01 PoR required, 10 PoR only on error (11 reserved). */
  readonly por: PorRequest;
  /** SPI2 b4b3: integrity of the PoR, coded as SPI1 b2b1. */
  readonly porIntegrity: IntegrityMode;
  /** SPI2 b5: the PoR is ciphered. */
  readonly porCiphered: boolean;
  /** SPI2 b6: the PoR goes back as an SMS-SUBMIT (otherwise in the SMS-DELIVER-REPORT). */
  readonly porViaSubmit: boolean;
}

const INTEGRITY: readonly IntegrityMode[] = ['none', 'rc', 'cc', 'ds'];
const COUNTER: readonly CounterPolicy[] = ['none', 'available', 'higher', 'next'];
const POR: readonly PorRequest[] = ['none', 'always', 'on-error'];

/**
 * SPI values as data with their bytes (STYLE.md §1): the first four are pySim's SJA5 vectors
 * (esim.md §5.3), `1639` the SGP.02 choice (esim.md §4.4). A generic test decodes, encodes and
 * round-trips each.
 */
export const SPI_EXAMPLES: readonly { readonly hex: string; readonly value: Spi; readonly note: string }[] = [
  {
    hex: '0619',
    note: 'ciphered + CC, no counter; PoR required, CC, ciphered, in the DELIVER-REPORT',
    value: {
      integrity: 'cc',
      ciphering: true,
      counter: 'none',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: false,
    },
  },
  {
    hex: '0609',
    note: 'ciphered + CC; PoR required, CC, not ciphered',
    value: {
      integrity: 'cc',
      ciphering: true,
      counter: 'none',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: false,
      porViaSubmit: false,
    },
  },
  {
    hex: '0601',
    note: 'ciphered + CC; PoR required, no CC, not ciphered',
    value: {
      integrity: 'cc',
      ciphering: true,
      counter: 'none',
      por: 'always',
      porIntegrity: 'none',
      porCiphered: false,
      porViaSubmit: false,
    },
  },
  {
    hex: '0219',
    note: 'CC only (3DES two-key example)',
    value: {
      integrity: 'cc',
      ciphering: false,
      counter: 'none',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: false,
    },
  },
  {
    hex: '0019',
    note: 'no security at all (refused by the default minimum security level)',
    value: {
      integrity: 'none',
      ciphering: false,
      counter: 'none',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: false,
    },
  },
  {
    hex: '1639',
    note: 'SGP.02 style: CC, ciphered, counter must be higher; PoR CC + ciphered via SMS-SUBMIT',
    value: {
      integrity: 'cc',
      ciphering: true,
      counter: 'higher',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: true,
    },
  },
  {
    hex: '1e22',
    note: 'CC, ciphered, counter must be one higher; PoR only on error, no CC',
    value: {
      integrity: 'cc',
      ciphering: true,
      counter: 'next',
      por: 'on-error',
      porIntegrity: 'none',
      porCiphered: false,
      porViaSubmit: true,
    },
  },
];

/** TS 102 225 §5.1.1: the two SPI octets. */
export function encodeSpi(spi: Spi): Uint8Array {
  const first =
    INTEGRITY.indexOf(spi.integrity) | (spi.ciphering ? 0x04 : 0) | (COUNTER.indexOf(spi.counter) << 3);
  const second =
    POR.indexOf(spi.por) |
    (INTEGRITY.indexOf(spi.porIntegrity) << 2) |
    (spi.porCiphered ? 0x10 : 0) |
    (spi.porViaSubmit ? 0x20 : 0);
  return Uint8Array.of(first, second);
}

/** TS 102 225 §5.1.1: reserved bits (SPI1 b8–b6, SPI2 b8–b7, PoR coding 11) must be zero. */
export function decodeSpi(bytes: Uint8Array): Result<Spi> {
  if (bytes.length !== 2) return decodeError('SPI_LENGTH', 'the SPI is two octets');
  const first = bytes[0] as number;
  const second = bytes[1] as number;
  if (first & 0xe0) return decodeError('SPI_RESERVED', 'SPI1 b8-b6 are reserved and must be 0', 0);
  if (second & 0xc0) return decodeError('SPI_RESERVED', 'SPI2 b8-b7 are reserved and must be 0', 1);
  const por = POR[second & 0x03];
  if (por === undefined) return decodeError('SPI_RESERVED', 'SPI2 b2b1 = 11 is reserved', 1);
  return ok({
    integrity: INTEGRITY[first & 0x03] as IntegrityMode,
    ciphering: (first & 0x04) !== 0,
    counter: COUNTER[(first >> 3) & 0x03] as CounterPolicy,
    por,
    porIntegrity: INTEGRITY[(second >> 2) & 0x03] as IntegrityMode,
    porCiphered: (second & 0x10) !== 0,
    porViaSubmit: (second & 0x20) !== 0,
  });
}

// ---------------------------------------------------------------------------------------------------
// Response status — TS 102 225 §5.2.2 Table 5 (and TS 31.115 §7 for 0B/0C)

export const RESPONSE_STATUSES = [
  { status: 0x00, name: 'POR_OK', meaning: 'PoR OK: the command was accepted and passed to the application' },
  { status: 0x01, name: 'CHECKSUM_FAILED', meaning: 'RC/CC/DS failed: the checksum did not verify' },
  { status: 0x02, name: 'COUNTER_LOW', meaning: 'CNTR low: the counter is not above the last accepted one' },
  { status: 0x03, name: 'COUNTER_HIGH', meaning: 'CNTR high: the counter skipped values (policy "+1")' },
  { status: 0x04, name: 'COUNTER_BLOCKED', meaning: 'CNTR blocked: the stored counter reached FFFFFFFFFF' },
  {
    status: 0x05,
    name: 'CIPHERING_ERROR',
    meaning: 'ciphering error: the ciphered part cannot be deciphered',
  },
  {
    status: 0x06,
    name: 'UNIDENTIFIED_SECURITY_ERROR',
    meaning: 'unidentified security error: malformed packet, unknown key, unsupported algorithm or SPI',
  },
  {
    status: 0x07,
    name: 'INSUFFICIENT_MEMORY',
    meaning: 'insufficient memory to process the incoming message',
  },
  { status: 0x08, name: 'MORE_TIME', meaning: 'more time needed to process the command' },
  { status: 0x09, name: 'TAR_UNKNOWN', meaning: 'TAR unknown: no application answers at this TAR' },
  {
    status: 0x0a,
    name: 'INSUFFICIENT_SECURITY_LEVEL',
    meaning: "insufficient security level: the SPI is below the application's minimum security level",
  },
  { status: 0x0b, name: 'RESPONSE_IN_SUBMIT', meaning: 'the actual response data follows in an SMS-SUBMIT' },
  { status: 0x0c, name: 'RESPONSE_IN_USSD', meaning: 'the actual response data follows in a USSD string' },
] as const;

export type ResponseStatusName = (typeof RESPONSE_STATUSES)[number]['name'];

export const ResponseStatus = Object.fromEntries(RESPONSE_STATUSES.map((s) => [s.name, s.status])) as {
  readonly [K in ResponseStatusName]: Extract<(typeof RESPONSE_STATUSES)[number], { name: K }>['status'];
};

// ---------------------------------------------------------------------------------------------------
// Shared pieces

export const MAX_COUNTER = 0xff_ffff_ffff;
/** CHL / RHL without a checksum: SPI(2) KIc KID TAR(3) CNTR(5) PCNTR = 13; TAR(3) CNTR(5) PCNTR STATUS = 10. */
const CHL_BASE = 13;
const RHL_BASE = 10;
/** TS 31.115 §6: the UDH that identifies a single-SMS Response Packet (IEI 71, length 0). */
export const RESPONSE_PACKET_UDH = Uint8Array.of(0x02, 0x71, 0x00);

export const isCounter = (n: number): boolean => Number.isSafeInteger(n) && n >= 0 && n <= MAX_COUNTER;

function counterBytes(counter: number): Uint8Array {
  const hi = Math.floor(counter / 0x1_0000_0000);
  const lo = counter >>> 0;
  return Uint8Array.of(hi, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

function readCounter(bytes: Uint8Array, at: number): number {
  let n = 0;
  for (let i = 0; i < 5; i++) n = n * 256 + (bytes[at + i] as number);
  return n;
}

const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);

function paddingFor(length: number, block: number): number {
  return (block - (length % block)) % block;
}

type KeyCheck<A extends string> = Result<OtaKey<A>, { code: string; message: string }>;

/**
 * TS 102 225 §5.1.2: the key a KIc or KID byte names. The byte's algorithm nibble must be supported,
 * a key set must exist at its index, the byte must name that key's algorithm (no downgrade of an AES
 * key set by a 3DES packet), and the key must have a length the algorithm takes.
 */
function keyNamedBy(role: 'kic', byte: number, keys: OtaKeySet | undefined): KeyCheck<CipherAlgorithm>;
function keyNamedBy(role: 'kid', byte: number, keys: OtaKeySet | undefined): KeyCheck<ChecksumAlgorithm>;
function keyNamedBy(
  role: 'kic' | 'kid',
  byte: number,
  keys: OtaKeySet | undefined,
): KeyCheck<CipherAlgorithm> | KeyCheck<ChecksumAlgorithm> {
  const label = role === 'kic' ? 'KIc' : 'KID';
  const named = role === 'kic' ? cipherFromKic(byte) : checksumFromKid(byte);
  if (!named)
    return err({
      code: 'SCP80_UNSUPPORTED_ALGORITHM',
      message: `${label} algorithm nibble ${byte & 0x0f} unsupported`,
    });
  if (!keys) return err({ code: 'SCP80_UNKNOWN_KEY', message: 'no key set for this KIc/KID' });
  const key = keys[role];
  if (key.algorithm !== named.algorithm)
    return err({
      code: 'SCP80_ALGORITHM_MISMATCH',
      message: `${label} names ${named.algorithm}, the key is not for it`,
    });
  const fits = role === 'kic' ? isValidCipherKey(keys.kic) : isValidChecksumKey(keys.kid);
  if (!fits)
    return err({ code: 'SCP80_KEY_LENGTH', message: `the ${label} key does not fit ${named.algorithm}` });
  return role === 'kic' ? ok(keys.kic) : ok(keys.kid);
}

const blockOf = (key: OtaKey<CipherAlgorithm>) => (key.algorithm === 'aes-cbc' ? 16 : 8);

// ---------------------------------------------------------------------------------------------------
// Command Packet — build (platform side)

export interface CommandPacketInput {
  readonly spi: Spi;
  /** KIc byte: key index (KVN) in b8–b5, algorithm in b4–b1 (TS 102 225 §5.1.2). */
  readonly kic: number;
  /** KID byte, same layout (TS 102 225 §5.1.3). */
  readonly kid: number;
  /** Toolkit Application Reference, 3 octets (TS 101 220 §6). */
  readonly tar: Uint8Array;
  /** CNTR, 0 … FFFFFFFFFF; the platform increments it atomically before each packet. */
  readonly counter: number;
  /** Needed when the SPI asks for a checksum or ciphering. */
  readonly keys?: OtaKeySet;
  /** The secured data: a TS 102 226 remote command (compact APDUs or an expanded script). */
  readonly data: Uint8Array;
}

/**
 * TS 102 225 §5.1 + TS 31.115 §4: the Command Packet from CPL on (the SMS layer adds UDH `02 70 00`).
 * CC input: CPL … TAR ‖ CNTR ‖ PCNTR ‖ data ‖ padding (UDH not included, TS 31.115 §4.2); padding is
 * zeros up to the cipher block, counted from CNTR, only when ciphering.
 */
export function secureCommandPacket(input: CommandPacketInput): Result<Uint8Array> {
  const { spi, kic, kid, tar, counter, keys, data } = input;
  if (tar.length !== 3) return decodeError('SCP80_TAR', 'TAR is 3 octets');
  if (!isCounter(counter)) return decodeError('SCP80_COUNTER', 'CNTR is an integer 0 … FFFFFFFFFF');
  if (!isByte(kic) || !isByte(kid))
    return decodeError('SCP80_KEY_IDENTIFIER', 'KIc and KID are one octet each');
  if (
    spi.integrity === 'rc' ||
    spi.integrity === 'ds' ||
    spi.porIntegrity === 'rc' ||
    spi.porIntegrity === 'ds'
  )
    return decodeError(
      'SCP80_UNSUPPORTED_SPI',
      'only no checksum or a cryptographic checksum (CC) is supported',
    );
  let ccKey: OtaKey<ChecksumAlgorithm> | undefined;
  if (spi.integrity === 'cc') {
    const k = keyNamedBy('kid', kid, keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    ccKey = k.value;
  }
  let cipherKey: OtaKey<CipherAlgorithm> | undefined;
  if (spi.ciphering) {
    const k = keyNamedBy('kic', kic, keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    cipherKey = k.value;
  }
  const ccLength = ccKey ? CC_LENGTH : 0;
  const padding = cipherKey ? paddingFor(6 + ccLength + data.length, blockOf(cipherKey)) : 0;
  const cpl = 1 + CHL_BASE + ccLength + data.length + padding;
  if (cpl > 0xffff) return decodeError('SCP80_TOO_LONG', 'the command packet exceeds 65535 octets');
  const header = concatBytes([
    u16(cpl),
    Uint8Array.of(CHL_BASE + ccLength),
    encodeSpi(spi),
    Uint8Array.of(kic, kid),
    tar,
  ]);
  const counterPart = concatBytes([counterBytes(counter), Uint8Array.of(padding)]);
  const body = concatBytes([data, new Uint8Array(padding)]);
  const cc = ccKey
    ? cryptographicChecksum(ccKey, concatBytes([header, counterPart, body]))
    : new Uint8Array(0);
  const secured = concatBytes([counterPart, cc, body]);
  return ok(concatBytes([header, cipherKey ? encipher(cipherKey, secured) : secured]));
}

const isByte = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xff;

// ---------------------------------------------------------------------------------------------------
// Command Packet — open (card side)

export interface CommandHeader {
  readonly spi: Spi;
  readonly kic: number;
  readonly kid: number;
  readonly tar: Uint8Array;
}

/**
 * The minimum security level an application at a TAR demands (the role of TS 102 226 §8.2.1.3.2.4's
 * MSL): a weaker SPI is refused with status 0A before any key is touched.
 */
export interface MinimumSecurityLevel {
  readonly checksum: boolean;
  readonly ciphering: boolean;
  /** The least strict counter policy accepted, in the order none < available < higher < next. */
  readonly counter: CounterPolicy;
}

/** Deny by default: a command must carry a CC and a counter that must increase. */
export const DEFAULT_MINIMUM_SECURITY: MinimumSecurityLevel = {
  checksum: true,
  ciphering: false,
  counter: 'higher',
};

export interface OpenCommandOptions {
  /** The key set the KIc/KID key indexes (b8–b5) address for this TAR; undefined → status 06. */
  keysFor(header: CommandHeader): OtaKeySet | undefined;
  /** The last counter accepted for that key set (0 before the first command). */
  lastCounter(header: CommandHeader): number;
  /** Whether an application answers at this TAR; unknown → status 09. Default: every TAR. */
  isKnownTar?(tar: Uint8Array): boolean;
  /** The application's minimum security level; default DEFAULT_MINIMUM_SECURITY. */
  minimumSecurity?(tar: Uint8Array): MinimumSecurityLevel;
}

export interface OpenedCommandPacket {
  readonly header: CommandHeader;
  readonly counter: number;
  /** PCNTR: the zero octets removed from the end of the data. */
  readonly padding: number;
  readonly data: Uint8Array;
  /**
   * Set when the SPI asks for counter checking ("higher" / "next"): the caller stores it as the new last
   * counter with a compare-and-set against the value `lastCounter` returned, and treats a lost race
   * as CNTR low (a replay arriving in parallel).
   */
  readonly counterToStore: number | undefined;
}

export interface CommandPacketFailure {
  /** The TS 102 225 Table 5 status to put in a PoR. */
  readonly status: number;
  /** Stable code such as `SCP80_CC_FAILED`. */
  readonly code: string;
  readonly message: string;
  /** The clear header, once it parsed (a PoR needs its TAR and SPI). */
  readonly header?: CommandHeader;
  /** The received counter, once deciphered and authenticated. */
  readonly counter?: number;
}

type Opened = Result<OpenedCommandPacket, CommandPacketFailure>;

const fail = (
  status: number,
  code: string,
  message: string,
  header?: CommandHeader,
  counter?: number,
): Result<never, CommandPacketFailure> =>
  err({
    status,
    code,
    message,
    ...(header ? { header } : {}),
    ...(counter === undefined ? {} : { counter }),
  });

/** The clear part: CPL, CHL, SPI, KIc, KID, TAR (TS 102 225 §5.1). */
function readCommandHeader(
  bytes: Uint8Array,
): Result<{ header: CommandHeader; chl: number }, CommandPacketFailure> {
  const malformed = (message: string, header?: CommandHeader) =>
    fail(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR, 'SCP80_MALFORMED', message, header);
  if (bytes.length < 10) return malformed('a command packet has at least 10 header octets');
  const cpl = ((bytes[0] as number) << 8) | (bytes[1] as number);
  if (cpl !== bytes.length - 2)
    return malformed(`CPL ${cpl} does not match the ${bytes.length - 2} octets after it`);
  const spi = decodeSpi(bytes.subarray(3, 5));
  if (!spi.ok) return malformed(spi.error.message);
  const header: CommandHeader = {
    spi: spi.value,
    kic: bytes[5] as number,
    kid: bytes[6] as number,
    tar: bytes.slice(7, 10),
  };
  return ok({ header, chl: bytes[2] as number });
}

const COUNTER_RANK: Record<CounterPolicy, number> = { none: 0, available: 1, higher: 2, next: 3 };

/**
 * TS 102 225 §5.1 / §6: verify and decipher a Command Packet (from CPL on). The checks run in this
 * order, each a small step, and the first failure gives the PoR status:
 *   header parses (06) → TAR known (09) → SPI meets the minimum security level (0A) → SPI supported (06)
 *   → keys found and matching the KIc/KID algorithms (06) → deciphers (05) → CC verifies (01)
 *   → counter policy (02 / 03 / 04) → padding count consistent (05 / 06).
 * The counter is only judged after the CC, so forged packets cannot move or probe it.
 */
export function openCommandPacket(bytes: Uint8Array, options: OpenCommandOptions): Opened {
  const parsed = readCommandHeader(bytes);
  if (!parsed.ok) return parsed;
  const { header, chl } = parsed.value;
  const { spi } = header;

  if (options.isKnownTar && !options.isKnownTar(header.tar))
    return fail(ResponseStatus.TAR_UNKNOWN, 'SCP80_TAR_UNKNOWN', 'no application at this TAR', header);

  const msl = options.minimumSecurity?.(header.tar) ?? DEFAULT_MINIMUM_SECURITY;
  const hasChecksum = spi.integrity === 'cc' || spi.integrity === 'ds';
  if (
    (msl.checksum && !hasChecksum) ||
    (msl.ciphering && !spi.ciphering) ||
    COUNTER_RANK[spi.counter] < COUNTER_RANK[msl.counter]
  )
    return fail(
      ResponseStatus.INSUFFICIENT_SECURITY_LEVEL,
      'SCP80_SECURITY_LEVEL',
      "the SPI is below the application's minimum security level",
      header,
    );

  if (
    spi.integrity === 'rc' ||
    spi.integrity === 'ds' ||
    spi.porIntegrity === 'rc' ||
    spi.porIntegrity === 'ds'
  )
    return fail(
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
      'SCP80_UNSUPPORTED_SPI',
      'redundancy checks and digital signatures are not supported (for the command or its PoR)',
      header,
    );
  const ccLength = spi.integrity === 'cc' ? CC_LENGTH : 0;
  if (chl !== CHL_BASE + ccLength)
    return fail(
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
      'SCP80_MALFORMED',
      `CHL ${chl} does not match the SPI (expected ${CHL_BASE + ccLength})`,
      header,
    );

  let keys: OtaKeySet | undefined;
  if (spi.integrity === 'cc' || spi.ciphering) {
    keys = options.keysFor(header);
    if (!keys)
      return fail(
        ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
        'SCP80_UNKNOWN_KEY',
        'no key set for this KIc/KID',
        header,
      );
  }
  let ccKey: OtaKey<ChecksumAlgorithm> | undefined;
  if (spi.integrity === 'cc') {
    const k = keyNamedBy('kid', header.kid, keys);
    if (!k.ok) return fail(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR, k.error.code, k.error.message, header);
    ccKey = k.value;
  }

  let secured = bytes.subarray(10);
  let block = 1;
  if (spi.ciphering) {
    const k = keyNamedBy('kic', header.kic, keys);
    if (!k.ok) return fail(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR, k.error.code, k.error.message, header);
    block = blockOf(k.value);
    if (secured.length === 0 || secured.length % block !== 0)
      return fail(
        ResponseStatus.CIPHERING_ERROR,
        'SCP80_CIPHER_LENGTH',
        `the ciphered part (${secured.length} octets) is not a whole number of ${block}-octet blocks`,
        header,
      );
    secured = decipher(k.value, secured);
  }
  if (secured.length < 6 + ccLength)
    return fail(
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
      'SCP80_MALFORMED',
      'the packet ends inside CNTR/PCNTR/CC',
      header,
    );

  const counterPart = secured.subarray(0, 6);
  const body = secured.subarray(6 + ccLength);
  if (ccKey) {
    const received = secured.subarray(6, 6 + ccLength);
    const expected = cryptographicChecksum(ccKey, concatBytes([bytes.subarray(0, 10), counterPart, body]));
    if (!constantTimeEqual(received, expected))
      return fail(
        ResponseStatus.CHECKSUM_FAILED,
        'SCP80_CC_FAILED',
        'the cryptographic checksum does not verify',
        header,
      );
  }

  const counter = readCounter(counterPart, 0);
  let counterToStore: number | undefined;
  if (spi.counter === 'higher' || spi.counter === 'next') {
    const last = options.lastCounter(header);
    if (!isCounter(last) || last >= MAX_COUNTER)
      return fail(
        ResponseStatus.COUNTER_BLOCKED,
        'SCP80_COUNTER_BLOCKED',
        'the counter has reached its maximum',
        header,
        counter,
      );
    if (counter <= last)
      return fail(
        ResponseStatus.COUNTER_LOW,
        'SCP80_COUNTER_LOW',
        'the counter is not above the last accepted one',
        header,
        counter,
      );
    if (spi.counter === 'next' && counter !== last + 1)
      return fail(
        ResponseStatus.COUNTER_HIGH,
        'SCP80_COUNTER_HIGH',
        'the counter is not exactly one above the last',
        header,
        counter,
      );
    counterToStore = counter;
  }

  const padding = counterPart[5] as number;
  if (spi.ciphering ? padding >= block || padding > body.length : padding !== 0)
    return fail(
      spi.ciphering ? ResponseStatus.CIPHERING_ERROR : ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
      'SCP80_PADDING',
      `PCNTR ${padding} is inconsistent with the packet`,
      header,
      counter,
    );

  return ok({ header, counter, padding, data: body.slice(0, body.length - padding), counterToStore });
}

/** TS 102 225 §5.1.1 SPI2 b2b1: whether a PoR goes back for this outcome. */
export function porWanted(spi: Spi, status: number): boolean {
  return spi.por === 'always' || (spi.por === 'on-error' && status !== ResponseStatus.POR_OK);
}

/**
 * How to secure the PoR for an outcome. After a success or a counter failure the command's CC has
 * verified, so the PoR carries the security SPI2 asks for; after any other failure the sender is
 * unauthenticated and the PoR goes back without CC or ciphering (this project's rule: the card does
 * not compute MACs over data an unauthenticated sender chose) — the platform must treat such a PoR as
 * an unauthenticated report.
 */
export function porSecurityFor(spi: Spi, status: number): { integrity: 'none' | 'cc'; ciphered: boolean } {
  const authenticated =
    status === ResponseStatus.POR_OK ||
    status === ResponseStatus.COUNTER_LOW ||
    status === ResponseStatus.COUNTER_HIGH ||
    status === ResponseStatus.COUNTER_BLOCKED;
  if (!authenticated) return { integrity: 'none', ciphered: false };
  return { integrity: spi.porIntegrity === 'cc' ? 'cc' : 'none', ciphered: spi.porCiphered };
}

// ---------------------------------------------------------------------------------------------------
// Response Packet (PoR)

export interface ResponseSecurity {
  readonly integrity: 'none' | 'cc';
  readonly ciphered: boolean;
  /** The key set of the command being answered; needed for a CC or ciphering. */
  readonly keys?: OtaKeySet;
  /** The command's KIc/KID bytes, whose algorithm nibbles must match the keys. */
  readonly kic: number;
  readonly kid: number;
  /** The UDH the PoR travels with (UDHL included); part of the CC input. Default `02 71 00`. */
  readonly udh?: Uint8Array;
}

export interface ResponsePacketInput extends ResponseSecurity {
  readonly tar: Uint8Array;
  /** The counter of the command this answers. */
  readonly counter: number;
  readonly status: number;
  /** Additional response data: a TS 102 226 compact or expanded response. */
  readonly data: Uint8Array;
}

/**
 * TS 102 225 §5.2 + TS 31.115 §6: the Response Packet from RPL on. CC input: UDH ‖ RPL ‖ RHL ‖ TAR ‖
 * CNTR ‖ PCNTR ‖ STATUS ‖ data ‖ padding — unlike the command, the UDH is included (TS 31.115 §6).
 */
export function secureResponsePacket(input: ResponsePacketInput): Result<Uint8Array> {
  const { tar, counter, status, data, integrity, ciphered, keys } = input;
  if (tar.length !== 3) return decodeError('SCP80_TAR', 'TAR is 3 octets');
  if (!isCounter(counter)) return decodeError('SCP80_COUNTER', 'CNTR is an integer 0 … FFFFFFFFFF');
  if (!isByte(status)) return decodeError('SCP80_STATUS', 'the response status is one octet');
  let ccKey: OtaKey<ChecksumAlgorithm> | undefined;
  if (integrity === 'cc') {
    const k = keyNamedBy('kid', input.kid, keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    ccKey = k.value;
  }
  let cipherKey: OtaKey<CipherAlgorithm> | undefined;
  if (ciphered) {
    const k = keyNamedBy('kic', input.kic, keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    cipherKey = k.value;
  }
  const ccLength = ccKey ? CC_LENGTH : 0;
  const padding = cipherKey ? paddingFor(7 + ccLength + data.length, blockOf(cipherKey)) : 0;
  const rpl = 1 + RHL_BASE + ccLength + data.length + padding;
  if (rpl > 0xffff) return decodeError('SCP80_TOO_LONG', 'the response packet exceeds 65535 octets');
  const header = concatBytes([u16(rpl), Uint8Array.of(RHL_BASE + ccLength), tar]);
  const statusPart = concatBytes([counterBytes(counter), Uint8Array.of(padding, status)]);
  const body = concatBytes([data, new Uint8Array(padding)]);
  const cc = ccKey
    ? cryptographicChecksum(ccKey, concatBytes([input.udh ?? RESPONSE_PACKET_UDH, header, statusPart, body]))
    : new Uint8Array(0);
  const secured = concatBytes([statusPart, cc, body]);
  return ok(concatBytes([header, cipherKey ? encipher(cipherKey, secured) : secured]));
}

export interface OpenedResponsePacket {
  readonly tar: Uint8Array;
  readonly counter: number;
  readonly status: number;
  readonly padding: number;
  readonly data: Uint8Array;
  /** True when a CC verified: only then do status and data come from the card. */
  readonly authenticated: boolean;
}

/** The TAR of a Response Packet, readable before opening it (RPL, RHL and TAR are never ciphered). */
export function readResponseTar(packet: Uint8Array): Result<Uint8Array> {
  if (packet.length < 6) return decodeError('POR_TRUNCATED', 'a response packet has at least 6 clear octets');
  return ok(packet.slice(3, 6));
}

/** TS 102 225 §5.2: verify and decipher a Response Packet (from RPL on) with the security expected. */
export function openResponsePacket(
  packet: Uint8Array,
  security: ResponseSecurity,
): Result<OpenedResponsePacket> {
  if (packet.length < 6) return decodeError('POR_TRUNCATED', 'a response packet has at least 6 clear octets');
  const rpl = ((packet[0] as number) << 8) | (packet[1] as number);
  if (rpl !== packet.length - 2)
    return decodeError('POR_LENGTH', `RPL ${rpl} does not match the ${packet.length - 2} octets after it`, 0);
  const ccLength = security.integrity === 'cc' ? CC_LENGTH : 0;
  const rhl = packet[2] as number;
  if (rhl !== RHL_BASE + ccLength)
    return decodeError(
      'POR_HEADER_LENGTH',
      `RHL ${rhl} does not match the expected security (${RHL_BASE + ccLength})`,
      2,
    );
  let ccKey: OtaKey<ChecksumAlgorithm> | undefined;
  if (ccLength) {
    const k = keyNamedBy('kid', security.kid, security.keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    ccKey = k.value;
  }
  let secured = packet.subarray(6);
  let block = 1;
  if (security.ciphered) {
    const k = keyNamedBy('kic', security.kic, security.keys);
    if (!k.ok) return decodeError(k.error.code, k.error.message);
    block = blockOf(k.value);
    if (secured.length === 0 || secured.length % block !== 0)
      return decodeError('POR_CIPHER_LENGTH', 'the ciphered part is not a whole number of blocks', 6);
    secured = decipher(k.value, secured);
  }
  if (secured.length < 7 + ccLength)
    return decodeError('POR_TRUNCATED', 'the packet ends inside CNTR/PCNTR/STATUS/CC', 6);
  const statusPart = secured.subarray(0, 7);
  const body = secured.subarray(7 + ccLength);
  if (ccKey) {
    const expected = cryptographicChecksum(
      ccKey,
      concatBytes([security.udh ?? RESPONSE_PACKET_UDH, packet.subarray(0, 6), statusPart, body]),
    );
    if (!constantTimeEqual(secured.subarray(7, 7 + ccLength), expected))
      return decodeError('POR_CC_FAILED', 'the cryptographic checksum of the PoR does not verify');
  }
  const padding = statusPart[5] as number;
  if (security.ciphered ? padding >= block || padding > body.length : padding !== 0)
    return decodeError('POR_PADDING', `PCNTR ${padding} is inconsistent with the packet`, 6);
  return ok({
    tar: packet.slice(3, 6),
    counter: readCounter(statusPart, 0),
    padding,
    status: statusPart[6] as number,
    data: body.slice(0, body.length - padding),
    authenticated: ccKey !== undefined,
  });
}

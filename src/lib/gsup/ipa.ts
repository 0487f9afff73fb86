// IPA multiplex framing as Osmocom uses it for GSUP over TCP (libosmocore gsm/ipa.c, protocol/
// ipaccess.h): every frame is Length(2, big-endian, of what follows the protocol octet) |
// Protocol(1) | payload. GSUP rides in protocol 0xEE (Osmocom extension) with extension octet 0x05;
// identity exchange and keep-alive use the CCM protocol 0xFE (PING, PONG, ID_GET, ID_RESP, ID_ACK).

import { decodeError, ok, type Result } from '../result.js';

/** libosmocore enum ipaccess_proto. */
export const IPA_PROTO = { RSL: 0x00, MGCP_OLD: 0xfc, SCCP: 0xfd, CCM: 0xfe, OML: 0xff, OSMO: 0xee } as const;
/** libosmocore enum ipaccess_proto_ext (first payload octet of protocol 0xEE). */
export const IPA_OSMO_EXT = {
  CTRL: 0x00,
  MGCP: 0x01,
  LAC: 0x02,
  SMSC: 0x03,
  ORC: 0x04,
  GSUP: 0x05,
  OAP: 0x06,
  RSPRO: 0x07,
} as const;
/** libosmocore enum ipaccess_msgtype (first payload octet of protocol 0xFE). */
export const CCM_MESSAGE = { PING: 0x00, PONG: 0x01, ID_GET: 0x04, ID_RESP: 0x05, ID_ACK: 0x06 } as const;
/**
 * libosmocore enum ipaccess_id_tags. osmo-hlr routes GSUP by the serial number: a client whose ID_RESP
 * lacks it "cannot be routed" and gets no answers (reference/cellular.md §4.2).
 */
export const IPA_ID_TAG = {
  serialNumber: 0x00,
  unitName: 0x01,
  location1: 0x02,
  location2: 0x03,
  equipmentVersion: 0x04,
  softwareVersion: 0x05,
  ipAddress: 0x06,
  macAddress: 0x07,
  unitId: 0x08,
} as const;

export const IPA_MAX_PAYLOAD = 0xffff;

export interface IpaFrame {
  readonly proto: number;
  /** Everything after the protocol octet (for 0xEE it starts with the extension octet). */
  readonly payload: Uint8Array;
}

export function encodeIpaFrame(frame: IpaFrame): Result<Uint8Array> {
  if (frame.payload.length > IPA_MAX_PAYLOAD)
    return decodeError('IPA_TOO_LONG', 'IPA payload longer than 65535 octets');
  if (!Number.isInteger(frame.proto) || frame.proto < 0 || frame.proto > 255)
    return decodeError('IPA_PROTO', 'protocol is one octet');
  const out = new Uint8Array(3 + frame.payload.length);
  out[0] = frame.payload.length >> 8;
  out[1] = frame.payload.length & 0xff;
  out[2] = frame.proto;
  out.set(frame.payload, 3);
  return ok(out);
}

/** A GSUP message in its IPA frame: proto 0xEE, extension 0x05. */
export function gsupFrame(gsup: Uint8Array): Result<Uint8Array> {
  return encodeIpaFrame({ proto: IPA_PROTO.OSMO, payload: new Uint8Array([IPA_OSMO_EXT.GSUP, ...gsup]) });
}

/** The GSUP message inside a frame, or undefined when the frame carries something else. */
export function gsupPayload(frame: IpaFrame): Uint8Array | undefined {
  return frame.proto === IPA_PROTO.OSMO && frame.payload[0] === IPA_OSMO_EXT.GSUP
    ? frame.payload.subarray(1)
    : undefined;
}

/**
 * Cuts a TCP byte stream into IPA frames. Total: any chunking of any bytes yields frames; a frame is
 * complete once its 3-octet header and Length octets have arrived, so a stream cannot get stuck.
 */
export class IpaDeframer {
  private buffer: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): IpaFrame[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const frames: IpaFrame[] = [];
    let i = 0;
    while (joined.length - i >= 3) {
      const length = ((joined[i] ?? 0) << 8) | (joined[i + 1] ?? 0);
      if (joined.length - i - 3 < length) break;
      frames.push({ proto: joined[i + 2] ?? 0, payload: joined.slice(i + 3, i + 3 + length) });
      i += 3 + length;
    }
    this.buffer = joined.slice(i);
    return frames;
  }

  /** Octets received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffer.length;
  }
}

export type CcmMessage =
  | { readonly type: 'PING' | 'PONG' | 'ID_ACK' }
  /** The identity tags the peer asks for. */
  | { readonly type: 'ID_GET'; readonly tags: readonly number[] }
  /** Tag → value (a trailing NUL, which Osmocom sends, is removed). */
  | { readonly type: 'ID_RESP'; readonly identity: ReadonlyMap<number, string> };

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** Decode a CCM (protocol 0xFE) payload. */
export function decodeCcm(payload: Uint8Array): Result<CcmMessage> {
  if (payload.length === 0) return decodeError('IPA_CCM_EMPTY', 'CCM payload is empty');
  const type = payload[0];
  switch (type) {
    case CCM_MESSAGE.PING:
      return ok({ type: 'PING' });
    case CCM_MESSAGE.PONG:
      return ok({ type: 'PONG' });
    case CCM_MESSAGE.ID_ACK:
      return ok({ type: 'ID_ACK' });
    case CCM_MESSAGE.ID_GET: {
      // libosmocore ipa_ccm_idtag_parse: items of len(1) tag(1) (len is 1).
      const tags: number[] = [];
      for (let i = 1; i < payload.length; ) {
        const len = payload[i] ?? 0;
        if (len < 1 || i + 1 + len > payload.length)
          return decodeError('IPA_CCM_ITEM', 'ID_GET item overruns', i);
        tags.push(payload[i + 1] ?? 0);
        i += 1 + len;
      }
      return ok({ type: 'ID_GET', tags });
    }
    case CCM_MESSAGE.ID_RESP: {
      // Items of len(2) tag(1) value(len − 1).
      const identity = new Map<number, string>();
      for (let i = 1; i < payload.length; ) {
        if (payload.length - i < 3) return decodeError('IPA_CCM_ITEM', 'ID_RESP item header cut short', i);
        const len = ((payload[i] ?? 0) << 8) | (payload[i + 1] ?? 0);
        if (len < 1 || i + 2 + len > payload.length)
          return decodeError('IPA_CCM_ITEM', 'ID_RESP item overruns', i);
        let value = payload.subarray(i + 3, i + 2 + len);
        if (value.at(-1) === 0) value = value.subarray(0, -1);
        identity.set(payload[i + 2] ?? 0, latin1(value));
        i += 2 + len;
      }
      return ok({ type: 'ID_RESP', identity });
    }
    default:
      return decodeError('IPA_CCM_TYPE', `unknown CCM message ${type}`, 0);
  }
}

/** Encode a CCM message as a complete IPA frame (values get Osmocom's trailing NUL). */
export function encodeCcm(message: CcmMessage): Result<Uint8Array> {
  let payload: number[];
  switch (message.type) {
    case 'PING':
    case 'PONG':
    case 'ID_ACK':
      payload = [CCM_MESSAGE[message.type]];
      break;
    case 'ID_GET':
      payload = [CCM_MESSAGE.ID_GET, ...message.tags.flatMap((t) => [1, t])];
      break;
    case 'ID_RESP': {
      payload = [CCM_MESSAGE.ID_RESP];
      for (const [tag, value] of message.identity) {
        const bytes = [...Buffer.from(value, 'latin1'), 0];
        const len = 1 + bytes.length;
        payload.push(len >> 8, len & 0xff, tag, ...bytes);
      }
      break;
    }
  }
  return encodeIpaFrame({ proto: IPA_PROTO.CCM, payload: Uint8Array.from(payload) });
}

// MQTT control packets as the Beam MQTT entry point reads them, from a device or from the
// destination broker: a framer that cuts the byte stream into whole packets and refuses an
// oversize one before buffering it (OASIS MQTT 3.1.1 §2.2.3 and MQTT 5.0 §1.5.5: the Remaining
// Length, a variable byte integer of at most four bytes), then mqtt-packet's decoder on each
// whole packet, then the checks the relay depends on (topic names and filters, §4.7; QoS). All of
// it is total: bytes in, packets or one error out, nothing thrown.

import { generate, type Packet, type Parser, parser } from 'mqtt-packet';

export type MqttVersion = 3 | 4 | 5;

export interface MqttDecodeError {
  /** Stable code, e.g. MQTT_PACKET_TOO_LARGE. */
  readonly code: string;
  readonly message: string;
  /** MQTT 5 reason code for a DISCONNECT that explains the close (§3.14.2.1). */
  readonly reasonCode: number;
}

/** MQTT 5 reason codes used by the entry point (MQTT 5.0 §2.4). */
export const REASON = {
  success: 0x00,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  keepAliveTimeout: 0x8d,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  qosNotSupported: 0x9b,
  connectionRateExceeded: 0x9f,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const CONNACK_V3 = {
  accepted: 0,
  unacceptableProtocol: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

const failure = (code: string, message: string, reasonCode: number): MqttDecodeError => ({
  code,
  message,
  reasonCode,
});

/**
 * Cuts a byte stream into whole MQTT packets. A packet whose Remaining Length announces more than
 * `maxPacketBytes` in all is refused as soon as its fixed header is read, so a peer cannot make us
 * buffer it.
 */
export class MqttFramer {
  private pending: Buffer | undefined;

  constructor(private readonly maxPacketBytes: number) {}

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer): Buffer[] | MqttDecodeError {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const frames: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      // Fixed header: one byte of type and flags, then 1 to 4 bytes of Remaining Length.
      let remaining = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < data.length; n++, i++) {
        const byte = data[i] ?? 0;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) {
          return failure(
            'MQTT_MALFORMED_LENGTH',
            'the Remaining Length has more than four bytes',
            REASON.malformedPacket,
          );
        }
      }
      if (!complete) break; // the length itself is not all here yet
      const total = i - at + remaining;
      if (total > this.maxPacketBytes) {
        return failure(
          'MQTT_PACKET_TOO_LARGE',
          `a packet of ${total} bytes is larger than the limit of ${this.maxPacketBytes}`,
          REASON.packetTooLarge,
        );
      }
      if (data.length - at < total) break;
      frames.push(data.subarray(at, at + total));
      at += total;
    }
    if (at < data.length) {
      // Copy, so a small tail does not keep a large chunk alive.
      this.pending = Buffer.from(data.subarray(at));
    }
    return frames;
  }
}

/**
 * The framer and mqtt-packet's decoder: whole, decoded packets. The protocol version decides how
 * everything after CONNECT is read (MQTT 5 adds properties); set it once CONNECT is known.
 */
export class MqttDecoder {
  private readonly framer: MqttFramer;
  private readonly parser: Parser & {
    settings: { protocolVersion?: number };
    _pos?: number;
    _parseVarByteNum?: (fullInfo?: boolean) => unknown;
  };
  private decoded: Packet | undefined;
  private failed: Error | undefined;
  private overread = false;

  constructor(maxPacketBytes: number, version?: MqttVersion) {
    this.framer = new MqttFramer(maxPacketBytes);
    this.parser = parser(version === undefined ? {} : { protocolVersion: version }) as MqttDecoder['parser'];
    // Inside a whole packet, a variable byte integer that stops at the packet's end (a Property
    // Length, a Subscription Identifier) is malformed; mqtt-packet reads it as "no value" and goes
    // on. Its reader is wrapped to tell (mqtt-packet 9; the fuzz test notices if that changes).
    const decoder = this;
    const readVarInt = this.parser._parseVarByteNum;
    if (typeof readVarInt !== 'function')
      throw new Error('mqtt-packet: _parseVarByteNum is gone; update MqttDecoder');
    this.parser._parseVarByteNum = function (this: unknown, fullInfo?: boolean) {
      const value = readVarInt.call(this, fullInfo);
      if (value === false) decoder.overread = true;
      return value;
    };
    this.parser.on('packet', (p: Packet) => {
      this.decoded = p;
      // mqtt-packet does not bound a property list by the packet's length: it would read into the
      // next packet (here, past the end of the frame). Its read position, still set when it emits,
      // tells; such a packet is malformed (MQTT 5 §2.2.2.1, the Property Length).
      if ((this.parser._pos ?? 0) > (p.length ?? 0)) this.overread = true;
    });
    this.parser.on('error', (e: unknown) => {
      this.failed = e instanceof Error ? e : new Error(String(e));
    });
  }

  set version(version: MqttVersion) {
    this.parser.settings.protocolVersion = version;
  }

  get buffered(): number {
    return this.framer.buffered;
  }

  push(chunk: Buffer): Packet[] | MqttDecodeError {
    const frames = this.framer.push(chunk);
    if (!Array.isArray(frames)) return frames;
    const packets: Packet[] = [];
    for (const frame of frames) {
      const one = this.decodeFrame(frame);
      if ('code' in one) return one;
      packets.push(one);
    }
    return packets;
  }

  private decodeFrame(frame: Buffer): Packet | MqttDecodeError {
    const version = this.parser.settings.protocolVersion;
    if (version === 3 || version === 4) {
      const fast = decodeHotV3(frame);
      if (fast !== undefined) return fast;
    }
    this.decoded = undefined;
    this.failed = undefined;
    this.overread = false;
    try {
      this.parser.parse(frame);
    } catch (e) {
      // mqtt-packet reads some malformed property lists by dereferencing what it failed to read.
      this.failed = e instanceof Error ? e : new Error('undecodable packet');
    }
    // A packet id cut by the packet's end comes out of mqtt-packet as -1 (a PUBACK of one byte).
    const id = (this.decoded as { messageId?: number } | undefined)?.messageId;
    if (id !== undefined && id < 0) this.overread = true;
    if (this.failed !== undefined || this.decoded === undefined || this.overread) {
      const why =
        this.failed?.message ??
        (this.overread ? 'a length runs past the end of the packet' : 'incomplete packet');
      return failure(
        'MQTT_MALFORMED_PACKET',
        `malformed packet: ${why.slice(0, 120)}`,
        REASON.malformedPacket,
      );
    }
    return this.decoded;
  }
}

/** Encodes one packet; undefined when mqtt-packet refuses it (a value it cannot write). */
export function encodePacket(packet: Packet, version: MqttVersion): Buffer | undefined {
  if (version !== 5) {
    if (packet.cmd === 'puback' && packet.messageId !== undefined) return pubackV3(packet.messageId);
    if (packet.cmd === 'publish') {
      const fast = publishV3(packet);
      if (fast !== undefined) return fast;
    }
  }
  try {
    return generate(packet, { protocolVersion: version });
  } catch {
    return undefined;
  }
}

// --- The relay's hot path: PUBLISH and PUBACK of MQTT 3.1/3.1.1 read and written here directly
// (§3.3, §3.4), every other packet and every MQTT 5 one by mqtt-packet. Same packets as
// mqtt-packet makes (the fuzz test compares the two readings); a frame this cannot read plainly
// goes to mqtt-packet, which reports why.

/** PUBLISH (flags: DUP, QoS, RETAIN) or PUBACK (flags 0, two bytes) of MQTT 3.x; else undefined. */
function decodeHotV3(frame: Buffer): Packet | undefined {
  const first = frame[0] ?? 0;
  let at = 1;
  let remaining = 0;
  let multiplier = 1;
  for (;;) {
    const byte = frame[at++] ?? 0;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    multiplier *= 128;
  }
  const type = first >> 4;
  if (type === 4) {
    if (first !== 0x40 || remaining !== 2) return undefined;
    return { cmd: 'puback', messageId: frame.readUInt16BE(at), length: 2 } as Packet;
  }
  if (type !== 3) return undefined;
  const qos = (first >> 1) & 0x03;
  if (qos === 3) return undefined;
  const end = at + remaining;
  if (at + 2 > end) return undefined;
  const topicLength = frame.readUInt16BE(at);
  const topicEnd = at + 2 + topicLength;
  const idEnd = topicEnd + (qos > 0 ? 2 : 0);
  if (idEnd > end) return undefined;
  const packet: Packet = {
    cmd: 'publish',
    retain: (first & 0x01) !== 0,
    qos: qos as 0 | 1 | 2,
    dup: (first & 0x08) !== 0,
    length: remaining,
    topic: frame.toString('utf8', at + 2, topicEnd),
    payload: frame.subarray(idEnd, end),
  };
  if (qos > 0) packet.messageId = frame.readUInt16BE(topicEnd);
  return packet;
}

function pubackV3(messageId: number): Buffer | undefined {
  if (!Number.isInteger(messageId) || messageId < 0 || messageId > 0xffff) return undefined;
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x40;
  out[1] = 2;
  out.writeUInt16BE(messageId, 2);
  return out;
}

/** A PUBLISH of MQTT 3.x, or undefined to leave it to mqtt-packet (and its checks). */
function publishV3(p: Extract<Packet, { cmd: 'publish' }>): Buffer | undefined {
  if (typeof p.topic !== 'string' || !(p.qos === 0 || p.qos === 1) || p.properties !== undefined)
    return undefined;
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  if (!Buffer.isBuffer(payload)) return undefined;
  const topicLength = Buffer.byteLength(p.topic, 'utf8');
  if (topicLength > 0xffff) return undefined;
  const id = p.qos > 0 ? p.messageId : undefined;
  if (p.qos > 0 && (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff)) return undefined;
  const remaining = 2 + topicLength + (id !== undefined ? 2 : 0) + payload.length;
  if (remaining > 268_435_455) return undefined;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0);
  let at = 1;
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[at++] = byte;
  } while (n > 0);
  out.writeUInt16BE(topicLength, at);
  at += 2;
  at += out.write(p.topic, at, 'utf8');
  if (id !== undefined) {
    out.writeUInt16BE(id, at);
    at += 2;
  }
  payload.copy(out, at);
  return out;
}

const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * A topic name a PUBLISH may carry (§4.7.1, §4.7.3): not empty, no wildcard, no U+0000, at most
 * `maxBytes` bytes of UTF-8. Returns why not, or undefined.
 */
export function topicNameProblem(topic: unknown, maxBytes: number): string | undefined {
  if (typeof topic !== 'string' || topic.length === 0) return 'the topic name is empty';
  if (utf8Length(topic) > maxBytes) return `the topic name is longer than ${maxBytes} bytes`;
  if (topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) {
    return 'a topic name must not contain +, # or U+0000';
  }
  return undefined;
}

/**
 * A topic filter a SUBSCRIBE or UNSUBSCRIBE may carry (§4.7.1): not empty, `#` only as the whole
 * last level, `+` only as a whole level, no U+0000, at most `maxBytes` bytes.
 */
export function topicFilterProblem(filter: unknown, maxBytes: number): string | undefined {
  if (typeof filter !== 'string' || filter.length === 0) return 'the topic filter is empty';
  if (utf8Length(filter) > maxBytes) return `the topic filter is longer than ${maxBytes} bytes`;
  if (filter.includes('\u0000')) return 'a topic filter must not contain U+0000';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return '# must be the whole last level of a topic filter';
    }
    if (level.includes('+') && level !== '+') return '+ must be a whole level of a topic filter';
  }
  return undefined;
}

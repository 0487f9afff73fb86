// The terminal's side of the Bearer Independent Protocol (ETSI TS 102 223 §6.4.27–§6.4.31, §7.5.10–
// §7.5.11) in the simulated modem: OPEN CHANNEL in TCP client mode opens a real TCP socket from the
// device, SEND DATA writes to it, RECEIVE DATA hands the card what arrived, CLOSE CHANNEL closes it,
// GET CHANNEL STATUS reports it; data arriving with an empty receive buffer raises the Data available
// event and a dropped link the Channel status event (ENVELOPE EVENT DOWNLOAD). One channel at a time
// (TERMINAL PROFILE byte 13 announces one), as a simple M2M modem has.
//
// The card can only speak when the terminal sends it a command. While a channel is open the modem
// polls with STATUS (TS 102 221 §14.5.5 proactive polling) every `pollMs`, so what the card produces
// between commands (its TLS engine runs asynchronously) is fetched promptly.

import { Socket } from 'node:net';
import { concatBytes, encodeBerTlv } from '../../lib/ber-tlv.js';
import { encodeComprehensionTlv } from '../../lib/comprehension-tlv.js';
import {
  BearerDescriptionTlv,
  BufferSizeTlv,
  CHANNEL_STATUS_INFO,
  ChannelDataLengthTlv,
  ChannelDataTlv,
  ChannelStatusTlv,
  OtherAddressTlv,
  TransportLevelTlv,
} from '../../lib/ts-102-223-tlv.js';
import {
  BIP_ERROR_CAUSE,
  BIP_QUALIFIER,
  EVENT_CODE,
  GENERAL_RESULT,
  PRO_CMD,
  TRANSPORT_PROTOCOL,
} from './ts-102-223-constants.js';

export interface BipOptions {
  /** Which destinations the device may reach (default: any). */
  readonly allow?: (host: string, port: number) => boolean;
  /** STATUS polling interval while a channel is open, in milliseconds (default 5). */
  readonly pollMs?: number;
  /** Largest buffer the modem grants (TS 102 223 §6.4.27: it may offer less than asked). */
  readonly maxBufferSize?: number;
}

/** What the relay needs from its modem: send an ENVELOPE, poll the card, know the event list. */
export interface BipHost {
  envelope(bytes: Uint8Array): void;
  poll(): void;
  eventListHas(code: number): boolean;
}

export interface BipAnswer {
  readonly result: number[];
  readonly objects: Uint8Array[];
}

const CHANNEL = 1;
const CHANNEL_DEVICE = 0x21;
/** The most channel data one proactive command or TERMINAL RESPONSE can carry in 255 bytes. */
export const MAX_CHANNEL_DATA = 237;

interface Channel {
  readonly socket: Socket;
  readonly bufferSize: number;
  rx: Uint8Array[];
  rxLength: number;
  tx: Uint8Array[];
  txLength: number;
  open: boolean;
  /** Whether the card already heard "data available" for what is buffered. */
  announced: boolean;
}

const fail = (cause: number): BipAnswer => ({ result: [GENERAL_RESULT.BIP_ERROR, cause], objects: [] });

export class BipRelay {
  readonly #o: BipOptions;
  readonly #host: BipHost;
  #channel: Channel | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(host: BipHost, options: BipOptions = {}) {
    this.#host = host;
    this.#o = options;
  }

  /** Whether a channel is open (tests and the modem's owner may wait on it). */
  get open(): boolean {
    return this.#channel?.open === true;
  }

  /** Close everything (the device powers off). */
  shutdown(): void {
    this.#drop();
  }

  handle(type: number, qualifier: number, tlvs: Map<number, Uint8Array>, destination: number): BipAnswer {
    switch (type) {
      case PRO_CMD.OPEN_CHANNEL:
        return this.#openChannel(tlvs);
      case PRO_CMD.SEND_DATA:
        return this.#send(tlvs, destination, qualifier);
      case PRO_CMD.RECEIVE_DATA:
        return this.#receive(tlvs, destination);
      case PRO_CMD.CLOSE_CHANNEL:
        if (destination !== CHANNEL_DEVICE || this.#channel === undefined)
          return fail(BIP_ERROR_CAUSE.CHANNEL_ID_NOT_VALID);
        this.#drop();
        return { result: [GENERAL_RESULT.OK], objects: [] };
      case PRO_CMD.GET_CHANNEL_STATUS:
        return {
          result: [GENERAL_RESULT.OK],
          objects: this.#channel === undefined ? [] : [ChannelStatusTlv.encode(this.#status())],
        };
      default:
        return { result: [GENERAL_RESULT.BEYOND_TERMINAL_CAPABILITIES], objects: [] };
    }
  }

  #status(info: number = CHANNEL_STATUS_INFO.NONE) {
    return { channel: CHANNEL, established: this.#channel?.open === true, info };
  }

  #openChannel(tlvs: Map<number, Uint8Array>): BipAnswer {
    if (this.#channel !== undefined) return fail(BIP_ERROR_CAUSE.NO_CHANNEL_AVAILABLE);
    const bearer = decode(BearerDescriptionTlv, tlvs);
    const buffer = decode(BufferSizeTlv, tlvs);
    const transport = decode(TransportLevelTlv, tlvs);
    const address = decode(OtherAddressTlv, tlvs);
    if (bearer === undefined || buffer === undefined || transport === undefined || address === undefined)
      return { result: [GENERAL_RESULT.REQUIRED_VALUES_MISSING], objects: [] };
    if (transport.protocol !== TRANSPORT_PROTOCOL.TCP_CLIENT_REMOTE)
      return fail(BIP_ERROR_CAUSE.TRANSPORT_LEVEL_NOT_AVAILABLE);
    const host = address.address;
    if (transport.port === 0 || !(this.#o.allow?.(host, transport.port) ?? true))
      return fail(BIP_ERROR_CAUSE.REMOTE_DEVICE_NOT_REACHABLE);
    const bufferSize = Math.min(buffer, this.#o.maxBufferSize ?? 1500);
    const socket = new Socket();
    const channel: Channel = {
      socket,
      bufferSize,
      rx: [],
      rxLength: 0,
      tx: [],
      txLength: 0,
      open: true,
      announced: false,
    };
    this.#channel = channel;
    socket.on('data', (chunk: Buffer) => this.#arrived(channel, chunk));
    socket.on('error', () => this.#lost(channel));
    socket.on('close', () => this.#lost(channel));
    // Connection set-up finishes after this TERMINAL RESPONSE (writes wait in the socket meanwhile);
    // a failure reaches the card as the Channel status event "link dropped".
    socket.connect({ host, port: transport.port });
    this.#schedulePoll();
    return {
      result: [GENERAL_RESULT.OK],
      objects: [
        ChannelStatusTlv.encode(this.#status()),
        BearerDescriptionTlv.encode(bearer),
        BufferSizeTlv.encode(bufferSize),
      ],
    };
  }

  #send(tlvs: Map<number, Uint8Array>, destination: number, qualifier: number): BipAnswer {
    const channel = this.#channel;
    if (destination !== CHANNEL_DEVICE || channel === undefined)
      return fail(BIP_ERROR_CAUSE.CHANNEL_ID_NOT_VALID);
    if (!channel.open) return fail(BIP_ERROR_CAUSE.CHANNEL_CLOSED);
    const data = tlvs.get(ChannelDataTlv.tag);
    if (data === undefined) return { result: [GENERAL_RESULT.REQUIRED_VALUES_MISSING], objects: [] };
    if (channel.txLength + data.length > channel.bufferSize)
      return fail(BIP_ERROR_CAUSE.BUFFER_SIZE_NOT_AVAILABLE);
    channel.tx.push(data.slice());
    channel.txLength += data.length;
    // §6.4.30: store mode keeps the data in the Tx buffer until a SEND DATA in immediate mode.
    if ((qualifier & BIP_QUALIFIER.SEND_IMMEDIATE) !== 0) {
      channel.socket.write(concatBytes(channel.tx));
      channel.tx = [];
      channel.txLength = 0;
    }
    return {
      result: [GENERAL_RESULT.OK],
      objects: [ChannelDataLengthTlv.encode(Math.min(255, channel.bufferSize - channel.txLength))],
    };
  }

  #receive(tlvs: Map<number, Uint8Array>, destination: number): BipAnswer {
    const channel = this.#channel;
    if (destination !== CHANNEL_DEVICE || channel === undefined)
      return fail(BIP_ERROR_CAUSE.CHANNEL_ID_NOT_VALID);
    const wanted = tlvs.get(ChannelDataLengthTlv.tag)?.[0];
    if (wanted === undefined) return { result: [GENERAL_RESULT.REQUIRED_VALUES_MISSING], objects: [] };
    const all = concatBytes(channel.rx);
    const n = Math.min(wanted, all.length, MAX_CHANNEL_DATA);
    const rest = all.subarray(n);
    channel.rx = rest.length === 0 ? [] : [rest.slice()];
    channel.rxLength = rest.length;
    if (rest.length === 0) channel.announced = false;
    return {
      // §6.4.29: fewer bytes than asked is "missing information".
      result: [n < wanted ? GENERAL_RESULT.MISSING_INFORMATION : GENERAL_RESULT.OK],
      objects: [
        ChannelDataTlv.encode(toHexString(all.subarray(0, n))),
        ChannelDataLengthTlv.encode(Math.min(255, rest.length)),
      ],
    };
  }

  #arrived(channel: Channel, chunk: Buffer): void {
    if (this.#channel !== channel) return;
    channel.rx.push(new Uint8Array(chunk));
    channel.rxLength += chunk.length;
    if (channel.announced || !this.#host.eventListHas(EVENT_CODE.DATA_AVAILABLE)) return;
    channel.announced = true;
    this.#host.envelope(
      event(EVENT_CODE.DATA_AVAILABLE, [
        ChannelStatusTlv.encode(this.#status()),
        ChannelDataLengthTlv.encode(Math.min(255, channel.rxLength)),
      ]),
    );
  }

  /** The peer closed or the connection failed: the card hears "link dropped" once. */
  #lost(channel: Channel): void {
    if (this.#channel !== channel || !channel.open) return;
    channel.open = false;
    // What is still buffered can be read; the channel stays until CLOSE CHANNEL.
    if (this.#host.eventListHas(EVENT_CODE.CHANNEL_STATUS))
      this.#host.envelope(
        event(EVENT_CODE.CHANNEL_STATUS, [
          ChannelStatusTlv.encode({
            channel: CHANNEL,
            established: false,
            info: CHANNEL_STATUS_INFO.LINK_DROPPED,
          }),
        ]),
      );
  }

  #drop(): void {
    const channel = this.#channel;
    this.#channel = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (channel === undefined) return;
    channel.open = false;
    channel.socket.destroy();
  }

  #schedulePoll(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#channel === undefined) return;
      this.#host.poll();
      if (this.#channel !== undefined) this.#schedulePoll();
    }, this.#o.pollMs ?? 5);
  }
}

function decode<T>(
  def: { tag: number; codec: { decode(v: Uint8Array): { ok: true; value: T } | { ok: false } } },
  tlvs: Map<number, Uint8Array>,
): T | undefined {
  const v = tlvs.get(def.tag);
  if (v === undefined) return undefined;
  const r = def.codec.decode(v);
  return r.ok ? r.value : undefined;
}

const toHexString = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** ENVELOPE (EVENT DOWNLOAD) from the terminal: event list, device identities terminal → UICC, objects. */
function event(code: number, objects: Uint8Array[]): Uint8Array {
  return encodeBerTlv(
    0xd6,
    concatBytes([
      encodeComprehensionTlv(0x19, true, Uint8Array.of(code)),
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
      ...objects,
    ]),
  );
}

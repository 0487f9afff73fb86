// A small SMS centre (the SMPP "MC" side) for labs, tests and benchmarks: it accepts binds
// (transceiver, transmitter, receiver) with system_id/password, answers submit_sm with a message
// id, reassembles concatenated messages (TS 23.040 §9.2.3.24.1 UDH), decodes GSM 03.38 / Latin-1 /
// UCS-2, and sends delivery receipts back as deliver_sm (SMPP v3.4 Appendix B text plus the
// receipted_message_id and message_state TLVs). It can be told to misbehave the ways real SMSCs
// do — answer ESME_RTHROTTLED, hold responses, drop every link, refuse connections — so the ESME's
// recovery can be tested against a real SMPP peer. Built on the `smpp` package's server.

import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import smpp, { type Pdu, type Server, type Session } from 'smpp';
import { smppUserData } from '../../lib/smpp-short-message.js';
import { septetsToText } from '../../lib/ts-23-038-gsm-alphabet.js';

export interface SmscMessage {
  readonly messageId: string;
  readonly systemId: string;
  readonly source: string;
  readonly destination: string;
  readonly dataCoding: number;
  /** The whole text (parts joined). */
  readonly text: string;
  readonly parts: number;
  readonly registeredDelivery: number;
  readonly receivedAt: number;
}

export type ReceiptStat = 'DELIVRD' | 'UNDELIV' | 'EXPIRED' | 'REJECTD';

export interface SmscOptions {
  readonly host?: string;
  readonly port?: number;
  /** system_id → password; any bind with another pair is refused with ESME_RBINDFAIL. */
  readonly accounts: Readonly<Record<string, string>>;
  /** Receipt sent for each message that asked for one (registered_delivery); false: none. */
  readonly receipt?: ReceiptStat | false | ((m: SmscMessage) => ReceiptStat | false);
  readonly receiptDelayMs?: number;
  /**
   * SIM data (TP-PID 7F, TS 23.040 §9.2.3.9: an OTA command packet for a card) goes here instead of
   * the text path: the SMSC hands it to the network, which delivers it to the card as SMS-PP.
   */
  readonly onSimData?: (message: SimDataMessage) => void;
}

/** A binary SMS (user data with its header, as on the air) between the SMSC and a card. */
export interface SimDataMessage {
  readonly source: string;
  readonly destination: string;
  readonly protocolId: number;
  readonly dataCoding: number;
  /** UDHL ‖ header ‖ body. */
  readonly userData: Uint8Array;
}

const PID_SIM_DATA = 0x7f;
const ESM_UDHI = 0x40;

const STATE: Readonly<Record<ReceiptStat, number>> = { DELIVRD: 2, EXPIRED: 3, UNDELIV: 5, REJECTD: 8 };
const ESME_RTHROTTLED = 0x58;
const ESME_RBINDFAIL = 0x0d;
const ESME_RINVBNDSTS = 0x04;

function decodeBody(dataCoding: number, body: Buffer): string {
  if ((dataCoding & 0x0f) === 0x08) {
    let text = '';
    for (let i = 0; i + 1 < body.length; i += 2) text += String.fromCharCode(body.readUInt16BE(i));
    return text;
  }
  if ((dataCoding & 0x0f) === 0x01 || (dataCoding & 0x0f) === 0x03) return body.toString('latin1');
  const gsm = septetsToText(body);
  return gsm.ok ? gsm.value : body.toString('latin1');
}

/**
 * The text and UDH of a submit_sm. The package has already split the UDH off and decoded the text
 * by data_coding (GSM 03.38 for 0, UCS-2 for 8); octets it could not decode are decoded here.
 */
function bodyOf(pdu: Pdu, dataCoding: number): { udh: Buffer | undefined; text: string } {
  const sm = pdu.short_message as { udh?: Buffer[]; message?: unknown } | Buffer | undefined;
  const payload = pdu.message_payload as { udh?: Buffer[]; message?: unknown } | Buffer | undefined;
  const empty = sm === undefined || (!Buffer.isBuffer(sm) && (sm.message === undefined || sm.message === ''));
  const source = empty && payload !== undefined ? payload : sm;
  if (Buffer.isBuffer(source)) return { udh: undefined, text: decodeBody(dataCoding, source) };
  const udh = source?.udh?.length ? Buffer.concat(source.udh) : undefined;
  const message = source?.message;
  if (typeof message === 'string') return { udh, text: message };
  return { udh, text: Buffer.isBuffer(message) ? decodeBody(dataCoding, message) : '' };
}

/** IEI 0x00 (8-bit reference) or 0x08 (16-bit) of TS 23.040 §9.2.3.24.1/.8. */
function concatInfo(udh: Buffer | undefined): { ref: number; total: number; seq: number } | undefined {
  if (udh === undefined) return undefined;
  for (let i = 0; i + 1 < udh.length; ) {
    const iei = udh[i] as number;
    const len = udh[i + 1] as number;
    const d = udh.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) return { ref: d[0] as number, total: d[1] as number, seq: d[2] as number };
    if (iei === 0x08 && len === 4)
      return { ref: d.readUInt16BE(0), total: d[2] as number, seq: d[3] as number };
    i += 2 + len;
  }
  return undefined;
}

const stamp = (t: number) => {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
};

export class Smsc extends EventEmitter {
  readonly messages: SmscMessage[] = [];
  /** Every submit_sm received, including throttled ones (tests count resends). */
  submits = 0;
  binds = 0;
  /** TCP connections accepted or refused (tests watch the ESME's reconnect backoff). */
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Bound sessions by system_id, for mobile-originated messages. */
  private readonly bound = new Map<string, Set<Session>>();
  private readonly partial = new Map<string, { parts: Map<number, string>; total: number }>();
  private nextId = 1;
  private throttle = 0;
  private hold = false;
  private held: Array<() => void> = [];
  private refusing = false;

  constructor(private readonly options: SmscOptions) {
    super();
  }

  static async start(options: SmscOptions): Promise<Smsc> {
    const smsc = new Smsc(options);
    await smsc.listen();
    return smsc;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | undefined)?.port ?? 0;
  }

  get url(): string {
    return `smpp://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  private async listen(): Promise<void> {
    const server = smpp.createServer({}, (session) => this.onSession(session));
    server.on('connection', (socket: Socket) => {
      this.connections++;
      if (this.refusing) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('error', (e: Error) => this.emit('warning', e));
    this.server = server;
    await new Promise<void>((resolve) =>
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve),
    );
  }

  /** Answer the next `n` submit_sm with ESME_RTHROTTLED. */
  throttleNext(n: number): void {
    this.throttle = n;
  }

  /** While on, submit_sm are received but not answered (answered in order when turned off). */
  holdResponses(on: boolean): void {
    this.hold = on;
    if (!on) for (const answer of this.held.splice(0)) answer();
  }

  /** While on, new TCP connections are closed at once (an SMSC outage). */
  refuseConnections(on: boolean): void {
    this.refusing = on;
  }

  /** Drops every link without unbind, as a network failure does. */
  dropLinks(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  waitForMessage(
    predicate: (m: SmscMessage) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<SmscMessage> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', listener);
        reject(new Error(`no matching SMS within ${timeoutMs} ms (got ${this.messages.length})`));
      }, timeoutMs);
      const listener = (m: SmscMessage) => {
        if (!predicate(m)) return;
        clearTimeout(timer);
        this.off('message', listener);
        resolve(m);
      };
      this.on('message', listener);
    });
  }

  async close(): Promise<void> {
    this.holdResponses(false);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private onSession(session: Session): void {
    let systemId: string | undefined;
    session.on('error', () => {});
    const bind = (pdu: Pdu) => {
      const id = String(pdu.system_id ?? '');
      const ok =
        this.options.accounts[id] !== undefined && this.options.accounts[id] === String(pdu.password ?? '');
      if (!ok) {
        session.send(pdu.response({ command_status: ESME_RBINDFAIL }));
        session.close();
        return;
      }
      systemId = id;
      this.binds++;
      const sessions = this.bound.get(id) ?? new Set<Session>();
      sessions.add(session);
      this.bound.set(id, sessions);
      session.on('close', () => sessions.delete(session));
      session.send(pdu.response({ system_id: 'simtrust-smsc' }));
    };
    session.on('bind_transceiver', bind);
    session.on('bind_transmitter', bind);
    session.on('bind_receiver', bind);
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm_resp', () => {});
    session.on('submit_sm', (pdu: Pdu) => {
      this.submits++;
      if (systemId === undefined) {
        session.send(pdu.response({ command_status: ESME_RINVBNDSTS }));
        return;
      }
      if (this.throttle > 0) {
        this.throttle--;
        session.send(pdu.response({ command_status: ESME_RTHROTTLED }));
        return;
      }
      const answer = () => this.accept(session, systemId as string, pdu);
      if (this.hold) this.held.push(answer);
      else answer();
    });
  }

  /**
   * A mobile-originated binary SMS (a card's PoR or alert) to the ESME bound as `systemId`, as a
   * deliver_sm (SMPP v3.4 §4.6.1). False when no such ESME is bound.
   */
  deliverMo(systemId: string, message: SimDataMessage): boolean {
    const session = this.bound.get(systemId)?.values().next().value;
    if (session === undefined) return false;
    const hasHeader = message.userData.length > 0 && (message.userData[0] as number) > 0;
    session.deliver_sm({
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: message.source,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: message.destination,
      esm_class: hasHeader ? ESM_UDHI : 0,
      protocol_id: message.protocolId,
      data_coding: message.dataCoding,
      short_message: Buffer.from(message.userData),
    });
    return true;
  }

  private accept(session: Session, systemId: string, pdu: Pdu): void {
    const messageId = (this.nextId++).toString(16).padStart(8, '0');
    session.send(pdu.response({ message_id: messageId }));
    if (Number(pdu.protocol_id ?? 0) === PID_SIM_DATA && this.options.onSimData) {
      const userData = smppUserData(pdu.short_message);
      if (userData !== undefined)
        this.options.onSimData({
          source: String(pdu.source_addr ?? ''),
          destination: String(pdu.destination_addr ?? ''),
          protocolId: PID_SIM_DATA,
          dataCoding: Number(pdu.data_coding ?? 0),
          userData,
        });
      return;
    }
    const dataCoding = Number(pdu.data_coding ?? 0);
    const { udh, text } = bodyOf(pdu, dataCoding);
    const source = String(pdu.source_addr ?? '');
    const destination = String(pdu.destination_addr ?? '');
    const concat = concatInfo(udh);
    let whole = text;
    let parts = 1;
    if (concat !== undefined && concat.total > 1) {
      const key = `${systemId}/${destination}/${concat.ref}`;
      const entry = this.partial.get(key) ?? { parts: new Map<number, string>(), total: concat.total };
      entry.parts.set(concat.seq, text);
      this.partial.set(key, entry);
      if (entry.parts.size < entry.total) return;
      this.partial.delete(key);
      whole = [...entry.parts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, t]) => t)
        .join('');
      parts = entry.total;
    }
    const message: SmscMessage = {
      messageId,
      systemId,
      source,
      destination,
      dataCoding,
      text: whole,
      parts,
      registeredDelivery: Number(pdu.registered_delivery ?? 0),
      receivedAt: Date.now(),
    };
    this.messages.push(message);
    this.emit('message', message);
    const receipt =
      typeof this.options.receipt === 'function' ? this.options.receipt(message) : this.options.receipt;
    if ((message.registeredDelivery & 0x03) !== 0 && receipt) {
      const send = () => this.sendReceipt(session, message, receipt);
      if (this.options.receiptDelayMs) setTimeout(send, this.options.receiptDelayMs).unref();
      else send();
    }
  }

  /** A delivery receipt for `message` on `session` (Appendix B text and the TLVs). */
  sendReceipt(session: Session, message: SmscMessage, stat: ReceiptStat): void {
    const now = Date.now();
    const text = `id:${message.messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${stamp(message.receivedAt)} done date:${stamp(now)} stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} text:`;
    session.deliver_sm({
      source_addr: message.destination,
      destination_addr: message.source,
      esm_class: 0x04,
      short_message: Buffer.from(text, 'latin1'),
      receipted_message_id: message.messageId,
      message_state: STATE[stat],
    });
  }
}

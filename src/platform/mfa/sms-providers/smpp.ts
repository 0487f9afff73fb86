// The `smpp` provider: an SMPP v3.4 ESME on one persistent bind_transceiver (§4.1.5), so submits
// go out and delivery receipts come in on the same link. The `smpp` npm package encodes the PDUs;
// this module owns the link's life:
// - enquire_link (§4.11) every enquireLinkSeconds; an unanswered one (or submit) drops the link.
// - reconnect with exponential backoff and jitter; a refused bind (ESME_RBINDFAIL, RINVPASWD…)
//   waits the longest backoff, never a retry storm.
// - a window of at most windowSize outstanding submit_sm (§2.6 asynchronous operation); messages
//   beyond it, or sent while the link is down, wait in order in a queue.
// - ESME_RTHROTTLED / ESME_RMSGQFUL keep the PDU and pause the queue for throttleRetryMs.
// - submit_sm with registered_delivery = 1 (§5.2.17: receipt on final outcome); deliver_sm receipts
//   (esm_class 0x04) are matched to messages by receipted_message_id or the receipt text's id.
// - GSM 03.38 or UCS-2 and concatenation for long texts (ts-23-040-concatenation.ts).
// Delivery guarantee: a message queued while the link is down is submitted once after the rebind.
// A submit whose response was lost with the link is submitted again (at least once): without a
// response nothing tells whether the SMSC took it, and an OTP that never arrives blocks a login.

import { randomInt } from 'node:crypto';
import { type Static, Type } from '@fastify/type-provider-typebox';
import smpp, { type Pdu, type Session } from 'smpp';
import type {
  DeliveryState,
  ProviderErrorSpec,
  SmsMessage,
  SmsProvider,
  SmsProviderContext,
  SmsProviderKind,
  SmsSendResult,
} from './provider.js';
import { SmsProviderError } from './provider.js';
import {
  COMMAND_STATUS,
  commandStatus,
  MESSAGE_STATE,
  messageIdKeys,
  parseDeliveryReceipt,
} from './smpp-3.4.js';
import { ESM_CLASS_UDHI, segmentSms } from './ts-23-040-concatenation.js';

export const SmppConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 40 }),
    kind: Type.Literal('smpp'),
    url: Type.String({ pattern: '^s?smpp://[^/]+$', description: 'smpp://host:port (ssmpp:// for TLS)' }),
    // §5.2.1 / §5.2.2: C-Octet Strings of at most 16 and 9 octets including the NUL.
    systemId: Type.String({ minLength: 1, maxLength: 15 }),
    password: Type.String({ maxLength: 8 }),
    systemType: Type.Optional(Type.String({ maxLength: 12 })),
    sourceAddr: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    enquireLinkSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    reconnectMinMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
    reconnectMaxMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
    windowSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    throttleRetryMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
    responseTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    queueTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    validityMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440 })),
  },
  { additionalProperties: false },
);
export type SmppConfig = Static<typeof SmppConfig>;

const errorCodes: Record<string, ProviderErrorSpec> = {
  SMPP_NOT_BOUND: {
    description:
      'The link to the SMSC was not bound within queueTimeoutMs (connection refused, bind refused).',
    providerDown: true,
  },
  SMPP_TIMEOUT: { description: 'The SMSC did not answer a submit_sm in time.', providerDown: true },
  SMPP_CLOSED: {
    description: 'The provider was shut down with the message still queued.',
    providerDown: true,
  },
  SMPP_TOO_LONG: { description: 'The text needs more than 255 parts.', providerDown: false },
};
for (const [name, s] of Object.entries(COMMAND_STATUS)) {
  if (s.handling === 'ok') continue;
  errorCodes[`SMPP_${name}`] = {
    description: `submit_sm answered ${name} (0x${s.value.toString(16).padStart(2, '0')}): ${s.description}.`,
    providerDown: s.handling !== 'permanent',
  };
}

interface Job {
  readonly message: SmsMessage;
  readonly dataCoding: number;
  readonly esmClass: number;
  readonly ids: Array<string | undefined>;
  remaining: number;
  settled: boolean;
  readonly resolve: (r: SmsSendResult) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Segment {
  readonly job: Job;
  readonly index: number;
  readonly body: Uint8Array;
}

type LinkState = 'idle' | 'connecting' | 'binding' | 'bound' | 'closed';

/** Receipts are matched for this long after the submit; older entries are forgotten. */
const RECEIPT_MEMORY_MS = 24 * 3600_000;
const RECEIPT_MEMORY_MAX = 100_000;

/** §5.2.17 relative validity period: `YYMMDDhhmmsstnnR`. */
export function relativeValidity(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `0000${pad(days)}${pad(hours)}${pad(minutes % 60)}00000R`;
}

export class SmppProvider implements SmsProvider {
  readonly kind = 'smpp';
  readonly name: string;
  private state: LinkState = 'idle';
  private session: Session | undefined;
  private readonly queue: Segment[] = [];
  private readonly inflight = new Map<Segment, NodeJS.Timeout>();
  private reconnectAttempts = 0;
  private bindRefused = false;
  private pausedUntil = 0;
  private pumpTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private enquireTimer: NodeJS.Timeout | undefined;
  private readonly receipts = new Map<string, { reference: string; id: string; at: number }>();
  private readonly o: Required<Omit<SmppConfig, 'systemType' | 'sourceAddr'>> &
    Pick<SmppConfig, 'systemType' | 'sourceAddr'>;

  constructor(
    config: SmppConfig,
    private readonly context: SmsProviderContext,
  ) {
    this.name = config.name;
    this.o = {
      enquireLinkSeconds: 30,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      windowSize: 10,
      throttleRetryMs: 1000,
      responseTimeoutMs: 10_000,
      queueTimeoutMs: 30_000,
      validityMinutes: 5,
      ...config,
    };
  }

  healthy(): boolean {
    return this.state === 'bound' || this.state === 'idle';
  }

  /** Bound and idle: nothing queued or in flight (tests and shutdown wait on it). */
  get pending(): number {
    return this.queue.length + this.inflight.size;
  }

  get linkState(): LinkState {
    return this.state;
  }

  start(): void {
    if (this.state === 'idle') this.connect();
  }

  send(message: SmsMessage): Promise<SmsSendResult> {
    if (this.state === 'closed')
      return Promise.reject(new SmsProviderError('SMPP_CLOSED', 'provider closed'));
    let parts: ReturnType<typeof segmentSms>;
    try {
      parts = segmentSms(message.text, randomInt(0, 256));
    } catch {
      return Promise.reject(new SmsProviderError('SMPP_TOO_LONG', 'the text needs more than 255 parts'));
    }
    this.start();
    return new Promise<SmsSendResult>((resolve, reject) => {
      const job: Job = {
        message,
        dataCoding: parts.dataCoding,
        esmClass: parts.concatenated ? ESM_CLASS_UDHI : 0,
        ids: parts.parts.map(() => undefined),
        remaining: parts.parts.length,
        settled: false,
        resolve,
        reject,
      };
      this.armQueueTimeout(job);
      for (const [index, body] of parts.parts.entries()) this.queue.push({ job, index, body });
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of [this.pumpTimer, this.reconnectTimer, this.enquireTimer]) if (t) clearTimeout(t);
    for (const [seg, timer] of this.inflight) {
      clearTimeout(timer);
      this.fail(seg.job, 'SMPP_CLOSED', 'provider closed');
    }
    this.inflight.clear();
    for (const seg of this.queue.splice(0)) this.fail(seg.job, 'SMPP_CLOSED', 'provider closed');
    const session = this.session;
    this.session = undefined;
    if (session === undefined) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => session.destroy(() => done()), 1000);
      timer.unref();
      session.once('close', () => {
        clearTimeout(timer);
        done();
      });
      // §4.2 unbind before closing; the SMSC answers unbind_resp, then the socket closes.
      if (!session.unbind({}, () => session.close())) session.destroy();
    });
  }

  private armQueueTimeout(job: Job): void {
    job.timer = setTimeout(() => {
      if (job.settled) return;
      if ([...this.inflight.keys()].some((s) => s.job === job)) return this.armQueueTimeout(job);
      for (let i = this.queue.length - 1; i >= 0; i--)
        if (this.queue[i]?.job === job) this.queue.splice(i, 1);
      this.fail(job, 'SMPP_NOT_BOUND', `not bound to ${this.o.url} within ${this.o.queueTimeoutMs} ms`);
    }, this.o.queueTimeoutMs);
    job.timer.unref();
  }

  private fail(job: Job, code: string, message: string): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    job.reject(new SmsProviderError(code, message));
  }

  private connect(): void {
    this.state = 'connecting';
    const session = smpp.connect({ url: this.o.url, connectTimeout: this.o.responseTimeoutMs });
    this.session = session;
    session.on('error', (e: Error) => {
      this.context.log.warn({ provider: this.name, error: e.message }, 'smpp link error');
    });
    session.on('close', () => this.onClose(session));
    session.on('connect', () => this.bind(session));
    session.on('secureConnect', () => this.bind(session));
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm', (pdu: Pdu) => {
      session.send(pdu.response());
      this.onDeliverSm(pdu);
    });
  }

  private bind(session: Session): void {
    if (this.session !== session || this.state !== 'connecting') return;
    this.state = 'binding';
    session.bind_transceiver(
      {
        system_id: this.o.systemId,
        password: this.o.password,
        system_type: this.o.systemType ?? '',
        interface_version: 0x34,
      },
      (pdu: Pdu) => {
        if (this.session !== session) return;
        if (pdu.command_status !== 0) {
          const status = commandStatus(pdu.command_status);
          this.bindRefused = status.handling === 'bind';
          this.context.log.warn({ provider: this.name, status: status.name }, 'smpp bind refused');
          session.close();
          return;
        }
        this.state = 'bound';
        this.reconnectAttempts = 0;
        this.bindRefused = false;
        this.context.log.info({ provider: this.name, url: this.o.url }, 'smpp bound (transceiver)');
        this.scheduleEnquireLink(session);
        this.pump();
      },
    );
  }

  private scheduleEnquireLink(session: Session): void {
    if (this.enquireTimer) clearTimeout(this.enquireTimer);
    this.enquireTimer = setTimeout(() => {
      if (this.session !== session || this.state !== 'bound') return;
      const deadline = setTimeout(() => {
        this.context.log.warn({ provider: this.name }, 'smpp enquire_link unanswered; dropping the link');
        session.destroy();
      }, this.o.responseTimeoutMs);
      deadline.unref();
      const sent = session.enquire_link({}, () => {
        clearTimeout(deadline);
        this.scheduleEnquireLink(session);
      });
      if (!sent) session.destroy();
    }, this.o.enquireLinkSeconds * 1000);
    this.enquireTimer.unref();
  }

  private onClose(session: Session): void {
    if (this.session !== session) return;
    this.session = undefined;
    if (this.enquireTimer) clearTimeout(this.enquireTimer);
    // Submits in flight go back to the front of the queue, in their order.
    const back = [...this.inflight.keys()];
    for (const timer of this.inflight.values()) clearTimeout(timer);
    this.inflight.clear();
    this.queue.unshift(...back.filter((s) => !s.job.settled));
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const exponent = Math.min(this.reconnectAttempts++, 16);
    const base = this.bindRefused
      ? this.o.reconnectMaxMs
      : Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** exponent);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.context.log.warn(
      { provider: this.name, delayMs: delay, queued: this.queue.length },
      'smpp link down',
    );
    this.reconnectTimer = setTimeout(() => {
      if (this.state !== 'closed') this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private pump(): void {
    const session = this.session;
    if (this.state !== 'bound' || session === undefined) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      if (!this.pumpTimer) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, wait);
        this.pumpTimer.unref();
      }
      return;
    }
    while (this.inflight.size < this.o.windowSize && this.queue.length > 0) {
      const seg = this.queue.shift() as Segment;
      if (seg.job.settled) continue;
      this.submit(session, seg);
    }
  }

  private submit(session: Session, seg: Segment): void {
    const { job } = seg;
    const sender = this.o.sourceAddr ?? this.context.sender;
    const numeric = /^\+?\d+$/.test(sender);
    const timer = setTimeout(() => {
      // No submit_sm_resp: the link is not working; dropping it requeues this submit.
      this.context.log.warn({ provider: this.name }, 'smpp submit_sm unanswered; dropping the link');
      session.destroy();
    }, this.o.responseTimeoutMs);
    timer.unref();
    this.inflight.set(seg, timer);
    const sent = session.submit_sm(
      {
        source_addr_ton: numeric ? 1 : 5,
        source_addr_npi: numeric ? 1 : 0,
        source_addr: sender.replace(/^\+/, ''),
        dest_addr_ton: 1, // international, E.164 (§5.2.5)
        dest_addr_npi: 1, // ISDN (§5.2.6)
        destination_addr: job.message.to.replace(/^\+/, ''),
        esm_class: job.esmClass,
        registered_delivery: 1,
        validity_period: relativeValidity(this.o.validityMinutes),
        data_coding: job.dataCoding,
        short_message: Buffer.from(seg.body),
      },
      (pdu: Pdu) => this.onSubmitResp(session, seg, pdu),
    );
    if (!sent) {
      clearTimeout(timer);
      this.inflight.delete(seg);
      this.queue.unshift(seg);
      session.destroy();
    }
  }

  private onSubmitResp(session: Session, seg: Segment, pdu: Pdu): void {
    const timer = this.inflight.get(seg);
    if (this.session !== session || timer === undefined) return;
    clearTimeout(timer);
    this.inflight.delete(seg);
    const { job } = seg;
    const status = commandStatus(pdu.command_status);
    if (status.handling === 'ok') {
      const id = typeof pdu.message_id === 'string' ? pdu.message_id : '';
      job.ids[seg.index] = id;
      if (id !== '') this.remember(id, job.message.reference);
      if (--job.remaining === 0 && !job.settled) {
        job.settled = true;
        if (job.timer) clearTimeout(job.timer);
        job.resolve({ providerMessageId: job.ids[0] ?? undefined, accepted: true });
      }
    } else if (status.handling === 'throttle') {
      this.queue.unshift(seg);
      this.pausedUntil = Date.now() + this.o.throttleRetryMs;
      this.context.log.info({ provider: this.name, status: status.name }, 'smpp throttled; waiting');
    } else {
      this.fail(job, `SMPP_${status.name}`, `submit_sm refused: ${status.name}`);
    }
    this.pump();
  }

  private remember(id: string, reference: string): void {
    const now = Date.now();
    if (this.receipts.size >= RECEIPT_MEMORY_MAX) {
      for (const [key, entry] of this.receipts) {
        if (this.receipts.size < RECEIPT_MEMORY_MAX && entry.at > now - RECEIPT_MEMORY_MS) break;
        this.receipts.delete(key);
      }
    }
    for (const key of messageIdKeys(id)) this.receipts.set(key, { reference, id, at: now });
  }

  private onDeliverSm(pdu: Pdu): void {
    const esmClass = typeof pdu.esm_class === 'number' ? pdu.esm_class : 0;
    if ((esmClass & 0x3c) !== 0x04) return; // §5.2.12: only SMSC delivery receipts are expected here
    const text = receiptText(pdu.short_message);
    const parsed = text === undefined ? undefined : parseDeliveryReceipt(text);
    const tlvId = typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id : undefined;
    const id = tlvId ?? (parsed?.ok ? parsed.value.id : undefined);
    if (id === undefined) {
      this.context.log.warn({ provider: this.name }, 'smpp delivery receipt without a message id');
      return;
    }
    const tlvState = typeof pdu.message_state === 'number' ? MESSAGE_STATE[pdu.message_state] : undefined;
    const state: DeliveryState = tlvState?.state ?? (parsed?.ok ? parsed.value.state : 'unknown');
    const known = messageIdKeys(id)
      .map((k) => this.receipts.get(k))
      .find((e) => e !== undefined);
    const err = parsed?.ok ? parsed.value.err : undefined;
    this.context.onDeliveryReport(this.name, {
      reference: known?.reference,
      providerMessageId: known?.id ?? id,
      state,
      errorCode:
        state === 'delivered' || err === undefined || /^0+$/.test(err) ? undefined : `SMPP_DLR_ERR_${err}`,
    });
  }
}

function receiptText(shortMessage: unknown): string | undefined {
  if (typeof shortMessage === 'string') return shortMessage;
  if (Buffer.isBuffer(shortMessage)) return shortMessage.toString('latin1');
  const message = (shortMessage as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return message;
  if (Buffer.isBuffer(message)) return message.toString('latin1');
  return undefined;
}

export const smppKind: SmsProviderKind = {
  kind: 'smpp',
  configSchema: SmppConfig,
  errorCodes,
  create: (config, context) => new SmppProvider(config as SmppConfig, context),
};

// The `kannel` provider: Kannel's smsbox `sendsms` HTTP interface (Kannel 1.4 user guide, "Sending
// SMS via HTTP"). Kannel's bearerbox owns the SMSC links (SMPP, …) and its queue; we hand it the
// message with a `dlr-url` that brings the delivery reports back to the gateway:
// - dlr-mask bits: 1 delivered to phone, 2 non-delivered to phone, 4 queued on SMSC, 8 delivered
//   to SMSC, 16 non-delivered to SMSC; the report's type (`%d`) is one of them.
// - the dlr-url carries our message id and a MAC over it, so nobody else can forge a report.
// - replies: 202 `0: Accepted for delivery` / `3: Queued for later delivery`; 403 `Authorization
//   failed for sendsms`; 400 `Missing receiver number, rejected`; `Not routable. Do not try again.`

import { type Static, Type } from '@fastify/type-provider-typebox';
import { textToSeptets } from '../../../lib/ts-23-038-gsm-alphabet.js';
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

export const KannelConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 40 }),
    kind: Type.Literal('kannel'),
    /** smsbox's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms */
    url: Type.String({ pattern: '^https?://' }),
    username: Type.String({ minLength: 1 }),
    password: Type.String({ minLength: 1 }),
    /** Route through this SMSC id of bearerbox (Kannel `smsc`). */
    smsc: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Where Kannel sends delivery reports: the gateway's `/.simtrust/sms/kannel-dlr` (or the
     * API's `/v1/sms_delivery_reports/kannel`) as Kannel reaches it.
     */
    dlrUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    dlrMask: Type.Optional(Type.Integer({ minimum: 1, maximum: 31 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
  },
  { additionalProperties: false },
);
export type KannelConfig = Static<typeof KannelConfig>;

const errorCodes: Record<string, ProviderErrorSpec> = {
  KANNEL_AUTH: { description: 'smsbox refused the sendsms-user credentials (403).', providerDown: true },
  KANNEL_REJECTED: {
    description: 'smsbox refused the message (missing or bad receiver, not routable).',
    providerDown: false,
  },
  KANNEL_FAILED: {
    description: 'smsbox could not queue the message (5xx, bearerbox down).',
    providerDown: true,
  },
  KANNEL_TIMEOUT: { description: 'smsbox did not answer within timeoutMs.', providerDown: true },
  KANNEL_NETWORK: { description: 'smsbox could not be reached.', providerDown: true },
};

/** Kannel DLR types (the dlr-mask bits) → our states. */
export const KANNEL_DLR_TYPE: Readonly<Record<number, DeliveryState>> = {
  1: 'delivered',
  2: 'failed',
  4: 'accepted',
  8: 'accepted',
  16: 'failed',
};

export class KannelProvider implements SmsProvider {
  readonly kind = 'kannel';
  readonly name: string;

  constructor(
    private readonly config: KannelConfig,
    private readonly context: SmsProviderContext,
  ) {
    this.name = config.name;
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  async send(message: SmsMessage): Promise<SmsSendResult> {
    const url = new URL(this.config.url);
    const q = url.searchParams;
    q.set('username', this.config.username);
    q.set('password', this.config.password);
    q.set('from', this.context.sender);
    q.set('to', message.to);
    q.set('text', message.text);
    q.set('charset', 'UTF-8');
    // coding 0: GSM 7-bit (Kannel converts from UTF-8); 2: UCS-2 for anything outside GSM 03.38.
    q.set('coding', textToSeptets(message.text) === undefined ? '2' : '0');
    if (this.config.smsc) q.set('smsc', this.config.smsc);
    if (this.config.dlrUrl) {
      const dlr = new URL(this.config.dlrUrl);
      dlr.searchParams.set('provider', this.name);
      dlr.searchParams.set('ref', message.reference);
      dlr.searchParams.set('mac', await this.context.callbackMac(`${this.name}:${message.reference}`));
      // Kannel replaces %d with the report type; it must reach Kannel unescaped.
      q.set('dlr-mask', String(this.config.dlrMask ?? 31));
      q.set('dlr-url', `${dlr.toString()}&type=%d`);
    }
    let res: Response;
    try {
      res = await this.context.fetch(url, { signal: AbortSignal.timeout(this.config.timeoutMs ?? 5000) });
    } catch (e) {
      const timeout = (e as Error).name === 'TimeoutError';
      throw new SmsProviderError(
        timeout ? 'KANNEL_TIMEOUT' : 'KANNEL_NETWORK',
        timeout ? 'smsbox did not answer in time' : `cannot reach smsbox: ${(e as Error).message}`,
      );
    }
    const text = (await res.text().catch(() => '')).trim();
    if (res.status === 202 || /^[03]:/.test(text)) return { providerMessageId: undefined, accepted: true };
    if (/authorization failed/i.test(text))
      throw new SmsProviderError('KANNEL_AUTH', `HTTP ${res.status}: ${text}`);
    if (res.status >= 500) throw new SmsProviderError('KANNEL_FAILED', `HTTP ${res.status}: ${text}`);
    throw new SmsProviderError('KANNEL_REJECTED', `HTTP ${res.status}: ${text}`);
  }
}

export const kannelKind: SmsProviderKind = {
  kind: 'kannel',
  configSchema: KannelConfig,
  errorCodes,
  create: (config, context) => new KannelProvider(config as KannelConfig, context),
};

// The SMS dispatcher: the one place that sends an SMS. It records every message (never its text) in
// `sms_messages`, walks the configured providers in order and fails over — a provider that fails
// with a "provider down" code from its table is skipped for a cool-down (its Retry-After when it
// gave one), and providers that report themselves unhealthy (SMPP link down) are tried only after
// every healthy one. Delivery reports pushed by providers (SMPP receipts, Kannel dlr-url) or polled
// (http-json statusUrl) update the record, so the login page and the API can show where the SMS is.

import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../lib/clock.js';
import { SimtrustError } from '../../../lib/errors.js';
import type { Executor, Store } from '../../store/database.js';
import type { SmsMessagesTable } from '../../store/schema.js';
import type { MfaKeys } from '../keys.js';
import { maskPhone } from '../phone.js';
import { consoleKind } from './console.js';
import { httpJsonKind } from './http-json.js';
import { kannelKind } from './kannel.js';
import {
  checkProviderConfig,
  type DeliveryReport,
  type DeliveryState,
  type ProviderLog,
  type SmsProvider,
  type SmsProviderContext,
  SmsProviderError,
  type SmsProviderKind,
} from './provider.js';
import { smppKind } from './smpp.js';

/** Every provider kind, declared once; docs/mfa-gateway.md lists their settings and error codes. */
export const SMS_PROVIDER_KINDS: ReadonlyMap<string, SmsProviderKind> = new Map(
  [smppKind, httpJsonKind, kannelKind, consoleKind].map((k) => [k.kind, k]),
);

export type SmsStatus = 'queued' | DeliveryState;

export interface SmsRecord {
  readonly messageId: string;
  readonly operatorId: string;
  readonly purpose: string;
  readonly subject: string;
  readonly phoneNumber: string;
  readonly provider: string | null;
  readonly providerMessageId: string | null;
  readonly status: SmsStatus;
  readonly errorCode: string | null;
  readonly attempts: number;
  readonly createdTime: number;
  readonly updatedTime: number;
}

export interface SendSmsInput {
  readonly operatorId: string;
  /** `login-otp`, `phone-verification`, `platform-login`. */
  readonly purpose: string;
  readonly subject: string;
  /** E.164. */
  readonly to: string;
  readonly text: string;
}

/** How long a provider that failed with a "provider down" code is skipped. */
const COOL_DOWN_MS = 30_000;
/** The status of an accepted message is polled at most this often (providers with statusUrl). */
const POLL_INTERVAL_MS = 5_000;

const FINAL: readonly string[] = ['delivered', 'failed', 'expired'];

export interface SmsDispatcherOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly keys: MfaKeys;
  readonly entries: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly demo: boolean;
  readonly sender: string;
  /** Until useLogger() is called, provider events are not logged. */
  readonly log?: ProviderLog;
  readonly fetch?: typeof fetch;
  readonly write?: (line: string) => void;
}

export class SmsDispatcher {
  readonly providers: readonly SmsProvider[];
  private readonly coolDown = new Map<string, number>();
  private readonly lastPoll = new Map<string, number>();
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly keys: MfaKeys;
  private log: ProviderLog;
  /** Report updates in progress (tests and shutdown wait for them). */
  private readonly reporting = new Set<Promise<void>>();

  constructor(o: SmsDispatcherOptions) {
    this.store = o.store;
    this.clock = o.clock;
    this.keys = o.keys;
    this.log = o.log ?? { warn: () => {}, info: () => {} };
    const context: SmsProviderContext = {
      demo: o.demo,
      sender: o.sender,
      // Delegates, so a logger set later (useLogger) reaches the providers too.
      log: { warn: (d, m) => this.log.warn(d, m), info: (d, m) => this.log.info(d, m) },
      fetch: o.fetch ?? globalThis.fetch,
      write: o.write ?? ((line) => process.stdout.write(line)),
      callbackMac: (data) => this.keys.hmac('callback', data),
      onDeliveryReport: (provider, report) => {
        const p = this.applyReport(provider, report).catch((e: Error) =>
          this.log.warn({ provider, error: e.message }, 'could not record a delivery report'),
        );
        this.reporting.add(p);
        void p.finally(() => this.reporting.delete(p));
      },
    };
    const entries = o.entries.length === 0 && o.demo ? [{ name: 'console', kind: 'console' }] : o.entries;
    const names = new Set<string>();
    this.providers = entries.map((entry) => {
      const kind = SMS_PROVIDER_KINDS.get(String(entry.kind));
      if (kind === undefined) {
        throw new SimtrustError(
          'ERR_CONFIG',
          `smsProviders entry "${String(entry.name)}": kind must be one of ${[...SMS_PROVIDER_KINDS.keys()].join(', ')}`,
        );
      }
      checkProviderConfig(kind, entry);
      if (kind.kind === 'console' && !o.demo) {
        throw new SimtrustError(
          'ERR_CONFIG',
          'smsProviders: the console provider is allowed only in demo mode',
        );
      }
      if (names.has(String(entry.name))) {
        throw new SimtrustError('ERR_CONFIG', `smsProviders: the name "${String(entry.name)}" is used twice`);
      }
      names.add(String(entry.name));
      return kind.create(entry, context);
    });
  }

  useLogger(log: ProviderLog): void {
    this.log = log;
  }

  provider(name: string): SmsProvider | undefined {
    return this.providers.find((p) => p.name === name);
  }

  /** Opens long-lived provider connections (the SMPP bind) now rather than at the first SMS. */
  start(): void {
    for (const p of this.providers) p.start?.();
  }

  async close(): Promise<void> {
    await Promise.all(this.providers.map((p) => p.close()));
    await Promise.all([...this.reporting]);
  }

  /** Checks a MAC made by `callbackMac` (Kannel dlr-url), in constant time. */
  async checkCallbackMac(data: string, mac: string): Promise<boolean> {
    const expected = Buffer.from(await this.keys.hmac('callback', data));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private order(now: number): SmsProvider[] {
    const up = (p: SmsProvider) => p.healthy() && (this.coolDown.get(p.name) ?? 0) <= now;
    return [...this.providers.filter(up), ...this.providers.filter((p) => !up(p))];
  }

  /**
   * Sends through the first provider that accepts. Resolves with the record (status `accepted`);
   * rejects with ERR_SMS_NOT_DELIVERED when none does (the record then says `failed` and keeps the
   * last provider's error code).
   */
  async send(input: SendSmsInput): Promise<SmsRecord> {
    if (this.providers.length === 0) {
      throw new SimtrustError('ERR_SMS_NOT_DELIVERED', 'no SMS provider is configured (smsProviders)');
    }
    const messageId = `sms-${randomUUID()}`;
    const created = this.clock.now();
    await this.store.db
      .insertInto('sms_messages')
      .values({
        message_id: messageId,
        operator_id: input.operatorId,
        purpose: input.purpose,
        subject: input.subject,
        phone_number: input.to,
        provider: null,
        provider_message_id: null,
        status: 'queued',
        error_code: null,
        attempts: 0,
        created_at: created,
        updated_at: created,
      })
      .execute();
    let lastCode = 'NO_PROVIDER';
    let attempts = 0;
    for (const provider of this.order(created)) {
      attempts++;
      try {
        const r = await provider.send({ to: input.to, text: input.text, reference: messageId });
        if (!r.accepted)
          throw new SmsProviderError('NOT_ACCEPTED', 'the provider did not accept the message');
        await this.store.db
          .updateTable('sms_messages')
          .set({
            provider: provider.name,
            provider_message_id: r.providerMessageId ?? null,
            attempts,
            error_code: null,
            updated_at: this.clock.now(),
          })
          .where('message_id', '=', messageId)
          .execute();
        // A receipt may already have moved the status on; only a queued message becomes accepted.
        await this.store.db
          .updateTable('sms_messages')
          .set({ status: 'accepted' })
          .where('message_id', '=', messageId)
          .where('status', '=', 'queued')
          .execute();
        return this.record(this.store.db, messageId);
      } catch (e) {
        lastCode = e instanceof SmsProviderError ? e.code : 'PROVIDER_ERROR';
        const spec = SMS_PROVIDER_KINDS.get(provider.kind)?.errorCodes[lastCode];
        if (spec?.providerDown !== false) {
          const wait =
            e instanceof SmsProviderError && e.retryAfterMs !== undefined ? e.retryAfterMs : COOL_DOWN_MS;
          this.coolDown.set(provider.name, this.clock.now() + wait);
        }
        this.log.warn(
          {
            provider: provider.name,
            code: lastCode,
            error: (e as Error).message,
            to: maskPhone(input.to),
            messageId,
          },
          'sms provider failed; trying the next one',
        );
        await this.store.db
          .updateTable('sms_messages')
          .set({ provider: provider.name, error_code: lastCode, attempts, updated_at: this.clock.now() })
          .where('message_id', '=', messageId)
          .execute();
      }
    }
    await this.store.db
      .updateTable('sms_messages')
      .set({ status: 'failed', updated_at: this.clock.now() })
      .where('message_id', '=', messageId)
      .execute();
    throw new SimtrustError(
      'ERR_SMS_NOT_DELIVERED',
      `no SMS provider accepted the message (last error ${lastCode})`,
      {
        details: { messageId, errorCode: lastCode },
      },
    );
  }

  /** Records a delivery report; a final state is never overwritten by a later, lesser one. */
  async applyReport(providerName: string, report: DeliveryReport): Promise<void> {
    let query = this.store.db
      .updateTable('sms_messages')
      .set({ status: report.state, error_code: report.errorCode ?? null, updated_at: this.clock.now() })
      .where('status', 'not in', FINAL as string[]);
    if (report.state === 'accepted' || report.state === 'unknown')
      query = query.where('status', '=', 'queued');
    // Our reference is unique (and a receipt can beat the send's own update of provider columns);
    // a provider's id is unique only per provider.
    if (report.reference !== undefined) query = query.where('message_id', '=', report.reference);
    else if (report.providerMessageId !== undefined)
      query = query
        .where('provider', '=', providerName)
        .where('provider_message_id', '=', report.providerMessageId);
    else return;
    await query.execute();
  }

  async record(db: Executor, messageId: string): Promise<SmsRecord> {
    const r = await db
      .selectFrom('sms_messages')
      .selectAll()
      .where('message_id', '=', messageId)
      .executeTakeFirstOrThrow();
    return toRecord(r);
  }

  /**
   * The record of one message of an operator; an accepted message of a provider that can be polled
   * is asked about first (at most every 5 s).
   */
  async get(operatorId: string, messageId: string, options: { refresh?: boolean } = {}): Promise<SmsRecord> {
    const row = await this.store.db
      .selectFrom('sms_messages')
      .selectAll()
      .where('message_id', '=', messageId)
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (row === undefined) throw new SimtrustError('ERR_NOT_FOUND', `no SMS message ${messageId}`);
    const provider = row.provider === null ? undefined : this.provider(row.provider);
    const now = this.clock.now();
    if (
      options.refresh &&
      row.status === 'accepted' &&
      row.provider_message_id !== null &&
      provider?.status !== undefined &&
      (this.lastPoll.get(messageId) ?? 0) + POLL_INTERVAL_MS <= now
    ) {
      this.lastPoll.set(messageId, now);
      try {
        const report = await provider.status(row.provider_message_id);
        if (report !== undefined && report.state !== 'accepted') {
          await this.applyReport(provider.name, { ...report, reference: messageId });
          return this.record(this.store.db, messageId);
        }
      } catch (e) {
        this.log.warn({ provider: provider.name, error: (e as Error).message }, 'sms status poll failed');
      }
    }
    return toRecord(row);
  }

  async list(
    operatorId: string,
    q: { limit: number; before?: string | undefined; phoneNumber?: string | undefined },
  ): Promise<{ items: SmsRecord[]; nextKey: string | undefined }> {
    let query = this.store.db.selectFrom('sms_messages').selectAll().where('operator_id', '=', operatorId);
    if (q.phoneNumber) query = query.where('phone_number', '=', q.phoneNumber);
    if (q.before) {
      const [at, id] = [Number(q.before.split('~')[0]), q.before.split('~')[1] ?? ''];
      query = query.where((eb) =>
        eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('message_id', '<', id)])]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('message_id', 'desc')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit).map(toRecord);
    const last = page.at(-1);
    return {
      items: page,
      nextKey: rows.length > q.limit && last ? `${last.createdTime}~${last.messageId}` : undefined,
    };
  }
}

function toRecord(r: SmsMessagesTable): SmsRecord {
  return {
    messageId: r.message_id,
    operatorId: r.operator_id,
    purpose: r.purpose,
    subject: r.subject,
    phoneNumber: r.phone_number,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    status: r.status as SmsStatus,
    errorCode: r.error_code,
    attempts: Number(r.attempts),
    createdTime: r.created_at,
    updatedTime: r.updated_at,
  };
}

// The contract every SMS provider plugin satisfies (STYLE.md #9): one `send`, an optional status
// poll, a health flag, its configuration schema and its own table of error codes. The dispatcher
// (dispatcher.ts) walks the configured providers in order and fails over; nothing else in the
// platform knows which provider carried a message.

import type { TSchema } from '@fastify/type-provider-typebox';
import { Value } from 'typebox/value';
import { SimtrustError } from '../../../lib/errors.js';

export interface SmsMessage {
  /** E.164 destination, e.g. +819012345678. */
  readonly to: string;
  readonly text: string;
  /** Our message id; providers that carry a client reference send it, and reports come back with it. */
  readonly reference: string;
}

export interface SmsSendResult {
  /** The provider's id of the message (SMPP message_id, Karaden `id`), when it gives one. */
  readonly providerMessageId: string | undefined;
  /** The provider took responsibility for the message (not yet delivered to the phone). */
  readonly accepted: boolean;
}

/** Where a message stands, as every provider's reports are mapped. */
export type DeliveryState = 'accepted' | 'delivered' | 'failed' | 'expired' | 'unknown';

export interface DeliveryReport {
  /** Our reference when the provider carries it back, otherwise found by providerMessageId. */
  readonly reference?: string | undefined;
  readonly providerMessageId?: string | undefined;
  readonly state: DeliveryState;
  /** The provider's error code for a failed delivery, from its table. */
  readonly errorCode?: string | undefined;
}

export interface SmsProvider {
  readonly name: string;
  readonly kind: string;
  send(message: SmsMessage): Promise<SmsSendResult>;
  /** Asks the provider where a message stands (providers whose API can be polled). */
  status?(providerMessageId: string): Promise<DeliveryReport | undefined>;
  /** False while the provider is known not to work (link down); the dispatcher tries others first. */
  healthy(): boolean;
  /** Opens long-lived connections (the SMPP bind) ahead of the first message. */
  start?(): void;
  close(): Promise<void>;
}

export interface ProviderErrorSpec {
  readonly description: string;
  /**
   * Whether the provider itself is failing (auth, overload, outage): it is then skipped for a while.
   * A message-level refusal (bad number) fails over without marking the provider down.
   */
  readonly providerDown: boolean;
}

/** A provider failure carrying one of its kind's error codes. The message never holds the SMS text. */
export class SmsProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SmsProviderError';
  }
}

export interface ProviderLog {
  warn(detail: Record<string, unknown>, message: string): void;
  info(detail: Record<string, unknown>, message: string): void;
}

export interface SmsProviderContext {
  readonly demo: boolean;
  /** Sender id from configuration (smsSender), used unless the provider sets its own. */
  readonly sender: string;
  /** Reports pushed by the provider (SMPP deliver_sm, Kannel dlr-url). */
  readonly onDeliveryReport: (provider: string, report: DeliveryReport) => void;
  /** A MAC over a reference, for callback URLs that must not be forgeable (Kannel's dlr-url). */
  readonly callbackMac: (data: string) => Promise<string>;
  readonly log: ProviderLog;
  readonly fetch: typeof fetch;
  /** Where the console provider writes. */
  readonly write: (line: string) => void;
}

export interface SmsProviderKind {
  readonly kind: string;
  /** TypeBox schema of the provider's entry in `smsProviders` (name and kind included). */
  readonly configSchema: TSchema;
  readonly errorCodes: Readonly<Record<string, ProviderErrorSpec>>;
  create(config: Readonly<Record<string, unknown>>, context: SmsProviderContext): SmsProvider;
}

/** Checks one `smsProviders` entry against its kind's schema; ERR_CONFIG names the first problem. */
export function checkProviderConfig(kind: SmsProviderKind, entry: Readonly<Record<string, unknown>>): void {
  const name = String(entry.name);
  if (Value.Check(kind.configSchema, entry)) return;
  const first = [...Value.Errors(kind.configSchema, entry)][0];
  const where = first?.instancePath ? ` at ${first.instancePath}` : '';
  throw new SimtrustError(
    'ERR_CONFIG',
    `smsProviders entry "${name}" (${kind.kind})${where}: ${first?.message ?? 'invalid'}`,
  );
}

/** Fills `{name}` placeholders; unknown names stay as they are. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

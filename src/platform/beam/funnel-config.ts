// The `SoracomFunnel` group configuration namespace (reference: soracom.md §5.5): where a group's
// SIMs' Funnel data goes. SORACOM's FunnelConfiguration keys are kept — `enabled`, `destination`
// {provider, service, resourceUrl, …}, `credentialsId`, `contentType`, `addSimId` — with this
// platform's providers, message brokers (docs/funnel-funk.md):
//
//   amqp  RabbitMQ        resourceUrl amqp(s)://host[:port][/vhost]; exchange + routingKey, or queue
//   nats  NATS JetStream  resourceUrl nats://host[:port] or tls://host[:port]; subject [, stream]
//   mqtt  MQTT broker     resourceUrl mqtt(s)://host[:port]; topic
//
// `#{imsi}` in routingKey, subject, topic and credentialsId is replaced with the sending SIM's IMSI,
// as SORACOM does in resourceUrl and credential ids. Secrets never live here: a resourceUrl with a
// user or password is refused (the credential set named by credentialsId carries them).
//
// The group API refuses a bad value when it is written (validateFunnelParameter); the entry points
// read the namespace back through funnelConfig, which checks every value again and caches the parsed
// form by its stored text.

import { SimtrustError } from '../../lib/errors.js';
import { err, ok, type Result } from '../../lib/result.js';
import { isCredentialsReference } from '../credentials/credential-sets.js';

export const FUNNEL_NAMESPACE = 'SoracomFunnel';

export const FUNNEL_PROVIDERS = ['amqp', 'nats', 'mqtt'] as const;
export type FunnelProvider = (typeof FUNNEL_PROVIDERS)[number];

/** SORACOM's `contentType` values this platform serves (not `application/x-soracom-bf-v1`). */
export const FUNNEL_CONTENT_TYPES = ['json', 'text', 'binary', 'unspecified'] as const;
export type FunnelContentType = (typeof FUNNEL_CONTENT_TYPES)[number];

/** The resourceUrl schemes of each provider, and the one `service` each offers. */
export const FUNNEL_SCHEMES: Readonly<Record<FunnelProvider, readonly string[]>> = {
  amqp: ['amqp', 'amqps'],
  nats: ['nats', 'tls'],
  mqtt: ['mqtt', 'mqtts'],
};
export const FUNNEL_SERVICES: Readonly<Record<FunnelProvider, string>> = {
  amqp: 'rabbitmq',
  nats: 'jetstream',
  mqtt: 'mqtt',
};

export const FUNNEL_KEYS = ['enabled', 'destination', 'credentialsId', 'contentType', 'addSimId'] as const;

/** The placeholder replaced with the SIM's IMSI (SORACOM's notation). */
export const IMSI_PLACEHOLDER = '#{imsi}';

const MAX_URL_LENGTH = 2048;
const MAX_ROUTE_LENGTH = 255;
const MAX_TOPIC_LENGTH = 1024;
// A 15-digit IMSI stands in for #{imsi} when a route is checked at write time.
const SAMPLE_IMSI = '001010123456789';

interface DestinationBase {
  readonly service: string;
  /** The broker's URL as written (no credentials). */
  readonly resourceUrl: string;
  readonly url: URL;
  /** Send the device's payload alone, not SORACOM's envelope (operatorId, imsi, payloads, …). */
  readonly payloadsOnly: boolean;
  /** The destination as the group wrote it (checked; service filled in): what the envelope carries. */
  readonly written: Readonly<Record<string, unknown>>;
}

export interface AmqpDestination extends DestinationBase {
  readonly provider: 'amqp';
  /** `''` is the default exchange (routing key = queue name). */
  readonly exchange: string;
  /** May hold #{imsi}. */
  readonly routingKey: string;
  /** The virtual host from the URL's path (`/` when none). */
  readonly vhost: string;
}

export interface NatsDestination extends DestinationBase {
  readonly provider: 'nats';
  /** May hold #{imsi}. */
  readonly subject: string;
  /** When set, the publish must be stored by this stream (JetStream's expected-stream check). */
  readonly stream: string | undefined;
}

export interface MqttDestination extends DestinationBase {
  readonly provider: 'mqtt';
  /** May hold #{imsi}. */
  readonly topic: string;
}

export type FunnelDestination = AmqpDestination | NatsDestination | MqttDestination;

export interface FunnelConfiguration {
  readonly enabled: boolean;
  readonly destination: FunnelDestination;
  /** The credential set for the broker; may hold #{imsi}. */
  readonly credentialsId: string | undefined;
  readonly contentType: FunnelContentType;
  /** Add the SIM ID to the envelope (SORACOM's addSimId). */
  readonly addSimId: boolean;
}

const bad = (field: string, expected: string) =>
  new SimtrustError('ERR_FUNNEL_CONFIG', `SoracomFunnel ${field} must be ${expected}`);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
// AMQP 0-9-1 §4.2.8 / RabbitMQ: exchange and queue names are short strings of these characters.
const AMQP_NAME = /^[A-Za-z0-9_.:-]{0,255}$/;
// NATS: subject tokens are non-empty and free of whitespace; `*` and `>` are subscription wildcards.
const NATS_TOKEN = /^[^\s*>.]+$/;
const NATS_STREAM = /^[^\s.*>/\\]{1,255}$/;

/** Only `#{imsi}` may be written in `#{…}` form. */
const onlyImsiPlaceholder = (text: string) => !/#\{(?!imsi\})/.test(text);

export const withImsi = (text: string, imsi: string) => text.replaceAll(IMSI_PLACEHOLDER, imsi);

function checkUrl(provider: FunnelProvider, v: unknown): URL {
  const schemes = FUNNEL_SCHEMES[provider];
  const expected = `a ${schemes.map((s) => `${s}://`).join(' or ')} URL of the broker (at most ${MAX_URL_LENGTH} characters; no user or password — put them in a credential set named by credentialsId; no query or fragment)`;
  if (typeof v !== 'string' || v.length > MAX_URL_LENGTH || CONTROL.test(v) || /[\s\\]/.test(v)) {
    throw bad('destination.resourceUrl', expected);
  }
  if (!URL.canParse(v)) throw bad('destination.resourceUrl', expected);
  const url = new URL(v);
  if (!schemes.includes(url.protocol.slice(0, -1))) throw bad('destination.resourceUrl', expected);
  if (url.username !== '' || url.password !== '') throw bad('destination.resourceUrl', expected);
  if (url.search !== '' || url.hash !== '' || url.hostname === '') {
    throw bad('destination.resourceUrl', expected);
  }
  // Only AMQP gives the path a meaning (the virtual host); elsewhere a path is a mistake.
  if (provider !== 'amqp' && url.pathname !== '' && url.pathname !== '/') {
    throw bad('destination.resourceUrl', `${expected}, without a path`);
  }
  return url;
}

/** The AMQP URI's virtual host: the path without its slash, percent-decoded; `/` when empty. */
function vhostOf(url: URL): string {
  const path = url.pathname.slice(1);
  if (path === '') return '/';
  let vhost: string;
  try {
    vhost = decodeURIComponent(path);
  } catch {
    throw bad('destination.resourceUrl', 'an AMQP URL whose path is one virtual host (%2F for "/")');
  }
  if (path.includes('/') || vhost.length > 255 || CONTROL.test(vhost)) {
    throw bad('destination.resourceUrl', 'an AMQP URL whose path is one virtual host (%2F for "/")');
  }
  return vhost;
}

function text(field: string, v: unknown, check: (s: string) => boolean, expected: string): string {
  if (typeof v !== 'string' || !check(v)) throw bad(field, expected);
  return v;
}

function optionalBoolean(field: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw bad(field, 'true or false');
  return v;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

function amqpRoute(field: string, v: unknown): string {
  return text(
    field,
    v,
    (s) =>
      !CONTROL.test(s) && onlyImsiPlaceholder(s) && utf8Length(withImsi(s, SAMPLE_IMSI)) <= MAX_ROUTE_LENGTH,
    `text of at most ${MAX_ROUTE_LENGTH} bytes without control characters (#{imsi} is replaced by the IMSI)`,
  );
}

function natsSubject(v: unknown): string {
  return text(
    'destination.subject',
    v,
    (s) => {
      if (!onlyImsiPlaceholder(s)) return false;
      const subject = withImsi(s, SAMPLE_IMSI);
      return (
        utf8Length(subject) <= MAX_ROUTE_LENGTH &&
        !CONTROL.test(subject) &&
        subject.split('.').every((t) => NATS_TOKEN.test(t))
      );
    },
    `a NATS subject to publish to: dot-separated tokens without spaces or the wildcards * and > (at most ${MAX_ROUTE_LENGTH} bytes; #{imsi} is replaced by the IMSI)`,
  );
}

function mqttTopic(v: unknown): string {
  return text(
    'destination.topic',
    v,
    (s) => {
      if (!onlyImsiPlaceholder(s)) return false;
      const topic = withImsi(s, SAMPLE_IMSI);
      return (
        topic !== '' &&
        utf8Length(topic) <= MAX_TOPIC_LENGTH &&
        !CONTROL.test(topic) &&
        !/[+#]/.test(topic) &&
        !topic.startsWith('$')
      );
    },
    `an MQTT topic name to publish to: no wildcards + or #, not a $SYS-style topic starting with $, at most ${MAX_TOPIC_LENGTH} bytes (#{imsi} is replaced by the IMSI)`,
  );
}

const DESTINATION_FIELDS: Readonly<Record<FunnelProvider, readonly string[]>> = {
  amqp: ['exchange', 'routingKey', 'queue'],
  nats: ['subject', 'stream'],
  mqtt: ['topic'],
};
const COMMON_FIELDS = ['provider', 'service', 'resourceUrl', 'payloadsOnly'];

/** A `destination` value → the typed destination, or a SimtrustError naming the field. */
export function parseFunnelDestination(v: unknown): FunnelDestination {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw bad('destination', '{"provider": "amqp"|"nats"|"mqtt", "resourceUrl": "…", …}');
  }
  const d = v as Record<string, unknown>;
  const provider = d.provider;
  if (typeof provider !== 'string' || !(FUNNEL_PROVIDERS as readonly string[]).includes(provider)) {
    throw bad('destination.provider', `one of ${FUNNEL_PROVIDERS.join(', ')}`);
  }
  const p = provider as FunnelProvider;
  const allowed = new Set([...COMMON_FIELDS, ...DESTINATION_FIELDS[p]]);
  for (const field of Object.keys(d)) {
    if (!allowed.has(field)) {
      throw bad(
        `destination.${field.slice(0, 50)}`,
        `absent: a ${p} destination has the fields ${[...allowed].join(', ')}`,
      );
    }
  }
  const service = d.service ?? FUNNEL_SERVICES[p];
  if (service !== FUNNEL_SERVICES[p]) {
    throw bad('destination.service', `"${FUNNEL_SERVICES[p]}" for provider ${p} (or left out)`);
  }
  const url = checkUrl(p, d.resourceUrl);
  const base = {
    service: FUNNEL_SERVICES[p],
    resourceUrl: d.resourceUrl as string,
    url,
    payloadsOnly: optionalBoolean('destination.payloadsOnly', d.payloadsOnly, false),
    written: Object.freeze({ ...d, provider: p, service: FUNNEL_SERVICES[p] }),
  };
  switch (p) {
    case 'amqp': {
      const vhost = vhostOf(url);
      if (d.queue !== undefined) {
        if (d.exchange !== undefined || d.routingKey !== undefined) {
          throw bad('destination', 'either {queue} or {exchange, routingKey}, not both');
        }
        const queue = text(
          'destination.queue',
          d.queue,
          (s) => s !== '' && AMQP_NAME.test(s),
          'a queue name (letters, digits, _ . : -; at most 255)',
        );
        return { ...base, provider: p, exchange: '', routingKey: queue, vhost };
      }
      const exchange = text(
        'destination.exchange',
        d.exchange,
        (s) => AMQP_NAME.test(s),
        'an exchange name (letters, digits, _ . : -; at most 255; "" for the default exchange) — or give queue instead',
      );
      const routingKey = d.routingKey === undefined ? '' : amqpRoute('destination.routingKey', d.routingKey);
      if (exchange === '' && routingKey === '') {
        throw bad('destination.routingKey', 'the queue name when exchange is the default exchange ""');
      }
      return { ...base, provider: p, exchange, routingKey, vhost };
    }
    case 'nats': {
      const subject = natsSubject(d.subject);
      const stream =
        d.stream === undefined
          ? undefined
          : text(
              'destination.stream',
              d.stream,
              (s) => NATS_STREAM.test(s) && !CONTROL.test(s),
              'a JetStream stream name (no spaces, . * > / \\; at most 255)',
            );
      return { ...base, provider: p, subject, stream };
    }
    case 'mqtt':
      return { ...base, provider: p, topic: mqttTopic(d.topic) };
  }
}

const KEYS: Readonly<Record<string, (v: unknown) => void>> = {
  enabled(v) {
    if (typeof v !== 'boolean') throw bad('enabled', 'true or false');
  },
  destination(v) {
    parseFunnelDestination(v);
  },
  credentialsId(v) {
    text(
      'credentialsId',
      v,
      (s) => s.length <= 200 && isCredentialsReference(s),
      'the id of a credential set (a letter or digit, then letters, digits, . _ -; #{imsi} is replaced by the IMSI)',
    );
  },
  contentType(v) {
    if (typeof v !== 'string' || !(FUNNEL_CONTENT_TYPES as readonly string[]).includes(v)) {
      throw bad('contentType', `one of ${FUNNEL_CONTENT_TYPES.join(', ')}`);
    }
  },
  addSimId(v) {
    if (typeof v !== 'boolean') throw bad('addSimId', 'true or false');
  },
};

/** The group API's validator for the namespace: an unknown key or a bad value throws. */
export function validateFunnelParameter(key: string, value: unknown): void {
  const check = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined; // `constructor` is not a key
  if (check === undefined) {
    throw new SimtrustError(
      'ERR_FUNNEL_CONFIG',
      `SoracomFunnel has no key ${JSON.stringify(key.slice(0, 100))}; the keys are ${FUNNEL_KEYS.join(', ')}`,
    );
  }
  check(value);
}

/** Why a SIM's group gives Funnel nothing to do (said to the device and in the SIM's last error). */
export type FunnelUnusable = 'disabled' | 'no-destination' | 'invalid';

const cache = new Map<string, Result<FunnelConfiguration, { reason: FunnelUnusable; message: string }>>();
const CACHE_LIMIT = 1024;

/**
 * The namespace as stored (key → parsed JSON) → the configuration, or why there is none to use.
 * Every value is checked again (a row written before validation existed, or by hand, is not used);
 * the result is cached by the stored text, so the hot path parses a group's configuration once.
 */
export function funnelConfig(
  stored: Readonly<Record<string, unknown>>,
): Result<FunnelConfiguration, { reason: FunnelUnusable; message: string }> {
  const text = JSON.stringify(FUNNEL_KEYS.map((k) => stored[k] ?? null));
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const result = parseStored(stored);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, result);
  return result;
}

function parseStored(
  stored: Readonly<Record<string, unknown>>,
): Result<FunnelConfiguration, { reason: FunnelUnusable; message: string }> {
  if (stored.enabled !== true) {
    return err({
      reason: 'disabled',
      message: "Funnel is not enabled for this SIM's group (SoracomFunnel enabled: true)",
    });
  }
  if (stored.destination === undefined) {
    return err({
      reason: 'no-destination',
      message: "this SIM's group has no Funnel destination (SoracomFunnel destination)",
    });
  }
  try {
    for (const key of FUNNEL_KEYS) if (stored[key] !== undefined) validateFunnelParameter(key, stored[key]);
    return ok({
      enabled: true,
      destination: parseFunnelDestination(stored.destination),
      credentialsId: stored.credentialsId as string | undefined,
      contentType: (stored.contentType as FunnelContentType | undefined) ?? 'unspecified',
      addSimId: stored.addSimId === true,
    });
  } catch (e) {
    return err({
      reason: 'invalid',
      message: `this SIM's group has an invalid Funnel configuration (${e instanceof Error ? e.message : 'unreadable'}); correct it with PUT /v1/groups/{id}/configuration/SoracomFunnel`,
    });
  }
}

/** The destination's route for one SIM: the routing key, subject or topic with #{imsi} replaced. */
export function routeFor(destination: FunnelDestination, imsi: string): string {
  switch (destination.provider) {
    case 'amqp':
      return withImsi(destination.routingKey, imsi);
    case 'nats':
      return withImsi(destination.subject, imsi);
    case 'mqtt':
      return withImsi(destination.topic, imsi);
  }
}

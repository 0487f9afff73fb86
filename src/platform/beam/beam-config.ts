// The `SoracomBeam` group configuration namespace (reference: soracom.md §5.3). Each key is an entry
// point URL as SORACOM writes it — `http://beam.soracom.io:8888/<path>`, `mqtt://beam.soracom.io:1883`,
// `tcp://beam.soracom.io:8023`, `udp://beam.soracom.io:23080` — and its value says where that entry
// point forwards for the group's SIMs and what it adds. Keys are matched on their scheme and path
// only (any host, any port), so a configuration exported from SORACOM works here unchanged, whatever
// address this deployment's listeners have (docs/beam.md, Configuration).
//
// The group API refuses a bad value when it is written (validateBeamParameter); the entry points
// read the namespace back through beamConfig, which checks every value again and caches the parsed
// form by its stored text (the hot path parses nothing twice).

import { SimtrustError } from '../../lib/errors.js';
import { pathLayers, pathWithin } from '../../lib/redirect-target.js';
import { isCredentialsReference } from '../credentials/credential-sets.js';
import { validateBeamMqttParameter } from './beam-mqtt-config.js';

export const BEAM_NAMESPACE = 'SoracomBeam';

/** The protocols a device speaks to an entry point (the key's scheme). */
export const ENTRY_SCHEMES = ['http', 'mqtt', 'tcp', 'udp'] as const;
export type EntryScheme = (typeof ENTRY_SCHEMES)[number];

/** Where each entry point may forward to (the destination's scheme). */
export const DESTINATION_SCHEMES: Readonly<Record<EntryScheme, readonly string[]>> = {
  http: ['http', 'https'],
  mqtt: ['mqtt', 'mqtts'],
  // TCP → TCP(S) relays bytes; TCP → HTTP(S) posts each segment (SORACOM's :23080 form).
  tcp: ['tcp', 'tcps', 'http', 'https'],
  udp: ['http', 'https'],
};

export const MAX_KEY_LENGTH = 2048;
export const MAX_URL_LENGTH = 2048;
export const MAX_CUSTOM_HEADERS = 32;
export const MAX_HEADER_VALUE_LENGTH = 8192;
export const MAX_NAME_LENGTH = 256;

/** A parsed entry point key: which listener and which path prefix it configures. */
export interface EntryPointKey {
  readonly scheme: EntryScheme;
  /** The port written in the key (informative: SORACOM's 8888 / 18080 / 1883 …), or undefined. */
  readonly port: number | undefined;
  /** HTTP: the path prefix the entry covers (`/` for the whole listener); others: `/`. */
  readonly path: string;
}

/** A `{"$credentialsId": "…"}` reference to a credential set (`#{imsi}` is replaced per SIM). */
export interface CredentialsRef {
  readonly credentialsId: string;
}

export type CustomHeaderAction = 'append' | 'replace' | 'delete';

export interface CustomHeader {
  readonly action: CustomHeaderAction;
  /** Lower-case header name. */
  readonly name: string;
  /** A literal value, a credential set's secret, or nothing (delete). */
  readonly value: string | CredentialsRef | undefined;
}

/** One configured entry point, with every key checked and typed. */
export interface BeamEntry {
  /** The key as stored (for logs and usage records). */
  readonly key: string;
  readonly entry: EntryPointKey;
  readonly name: string;
  readonly enabled: boolean;
  readonly destination: URL;
  readonly addSubscriberHeader: boolean;
  readonly addEquipmentHeader: boolean;
  readonly addSimIdHeader: boolean;
  readonly addMsisdnHeader: boolean;
  readonly addSignature: boolean;
  readonly psk: CredentialsRef | undefined;
  readonly customHeaders: readonly CustomHeader[];
  readonly skipStatusCode: boolean;
  /** The client certificate (an `x509` credential set) for mutual TLS to the destination. */
  readonly clientCert: CredentialsRef | undefined;
  /** MQTT upstream login: the user name, and the password as a credential set. */
  readonly username: string | undefined;
  readonly password: CredentialsRef | undefined;
  /** The whole stored value, for entry points that read keys of their own (e.g. `version`). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * The namespace parsed: enabled entries per listener; HTTP entries longest path first. The MQTT
 * entry point reads its `mqtt://` keys itself (beam-mqtt-config.ts).
 */
export interface BeamConfig {
  readonly http: readonly BeamEntry[];
  readonly tcp: readonly BeamEntry[];
  readonly udp: readonly BeamEntry[];
}

export const EMPTY_BEAM_CONFIG: BeamConfig = { http: [], tcp: [], udp: [] };

const bad = (key: string, field: string, expected: string) =>
  new SimtrustError(
    'ERR_BEAM_CONFIG',
    `SoracomBeam ${JSON.stringify(key.slice(0, 200))}: ${field} must be ${expected}`,
  );

/**
 * An entry point key → its scheme, port and path, or undefined. The host is not looked at (SORACOM
 * keys name beam.soracom.io; this deployment's listeners have their own address). HTTP keys carry a
 * path prefix without query, fragment, credentials, dot segments or encoded separators; the others
 * carry no path.
 */
export function parseEntryPointKey(key: string): EntryPointKey | undefined {
  if (key.length > MAX_KEY_LENGTH || !URL.canParse(key)) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f\\]/.test(key)) return undefined;
  if (DOT_SEGMENT_IN_TEXT.test(key)) return undefined;
  const url = new URL(key);
  const scheme = url.protocol.slice(0, -1);
  if (!(ENTRY_SCHEMES as readonly string[]).includes(scheme)) return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (url.hostname === '') return undefined;
  const port = url.port === '' ? undefined : Number(url.port);
  if (scheme === 'http') {
    const layers = pathLayers(url.pathname);
    if (!layers.ok || layers.value.length > 1) return undefined; // a prefix is written plainly
    return { scheme, port, path: url.pathname };
  }
  if (url.pathname !== '' && url.pathname !== '/') return undefined;
  return { scheme: scheme as EntryScheme, port, path: '/' };
}

/**
 * Dot segments written in the text (`/../`, `/%2e%2e/`, `/.`): the URL parser resolves them away,
 * so the parsed path would not be the one the operator wrote. Refused rather than reinterpreted.
 */
const DOT_SEGMENT_IN_TEXT = /\/(?:\.|%2e){1,2}(?:[/?#;]|$)/i;

function credentialsRef(key: string, field: string, v: unknown): CredentialsRef {
  const expected = `{"$credentialsId": "<credential set id>"} (letters, digits, . _ -, up to 100, #{imsi} allowed; store the secret with POST /v1/credentials/{id}: secrets are never kept in group configuration)`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(key, field, expected);
  const entries = Object.entries(v);
  const id = (v as Record<string, unknown>).$credentialsId;
  if (entries.length !== 1 || typeof id !== 'string' || !isCredentialsReference(id)) {
    throw bad(key, field, expected);
  }
  return { credentialsId: id };
}

// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const HEADER_VALUE = /^[^\u0000-\u0008\u000a-\u001f\u007f]*$/;

/** Headers a group may not set: the proxy's own framing and connection, and the identity Beam vouches for. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function customHeaders(key: string, v: unknown): CustomHeader[] {
  const expected = `an object of at most ${MAX_CUSTOM_HEADERS} entries {"action": "append"|"replace"|"delete", "headerKey": "<name>", "headerValue": "<text>" or {"$credentialsId": "…"}}; names are HTTP tokens other than X-Soracom-*, Host and hop-by-hop headers`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(key, 'customHeaders', expected);
  const out: CustomHeader[] = [];
  const items = Object.values(v);
  if (items.length > MAX_CUSTOM_HEADERS) throw bad(key, 'customHeaders', expected);
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw bad(key, 'customHeaders', expected);
    }
    const { action, headerKey, headerValue } = item as Record<string, unknown>;
    if (action !== 'append' && action !== 'replace' && action !== 'delete') {
      throw bad(key, 'customHeaders.action', '"append", "replace" or "delete"');
    }
    if (typeof headerKey !== 'string' || !TOKEN.test(headerKey)) {
      throw bad(key, 'customHeaders.headerKey', 'an HTTP header name (RFC 9110 token)');
    }
    const name = headerKey.toLowerCase();
    if (name.startsWith('x-soracom-') || RESERVED_HEADERS.has(name)) {
      throw bad(
        key,
        'customHeaders.headerKey',
        'a header other than X-Soracom-* (Beam sets those), Host, Content-Length and hop-by-hop headers',
      );
    }
    let value: CustomHeader['value'];
    if (action === 'delete') value = undefined;
    else if (typeof headerValue === 'string') {
      if (headerValue.length > MAX_HEADER_VALUE_LENGTH || !HEADER_VALUE.test(headerValue)) {
        throw bad(
          key,
          'customHeaders.headerValue',
          `text of at most ${MAX_HEADER_VALUE_LENGTH} characters without control characters`,
        );
      }
      value = headerValue;
    } else value = credentialsRef(key, 'customHeaders.headerValue', headerValue);
    out.push({ action, name, value });
  }
  return out;
}

function destination(key: string, scheme: EntryScheme, v: unknown): URL {
  const allowed = DESTINATION_SCHEMES[scheme];
  const expected = `a URL of ${allowed.map((s) => `${s}://`).join(', ')} without credentials or fragment, with a host (and for http(s) a plain path: no dot segments or encoded separators)`;
  if (typeof v !== 'string' || v.length > MAX_URL_LENGTH || !URL.canParse(v)) {
    throw bad(key, 'destination', expected);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f\\]/.test(v) || DOT_SEGMENT_IN_TEXT.test(v)) {
    throw bad(key, 'destination', expected);
  }
  const url = new URL(v);
  if (!allowed.includes(url.protocol.slice(0, -1))) throw bad(key, 'destination', expected);
  if (url.username !== '' || url.password !== '' || url.hash !== '' || url.hostname === '') {
    throw bad(key, 'destination', expected);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (!pathLayers(url.pathname).ok) throw bad(key, 'destination', expected);
  } else if (url.port === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '') {
    // tcp(s)/mqtt(s): host and port only (TCP has no default port to fall back on).
    throw bad(
      key,
      'destination',
      `${expected}; ${url.protocol}// destinations are host:port with nothing after`,
    );
  }
  return url;
}

const bool = (key: string, field: string, v: unknown): boolean => {
  if (typeof v !== 'boolean') throw bad(key, field, 'true or false');
  return v;
};

/** Value keys that are accepted and kept in `raw` for entry points that read them (or for LoRa/Sigfox, ignored). */
const PASSTHROUGH_KEYS = new Set([
  'version',
  'addDeviceIdHeader',
  'addGatewayIdHeader',
  'useSoracomBinaryFormat',
  'useClientCredentials',
]);

const VALUE_KEYS = new Set([
  'name',
  'destination',
  'enabled',
  'addSubscriberHeader',
  'addEquipmentHeader',
  'addSimIdHeader',
  'addMsisdnHeader',
  'addSignature',
  'psk',
  'customHeaders',
  'skipStatusCode',
  'useClientCert',
  'clientCerts',
  'username',
  'password',
  ...PASSTHROUGH_KEYS,
]);

/** A stored key and value → the typed entry; throws ERR_BEAM_CONFIG naming the field. */
export function parseBeamEntry(key: string, value: unknown): BeamEntry {
  const entry = parseEntryPointKey(key);
  if (entry === undefined) {
    throw new SimtrustError(
      'ERR_BEAM_CONFIG',
      `SoracomBeam has no entry point ${JSON.stringify(key.slice(0, 200))}; keys are entry point URLs: http://<any host>[:port]/<path prefix>, mqtt://<host>[:port], tcp://<host>[:port], udp://<host>[:port] (e.g. http://beam.soracom.io:8888/)`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(key, 'the value', 'an object such as {"destination": "https://example.com/", "enabled": true}');
  }
  const v = value as Record<string, unknown>;
  for (const field of Object.keys(v)) {
    if (!VALUE_KEYS.has(field)) {
      throw new SimtrustError(
        'ERR_BEAM_CONFIG',
        `SoracomBeam ${JSON.stringify(key.slice(0, 200))} has no setting ${JSON.stringify(field.slice(0, 100))}; the settings are ${[...VALUE_KEYS].join(', ')}`,
      );
    }
  }
  const flag = (field: string) => (v[field] === undefined ? false : bool(key, field, v[field]));
  if (v.name !== undefined && (typeof v.name !== 'string' || v.name.length > MAX_NAME_LENGTH)) {
    throw bad(key, 'name', `text of at most ${MAX_NAME_LENGTH} characters`);
  }
  for (const field of PASSTHROUGH_KEYS) {
    const x = v[field];
    if (x !== undefined && typeof x !== 'boolean' && (typeof x !== 'string' || x.length > 64)) {
      throw bad(key, field, 'true, false or a short text');
    }
  }
  const dest = destination(key, entry.scheme, v.destination);
  const psk = v.psk === undefined || v.psk === null ? undefined : credentialsRef(key, 'psk', v.psk);
  const addSignature = flag('addSignature');
  const ids = {
    addSubscriberHeader: flag('addSubscriberHeader'),
    addEquipmentHeader: flag('addEquipmentHeader'),
    addSimIdHeader: flag('addSimIdHeader'),
    addMsisdnHeader: flag('addMsisdnHeader'),
  };
  if (addSignature && psk === undefined) {
    throw bad(key, 'psk', 'set when addSignature is true (a credential set of type psk)');
  }
  if (addSignature && !Object.values(ids).some(Boolean)) {
    throw bad(
      key,
      'addSignature',
      'used with addSubscriberHeader, addEquipmentHeader, addSimIdHeader or addMsisdnHeader (the signature covers the identity headers)',
    );
  }
  const useClientCert = flag('useClientCert');
  let clientCert: CredentialsRef | undefined;
  if (v.clientCerts !== undefined && v.clientCerts !== null) {
    const certs = v.clientCerts;
    const expected = '{"default": {"$credentialsId": "<an x509 credential set>"}}';
    if (
      typeof certs !== 'object' ||
      Array.isArray(certs) ||
      Object.keys(certs).some((k) => k !== 'default')
    ) {
      throw bad(key, 'clientCerts', expected);
    }
    const d = (certs as Record<string, unknown>).default;
    if (d !== undefined) clientCert = credentialsRef(key, 'clientCerts.default', d);
  }
  if (useClientCert && clientCert === undefined) {
    throw bad(key, 'clientCerts', 'set when useClientCert is true: {"default": {"$credentialsId": "…"}}');
  }
  if (v.username !== undefined && (typeof v.username !== 'string' || v.username.length > 256)) {
    throw bad(key, 'username', 'text of at most 256 characters');
  }
  const password =
    v.password === undefined || v.password === null ? undefined : credentialsRef(key, 'password', v.password);
  return {
    key,
    entry,
    name: typeof v.name === 'string' ? v.name : '',
    enabled: v.enabled === undefined ? true : bool(key, 'enabled', v.enabled),
    destination: dest,
    ...ids,
    addSignature,
    psk,
    customHeaders: v.customHeaders === undefined ? [] : customHeaders(key, v.customHeaders),
    skipStatusCode: flag('skipStatusCode'),
    clientCert: useClientCert ? clientCert : undefined,
    username: typeof v.username === 'string' ? v.username : undefined,
    password,
    raw: v,
  };
}

/**
 * The group API's validator for the namespace: an unknown entry point or a bad value throws.
 * `mqtt://` keys are the MQTT entry point's (beam-mqtt-config.ts), the others parse here.
 */
export function validateBeamParameter(key: string, value: unknown): void {
  if (parseEntryPointKey(key)?.scheme === 'mqtt') validateBeamMqttParameter(key, value);
  else parseBeamEntry(key, value);
}

/**
 * Parsed namespaces by their stored text. A fleet has few distinct group configurations and the
 * entry points read one per request; the text is the key, so a changed configuration is a new
 * entry and is never served stale.
 */
const parsed = new Map<string, BeamConfig>();
const PARSED_MAX = 1024;

/**
 * The namespace as stored (key → parsed JSON) → its enabled entries per listener. A value that no
 * longer passes (written by hand, or before a check existed) is left out, not served. HTTP entries
 * are sorted longest path first, ties by key, so the first match is the longest prefix.
 */
export function beamConfig(stored: Readonly<Record<string, unknown>>): BeamConfig {
  const keys = Object.keys(stored);
  if (keys.length === 0) return EMPTY_BEAM_CONFIG;
  keys.sort();
  let text = '';
  for (const k of keys) text += `${k}\u0000${JSON.stringify(stored[k])}\u0001`;
  let config = parsed.get(text);
  if (config === undefined) {
    const by: Record<Exclude<EntryScheme, 'mqtt'>, BeamEntry[]> = { http: [], tcp: [], udp: [] };
    for (const k of keys) {
      if (parseEntryPointKey(k)?.scheme === 'mqtt') continue;
      let e: BeamEntry;
      try {
        e = parseBeamEntry(k, stored[k]);
      } catch {
        continue;
      }
      if (e.enabled && e.entry.scheme !== 'mqtt') by[e.entry.scheme].push(e);
    }
    by.http.sort((a, b) => b.entry.path.length - a.entry.path.length || (a.key < b.key ? -1 : 1));
    config = by;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, config);
  }
  return config;
}

/** The HTTP entry whose path prefix is the longest one covering `path` (a raw request path), or undefined. */
export function httpEntryFor(config: BeamConfig, path: string): BeamEntry | undefined {
  for (const e of config.http) if (pathWithin(path, e.entry.path)) return e;
  return undefined;
}

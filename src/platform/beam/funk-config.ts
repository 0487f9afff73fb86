// The `SoracomFunk` group configuration namespace: which function a SIM's device invokes through
// Funk. SORACOM keeps Funk's settings as flat keys of the namespace (users.soracom.io/ja-jp/docs/funk,
// dev.soracom.io/jp/funk/how-it-works):
//
//   enabled        true | false
//   destination    { provider, service, resourceUrl }
//   credentialsId  "<id>" or { "$credentialsId": "<id>" }   (`#{imsi}` allowed: a set per SIM)
//   contentType    how the device's data is sent to the function (below)
//
// plus, from SORACOM's Funnel/Beam vocabulary, `addSimId` (send the SIM ID with the identity; on by
// default, as SORACOM's Funk metadata always carries it) and `skipStatusCode` (TCP/UDP answers
// without the leading "<status> ").
//
// simtrust has one provider, `https`: any function reachable by an HTTPS URL (`resourceUrl`), called
// with POST and authenticated by the credential set — `api-token-credentials` as
// `Authorization: Bearer <token>`, `username-password-credentials` as Basic. SORACOM's `aws`
// (Lambda, SigV4), `azure` and `google` providers need each cloud's request signing or token
// exchange, which simtrust does not do; they are refused when written, with that reason.
//
// contentType (SORACOM's "送信データ形式"), as the console names it or as a media type:
//   json   (application/json)          the device's data must be JSON and is sent as it is (else 400)
//   text   (text/plain)                {"payload": "<the data as UTF-8 text>"}
//   binary (application/octet-stream) {"payload": "<the data in Base64>"}
//   unspecified (absent)               TCP and UDP as binary; HTTP by the request's Content-Type
//
// Each key is checked when written (the group API refuses a bad value with ERR_FUNK_CONFIG naming
// the key); `funkConfig` reads the stored namespace back for the entry points.

import { SimtrustError } from '../../lib/errors.js';
import { isCredentialsReference } from '../credentials/credential-sets.js';

export const FUNK_NAMESPACE = 'SoracomFunk';

export const FUNK_PROVIDERS = ['https'] as const;
export type FunkProvider = (typeof FUNK_PROVIDERS)[number];

/** SORACOM's providers simtrust does not call, and why (the message of the refusal). */
const UNSUPPORTED_PROVIDERS: ReadonlyMap<string, string> = new Map([
  ['aws', 'AWS Lambda needs AWS SigV4 request signing, which simtrust does not do'],
  ['azure', "Azure Functions' SORACOM adapter is not built"],
  ['google', "Google Cloud Functions' SORACOM adapter (service-account token exchange) is not built"],
]);

export type FunkContentType = 'json' | 'text' | 'binary' | 'unspecified';

const CONTENT_TYPES: ReadonlyMap<string, FunkContentType> = new Map([
  ['json', 'json'],
  ['application/json', 'json'],
  ['text', 'text'],
  ['text/plain', 'text'],
  ['binary', 'binary'],
  ['application/octet-stream', 'binary'],
  ['unspecified', 'unspecified'],
]);

export const MAX_RESOURCE_URL_LENGTH = 2048;

export interface FunkDestination {
  readonly provider: FunkProvider;
  /** Free text naming the function service (kept as written; not used to route). */
  readonly service: string | null;
  readonly resourceUrl: URL;
}

export interface FunkConfig {
  readonly enabled: boolean;
  readonly destination: FunkDestination | null;
  /** The credential set's id as written (may contain `#{imsi}`), or null: no credential sent. */
  readonly credentialsId: string | null;
  readonly contentType: FunkContentType;
  readonly addSimId: boolean;
  readonly skipStatusCode: boolean;
}

const bad = (key: string, expected: string) =>
  new SimtrustError('ERR_FUNK_CONFIG', `SoracomFunk.${key} must be ${expected}`);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseDestination(v: unknown): FunkDestination {
  const shape = 'an object {provider: "https", service?, resourceUrl: "https://…"}';
  if (!isObject(v)) throw bad('destination', shape);
  for (const k of Object.keys(v)) {
    if (k !== 'provider' && k !== 'service' && k !== 'resourceUrl') {
      throw bad('destination', `${shape}; "${k.slice(0, 40)}" is not one of its fields`);
    }
  }
  const { provider, service, resourceUrl } = v;
  if (typeof provider === 'string' && UNSUPPORTED_PROVIDERS.has(provider)) {
    throw bad(
      'destination.provider',
      `"https" (${UNSUPPORTED_PROVIDERS.get(provider)}; call the function through its HTTPS URL with provider "https")`,
    );
  }
  if (provider !== 'https') throw bad('destination.provider', '"https"');
  if (service !== undefined && service !== null && (typeof service !== 'string' || service.length > 64)) {
    throw bad('destination.service', 'a string of at most 64 characters');
  }
  const url = functionUrl(resourceUrl);
  if (url === undefined) {
    throw bad(
      'destination.resourceUrl',
      `an https:// URL of at most ${MAX_RESOURCE_URL_LENGTH} characters without user name, password or fragment`,
    );
  }
  return { provider, service: typeof service === 'string' ? service : null, resourceUrl: url };
}

/** An https URL without credentials or fragment, or undefined. */
export function functionUrl(text: unknown): URL | undefined {
  if (typeof text !== 'string' || text.length > MAX_RESOURCE_URL_LENGTH || !URL.canParse(text))
    return undefined;
  // Written plainly: the URL parser would mend `https:///host`, `https:\\host` or a tab, and what
  // is stored should be what is called.
  if (!/^https:\/\/[^/\\]/i.test(text) || /[\s\\]/.test(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== 'https:' || url.hostname === '') return undefined;
  if (url.username !== '' || url.password !== '' || url.hash !== '') return undefined;
  return url;
}

function parseCredentialsId(v: unknown): string | null {
  if (v === null) return null;
  const id = isObject(v) && Object.keys(v).length === 1 ? v.$credentialsId : v;
  if (typeof id !== 'string' || !isCredentialsReference(id)) {
    throw bad(
      'credentialsId',
      'null, a credential set id, or {"$credentialsId": "<id>"} (1–100 letters, digits, dot, underscore, hyphen; #{imsi} for the SIM\'s own set)',
    );
  }
  return id;
}

function parseContentType(v: unknown): FunkContentType {
  const t = typeof v === 'string' ? CONTENT_TYPES.get(v.toLowerCase()) : undefined;
  if (t === undefined) {
    throw bad(
      'contentType',
      'one of json, text, binary, unspecified (or application/json, text/plain, application/octet-stream)',
    );
  }
  return t;
}

function parseBoolean(key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(key, 'true or false');
  return v;
}

/** The keys of the namespace: each parses its value or throws ERR_FUNK_CONFIG naming the key. */
const KEYS: ReadonlyMap<string, (value: unknown) => unknown> = new Map<string, (value: unknown) => unknown>([
  ['enabled', (v) => parseBoolean('enabled', v)],
  ['destination', parseDestination],
  ['credentialsId', parseCredentialsId],
  ['contentType', parseContentType],
  ['addSimId', (v) => parseBoolean('addSimId', v)],
  ['skipStatusCode', (v) => parseBoolean('skipStatusCode', v)],
]);

/** The group API's check of one key of SoracomFunk when it is written. */
export function validateFunkParameter(key: string, value: unknown): void {
  const parse = KEYS.get(key);
  if (parse === undefined) {
    throw new SimtrustError(
      'ERR_FUNK_CONFIG',
      `SoracomFunk has no key "${key.slice(0, 64)}"; its keys are ${[...KEYS.keys()].join(', ')}`,
    );
  }
  parse(value);
}

/**
 * The namespace as stored (key → parsed JSON, as sessionOwner returns it) read as a FunkConfig.
 * Keys written before a check existed, or by hand, are read with the same checks: a bad value
 * throws ERR_FUNK_CONFIG, which the entry points answer as a configuration error.
 */
export function funkConfig(stored: Readonly<Record<string, unknown>>): FunkConfig {
  const get = (key: string) => (Object.hasOwn(stored, key) ? stored[key] : undefined);
  const enabled = get('enabled');
  const destination = get('destination');
  const credentialsId = get('credentialsId');
  const contentType = get('contentType');
  const addSimId = get('addSimId');
  const skipStatusCode = get('skipStatusCode');
  return {
    enabled: enabled === undefined ? false : parseBoolean('enabled', enabled),
    destination: destination === undefined || destination === null ? null : parseDestination(destination),
    credentialsId: credentialsId === undefined ? null : parseCredentialsId(credentialsId),
    contentType:
      contentType === undefined || contentType === null ? 'unspecified' : parseContentType(contentType),
    addSimId: addSimId === undefined ? true : parseBoolean('addSimId', addSimId),
    skipStatusCode: skipStatusCode === undefined ? false : parseBoolean('skipStatusCode', skipStatusCode),
  };
}

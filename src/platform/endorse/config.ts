// The `Endorse` group configuration namespace (`SoracomEndorse` is accepted as an alias), with the
// key names of SORACOM Endorse (reference: soracom.md §1.5) plus `compat` and `algorithm`. Each key
// is declared once here with its check; the group API refuses a bad value when it is written, and
// the token issuer reads the namespace back through `endorseConfig`.

import { SimtrustError } from '../../lib/errors.js';
import { checkRawRedirect, pathLayers, pathWithin } from '../../lib/redirect-target.js';
import { ENDORSE_ALGORITHMS, type EndorseAlgorithm, isEndorseAlgorithm } from './rfc-7515-jws.js';

export const ENDORSE_NAMESPACE = 'Endorse';

export const ENDORSED_PARAMETERS = ['simId', 'imsi', 'imei', 'msisdn', 'requestParameters'] as const;
export type EndorsedParameter = (typeof ENDORSED_PARAMETERS)[number];

export const TOKEN_TIMEOUT_BOUNDS = { min: 60, max: 86_400 } as const;
export const MAX_REDIRECT_URLS = 20;
export const MAX_URL_LENGTH = 2048;

export const COMPAT_MODES = ['simtrust', 'soracom'] as const;
export type CompatMode = (typeof COMPAT_MODES)[number];

export interface EndorseConfig {
  readonly enabled: boolean;
  readonly parametersToEndorse: Readonly<Record<EndorsedParameter, boolean>>;
  readonly tokenTimeoutSeconds: number;
  /** The one origin CORS answers for, or null (no CORS headers). */
  readonly allowOrigin: string | null;
  readonly authorizedRedirectUrls: readonly URL[];
  readonly compat: CompatMode;
  readonly algorithm: EndorseAlgorithm;
}

export const DEFAULT_ENDORSE_CONFIG: EndorseConfig = {
  enabled: false,
  parametersToEndorse: { simId: false, imsi: true, imei: true, msisdn: false, requestParameters: false },
  tokenTimeoutSeconds: 180,
  allowOrigin: null,
  authorizedRedirectUrls: [],
  compat: 'simtrust',
  algorithm: 'RS256',
};

const bad = (key: string, expected: string) =>
  new SimtrustError('ERR_ENDORSE_CONFIG', `Endorse.${key} must be ${expected}`);

/** An http(s) URL without credentials or fragment, or undefined. */
function plainHttpUrl(text: unknown): URL | undefined {
  if (typeof text !== 'string' || text.length > MAX_URL_LENGTH || !URL.canParse(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.hash !== '') return undefined;
  return url;
}

/** The keys of the namespace and their checks (each throws ERR_ENDORSE_CONFIG naming the key). */
const KEYS: Readonly<Record<string, (value: unknown) => void>> = {
  enabled(v) {
    if (typeof v !== 'boolean') throw bad('enabled', 'true or false');
  },
  parametersToEndorse(v) {
    const expected = `an object of booleans with keys among ${ENDORSED_PARAMETERS.join(', ')}`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('parametersToEndorse', expected);
    for (const [k, b] of Object.entries(v)) {
      if (!(ENDORSED_PARAMETERS as readonly string[]).includes(k) || typeof b !== 'boolean') {
        throw bad('parametersToEndorse', expected);
      }
    }
  },
  tokenTimeoutSeconds(v) {
    const { min, max } = TOKEN_TIMEOUT_BOUNDS;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw bad('tokenTimeoutSeconds', `an integer from ${min} to ${max}`);
    }
  },
  allowOrigin(v) {
    // One exact origin. `*` is refused: any web page a device's browser opens could then read the
    // token that vouches for the device's SIM.
    const url = plainHttpUrl(v);
    if (v !== null && (url === undefined || url.origin !== v)) {
      throw bad('allowOrigin', 'null or one origin such as https://app.example.com (no path, no *)');
    }
  },
  authorizedRedirectUrls(v) {
    const expected = `an array of at most ${MAX_REDIRECT_URLS} http(s) URLs without query, fragment, credentials, encoded slashes or dot segments`;
    if (!Array.isArray(v) || v.length > MAX_REDIRECT_URLS) throw bad('authorizedRedirectUrls', expected);
    for (const item of v) {
      const url = plainHttpUrl(item);
      if (url === undefined || url.search !== '' || !pathLayers(url.pathname).ok) {
        throw bad('authorizedRedirectUrls', expected);
      }
    }
  },
  compat(v) {
    if (!(COMPAT_MODES as readonly unknown[]).includes(v))
      throw bad('compat', `one of ${COMPAT_MODES.join(', ')}`);
  },
  algorithm(v) {
    if (!isEndorseAlgorithm(v)) throw bad('algorithm', `one of ${ENDORSE_ALGORITHMS.join(', ')}`);
  },
};

export const ENDORSE_KEYS: readonly string[] = Object.keys(KEYS);

/** The group API's validator for the namespace: an unknown key or a bad value throws. */
export function validateEndorseParameter(key: string, value: unknown): void {
  const check = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined; // `constructor` is not a key
  if (check === undefined) {
    throw new SimtrustError(
      'ERR_ENDORSE_CONFIG',
      `Endorse has no key ${JSON.stringify(key)}; the keys are ${ENDORSE_KEYS.join(', ')}`,
    );
  }
  check(value);
}

const valid = (key: string, value: unknown): boolean => {
  try {
    validateEndorseParameter(key, value);
    return true;
  } catch {
    return false;
  }
};

/**
 * The namespace as stored (key → parsed JSON) to a typed configuration. Values are checked again:
 * a value that does not pass (written before validation existed, or by hand) falls back to its
 * default instead of reaching the issuer. `compat: "soracom"` always signs RS256, as SORACOM's
 * verifiers expect.
 */
export function endorseConfig(stored: Readonly<Record<string, unknown>>): EndorseConfig {
  const d = DEFAULT_ENDORSE_CONFIG;
  const pick = <T>(key: string, fallback: T): T =>
    stored[key] !== undefined && valid(key, stored[key]) ? (stored[key] as T) : fallback;
  const params = pick<Partial<Record<EndorsedParameter, boolean>>>('parametersToEndorse', {});
  const compat = pick<CompatMode>('compat', d.compat);
  return {
    enabled: pick('enabled', d.enabled),
    parametersToEndorse: { ...d.parametersToEndorse, ...params },
    tokenTimeoutSeconds: pick('tokenTimeoutSeconds', d.tokenTimeoutSeconds),
    allowOrigin: pick<string | null>('allowOrigin', d.allowOrigin),
    authorizedRedirectUrls: pick<string[]>('authorizedRedirectUrls', []).map((u) => new URL(u)),
    compat,
    algorithm: compat === 'soracom' ? 'RS256' : pick('algorithm', d.algorithm),
  };
}

/**
 * Whether `target` is an authorised redirect: an http(s) URL without credentials, same origin as an
 * entry (scheme, host and port exactly) and a path equal to the entry's or below it at a `/`
 * boundary — as parsed (dot segments, `%2e%2e` and `\` already resolved by the URL parser) and on
 * every percent-decoding of it, which must stay a plain path (no `%2f..%2f`, `%5c`, encoded control
 * characters; src/lib/redirect-target.ts), because the application behind the redirect may decode
 * it again. String prefixes are not enough (`https://app.example.com.evil.net`), so both sides are
 * parsed.
 */
export function redirectAllowed(target: URL, authorized: readonly URL[]): boolean {
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return false;
  if (target.username !== '' || target.password !== '') return false;
  const layers = pathLayers(target.pathname);
  if (!layers.ok) return false;
  return authorized.some((entry) => {
    if (entry.origin !== target.origin) return false;
    const base = pathLayers(entry.pathname);
    if (!base.ok) return false;
    const entryPath = entry.pathname;
    const entryDecoded = base.value.at(-1) ?? entryPath;
    // The as-sent path against the entry as written, every decoding against the decoded entry.
    return (
      pathWithin(layers.value[0] ?? '', entryPath) &&
      layers.value.slice(1).every((path) => pathWithin(path, entryDecoded))
    );
  });
}

/**
 * A device's redirect_url → the URL to send it to, or undefined (CWE-601): the raw text has no
 * control character, whitespace or backslash (which URL parsing would drop or turn into `/`, so the
 * checked text would not be the followed one), the parsed URL passes `redirectAllowed`, and the
 * answer is the parsed URL — the caller re-serialises it, never echoes the text as received.
 */
export function authorizedRedirect(text: unknown, authorized: readonly URL[]): URL | undefined {
  const raw = checkRawRedirect(text);
  const url = raw.ok && URL.canParse(raw.value) ? new URL(raw.value) : undefined;
  return url !== undefined && redirectAllowed(url, authorized) ? url : undefined;
}

// The group configuration namespaces the console edits as forms, each key declared once with the
// check the API applies when it is written — SoracomAir: src/platform/aaa/aaa-service.ts
// (airConfigurationValidator, address pools from aaa/address-pool.ts); Endorse:
// src/platform/endorse/config.ts (validateEndorseParameter). test/web/group-configuration.test.ts
// runs both sides on generated values and fails when they disagree, so the form cannot drift from
// the API. The API checks again on save; its answer is shown under the form.

import { plainPathLayers } from './redirect-path.js';

/** A key's check: undefined when the value is acceptable, else what is expected. */
export type Check = (value: unknown) => string | undefined;

// --- SoracomAir

const AIR_APN_MAX = 100;

/** An IPv4 address in dotted decimal without leading zeros (address-pool.ts ipv4ToNumber). */
function ipv4(text: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return false;
  return m.slice(1).every((p) => Number(p) <= 255 && (p.length === 1 || !p.startsWith('0')));
}

/** address-pool.ts parsePool: "a.b.c.d/p" (or a bare address, /32) with a prefix from /8 to /30. */
export function isAddressPool(text: string): boolean {
  const [addr = '', bits, ...rest] = text.trim().split('/');
  if (rest.length > 0 || !ipv4(addr)) return false;
  const prefix = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  return prefix >= 8 && prefix <= 30;
}

export const AIR_CHECKS: Readonly<Record<string, Check>> = {
  allowedApns: (v) =>
    Array.isArray(v) &&
    v.length <= AIR_APN_MAX &&
    v.every((a) => typeof a === 'string' && a.length > 0 && a.length <= 100)
      ? undefined
      : 'an array of up to 100 APN names',
  addressPool: (v) =>
    typeof v === 'string' && isAddressPool(v)
      ? undefined
      : 'an IPv4 network such as 127.65.0.0/16 (prefix /8 to /30)',
};

// --- Endorse

export const ENDORSED_PARAMETERS = ['simId', 'imsi', 'imei', 'msisdn', 'requestParameters'] as const;
export const TOKEN_TIMEOUT = { min: 60, max: 86_400 } as const;
export const COMPAT_MODES = ['simtrust', 'soracom'] as const;
export const ENDORSE_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
const MAX_REDIRECT_URLS = 20;
const MAX_URL_LENGTH = 2048;

function plainHttpUrl(text: unknown): URL | undefined {
  if (typeof text !== 'string' || text.length > MAX_URL_LENGTH || !URL.canParse(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.hash !== '') return undefined;
  return url;
}

const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `one of ${values.join(', ')}`;

export const ENDORSE_CHECKS: Readonly<Record<string, Check>> = {
  enabled: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  parametersToEndorse: (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(
      ([k, b]) => (ENDORSED_PARAMETERS as readonly string[]).includes(k) && typeof b === 'boolean',
    )
      ? undefined
      : `an object of booleans with keys among ${ENDORSED_PARAMETERS.join(', ')}`,
  tokenTimeoutSeconds: (v) =>
    Number.isSafeInteger(v) && (v as number) >= TOKEN_TIMEOUT.min && (v as number) <= TOKEN_TIMEOUT.max
      ? undefined
      : `an integer from ${TOKEN_TIMEOUT.min} to ${TOKEN_TIMEOUT.max}`,
  allowOrigin: (v) => {
    const url = plainHttpUrl(v);
    return v === null || (url !== undefined && url.origin === v)
      ? undefined
      : 'null or one origin such as https://app.example.com (no path, no *)';
  },
  authorizedRedirectUrls: (v) =>
    Array.isArray(v) &&
    v.length <= MAX_REDIRECT_URLS &&
    v.every((item) => {
      const url = plainHttpUrl(item);
      return url !== undefined && url.search === '' && plainPathLayers(url.pathname);
    })
      ? undefined
      : `an array of at most ${MAX_REDIRECT_URLS} http(s) URLs without query, fragment, credentials, encoded slashes or dot segments`,
  compat: oneOf(COMPAT_MODES),
  algorithm: oneOf(ENDORSE_ALGORITHMS),
};

/** The namespaces with a form, by the name the API stores them under. */
export const NAMESPACE_CHECKS = { SoracomAir: AIR_CHECKS, Endorse: ENDORSE_CHECKS } as const;
export type FormNamespace = keyof typeof NAMESPACE_CHECKS;

/** Each parameter's problem, keyed by parameter (an unknown Endorse key is one too). */
export function checkParameters(
  namespace: FormNamespace,
  params: ReadonlyArray<{ key: string; value: unknown }>,
): Record<string, string> {
  const checks: Readonly<Record<string, Check>> = NAMESPACE_CHECKS[namespace];
  // Keys are whatever the caller passes: a null-prototype object keeps `__proto__` a plain key.
  const errors: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const { key, value } of params) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    // SoracomAir holds many keys simtrust does not read; they pass, as in the API.
    if (check === undefined) {
      if (namespace === 'Endorse')
        errors[key] =
          `Endorse has no key ${JSON.stringify(key)}; the keys are ${Object.keys(ENDORSE_CHECKS).join(', ')}`;
      continue;
    }
    const problem = check(value);
    if (problem !== undefined) errors[key] = `${namespace}.${key} must be ${problem}`;
  }
  return errors;
}

/** Lines of a textarea as a list: trimmed, empty lines dropped. */
export const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

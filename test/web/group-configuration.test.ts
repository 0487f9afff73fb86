// The console's group forms check SoracomAir and Endorse values in the page (web/src/groups/
// configuration.ts) with rules copied from the API's validators. The threat is drift: a form that
// accepts what the API refuses (the operator sees a save fail) or refuses what the API accepts, or —
// worse — a redirect URL the page calls fine while the platform would not. Both sides run on the same
// generated values, hostile ones included, and must agree on the verdict and the message.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { airConfigurationValidator } from '../../src/platform/aaa/aaa-service.js';
import { validateEndorseParameter } from '../../src/platform/endorse/config.js';
import { checkParameters, type FormNamespace } from '../../web/src/groups/configuration.js';

const PLATFORM: Record<FormNamespace, (key: string, value: unknown) => void> = {
  SoracomAir: airConfigurationValidator,
  Endorse: validateEndorseParameter,
};

/** The platform's verdict: undefined when accepted, else its message. */
function platformVerdict(namespace: FormNamespace, key: string, value: unknown): string | undefined {
  try {
    PLATFORM[namespace](key, value);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const agree = (namespace: FormNamespace, key: string, value: unknown) => {
  const page = checkParameters(namespace, [{ key, value }])[key];
  expect(page, `${namespace}.${key} = ${JSON.stringify(value)}`).toBe(platformVerdict(namespace, key, value));
};

const octet = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.constantFrom('00', '01', '010', '-1', ''),
);
const pool = fc
  .tuple(
    octet,
    octet,
    octet,
    octet,
    fc.option(fc.oneof(fc.integer({ min: -1, max: 40 }).map(String), fc.constantFrom('', '08', 'x', '1/2'))),
  )
  .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}${p === null ? '' : `/${p}`}`);
const hostileText = fc.oneof(
  fc.string(),
  fc.constantFrom('constructor', '__proto__', 'toString', ' 10.0.0.0/8', '10.0.0.0/8 ', '*', 'null'),
);
const anyJson = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(Number.NaN));

const hosts = fc.constantFrom(
  'app.example.com',
  'APP.example.com',
  'app.example.com:8443',
  '127.0.0.1',
  '[::1]',
  'evil.example',
);
const paths = fc.oneof(
  fc.constantFrom(
    '',
    '/',
    '/cb',
    '/a/b',
    '/a/../b',
    '/%2e%2e/x',
    '/a%2fb',
    '/a%252fb',
    '/a%5cb',
    '/a\\b',
    '/%00',
    '/ok%20space',
  ),
  fc.webPath(),
);
const url = fc
  .tuple(
    fc.constantFrom('http', 'https', 'javascript', 'ftp', 'HTTPS'),
    fc.constantFrom('', 'user@', 'user:pw@'),
    hosts,
    paths,
    fc.constantFrom('', '?q=1', '#frag', '?'),
  )
  .map(([scheme, cred, host, path, tail]) => `${scheme}://${cred}${host}${path}${tail}`);

describe('console group forms agree with the API validators', () => {
  it('SoracomAir.addressPool', () => {
    fc.assert(
      fc.property(fc.oneof(pool, hostileText, anyJson), (v) => agree('SoracomAir', 'addressPool', v)),
      {
        numRuns: 3000,
      },
    );
  });

  it('SoracomAir.allowedApns', () => {
    const apn = fc.oneof(fc.string({ maxLength: 120 }), fc.constant(''), fc.integer(), fc.constant(null));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(apn, { maxLength: 5 }),
          fc.array(fc.constant('iot.example'), { minLength: 99, maxLength: 102 }),
          anyJson,
        ),
        (v) => agree('SoracomAir', 'allowedApns', v),
      ),
      { numRuns: 1000 },
    );
  });

  it('SoracomAir keys simtrust does not read pass on both sides', () => {
    fc.assert(
      fc.property(hostileText, anyJson, (key, v) => {
        fc.pre(key !== 'allowedApns' && key !== 'addressPool');
        agree('SoracomAir', key, v);
      }),
      { numRuns: 500 },
    );
  });

  it('Endorse: every key, hostile values and unknown keys', () => {
    const values: Record<string, fc.Arbitrary<unknown>> = {
      enabled: fc.oneof(fc.boolean(), anyJson),
      parametersToEndorse: fc.oneof(
        fc.dictionary(
          fc.constantFrom(
            'simId',
            'imsi',
            'imei',
            'msisdn',
            'requestParameters',
            'iccid',
            '__proto__',
            'constructor',
          ),
          fc.oneof(fc.boolean(), anyJson),
        ),
        anyJson,
      ),
      tokenTimeoutSeconds: fc.oneof(
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom(
          59,
          60,
          86_400,
          86_401,
          60.5,
          -0,
          Number.MAX_SAFE_INTEGER + 2,
          Number.POSITIVE_INFINITY,
        ),
        anyJson,
      ),
      allowOrigin: fc.oneof(
        url,
        url.map((u) => (URL.canParse(u) ? new URL(u).origin : u)),
        hostileText,
        anyJson,
      ),
      authorizedRedirectUrls: fc.oneof(
        fc.array(url, { maxLength: 3 }),
        fc.array(fc.constant('https://app.example.com/cb'), { minLength: 19, maxLength: 22 }),
        anyJson,
      ),
      compat: fc.oneof(fc.constantFrom('simtrust', 'soracom', 'SORACOM'), anyJson),
      algorithm: fc.oneof(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'HS256', 'none'), anyJson),
    };
    for (const [key, arbitrary] of Object.entries(values)) {
      fc.assert(
        fc.property(arbitrary, (v) => agree('Endorse', key, v)),
        { numRuns: 1500 },
      );
    }
    fc.assert(
      fc.property(hostileText, anyJson, (key, v) => {
        fc.pre(!Object.hasOwn(values, key));
        agree('Endorse', key, v);
      }),
      { numRuns: 500 },
    );
  });
});

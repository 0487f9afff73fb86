// The SoracomFunk namespace: SORACOM's keys and shapes are accepted, everything else is refused at
// PUT with ERR_FUNK_CONFIG naming the key; funkConfig reads the stored namespace back with defaults.
// And what Funk sends for the device's data (funk-payload.ts), with a fuzz of the JSON check.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSimtrustError } from '../../../src/lib/errors.js';
import { functionUrl, funkConfig, validateFunkParameter } from '../../../src/platform/beam/funk-config.js';
import { funkDeviceAnswer, funkEncoding, funkRequestBody } from '../../../src/platform/beam/funk-payload.js';
import { randomBytes as fuzzBytes, mutate, seededRandom } from '../../helpers/fuzz.js';

const refused = (key: string, value: unknown): string => {
  try {
    validateFunkParameter(key, value);
  } catch (e) {
    if (isSimtrustError(e) && e.code === 'ERR_FUNK_CONFIG') return e.message;
    throw e;
  }
  throw new Error(`SoracomFunk.${key} = ${JSON.stringify(value)} was accepted`);
};

describe('validateFunkParameter', () => {
  it("accepts SORACOM's shapes with the https provider", () => {
    validateFunkParameter('enabled', true);
    validateFunkParameter('destination', {
      provider: 'https',
      service: 'function',
      resourceUrl: 'https://fn.example.com/api/device?code=abc',
    });
    validateFunkParameter('credentialsId', { $credentialsId: 'fn-token' });
    validateFunkParameter('credentialsId', 'fn-#{imsi}');
    validateFunkParameter('credentialsId', null);
    for (const t of [
      'json',
      'text',
      'binary',
      'unspecified',
      'application/json',
      'text/plain',
      'application/octet-stream',
    ]) {
      validateFunkParameter('contentType', t);
    }
    validateFunkParameter('addSimId', false);
    validateFunkParameter('skipStatusCode', true);
  });

  it('refuses the cloud providers simtrust does not call, saying why and what to use', () => {
    for (const provider of ['aws', 'azure', 'google']) {
      const m = refused('destination', { provider, service: 'lambda', resourceUrl: 'https://x.example/' });
      expect(m).toMatch(/destination\.provider must be "https"/);
      expect(m).toMatch(/HTTPS URL/);
    }
  });

  it('refuses unknown keys, bad types, plain http and URLs with credentials or fragments', () => {
    expect(refused('resourceUrl', 'https://x/')).toMatch(/no key "resourceUrl"/);
    expect(refused('enabled', 'yes')).toMatch(/enabled must be true or false/);
    expect(refused('contentType', 'xml')).toMatch(/contentType must be one of/);
    expect(refused('credentialsId', { $credentialsId: '../other' })).toMatch(/credentialsId/);
    expect(refused('credentialsId', { $credentialsId: 'a', extra: 1 })).toMatch(/credentialsId/);
    for (const resourceUrl of [
      'http://fn.example.com/',
      'https://user:pw@fn.example.com/',
      'https://fn.example.com/#x',
      'ftp://fn.example.com/',
      'https:///nohost',
      'https:\\\\evil.example/',
      'https://fn.example.com/a\tb',
      `https://fn.example.com/${'a'.repeat(2100)}`,
      42,
    ]) {
      expect(refused('destination', { provider: 'https', resourceUrl })).toMatch(/resourceUrl/);
    }
    expect(
      refused('destination', { provider: 'https', resourceUrl: 'https://x.example/', region: 'eu' }),
    ).toMatch(/"region" is not one of its fields/);
  });

  it('never accepts a resourceUrl that is not plain https, whatever the text (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.constantFrom('', 'https://', 'http://', 'https://u@', '//'),
        (tail, head) => {
          const text = head + tail;
          const url = functionUrl(text);
          if (url === undefined) return true;
          return (
            url.protocol === 'https:' &&
            url.username === '' &&
            url.password === '' &&
            url.hash === '' &&
            url.hostname !== ''
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('funkConfig', () => {
  it('reads defaults: disabled, no destination, unspecified content, SIM ID on, status on', () => {
    expect(funkConfig({})).toEqual({
      enabled: false,
      destination: null,
      credentialsId: null,
      contentType: 'unspecified',
      addSimId: true,
      skipStatusCode: false,
    });
  });

  it('reads a stored namespace and refuses a bad value read back', () => {
    const c = funkConfig({
      enabled: true,
      destination: { provider: 'https', resourceUrl: 'https://fn.example.com/run' },
      credentialsId: { $credentialsId: 'fn' },
      contentType: 'application/json',
    });
    expect([c.enabled, c.destination?.resourceUrl.href, c.credentialsId, c.contentType]).toEqual([
      true,
      'https://fn.example.com/run',
      'fn',
      'json',
    ]);
    expect(() => funkConfig({ contentType: 7 })).toThrow(/contentType/);
  });
});

describe('funk payload', () => {
  it('encodes by contentType as SORACOM documents ({"hello": "funk"} example)', () => {
    const data = Buffer.from('{"hello": "funk"}');
    const body = (enc: Parameters<typeof funkRequestBody>[1]) => {
      const r = funkRequestBody(data, enc);
      if (!r.ok) throw new Error(r.error.message);
      return JSON.parse(r.value.toString()) as unknown;
    };
    expect(body('json')).toEqual({ hello: 'funk' });
    expect(body('text')).toEqual({ payload: '{"hello": "funk"}' });
    expect(body('binary')).toEqual({ payload: 'eyJoZWxsbyI6ICJmdW5rIn0=' });
  });

  it('resolves unspecified per entry point and the HTTP Content-Type', () => {
    expect(funkEncoding('unspecified', 'udp')).toBe('binary');
    expect(funkEncoding('unspecified', 'tcp', 'application/json')).toBe('binary');
    expect(funkEncoding('unspecified', 'http', 'application/json; charset=utf-8')).toBe('json');
    expect(funkEncoding('unspecified', 'http', 'application/vnd.api+json')).toBe('json');
    expect(funkEncoding('unspecified', 'http', 'text/csv')).toBe('text');
    expect(funkEncoding('unspecified', 'http', 'image/png')).toBe('binary');
    expect(funkEncoding('unspecified', 'http')).toBe('binary');
    expect(funkEncoding('text', 'udp', 'application/json')).toBe('text');
  });

  it('answers TCP/UDP devices "<status> <bytes>" without re-encoding, or the bytes alone', () => {
    // SORACOM's example: 200 and binary abcd → 32303020abcd.
    expect(funkDeviceAnswer(200, Buffer.from('abcd', 'hex'), false).toString('hex')).toBe('32303020abcd');
    expect(funkDeviceAnswer(500, Buffer.from('NG'), false).toString()).toBe('500 NG');
    expect(funkDeviceAnswer(500, Buffer.from('NG'), true).toString()).toBe('NG');
  });

  it('fuzz: any bytes give a body or NOT_JSON, never a throw; json passes exactly what parses (12,000 inputs)', () => {
    const random = seededRandom(0x5eed_f0c);
    const seeds = [
      Buffer.from('{"temp": 21.5, "ok": true}'),
      Buffer.from('[1,2,3]'),
      Buffer.from('"text"'),
      Buffer.from('null'),
      Buffer.from('{"a":{"b":[{"c":"\\u00e9"}]}}'),
    ];
    const strictJson = (b: Uint8Array): boolean => {
      try {
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
        return true;
      } catch {
        return false;
      }
    };
    // Valid JSON of every shape too, so the accepting branch is taken often.
    const documents = fc.sample(fc.json(), { numRuns: 3000, seed: 17 }).map((t) => Buffer.from(t));
    let accepted = 0;
    for (let i = 0; i < 12_000; i++) {
      const input =
        i % 4 === 0
          ? fuzzBytes(random, 64)
          : i % 4 === 1
            ? (documents[i % documents.length] as Buffer)
            : mutate(random, seeds[i % seeds.length] as Uint8Array);
      for (const enc of ['json', 'text', 'binary'] as const) {
        const r = funkRequestBody(input, enc);
        if (enc !== 'json') {
          expect(r.ok).toBe(true);
          if (r.ok) JSON.parse(r.value.toString());
          continue;
        }
        expect(r.ok).toBe(strictJson(input));
        if (r.ok) {
          accepted++;
          expect(JSON.parse(r.value.toString())).toEqual(JSON.parse(Buffer.from(input).toString()));
        } else expect(r.error.code).toBe('NOT_JSON');
      }
    }
    // The mutations keep some inputs valid, so both branches were taken.
    expect(accepted).toBeGreaterThan(100);
  });
});

// Threat: an SMS provider's answer (or a compromised provider) names a status such as
// `constructor` or `__proto__`; looked up on a plain object it would map to a function or the
// prototype instead of a delivery state (issue 11: request data as lookup keys).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonPath } from '../../../src/platform/mfa/sms-providers/http-json.js';

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

describe('jsonPath reads only own members (issue 11)', () => {
  it('finds own members at any depth', () => {
    expect(jsonPath({ a: { b: 'delivered' } }, '$.a.b')).toBe('delivered');
    expect(jsonPath({ a: [{ c: 1 }] }, 'a.0.c')).toBe(1);
  });

  it('answers undefined for every prototype-named segment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROTOTYPE_KEYS),
        fc.constantFrom(...PROTOTYPE_KEYS, 'status'),
        (a, b) => {
          expect(jsonPath({ status: 'x' }, `$.${a}`)).toBeUndefined();
          expect(jsonPath({ status: { inner: 1 } }, `status.${a}`)).toBeUndefined();
          expect(jsonPath(JSON.parse('{"__proto__": {"status": "p"}}'), `${b}.status`)).toBe(
            b === '__proto__' ? 'p' : undefined,
          );
        },
      ),
    );
  });
});

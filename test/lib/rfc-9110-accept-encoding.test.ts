// Accept-Encoding decides which bytes of a console file are sent. The threat: a header (from any
// client, any proxy) that crashes the choice or gets a coding the client refused — a browser shown
// brotli bytes as text. Total over any string; never a coding the header gives q=0.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseEncoding } from '../../src/lib/rfc-9110-accept-encoding.js';

const OFFERED = ['br', 'gzip'] as const;

describe('RFC 9110 §12.5.3 Accept-Encoding', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip, deflate, br, zstd', 'br'], // Chromium
    ['gzip, deflate', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=0.5', 'br'],
    ['identity', 'identity'],
    ['identity;q=1, br;q=0.5', 'identity'],
    ['*', 'br'],
    ['*;q=0', 'identity'],
    ['*, br;q=0', 'gzip'],
    ['BR', 'br'],
    ['x-gzip', 'gzip'],
    ['br;q=2', 'identity'], // malformed qvalue: the member is ignored
    ['br;q=abc, gzip', 'gzip'],
    [';;;,,,', 'identity'],
  ] as const)('%j → %s', (header, expected) => {
    expect(chooseEncoding(header, OFFERED)).toBe(expected);
  });

  it('property: any header gives one of ours or identity, never a coding it refuses with q=0', () => {
    const member = fc.oneof(
      fc.constantFrom('br', 'gzip', 'identity', '*', 'deflate', 'zstd', 'x-gzip', 'BR'),
      fc.string({ maxLength: 8 }),
    );
    const q = fc.oneof(
      fc.constant(''),
      fc.constantFrom(';q=0', ';q=0.000', ';q=1', ';q=0.5', ';Q=0'),
      fc.string(),
    );
    const header = fc.oneof(
      fc
        .array(
          fc.tuple(member, q).map(([m, v]) => m + v),
          { maxLength: 6 },
        )
        .map((a) => a.join(', ')),
      fc.string({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(header, (h) => {
        const chosen = chooseEncoding(h, OFFERED);
        expect(['br', 'gzip', 'identity']).toContain(chosen);
        if (chosen !== 'identity') {
          const refused = new RegExp(`(^|,)\\s*${chosen}\\s*;\\s*q=0(\\.0{0,3})?\\s*(,|$)`, 'i');
          expect(h).not.toMatch(refused);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

// STYLE.md #1: one generic test over every declared TLV object. For each example: the generic codec
// splits it, the definition decodes the value to the declared form, encoding gives the same bytes
// back, and decode(encode(value)) is the value again. Then random bytes go through every decoder
// to show they are total (a value or a typed error, never an exception).

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBerTlv } from '../../src/lib/ber-tlv.js';
import { decodeComprehensionTlv } from '../../src/lib/comprehension-tlv.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { BER_TLV_DEFINITIONS, COMPREHENSION_TLV_DEFINITIONS } from '../../src/lib/tlv-catalogue.js';

const label = (d: { tag: number; name: string }) =>
  `${d.tag.toString(16).toUpperCase().padStart(2, '0')} ${d.name}`;

describe('BER-TLV registry', () => {
  it('declares each object with a clause and at least one example', () => {
    for (const d of BER_TLV_DEFINITIONS) {
      expect(d.spec, label(d)).toMatch(/^(TS|ISO|RFC|GP) /);
      expect(d.examples.length, label(d)).toBeGreaterThan(0);
    }
  });

  for (const d of BER_TLV_DEFINITIONS) {
    describe(label(d), () => {
      for (const ex of d.examples) {
        it(`${ex.hex}: decode, encode, round-trip`, () => {
          const bytes = hex(ex.hex);
          const tlv = decodeBerTlv(bytes);
          expect(tlv.ok && tlv.value.tag).toBe(d.tag);
          const decoded = d.decode(bytes);
          expect(decoded).toEqual({ ok: true, value: ex.value });
          expect(toHex(d.encode(ex.value))).toBe(ex.hex.toLowerCase());
          expect(d.decode(d.encode(ex.value))).toEqual({ ok: true, value: ex.value });
        });
      }
    });
  }
});

describe('COMPREHENSION-TLV registry', () => {
  it('declares each object with a clause and at least one example', () => {
    for (const d of COMPREHENSION_TLV_DEFINITIONS) {
      expect(d.spec, label(d)).toMatch(/^TS /);
      expect(d.examples.length, label(d)).toBeGreaterThan(0);
    }
  });

  it('declares each tag once', () => {
    const tags = COMPREHENSION_TLV_DEFINITIONS.map((d) => d.tag);
    expect(new Set(tags).size).toBe(tags.length);
  });

  for (const d of COMPREHENSION_TLV_DEFINITIONS) {
    describe(label(d), () => {
      for (const ex of d.examples) {
        it(`${ex.hex}: decode, encode, round-trip`, () => {
          const bytes = hex(ex.hex);
          const tlv = decodeComprehensionTlv(bytes);
          if (!tlv.ok) throw new Error(`${ex.hex}: ${tlv.error.message}`);
          expect(tlv.value.tag).toBe(d.tag);
          expect(d.decode(bytes)).toEqual({ ok: true, value: ex.value });
          expect(toHex(d.encode(ex.value, tlv.value.cr))).toBe(ex.hex.toLowerCase());
          expect(d.decode(d.encode(ex.value))).toEqual({ ok: true, value: ex.value });
        });
      }
    });
  }
});

describe('every declared decoder is total', () => {
  const all = [...BER_TLV_DEFINITIONS, ...COMPREHENSION_TLV_DEFINITIONS];

  it('random and mutated bytes give a value or a typed error', () => {
    let errors = 0;
    for (const d of all) {
      const seeds = d.examples.map((e) => hex(e.hex));
      for (let i = 0; i < 400; i++) {
        let input: Uint8Array;
        const seed = seeds[i % seeds.length] as Uint8Array;
        if (i % 2 === 0) input = new Uint8Array(randomBytes(i % 40));
        else {
          input = seed.slice();
          const at = i % Math.max(1, input.length);
          input[at] = (input[at] ?? 0) ^ (1 << (i % 8));
          if (i % 3 === 0) input = input.subarray(0, Math.max(0, input.length - (i % 5)));
        }
        // Both the whole-object decoder and the bare value codec.
        for (const r of [d.decode(input), d.codec.decode(input.subarray(2))]) {
          if (!r.ok) {
            errors++;
            expect(typeof r.error.code).toBe('string');
            expect(r.error.code).toMatch(/^[A-Z0-9_]+$/);
          }
        }
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});

// Threat: the ISD-P decodes a profile package that arrived over the air (ES8, through SM-SR and a
// device anyone may hold); an SM-DP decodes EUICCResponses from cards. Malformed DER must give a
// typed error — never an exception, never a hang — and whatever decodes must re-encode to the same
// bytes (DER: one encoding per value, so no two byte strings mean one profile).
//
// Seeds are the PEs of the GSMA TS.48 test profiles and built packages; inputs are their mutations
// plus random bytes (test/helpers/fuzz.ts, seeded).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  answerProfilePackage,
  buildProfilePackage,
  decodeEuiccResponse,
  decodeProfileElement,
  decodeProfilePackage,
  decodeProfilePackageLocated,
  encodeEuiccResponse,
  encodeProfileElement,
  encodeProfilePackage,
  readProfile,
} from '../../src/lib/saip-profile-package.js';
import { fuzz } from '../helpers/fuzz.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/vectors/saip/${name}`, import.meta.url)));
const packages = [
  fixture('TS48V1-A-UNIQUE.der'),
  fixture('TS48V2-SAIP2-3-BERTLV-UNIQUE.der'),
  buildProfilePackage({
    iccid: '8988211000000467285',
    imsi: '440103213100174',
    msisdn: '819012345678',
    ki: new Uint8Array(16),
    opc: new Uint8Array(16),
  }),
];
const elementSeeds = packages.flatMap((p) => {
  const located = decodeProfilePackageLocated(p);
  if (!located.ok) throw new Error('seed package does not decode');
  return located.value.map((l) => l.raw.slice());
});

/** Byte equality without building hex strings (the hot path of the fuzz loops). */
function expectSameBytes(a: Uint8Array, b: Uint8Array): void {
  if (!Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)) expect(toHex(a)).toBe(toHex(b));
}

function expectTypedError(r: { ok: boolean; error?: { code: unknown } }): void {
  if (!r.ok) expect(typeof r.error?.code).toBe('string');
}

describe('profile package decoder under mutation', () => {
  it('40,000 mutated ProfileElements: a value that re-encodes identically, or a typed error', () => {
    let decodedCount = 0;
    const r = fuzz(elementSeeds, 40_000, (input) => {
      const pe = decodeProfileElement(input);
      expectTypedError(pe);
      if (!pe.ok) return;
      decodedCount++;
      expectSameBytes(encodeProfileElement(pe.value), input);
      // what the eUICC reads from a lone PE is a value or a typed error too
      expectTypedError(readProfile([pe.value]));
    });
    expect(r.runs).toBe(40_000);
    // mutations that keep a PE valid (changed contents) happen, so re-encoding is exercised
    expect(decodedCount).toBeGreaterThan(1_000);
  });

  it('500 mutated whole packages: decode, read and answer never throw', () => {
    const r = fuzz(
      packages,
      500,
      (input) => {
        const pes = decodeProfilePackage(input);
        expectTypedError(pes);
        if (pes.ok) {
          expectSameBytes(encodeProfilePackage(pes.value), input);
          expectTypedError(readProfile(pes.value));
        }
        const { response } = answerProfilePackage(input);
        expect(response.peStatus.length).toBeGreaterThan(0);
        const again = decodeEuiccResponse(encodeEuiccResponse(response));
        expect(again.ok).toBe(true);
      },
      { seed: 0x5a1b },
    );
    expect(r.runs).toBe(500);
  });

  it('20,000 mutated EUICCResponses: a value that survives re-encoding, or a typed error', () => {
    const seeds = [
      hex('300aa0083006800100810101'),
      hex('3018a00f300d80010381010a820101830201' + '2c810082036f6b3f'),
      encodeEuiccResponse({
        peStatus: Array.from({ length: 8 }, (_, i) => ({ status: 0, identification: i + 1 })),
      }),
    ];
    const r = fuzz(seeds, 20_000, (input) => {
      const d = decodeEuiccResponse(input);
      expectTypedError(d);
      // EXTENSIBILITY IMPLIED: a component a later version adds is skipped by this reader, so the
      // check is that what was read survives encoding, not that the bytes come back.
      if (d.ok) {
        const again = decodeEuiccResponse(encodeEuiccResponse(d.value));
        expect(again.ok && again.value).toEqual(d.value);
      }
    });
    expect(r.runs).toBe(20_000);
  });

  it('non-DER forms are refused, so nothing decodes that would re-encode differently', () => {
    // end PE with a long-form length: aa 81 07 …
    expect(decodeProfileElement(hex('aa8107a005800081011f')).ok).toBe(false);
    // identification INTEGER with a leading zero byte
    expect(decodeProfileElement(hex('aa08a00680008102001f')).ok).toBe(false);
    // the same PE in DER decodes
    expect(decodeProfileElement(hex('aa07a005800081011f')).ok).toBe(true);
    // a context tag below 31 written in the long form (bf 0a instead of aa)
    expect(decodeProfileElement(hex('bf0a07a005800081011f')).ok).toBe(false);
    // a negative INTEGER, reported where its TLV starts (aa07 a005 8000 | 810180)
    const negative = decodeProfileElement(hex('aa07a0058000810180'));
    expect(!negative.ok && [negative.error.code, negative.error.offset]).toEqual(['DER_INTEGER', 6]);
  });
});

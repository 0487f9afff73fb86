// Threat: a GSUP client (an MSC/SGSN or anything reaching the port) sends malformed frames to crash the
// AuC. Framing, CCM and GSUP decoding must answer with values or typed errors for any bytes.

import { describe, expect, it } from 'vitest';
import {
  decodeGsup,
  encodeGsup,
  GSUP_IES,
  type GsupIeName,
  type GsupMessage,
} from '../../../src/lib/gsup/gsup.js';
import { decodeCcm, gsupPayload, IpaDeframer } from '../../../src/lib/gsup/ipa.js';
import { hex } from '../../../src/lib/hex.js';
import { fuzz } from '../../helpers/fuzz.js';

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [
    hex('0401080107010201030104010501010100'),
    hex('05000d0054455354000d0854455354'),
  ];
  for (const [name, spec] of Object.entries(GSUP_IES) as [GsupIeName, (typeof GSUP_IES)[GsupIeName]][]) {
    if (name === 'imsi') continue;
    const value = spec.example[0];
    const m = encodeGsup({
      type: 0x0a,
      imsi: '232010000000000',
      [name]: 'repeated' in spec ? [value, value] : value,
    } as GsupMessage);
    if (m.ok) out.push(m.value);
  }
  return out;
}

describe('GSUP/IPA decoders never throw', () => {
  it('survives ≥ 100,000 mutated and random GSUP messages, CCM payloads and stream chunks', () => {
    let decoded = 0;
    const deframer = new IpaDeframer();
    const result = fuzz(seeds(), 110_000, (input) => {
      if (decodeGsup(input).ok) decoded++;
      decodeCcm(input);
      for (const frame of deframer.push(input)) {
        const gsup = gsupPayload(frame);
        if (gsup) decodeGsup(gsup);
        else decodeCcm(frame.payload);
      }
    });
    expect(result.runs).toBeGreaterThanOrEqual(100_000);
    expect(decoded).toBeGreaterThan(5_000);
    console.info(`GSUP fuzz: ${result.runs} inputs, ${decoded} valid GSUP messages, ${result.perSecond}/s`);
  });
});

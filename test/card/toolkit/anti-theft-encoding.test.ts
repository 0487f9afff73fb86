// STYLE.md #1 for the applet's own encoding: every command, state field, template, result and alert is
// declared once with its bytes (src/lib/anti-theft-encoding.ts); this generic test decodes,
// encodes and round-trips each example, and feeds hostile values to every decoder (property-based:
// whatever the bytes, a value that re-encodes to them, or a typed error).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANTI_THEFT_TLVS, decodeCommands, encodeCommands } from '../../../src/lib/anti-theft-encoding.js';
import { decodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { hex, toHex } from '../../../src/lib/hex.js';

const label = (d: { tag: number; name: string }) => `${d.tag.toString(16).toUpperCase()} ${d.name}`;

describe('anti-theft encoding registry', () => {
  for (const d of ANTI_THEFT_TLVS) {
    for (const ex of d.examples) {
      it(`${label(d)} ${ex.hex}: decode, encode, round-trip`, () => {
        const bytes = hex(ex.hex);
        expect(decodeBerTlv(bytes).ok).toBe(true);
        expect(d.decode(bytes)).toEqual({ ok: true, value: ex.value });
        expect(toHex(d.encode(ex.value))).toBe(ex.hex.toLowerCase());
      });
    }
  }

  it('each command tag is declared once', () => {
    const tags = ANTI_THEFT_TLVS.slice(0, 10).map((d) => d.tag);
    expect(new Set(tags).size).toBe(tags.length);
  });

  it('a command sequence decodes to what encodes it', () => {
    const bytes = hex('800081081A325476981032548500890303012C');
    const commands = decodeCommands(bytes);
    expect(commands).toEqual({
      ok: true,
      value: [
        { op: 'readState' },
        { op: 'addImei', imei: '123456789012345' },
        { op: 'startLearning' },
        { op: 'setTolerance', tolerance: { strikes: 3, windowSeconds: 300 } },
      ],
    });
    if (commands.ok) expect(toHex(encodeCommands(commands.value))).toBe(toHex(bytes));
  });

  it('hostile bytes: every decoder gives a value or a typed error, and command lists re-encode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        for (const d of ANTI_THEFT_TLVS) {
          const r = d.decode(bytes);
          if (!r.ok) expect(r.error.code).toMatch(/^[A-Z0-9_]+$/);
        }
        const commands = decodeCommands(bytes);
        if (commands.ok) expect(toHex(encodeCommands(commands.value))).toBe(toHex(bytes));
        else expect(commands.error.index).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 3000, seed: 0x5eed },
    );
  });
});

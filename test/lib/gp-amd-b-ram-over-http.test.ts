// GP Amd B / SGP.02 SCP81 codecs: the PSK identity (SGP.02 Table 4), the administration session
// triggering parameters (GP Amd B Table 3-3, pySim's examples), the admin header values. Decoders are
// fuzzed: hostile bytes or text from the network or an SMS give a value or a typed error, never a throw.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AdminSessionTrigger,
  AdminSessionTriggerTlv,
  adminFrom,
  decodeAdminSessionTrigger,
  decodePskIdentity,
  encodePskIdentity,
  parseAdminFrom,
  parseTargetedApplication,
  targetedApplication,
} from '../../src/lib/gp-amd-b-ram-over-http.js';
import { hex, toHex } from '../../src/lib/hex.js';

const EID = '89049032123451234512345678901235';
const ISD_R = 'A0000005591010FFFFFFFF8900000100';

const typedError = (r: { ok: boolean; error?: { code: string } }) => {
  if (!r.ok) expect(r.error?.code).toMatch(/^[A-Z0-9_]+$/);
};

describe('PSK identity (SGP.02 Table 4)', () => {
  it('is the TLV 80 01 02 ‖ 81 EID ‖ 4F ISD-R AID ‖ 82 KID ‖ 83 KVN as upper-case hex text', () => {
    const text = encodePskIdentity({ eid: EID, aid: ISD_R, kvn: 0x40, kid: 0x01 });
    // The identity openssl s_server reported for the card's handshake (test/interop/scp81-openssl).
    expect(text).toBe(`8001028110${EID}4F10${ISD_R}820101830140`);
    expect(decodePskIdentity(text)).toEqual({
      ok: true,
      value: { eid: EID, aid: ISD_R, kvn: 0x40, kid: 0x01 },
    });
  });

  it('round-trips any EID, AID, KVN and KID', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 5, maxLength: 16 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        (eid, aid, kvn, kid) => {
          const id = { eid: toHex(eid).toUpperCase(), aid: toHex(aid).toUpperCase(), kvn, kid };
          expect(decodePskIdentity(encodePskIdentity(id))).toEqual({ ok: true, value: id });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses what is not one: other format, missing or repeated tags, not hex (fuzz)', () => {
    expect(decodePskIdentity(`8001018110${EID}`).ok).toBe(false);
    expect(decodePskIdentity('PSK Identity 123').ok).toBe(false);
    const valid = encodePskIdentity({ eid: EID, aid: ISD_R, kvn: 0x40, kid: 1 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 80 }).map((b) => toHex(b)),
        ),
        (t) => {
          typedError(decodePskIdentity(t));
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.constantFrom(...'0123456789ABCDEFxZ'),
        (at, c) => {
          const r = decodePskIdentity(valid.slice(0, at) + c + valid.slice(at + 1));
          typedError(r);
          if (r.ok) expect(r.value.eid).toHaveLength(32);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const triggerArb: fc.Arbitrary<AdminSessionTrigger> = fc.record(
  {
    connection: fc.record({
      bearer: fc.record({
        bearerType: fc.integer({ min: 0, max: 255 }),
        parameters: fc.uint8Array({ maxLength: 8 }).map((b) => toHex(b)),
      }),
      bufferSize: fc.integer({ min: 0, max: 0xffff }),
      transport: fc.record({
        protocol: fc.integer({ min: 0, max: 255 }),
        port: fc.integer({ min: 0, max: 0xffff }),
      }),
      address: fc.ipV4().map((address) => ({ type: 'ipv4' as const, address })),
    }),
    security: fc.record({
      pskIdentity: fc.uint8Array({ maxLength: 100 }).map((b) => toHex(b)),
      kvn: fc.integer({ min: 0, max: 255 }),
      kid: fc.integer({ min: 0, max: 255 }),
    }),
    http: fc.record(
      {
        host: fc.string({ maxLength: 30 }),
        agentId: fc.string({ maxLength: 30 }),
        uri: fc.string({ maxLength: 60 }),
      },
      { requiredKeys: ['uri'] },
    ),
  },
  { requiredKeys: [] },
);

describe('administration session triggering parameters (GP Amd B §3.7)', () => {
  it("'81 00' asks for the card's default configuration", () => {
    expect(decodeAdminSessionTrigger(hex('8100'))).toEqual({ ok: true, value: {} });
  });

  it('round-trips any trigger the SM-SR can build', () => {
    fc.assert(
      fc.property(triggerArb, (t) => {
        const bytes = AdminSessionTriggerTlv.encode(t);
        expect(decodeAdminSessionTrigger(bytes)).toEqual({ ok: true, value: t });
      }),
      { numRuns: 500 },
    );
  });

  it('accepts and skips the retry policy (86) and DNS parameters (B3)', () => {
    const bytes = hex('810E' + '830A' + '8603000100' + '89038c012f' + 'B300');
    expect(decodeAdminSessionTrigger(bytes)).toEqual({ ok: true, value: { http: { uri: '/' } } });
  });

  it('refuses trailing bytes and a connection without its address', () => {
    expect(decodeAdminSessionTrigger(hex('810000')).ok).toBe(false);
    const r = decodeAdminSessionTrigger(hex('8109' + '8307' + '8405b50103b900'));
    expect(r.ok).toBe(false);
  });

  it('fuzz: mutated and random push data give a trigger or a typed error', () => {
    const seeds = AdminSessionTriggerTlv.examples.map((e) => hex(e.hex));
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (seed, flips, cut) => {
          const b = seed.slice();
          for (const [at, v] of flips) b[at % b.length] = v;
          typedError(decodeAdminSessionTrigger(b.subarray(0, b.length - (cut % 4))));
        },
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => typedError(decodeAdminSessionTrigger(b))),
      { numRuns: 10_000 },
    );
  });
});

describe('admin headers', () => {
  it('X-Admin-From and X-Admin-Targeted-Application as esim.md §4.5 shows them', () => {
    expect(adminFrom(EID, ISD_R)).toBe(`//se-id/eid/${EID};//aa-id/aid/${ISD_R}`);
    expect(parseAdminFrom(adminFrom(EID, ISD_R))).toEqual({ ok: true, value: { eid: EID, aid: ISD_R } });
    expect(targetedApplication(ISD_R)).toBe('//aid/A000000559/1010FFFFFFFF8900000100');
    expect(parseTargetedApplication('//aid/A000000559/1010FFFFFFFF8900000100')).toEqual({
      ok: true,
      value: ISD_R,
    });
  });

  it('fuzz: any header text parses or gives a typed error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (t) => {
        typedError(parseAdminFrom(t));
        typedError(parseTargetedApplication(t));
      }),
      { numRuns: 5000 },
    );
  });
});

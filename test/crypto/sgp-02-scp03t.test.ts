// SGP.02 §4.1.3.3 SCP03t: the TLV-framed SCP03 between SM-DP (host) and ISD-P (card).
// Threats defended: a segment altered, replayed, dropped or reordered on the ES3/ES5 path (the
// SM-SR relays it and must not be able to change the profile); an SM-DP without the ISD-P keys; an
// ISD-P impostor; hostile bytes reaching the card's decoder. The maths are gp-scp03.ts's, whose
// pySim vectors are re-used here to pin the `84`/`85` contents byte for byte.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Scp03Keys } from '../../src/crypto/gp-scp03.js';
import {
  decodeScp03tTlvAt,
  SCP03T_MAX_PLAIN_SEGMENT,
  SCP03T_MAX_SEGMENT,
  Scp03tCard,
  Scp03tHost,
  segmentProfilePackage,
  splitScp03tTlvs,
} from '../../src/crypto/sgp-02-scp03t.js';
import { hex, toHex } from '../../src/lib/hex.js';

const KEYS: Scp03Keys = {
  enc: hex('000102030405060708090a0b0c0d0e0f'),
  mac: hex('101112131415161718191a1b1c1d1e1f'),
  dek: hex('202122232425262728292a2b2c2d2e2f'),
};
const ISD_R_AID = hex('A0000005591010FFFFFFFF8900000100');
const ISD_P_AID = hex('A0000005591010FFFFFFFF8900001000');

/** A deterministic 12 KB stand-in for a profile package (SHA-256 in counter mode). */
function profilePackage(length = 12_309): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, at = 0; at < length; i++, at += 32) {
    out.set(
      createHash('sha256')
        .update(`upp-${i}`)
        .digest()
        .subarray(0, Math.min(32, length - at)),
      at,
    );
  }
  return out;
}

function newCard(overrides: Partial<ConstructorParameters<typeof Scp03tCard>[0]> = {}): Scp03tCard {
  return new Scp03tCard({
    keys: KEYS,
    kvn: 0x30,
    keyDiversificationData: new Uint8Array(10),
    sdAid: ISD_P_AID,
    sequenceCounter: 7,
    ...overrides,
  });
}

function open(hostKeys: Scp03Keys = KEYS): { host: Scp03tHost; card: Scp03tCard } {
  const host = new Scp03tHost({ keys: hostKeys, kvn: 0x30 });
  const card = newCard();
  const iu = card.receive(host.initializeUpdate());
  if (!iu.ok || iu.value.kind !== 'initialize-update') throw new Error('84');
  const ext = host.externalAuthenticate(iu.value.response);
  if (!ext.ok) throw new Error(ext.error.message);
  const ea = card.receive(ext.value);
  if (!ea.ok || ea.value.kind !== 'external-authenticate') throw new Error('85');
  expect(host.externalAuthenticateResponse(ea.value.response).ok).toBe(true);
  return { host, card };
}

function sendAll(host: Scp03tHost, card: Scp03tCard, upp: Uint8Array): Uint8Array {
  const received: Uint8Array[] = [];
  for (const segment of segmentProfilePackage(upp)) {
    const r = card.receive(host.wrapSegment(segment));
    if (!r.ok || r.value.kind !== 'segment') throw new Error(r.ok ? r.value.kind : r.error.code);
    received.push(r.value.segment);
    const answer = host.unwrapResponse(card.wrapResponse());
    expect(answer.ok && answer.value.length).toBe(0);
  }
  return Uint8Array.from(received.flatMap((s) => [...s]));
}

describe('SCP03t framing over the verified SCP03 maths', () => {
  it('84/85 carry exactly the SCP03 vector values (pySim AES-128 SL 33, ISD-R, counter 3)', () => {
    // pySim SCP03_Test_AES128_33: host challenge fdf38259a1e0de44, card answer and host cryptogram.
    const host = new Scp03tHost({ keys: KEYS, kvn: 0x30, hostChallenge: hex('fdf38259a1e0de44') });
    const card = newCard({ sdAid: ISD_R_AID, sequenceCounter: 3 });
    const cmd84 = host.initializeUpdate();
    expect(toHex(cmd84)).toBe('840a3001fdf38259a1e0de44');
    const iu = card.receive(cmd84);
    expect(iu.ok && toHex(iu.value.kind === 'initialize-update' ? iu.value.response : new Uint8Array())).toBe(
      '8420000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003',
    );
    const ext = host.externalAuthenticate(
      iu.ok && iu.value.kind === 'initialize-update' ? iu.value.response : new Uint8Array(),
    );
    // SL 33 and the host cryptogram of the vector's EXTERNAL AUTHENTICATE 8482330010 8c36f96bcc00724a …
    expect(ext.ok && toHex(ext.value.subarray(0, 11))).toBe('8511338c36f96bcc00724a');
    expect(ext.ok && ext.value.length).toBe(19);
    const ea = card.receive(ext.ok ? ext.value : new Uint8Array());
    expect(
      ea.ok && toHex(ea.value.kind === 'external-authenticate' ? ea.value.response : new Uint8Array()),
    ).toBe('8500');
  });

  it('segments: every `86` the host sends is ≤ 1024 bytes; the package comes back whole and in order', () => {
    const upp = profilePackage();
    const segments = segmentProfilePackage(upp);
    expect(segments.length).toBe(Math.ceil(upp.length / SCP03T_MAX_PLAIN_SEGMENT));
    const { host, card } = open();
    const received: Uint8Array[] = [];
    for (const segment of segments) {
      const wrapped = host.wrapSegment(segment);
      expect(wrapped.length).toBeLessThanOrEqual(SCP03T_MAX_SEGMENT);
      expect(wrapped[0]).toBe(0x86);
      const r = card.receive(wrapped);
      if (!r.ok || r.value.kind !== 'segment') throw new Error('segment refused');
      received.push(r.value.segment);
      expect(host.unwrapResponse(card.wrapResponse()).ok).toBe(true);
    }
    expect(toHex(Uint8Array.from(received.flatMap((s) => [...s])))).toBe(toHex(upp));
    expect(card.channel?.encryptionCounter).toBe(segments.length);
    expect(host.channel?.encryptionCounter).toBe(segments.length);
  });

  it('several `86` TLVs in one SendData split into their TLVs', () => {
    const { host } = open();
    const one = host.wrapSegment(hex('0102'));
    const r = splitScp03tTlvs(new Uint8Array([...one, ...hex('8500'), ...hex('9f460103')]));
    expect(r.ok && r.value.map((t) => t.tag)).toEqual([0x86, 0x85, 0x9f46]);
  });

  it('the card answers with data (e.g. EUICCResponse): encrypted, R-MACed, read back by the host', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        (segment, answer) => {
          const { host, card } = open();
          const r = card.receive(host.wrapSegment(segment));
          expect(r.ok && r.value.kind === 'segment' && toHex(r.value.segment)).toBe(toHex(segment));
          const back = host.unwrapResponse(card.wrapResponse(answer));
          expect(back.ok && toHex(back.value)).toBe(toHex(answer));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('SCP03t threats', () => {
  it('an SM-DP without the keys is caught by the card cryptogram; a wrong host cryptogram gets 9F45', () => {
    const host = new Scp03tHost({ keys: { ...KEYS, mac: hex('ff'.repeat(16)) }, kvn: 0x30 });
    const card = newCard();
    const iu = card.receive(host.initializeUpdate());
    const ext = host.externalAuthenticate(
      iu.ok && iu.value.kind === 'initialize-update' ? iu.value.response : new Uint8Array(),
    );
    expect(!ext.ok && ext.error.code).toBe('SCP03T_CARD_CRYPTOGRAM');

    const honest = new Scp03tHost({ keys: KEYS, kvn: 0x30 });
    const card2 = newCard();
    const iu2 = card2.receive(honest.initializeUpdate());
    const e2 = honest.externalAuthenticate(
      iu2.ok && iu2.value.kind === 'initialize-update' ? iu2.value.response : new Uint8Array(),
    );
    if (!e2.ok) throw new Error('85');
    const forged = e2.value.slice();
    forged[5] = (forged[5] as number) ^ 0x01;
    const refused = card2.receive(forged);
    expect(!refused.ok && [refused.error.code, toHex(refused.error.response ?? new Uint8Array())]).toEqual([
      'SCP03T_HOST_CRYPTOGRAM',
      '9f450103',
    ]);
    expect(card2.state).toBe('closed');
    expect(honest.externalAuthenticateResponse(hex('9f450103')).ok).toBe(false);
  });

  it('an unknown key set gets 9F44', () => {
    const host = new Scp03tHost({ keys: KEYS, kvn: 0x31 });
    const r = newCard().receive(host.initializeUpdate());
    expect(!r.ok && toHex(r.error.response ?? new Uint8Array())).toBe('9f440102');
  });

  it('any flipped bit of a segment TLV is refused with 9F46 and closes the session', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (segment, at, bit) => {
          const { host, card } = open();
          const wrapped = host.wrapSegment(segment);
          const index = at % wrapped.length;
          wrapped[index] = (wrapped[index] as number) ^ (1 << bit);
          const r = card.receive(wrapped);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(toHex(r.error.response ?? new Uint8Array()).slice(0, 6)).toMatch(/^9f4[46]01/);
          expect(card.state).toBe('closed');
          expect(card.receive(wrapped).ok).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a replayed segment, a dropped segment and swapped segments are refused', () => {
    const upp = profilePackage(3000);
    const [s1, s2, s3] = segmentProfilePackage(upp) as [Uint8Array, Uint8Array, Uint8Array];

    const a = open();
    const w1 = a.host.wrapSegment(s1);
    expect(a.card.receive(w1).ok).toBe(true);
    a.host.unwrapResponse(a.card.wrapResponse());
    const replay = a.card.receive(w1);
    expect(!replay.ok && replay.error.code).toBe('SCP03T_C_MAC');

    const b = open();
    b.host.wrapSegment(s1); // lost on the way
    b.host.unwrapResponse(hex('8600'));
    const dropped = b.card.receive(b.host.wrapSegment(s2));
    expect(!dropped.ok && dropped.error.code).toBe('SCP03T_C_MAC');

    // The same host stream, delivered to a card in the order 2, 1, 3.
    const c = open();
    const stream: Uint8Array[] = [];
    for (const s of [s1, s2, s3]) {
      stream.push(c.host.wrapSegment(s));
      c.host.unwrapResponse(hex('8600'));
    }
    const swapped = c.card.receive(stream[1] as Uint8Array);
    expect(!swapped.ok && swapped.error.code).toBe('SCP03T_C_MAC');
  });

  it('a tampered card answer (any bit) is refused by the host', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (answer, at, bit) => {
          const { host, card } = open();
          card.receive(host.wrapSegment(hex('00')));
          const wrapped = card.wrapResponse(answer);
          const index = at % wrapped.length;
          wrapped[index] = (wrapped[index] as number) ^ (1 << bit);
          const r = host.unwrapResponse(wrapped);
          // Turning the answer into a bare `86 00` is only possible by cutting it, not by flipping a bit.
          expect(r.ok).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a whole session replayed to a card with the next sequence counter fails at the cryptogram', () => {
    const host = new Scp03tHost({ keys: KEYS, kvn: 0x30 });
    const first = newCard();
    const cmd84 = host.initializeUpdate();
    const iu = first.receive(cmd84);
    const ext = host.externalAuthenticate(
      iu.ok && iu.value.kind === 'initialize-update' ? iu.value.response : new Uint8Array(),
    );
    const next = newCard({ sequenceCounter: first.nextSequenceCounter });
    next.receive(cmd84);
    const r = next.receive(ext.ok ? ext.value : new Uint8Array());
    expect(!r.ok && r.error.code).toBe('SCP03T_HOST_CRYPTOGRAM');
  });
});

describe('SCP03t card decoder is total (fuzz)', () => {
  it('random bytes at every stage: a typed error with an error TLV, or an event — never an exception', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.uint8Array({ maxLength: 1100 }), { maxLength: 3 }),
        (stage, inputs) => {
          let card: Scp03tCard;
          if (stage === 2) card = open().card;
          else {
            card = newCard();
            if (stage === 1) card.receive(new Scp03tHost({ keys: KEYS, kvn: 0x30 }).initializeUpdate());
          }
          for (const bytes of inputs) {
            const r = card.receive(bytes);
            if (!r.ok) {
              expect(r.error.code).toMatch(/^SCP03T?_[A-Z0-9_]+$/);
              expect(toHex(r.error.response ?? new Uint8Array())).toMatch(/^9f4[456]01/);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutated real traffic (84, 85, 86 with tag/length/value edits) never throws', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat({ max: 40 }),
        fc.integer({ min: 0, max: 2 }),
        (edits, cut, which) => {
          const host = new Scp03tHost({ keys: KEYS, kvn: 0x30 });
          const card = newCard();
          const traffic: Uint8Array[] = [host.initializeUpdate()];
          const iu = card.receive(traffic[0] as Uint8Array);
          if (which > 0 && iu.ok && iu.value.kind === 'initialize-update') {
            const ext = host.externalAuthenticate(iu.value.response);
            if (ext.ok) traffic.push(ext.value);
            if (which > 1 && ext.ok) {
              const ea = card.receive(ext.value);
              if (ea.ok)
                host.externalAuthenticateResponse(
                  ea.value.kind === 'external-authenticate' ? ea.value.response : new Uint8Array(),
                );
              traffic.push(host.wrapSegment(profilePackage(900)));
            }
          }
          const target = (traffic[traffic.length - 1] as Uint8Array).slice();
          for (const [at, value] of edits) target[at % target.length] = value;
          const r = card.receive(target.subarray(0, Math.max(0, target.length - cut)));
          if (!r.ok) expect(r.error.code).toMatch(/^SCP03T?_/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the TLV reader: minimal lengths only, never past the end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeScp03tTlvAt(bytes, 0);
        if (r.ok) expect(r.value.next).toBeLessThanOrEqual(bytes.length);
        else expect(r.error.code).toMatch(/^SCP03T_/);
      }),
    );
    expect(decodeScp03tTlvAt(hex(`86817f${'00'.repeat(127)}`), 0).ok).toBe(false);
    expect(decodeScp03tTlvAt(hex('8683000001'), 0).ok).toBe(false);
  });

  it('segmentProfilePackage refuses segment sizes beyond one `86` of 1024 bytes', () => {
    expect(() => segmentProfilePackage(new Uint8Array(10), SCP03T_MAX_PLAIN_SEGMENT + 1)).toThrow(RangeError);
    expect(segmentProfilePackage(new Uint8Array(0))).toEqual([]);
    const { host, card } = open();
    expect(toHex(sendAll(host, card, new Uint8Array(0)))).toBe('');
    expect(toHex(sendAll(host, card, profilePackage(2500)))).toBe(toHex(profilePackage(2500)));
  });
});

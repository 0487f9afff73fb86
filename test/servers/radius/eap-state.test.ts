// The EAP conversation state carried in RADIUS State: every field declared in CONVERSATION_FIELDS
// round-trips, the decoder is total, and the sealed form is bound to its key, NAS and lifetime.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/hex.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import {
  CONVERSATION_FIELDS,
  type Conversation,
  decodeConversation,
  encodeConversation,
  openConversation,
  sealConversation,
} from '../../../src/servers/radius/eap/conversation-state.js';
import { EapStateKeys } from '../../../src/servers/radius/eap/state-keys.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const b = (n: number) => new Uint8Array(randomBytes(n));

/** An example of every field (the test fails when a field is added without one). */
const EXAMPLES: { readonly [K in keyof Conversation]-?: NonNullable<Conversation[K]> } = {
  phase: 'challenge',
  method: 'akaPrime',
  identifier: 200,
  expiresAt: Date.UTC(2026, 5, 1, 12, 0, 0),
  conversationId: b(8),
  naked: true,
  identity: new TextEncoder().encode('6001010000000101@wlan.mnc001.mcc001.3gppnetwork.org'),
  idRequested: 5,
  idRounds: [b(12), b(64), new Uint8Array(0)],
  imsi: '001010000000101',
  operatorId: 'OP0012345678',
  simId: '8900000123456789012',
  checkcode: b(32),
  rand: b(48),
  keyMaterial: b(32),
  expected: b(8),
  nonce: b(16),
  counter: 65535,
  reauthKeys: b(80),
  resyncs: 2,
  resultInd: true,
  kAut: b(32),
  kEncr: b(16),
  msk: b(64),
  firstUse: true,
};

const same = (a: unknown, c: unknown) =>
  JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v)) ===
  JSON.stringify(c, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));

describe('EAP conversation state', () => {
  it('declares each field once, with a distinct tag', () => {
    const tags = Object.values(CONVERSATION_FIELDS).map(([tag]) => tag);
    expect(new Set(tags).size).toBe(tags.length);
    expect(Object.keys(EXAMPLES).sort()).toEqual(Object.keys(CONVERSATION_FIELDS).sort());
  });

  for (const key of Object.keys(CONVERSATION_FIELDS) as (keyof Conversation)[]) {
    it(`field ${key} round-trips`, () => {
      const c = {
        phase: 'identity',
        identifier: 1,
        expiresAt: 1_000,
        conversationId: b(8),
        [key]: EXAMPLES[key],
      };
      const encoded = encodeConversation(c as Conversation);
      if (!encoded.ok) throw new Error(encoded.error.message);
      const decoded = decodeConversation(encoded.value);
      expect(decoded.ok).toBe(true);
      expect(same(decoded.ok ? decoded.value[key] : undefined, EXAMPLES[key])).toBe(true);
    });
  }

  it('folds a permanent root NAI to 14 octets and keeps any other identity as it is', () => {
    const permanent = encodeConversation({ ...EXAMPLES, idRounds: [] });
    const other = encodeConversation({
      ...EXAMPLES,
      idRounds: [],
      identity: new TextEncoder().encode('6001010000000101@WLAN.mnc001.mcc001.3gppnetwork.org'),
    });
    if (!permanent.ok || !other.ok) throw new Error('encode');
    expect(other.value.length - permanent.value.length).toBe(52 + 1 - 14);
  });

  it('decodes any octets to a conversation or an error', () => {
    const good = encodeConversation(EXAMPLES);
    if (!good.ok) throw new Error('encode');
    for (let i = 0; i < 2000; i++) {
      const input =
        i % 2 === 0
          ? b(i % 90)
          : good.value.map((x, j) => (j === i % good.value.length ? x ^ (1 << (i % 8)) : x));
      const r = decodeConversation(input);
      expect(typeof r.ok).toBe('boolean');
    }
    expect(decodeConversation(good.value.subarray(0, good.value.length - 1)).ok).toBe(false);
  });

  describe('sealed in State', () => {
    let db: TestDatabase;
    let keys: EapStateKeys;
    beforeAll(async () => {
      db = await openTestDatabase();
      const ring = await KeyRing.open(db.store, b(32));
      keys = await EapStateKeys.open(db.store, ring, Date.now());
      // A second instance on the same database finds the same key.
      const again = await EapStateKeys.open(db.store, ring, Date.now());
      expect(toHex(again.current.key)).toBe(toHex(keys.current.key));
    });
    afterAll(async () => {
      await db.cleanup();
    });

    const c: Conversation = {
      phase: 'challenge',
      method: 'aka',
      identifier: 9,
      expiresAt: Date.UTC(2026, 0, 1, 0, 1),
      conversationId: b(8),
      identity: EXAMPLES.identity,
      imsi: '001010000000101',
      rand: b(16),
      keyMaterial: b(20),
      expected: b(8),
    };

    it('opens for the NAS it was sealed for, before it expires', () => {
      const sealed = sealConversation(keys, c, 'nas-a');
      if (!sealed.ok) throw new Error(sealed.error.message);
      expect(sealed.value.length).toBeLessThanOrEqual(253);
      const opened = openConversation(keys, sealed.value, 'nas-a', Date.UTC(2026, 0, 1));
      expect(opened.ok && same(opened.value, c)).toBe(true);
    });

    it('refuses a State from another NAS, a tampered one, and an expired one (threat: splicing and replay of old state)', () => {
      const sealed = sealConversation(keys, c, 'nas-a');
      if (!sealed.ok) throw new Error(sealed.error.message);
      expect(openConversation(keys, sealed.value, 'nas-b', Date.UTC(2026, 0, 1)).ok).toBe(false);
      const flipped = sealed.value.slice();
      flipped[20] = (flipped[20] ?? 0) ^ 4;
      expect(openConversation(keys, flipped, 'nas-a', Date.UTC(2026, 0, 1)).ok).toBe(false);
      expect(openConversation(keys, sealed.value, 'nas-a', Date.UTC(2026, 0, 1, 0, 1)).ok).toBe(false);
    });

    it('refuses to seal a state that would not fit in one State attribute', () => {
      const big = sealConversation(keys, { ...c, idRounds: [b(120), b(120)] }, 'nas-a');
      expect(big.ok).toBe(false);
    });
  });
});

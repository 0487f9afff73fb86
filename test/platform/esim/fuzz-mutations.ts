// Structural mutations for the SM-SR and SM-DP fuzz (issue 15): on top of the byte-level edits of
// test/helpers/fuzz.ts (bit flips, boundary values, insertions, deletions, truncation, extension)
// these lie about lengths (a BER length byte turned into 81/82/83/84 FF…), duplicate or swap slices
// of the input, and append huge tails — what a hostile card or network does to a TLV stream.
// Deterministic: the same seed gives the same inputs, so a failure reproduces.

import { mutate, type Random, randomBytes } from '../../helpers/fuzz.js';

const pick = (random: Random, n: number) => Math.floor(random() * n);

const join = (...parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const LENGTH_LIES: readonly (readonly number[])[] = [
  [0x81, 0xff],
  [0x82, 0xff, 0xff],
  [0x83, 0xff, 0xff, 0xff],
  [0x84, 0xff, 0xff, 0xff, 0xff],
  [0x80],
  [0x00],
  [0x7f],
];

/** One structural edit of a copy of `input`. */
export function structural(random: Random, input: Uint8Array): Uint8Array {
  const b = input.slice();
  const at = b.length === 0 ? 0 : pick(random, b.length);
  switch (pick(random, 5)) {
    case 0: {
      // a length byte lies: replace one byte by a long-form length claiming far more than follows
      const lie = LENGTH_LIES[pick(random, LENGTH_LIES.length)] as readonly number[];
      return join(b.subarray(0, at), Uint8Array.from(lie), b.subarray(at + 1));
    }
    case 1: {
      // a slice appears twice (a repeated TLV, a segment sent again)
      const length = 1 + pick(random, Math.max(1, b.length - at));
      const slice = b.subarray(at, at + length);
      const to = pick(random, b.length + 1);
      return join(b.subarray(0, to), slice, b.subarray(to));
    }
    case 2: {
      // two slices swap places (reordered TLVs)
      const other = b.length === 0 ? 0 : pick(random, b.length);
      const [x, y] = at < other ? [at, other] : [other, at];
      const length = Math.min(1 + pick(random, 16), y - x);
      if (length <= 0) return b;
      return join(
        b.subarray(0, x),
        b.subarray(y, y + length),
        b.subarray(x + length, y),
        b.subarray(x, x + length),
        b.subarray(y + length),
      );
    }
    case 3: {
      // a huge tail: more than any segment, SMS chain or APDU holds
      const tail = new Uint8Array(1024 + pick(random, 4096)).fill(pick(random, 256));
      return join(b, tail);
    }
    default:
      // the same bytes cut short by one byte (the last length now lies)
      return b.subarray(0, Math.max(0, b.length - 1));
  }
}

/** Mostly byte edits of the seed, sometimes structural edits, sometimes random bytes. */
export function hostile(random: Random, seed: Uint8Array, maxRandomLength = 96): Uint8Array {
  const r = random();
  if (r < 0.08) return randomBytes(random, maxRandomLength);
  if (r < 0.3) return structural(random, random() < 0.5 ? seed : mutate(random, seed));
  return mutate(random, seed);
}

// Deterministic fuzzing helpers: a seeded PRNG (so a failure reproduces) and byte-level mutations of
// valid seed inputs — flips, overwrites with boundary values, insertions, deletions, truncation,
// extension — mixed with purely random inputs.

export type Random = () => number;

/** mulberry32: small, fast, good enough to drive mutations; same seed, same sequence. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0x80, 0xfe, 0xff];

export function randomBytes(random: Random, maxLength: number): Uint8Array {
  const out = new Uint8Array(Math.floor(random() * (maxLength + 1)));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Apply 1–4 random mutations to a copy of `input`. */
export function mutate(random: Random, input: Uint8Array): Uint8Array {
  let b = input.slice();
  const pick = (n: number) => Math.floor(random() * n);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : pick(b.length);
    switch (pick(7)) {
      case 0:
        if (b.length) b[at] = (b[at] ?? 0) ^ (1 << pick(8));
        break;
      case 1:
        if (b.length) b[at] = INTERESTING[pick(INTERESTING.length)] ?? 0;
        break;
      case 2:
        if (b.length) b[at] = pick(256);
        break;
      case 3: {
        const insert = randomBytes(random, 8);
        b = new Uint8Array([...b.subarray(0, at), ...insert, ...b.subarray(at)]);
        break;
      }
      case 4:
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1 + pick(8))]);
        break;
      case 5:
        b = b.slice(0, pick(b.length + 1));
        break;
      default:
        b = new Uint8Array([...b, ...randomBytes(random, 16)]);
    }
  }
  return b;
}

/**
 * Run `check` on `count` inputs: mostly mutations of the seeds, some random. Returns how many ran and
 * the rate, so tests can state the volume they exercised.
 */
export function fuzz(
  seeds: readonly Uint8Array[],
  count: number,
  check: (input: Uint8Array) => void,
  options: { seed?: number; maxRandomLength?: number } = {},
): { runs: number; perSecond: number } {
  const random = seededRandom(options.seed ?? 0x5eed);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const seed = seeds[i % seeds.length];
    const input =
      seed === undefined || random() < 0.1
        ? randomBytes(random, options.maxRandomLength ?? 64)
        : mutate(random, seed);
    check(input);
  }
  const seconds = (performance.now() - start) / 1000;
  return { runs: count, perSecond: Math.round(count / seconds) };
}

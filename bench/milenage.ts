// `npm run bench -- milenage [seconds]`: authentication vectors per second with K changing for every
// vector (an AuC serving many SIMs), against the raw AES-128 block rate of node:crypto measured in
// the same run, plus AUTHENTICATE APDUs per second through the software card in-process.
//
// A vector is one AES key schedule and six block encryptions (TEMP, OUT1..OUT5), so the block rate
// bounds what a createCipheriv-per-vector implementation can reach; the table AES of
// src/crypto/fips-197-aes-128.ts avoids node:crypto's per-key setup cost instead.

import { createCipheriv, randomBytes } from 'node:crypto';
import { cardFromFile, newCardFile } from '../src/card/card-file.js';
import { encodeCommandApdu } from '../src/card/iso-7816-4.js';
import { encodeUmtsChallenge } from '../src/card/ts-31-102.js';
import { encryptWords, expandKey128 } from '../src/crypto/fips-197-aes-128.js';
import { generateVector, milenage, sqnFromNumber } from '../src/crypto/milenage.js';

interface Rate {
  readonly label: string;
  readonly perSecond: number;
}

/** Run `batch` until `seconds` have passed (checked between batches); returns operations per second. */
function measure(label: string, seconds: number, batch: () => number): Rate {
  // Warm-up so the JIT has compiled the hot path before timing starts.
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) batch();
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) ops += batch();
  return { label, perSecond: ops / ((performance.now() - start) / 1000) };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 2);
  const KEYS = 4096;
  const keys = Array.from({ length: KEYS }, () => new Uint8Array(randomBytes(16)));
  const opc = new Uint8Array(randomBytes(16));
  const rand = new Uint8Array(randomBytes(16));
  const sqn = sqnFromNumber(0x21);
  const amf = Uint8Array.of(0x80, 0x00);
  let sink = 0;

  // Reference: the raw AES-128 block rate of node:crypto (one cipher object, one block per update).
  const cipher = createCipheriv('aes-128-ecb', keys[0] as Uint8Array, null).setAutoPadding(false);
  const block = new Uint8Array(16);
  const aesRaw = measure('node:crypto AES-128 blocks (one key, reused cipher)', seconds, () => {
    for (let i = 0; i < 1024; i++) sink ^= cipher.update(block)[0] as number;
    return 1024;
  });

  // The naive vector: a new cipher for every K, then TEMP and OUT1..OUT5 through it.
  const naive = measure('Milenage vectors, createCipheriv per K (naive)', seconds, () => {
    for (let i = 0; i < 256; i++) {
      const c = createCipheriv('aes-128-ecb', keys[i % KEYS] as Uint8Array, null).setAutoPadding(false);
      for (let b = 0; b < 6; b++) sink ^= c.update(block)[0] as number;
    }
    return 256;
  });

  const tableBlocks = measure('table AES-128 blocks (one key)', seconds, () => {
    const rk = expandKey128(keys[0] as Uint8Array);
    const out = new Int32Array(4);
    for (let i = 0; i < 1024; i++) encryptWords(rk, i, 1, 2, 3, out);
    sink ^= out[0] as number;
    return 1024;
  });

  let k = 0;
  const vectors = measure('Milenage vectors, K changes every vector (milenage())', seconds, () => {
    for (let i = 0; i < 1024; i++) {
      const o = milenage(keys[k++ % KEYS] as Uint8Array, opc, rand, sqn, amf);
      sink ^= o.res[0] as number;
    }
    return 1024;
  });

  // AUTHENTICATE through the card: every APDU carries a fresh (higher SQN) genuine challenge.
  const file = newCardFile({ imsi: '001010000000001', pin1Enabled: false });
  const card = cardFromFile(file);
  card.transmit(
    encodeCommandApdu({
      cla: 0,
      ins: 0xa4,
      p1: 0x04,
      p2: 0x0c,
      data: Uint8Array.of(0xa0, 0, 0, 0, 0x87, 0x10, 0x02),
    }),
  );
  const ki = Buffer.from(file.ki, 'hex');
  const cardOpc = Buffer.from(file.opc ?? '', 'hex');
  // Challenges are made before timing starts (the AuC side is measured above); the pool is large
  // enough for the measured seconds at several times the rate seen on a 2-core VM.
  const pool = Array.from({ length: Math.ceil((seconds + 0.5) * 400_000) }, (_, i) => {
    const v = generateVector(ki, cardOpc, rand, sqnFromNumber((i + 1) * 32), amf);
    return encodeCommandApdu({
      cla: 0,
      ins: 0x88,
      p1: 0,
      p2: 0x81,
      data: encodeUmtsChallenge(v.rand, v.autn),
      le: 0,
    });
  });
  let next = 0;
  const apdus = measure('AUTHENTICATE APDUs through the card (in-process)', seconds, () => {
    for (let i = 0; i < 256; i++) {
      const apdu = pool[next++];
      if (apdu === undefined) throw new Error('challenge pool exhausted: raise its size');
      const r = card.transmit(apdu);
      // DB = success; a DC (sync failure) or an error status would mean the card did not do the work.
      if (r[0] !== 0xdb || r[r.length - 2] !== 0x90)
        throw new Error('AUTHENTICATE failed during the benchmark');
    }
    return 256;
  });

  const rows: Rate[] = [aesRaw, naive, tableBlocks, vectors, apdus];
  const width = Math.max(...rows.map((r) => r.label.length));
  for (const r of rows) console.log(`${r.label.padEnd(width)}  ${fmt(r.perSecond).padStart(12)} /s`);
  console.log('');
  console.log(
    `vectors/s ÷ raw AES block rate            ${(vectors.perSecond / aesRaw.perSecond).toFixed(3)}`,
  );
  console.log(
    `AES-equivalent blocks (6 per vector) ÷ raw ${((6 * vectors.perSecond) / aesRaw.perSecond).toFixed(2)}  (1.00 = as fast as 6 reused-cipher blocks)`,
  );
  console.log(
    `speed-up over createCipheriv per K       ${(vectors.perSecond / naive.perSecond).toFixed(2)}×`,
  );
  console.log(`target ≥ 300,000 vectors/s               ${vectors.perSecond >= 300_000 ? 'met' : 'NOT met'}`);
  console.log(`AUTHENTICATE APDUs ÷ vectors/s           ${(apdus.perSecond / vectors.perSecond).toFixed(3)}`);
  if (sink === 0.5) console.log('');
}

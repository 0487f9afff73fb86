// Interop: the TS 34.108 §8.1.2 test algorithm against osmo-auc-gen's XOR algorithm (libosmocore
// xor.c, Debian libosmocore-utils), an independent implementation, on fixed and random inputs.
// Generation compares AUTN (hence SQN ⊕ AK, AMF, MAC-A), RES, CK and IK; AUTS compares the SQN_MS
// both recover (hence AK and MAC-S with AMF* = 0), and both must refuse a corrupted AUTS.

import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  buildTestAuts,
  generateTestVector,
  recoverSqnFromTestAuts,
} from '../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { requirePrograms } from '../helpers/external.js';

const run = promisify(execFile);
const available = requirePrograms({ 'osmo-auc-gen': 'libosmocore-utils' });
const ROUNDS = 50;

function parseOsmo(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z. ]+):\t(.*)$/.exec(line);
    if (m) out[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return out;
}

async function osmoXor(
  args: string[],
): Promise<{ code: number; fields: Record<string, string>; stderr: string }> {
  try {
    const { stdout, stderr } = await run('osmo-auc-gen', ['-3', '-a', 'xor', ...args]);
    return { code: 0, fields: parseOsmo(stdout), stderr };
  } catch (e) {
    const failure = e as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, fields: parseOsmo(failure.stdout ?? ''), stderr: failure.stderr ?? '' };
  }
}

/**
 * osmo-auc-gen 1.7 lowers the given SQN by one IND step (2^5) before generating, expecting the
 * algorithm to raise it again as its Milenage does; its XOR algorithm does not, so pass SQN + 32.
 */
const osmoSqnArg = (sqn: Uint8Array): string => (BigInt(`0x${toHex(sqn)}`) + 32n).toString();

async function compare(k: Uint8Array, rand: Uint8Array, sqn: Uint8Array, amf: Uint8Array): Promise<void> {
  const ours = generateTestVector(k, rand, sqn, amf);
  const theirs = await osmoXor(['-k', toHex(k), '-r', toHex(rand), '-s', osmoSqnArg(sqn), '-f', toHex(amf)]);
  expect(theirs.code, theirs.stderr).toBe(0);
  const context = `K=${toHex(k)} RAND=${toHex(rand)} SQN=${toHex(sqn)} AMF=${toHex(amf)}`;
  expect(
    { autn: toHex(ours.autn), res: toHex(ours.res), ck: toHex(ours.ck), ik: toHex(ours.ik) },
    context,
  ).toEqual({ autn: theirs.fields.AUTN, res: theirs.fields.RES, ck: theirs.fields.CK, ik: theirs.fields.IK });
}

describe.skipIf(!available)('osmo-auc-gen XOR (TS 34.108 test algorithm) interop', () => {
  it('fixed vectors: the TS.48 K, edge SQNs and AMFs', async () => {
    const k = hex('000102030405060708090a0b0c0d0e0f');
    const fixed: [string, string, string][] = [
      ['00112233445566778899aabbccddeeff', '000000000000', '0000'],
      ['000102030405060708090a0b0c0d0e0f', '000000000020', '8000'],
      ['ffffffffffffffffffffffffffffffff', '7fffffffffe0', 'ffff'],
      ['0123456789abcdef0123456789abcdef', '00000000001f', 'b9b9'],
    ];
    for (const [rand, sqn, amf] of fixed) await compare(k, hex(rand), hex(sqn), hex(amf));
  });

  it(`vector generation agrees on ${ROUNDS} random inputs`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      // SQN below 2^47 keeps osmo-auc-gen's signed arithmetic (SQN + 32) out of the way.
      const sqn = randomBytes(6);
      sqn[0] = (sqn[0] as number) & 0x7f;
      await compare(randomBytes(16), randomBytes(16), sqn, randomBytes(2));
    }
  });

  it(`AUTS → SQN_MS agrees on ${ROUNDS} random inputs, and both refuse corrupted ones`, async () => {
    let refused = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const k = randomBytes(16);
      const rand = randomBytes(16);
      const sqnMs = hex(
        randomInt(0, 2 ** 47)
          .toString(16)
          .padStart(12, '0'),
      );
      const auts = buildTestAuts(k, rand, sqnMs);
      const corrupt = i % 10 === 9;
      if (corrupt) auts[6 + (i % 8)] = (auts[6 + (i % 8)] as number) ^ 0x01;
      const ours = recoverSqnFromTestAuts(k, rand, auts);
      const theirs = await osmoXor(['-k', toHex(k), '-r', toHex(rand), '-A', toHex(auts)]);
      const context = `K=${toHex(k)} RAND=${toHex(rand)} AUTS=${toHex(auts)}`;
      if (corrupt) {
        expect(!ours.ok && ours.error.code, context).toBe('MAC_S_FAILURE');
        expect(theirs.code, context).not.toBe(0);
        expect(theirs.stderr, context).toMatch(/AUTS from MS seems incorrect/);
        refused++;
        continue;
      }
      expect(theirs.code, theirs.stderr).toBe(0);
      expect(ours.ok, context).toBe(true);
      if (!ours.ok) continue;
      expect(BigInt(`0x${toHex(ours.value)}`).toString(), context).toBe(theirs.fields['SQN.MS']);
    }
    expect(refused).toBe(ROUNDS / 10);
  });
});

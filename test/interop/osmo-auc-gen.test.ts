// Interop: `simtrust aka gen|auts` against Debian's osmo-auc-gen (libosmocore-utils), an independent
// Milenage implementation, on 200 random inputs each. Generation compares AUTN (hence SQN ⊕ AK,
// AMF, MAC-A), RES, CK, IK, SRES and Kc; AUTS compares the SQN_MS both recover (hence AK* and MAC-S),
// and both must refuse a corrupted AUTS.

import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildAuts } from '../../src/crypto/milenage.js';
import { requirePrograms } from '../helpers/external.js';
import { runCli } from '../helpers/simtrust-cli.js';

const run = promisify(execFile);
const available = requirePrograms({ 'osmo-auc-gen': 'libosmocore-utils' });
const ROUNDS = 200;

const hexOf = (n: number) => randomBytes(n).toString('hex');

/** osmo-auc-gen prints "NAME:\tvalue" lines. */
function parseOsmo(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z. ]+):\t(.*)$/.exec(line);
    if (m) out[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return out;
}

async function osmo(
  args: string[],
): Promise<{ code: number; fields: Record<string, string>; stderr: string }> {
  try {
    const { stdout, stderr } = await run('osmo-auc-gen', ['-3', '-a', 'milenage', ...args]);
    return { code: 0, fields: parseOsmo(stdout), stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, fields: parseOsmo(err.stdout ?? ''), stderr: err.stderr ?? '' };
  }
}

describe.skipIf(!available)('osmo-auc-gen interop', () => {
  it(`vector generation agrees on ${ROUNDS} random inputs`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const k = hexOf(16);
      const useOp = i % 2 === 1;
      const opKey = hexOf(16);
      const rand = hexOf(16);
      const sqn = hexOf(6);
      const amf = hexOf(2);
      const ours = await runCli([
        'aka',
        'gen',
        '--k',
        k,
        useOp ? '--op' : '--opc',
        opKey,
        '--rand',
        rand,
        '--sqn',
        sqn,
        '--amf',
        amf,
        '--json',
      ]);
      expect(ours.code, ours.stderr).toBe(0);
      const mine = JSON.parse(ours.stdout) as Record<string, string>;
      const theirs = await osmo([
        '-k',
        k,
        useOp ? '-O' : '-o',
        opKey,
        '-s',
        BigInt(`0x${sqn}`).toString(),
        '-f',
        amf,
        '-r',
        rand,
      ]);
      expect(theirs.code, theirs.stderr).toBe(0);
      const context = `K=${k} ${useOp ? 'OP' : 'OPc'}=${opKey} RAND=${rand} SQN=${sqn} AMF=${amf}`;
      expect(
        { autn: mine.autn, res: mine.res, ck: mine.ck, ik: mine.ik, sres: mine.sres, kc: mine.kc },
        context,
      ).toEqual({
        autn: theirs.fields.AUTN,
        res: theirs.fields.RES,
        ck: theirs.fields.CK,
        ik: theirs.fields.IK,
        sres: theirs.fields.SRES,
        kc: theirs.fields.Kc,
      });
    }
  });

  it(`AUTS → SQN_MS agrees on ${ROUNDS} random inputs, and both refuse corrupted ones`, async () => {
    let refused = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const k = hexOf(16);
      const opc = hexOf(16);
      const rand = hexOf(16);
      const sqnMs = randomInt(0, 2 ** 48 - 1);
      const auts = Buffer.from(
        buildAuts(
          Buffer.from(k, 'hex'),
          Buffer.from(opc, 'hex'),
          Buffer.from(rand, 'hex'),
          Buffer.from(sqnMs.toString(16).padStart(12, '0'), 'hex'),
        ),
      );
      const corrupt = i % 10 === 9;
      if (corrupt) auts[6 + (i % 8)] = (auts[6 + (i % 8)] as number) ^ 0x01;
      const ours = await runCli([
        'aka',
        'auts',
        '--k',
        k,
        '--opc',
        opc,
        '--rand',
        rand,
        '--auts',
        auts.toString('hex'),
        '--json',
      ]);
      const theirs = await osmo(['-k', k, '-o', opc, '-r', rand, '-A', auts.toString('hex')]);
      const context = `K=${k} OPc=${opc} RAND=${rand} AUTS=${auts.toString('hex')}`;
      if (corrupt) {
        expect(ours.code, context).toBe(1);
        expect(theirs.code, context).not.toBe(0);
        expect(theirs.stderr, context).toMatch(/AUTS from MS seems incorrect/);
        refused++;
        continue;
      }
      expect(ours.code, ours.stderr).toBe(0);
      expect(theirs.code, theirs.stderr).toBe(0);
      const mine = JSON.parse(ours.stdout) as { sqn_ms: string };
      expect(BigInt(`0x${mine.sqn_ms}`).toString(), context).toBe(theirs.fields['SQN.MS']);
      expect(Number(theirs.fields['SQN.MS'])).toBe(sqnMs);
    }
    expect(refused).toBe(ROUNDS / 10);
  });
});

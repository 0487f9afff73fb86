// `simtrust aka gen|auts` in-process (the same command objects src/cli/main.ts registers).

import { describe, expect, it } from 'vitest';
import ts35208 from '../fixtures/vectors/milenage.json' with { type: 'json' };
import { runCli } from '../helpers/simtrust-cli.js';

const set1 = ts35208.sets[0] as (typeof ts35208.sets)[number];
const gen = ['aka', 'gen', '--k', set1.k, '--rand', set1.rand, '--sqn', set1.sqn, '--amf', set1.amf];

describe('simtrust aka gen', () => {
  it('prints every value of TS 35.208 set 1, and AUTN/SRES/Kc as osmo-auc-gen does', async () => {
    const r = await runCli([...gen, '--opc', set1.opc]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `MAC-A: ${set1.f1}`,
        `MAC-S: ${set1.f1star}`,
        `RES:   ${set1.f2}`,
        `CK:    ${set1.f3}`,
        `IK:    ${set1.f4}`,
        `AK:    ${set1.f5}`,
        `AK*:   ${set1.f5star}`,
        'AUTN:  55f328b43577b9b94a9ffac354dfafb3',
        'SRES:  46f8416a',
        'Kc:    eae4be823af9a08b',
        '',
      ].join('\n'),
    );
  });

  it('--json gives the lower-case keys; --op gives the same as --opc', async () => {
    const withOp = await runCli([...gen, '--op', set1.op, '--json']);
    expect(withOp.code).toBe(0);
    expect(JSON.parse(withOp.stdout)).toEqual({
      mac_a: set1.f1,
      mac_s: set1.f1star,
      res: set1.f2,
      ck: set1.f3,
      ik: set1.f4,
      ak: set1.f5,
      ak_star: set1.f5star,
      autn: '55f328b43577b9b94a9ffac354dfafb3',
      sres: '46f8416a',
      kc: 'eae4be823af9a08b',
    });
  });

  /** The set 1 arguments with one option replaced (or removed when `value` is undefined). */
  const withOption = (name: string, value: string | undefined) => {
    const argv = [...gen, '--opc', set1.opc];
    const at = argv.indexOf(name);
    if (value === undefined) argv.splice(at, 2);
    else argv[at + 1] = value;
    return argv;
  };

  it.each([
    ['short K', '--k', '00', /--k must be 32 hex digits/],
    ['non-hex RAND', '--rand', 'x'.repeat(32), /--rand must be hex digits/],
    ['SQN of 10 digits', '--sqn', '0000000001', /--sqn must be 12 hex digits/],
    ['missing AMF', '--amf', undefined, /--amf is required/],
  ])('bad input (%s) exits 2 with a message', async (_name, option, value, message) => {
    const r = await runCli(withOption(option, value));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('needs exactly one of --opc and --op', async () => {
    expect((await runCli(gen)).code).toBe(2);
    const both = await runCli([...gen, '--opc', set1.opc, '--op', set1.op]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --opc and --op/);
  });

  it('--help shows an example', async () => {
    const r = await runCli(['aka', 'gen', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Example[\s\S]*\$ simtrust aka gen --k/);
  });
});

describe('simtrust aka auts', () => {
  const auts = [
    'aka',
    'auts',
    '--k',
    '90dca4eda45b53cf0f12d7c9c3bc6a89',
    '--opc',
    'cb9cccc4b9258e6dca4760379fb82581',
    '--rand',
    'aa'.repeat(16),
  ];

  it('verifies MAC-S and prints SQN_MS (hostap vector: 2a)', async () => {
    const r = await runCli([...auts, '--auts', '43681ad3daf006bcde405a207267']);
    expect(r).toMatchObject({ code: 0, stdout: 'SQN_MS: 00000000002a\n' });
    const json = await runCli([...auts, '--auts', '43681ad3daf006bcde405a207267', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ sqn_ms: '00000000002a' });
  });

  it('a wrong MAC-S exits 1 and prints nothing on stdout', async () => {
    const r = await runCli([...auts, '--auts', '43681ad3daf006bcde405a207268']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/MAC-S does not match/);
  });

  it('an AUTS of the wrong length exits 2', async () => {
    const r = await runCli([...auts, '--auts', '43681ad3daf006bcde405a2072']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--auts must be 28 hex digits/);
  });
});

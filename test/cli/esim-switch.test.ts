// `simtrust sims switch-operator` as a user runs it (the real bin in a child process) against operator
// 1's API on loopback, with the two deployments of test/platform/esim/switch/fixture.ts behind it:
// a refusal passed through with its code, a switch that fails before the commit point exiting non-zero
// with ERR_ESIM_OPERATION_FAILED and its SGP.02 codes, then --wait following a switch to its end and
// --output json printing the whole operation; afterwards the SIM is handed over (409).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EsimOperationView } from '../../src/platform/esim/operations/operations-service.js';
import { runCli } from '../helpers/cli.js';
import { createTestPki } from '../helpers/esim-pki.js';
import {
  EID,
  PROFILE_B,
  PROFILE_TYPE,
  SMDP2_ID,
  SMSR2_ID,
  type SwitchRig,
  switchRig,
} from '../platform/esim/switch/fixture.js';

let s: SwitchRig;
let env: Record<string, string>;
beforeAll(async () => {
  s = await switchRig(await createTestPki());
  const address = await s.op1.app.listen({ host: '127.0.0.1', port: 0 });
  env = { SIMTRUST_ENDPOINT: address, SIMTRUST_TOKEN: s.op1.operator.token };
}, 120_000);
afterAll(() => s?.close());

const cli = (args: string[]) => runCli(args, env);
const switchArgs = (o: { smsr?: string } = {}) => [
  'sims',
  'switch-operator',
  EID,
  '--target-smsr',
  o.smsr ?? SMSR2_ID,
  '--target-smdp',
  SMDP2_ID,
  '--profile-type',
  PROFILE_TYPE,
];

describe('simtrust sims switch-operator', () => {
  it('passes a refusal through with its code (a target that is no partner)', async () => {
    const r = await cli([...switchArgs({ smsr: '1.3.6.1.4.1.99999.1.77' }), '--wait']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ESIM_PARTNER_NOT_FOUND');
    const usage = await cli(['sims', 'switch-operator', EID, '--target-smsr', SMSR2_ID]);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/target-smdp/);
  });

  it('a switch that fails exits non-zero with ERR_ESIM_OPERATION_FAILED and its SGP.02 codes', async () => {
    s.rig.tamper = (fn, a) => {
      if (fn !== 'CreateAdditionalKeySet') return undefined;
      const answer = a as { receipt: Uint8Array };
      const receipt = answer.receipt.slice();
      receipt[0] = (receipt[0] ?? 0) ^ 1;
      return { ...answer, receipt };
    };
    const r = await cli([...switchArgs(), '--wait']);
    s.rig.tamper = undefined;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ESIM_OPERATION_FAILED');
    expect(r.stderr).toMatch(/FAILED \d+(\.\d+)*\/\d+(\.\d+)*/);
    expect(r.stderr).toMatch(/still manages the eUICC/);
  }, 120_000);

  it('--wait follows the switch to its end; --output json prints the operation with every step', async () => {
    const r = await cli([...switchArgs(), '--wait', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const op = JSON.parse(r.stdout) as EsimOperationView;
    expect(op).toMatchObject({
      kind: 'switch',
      status: 'succeeded',
      iccid: PROFILE_B.identity.iccid,
      target: { smsrId: SMSR2_ID, smdpId: SMDP2_ID },
    });
    expect(op.steps.map((x) => [x.name, x.state])).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'succeeded'],
      ['ES2.DownloadProfile', 'succeeded'],
      ['EnableProfile', 'succeeded'],
    ]);
    const table = await cli(['esim', 'operations', 'get', op.operationId, '--output', 'table']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('ES4.SMSRChange:succeeded');
    const again = await cli(switchArgs());
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('ERR_ESIM_HANDED_OVER');
  }, 120_000);
});

// `simtrust esim euiccs|profiles|operations` as a user runs them (the real bin in a child process)
// against the API of test/platform/esim/operations/fixture.ts listening on loopback: the real SM-SR
// and software eUICC behind it, the SM-DP an in-test ES2 port. --wait follows an operation while the
// card is still to confirm; a failed operation exits non-zero with its code; `profiles audit`.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EsimOperationView } from '../../src/platform/esim/operations/operations-service.js';
import { ICCID } from '../card/fixture.js';
import { runCli } from '../helpers/cli.js';
import { EID, type OpsBench, opsBench, SECOND_PROFILE } from '../platform/esim/operations/fixture.js';

const SECOND = SECOND_PROFILE.identity.iccid;
let b: OpsBench;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'simtrust-esim-cli-'));

beforeAll(async () => {
  b = await opsBench();
  const address = await b.api.app.listen({ host: '127.0.0.1', port: 0 });
  env = { SIMTRUST_ENDPOINT: address, SIMTRUST_TOKEN: b.api.operator.token };
  const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/sims',
    payload: {
      iccid: SECOND,
      imsi: SECOND_PROFILE.identity.imsi,
      ki: hex(SECOND_PROFILE.ki),
      opc: hex(SECOND_PROFILE.opc),
    },
  });
  expect(res.statusCode).toBe(201);
});
afterAll(() => b.close());

const cli = (args: string[]) => runCli(args, env);
const json = <T>(stdout: string) => JSON.parse(stdout) as T;

describe('simtrust esim (profiles and operations)', () => {
  it('registers the eUICC from the EIS request file', async () => {
    writeFileSync(join(dir, 'eis.xml'), b.registerEisRequest());
    writeFileSync(join(dir, 'eum.pem'), b.pki.eum.pem);
    const r = await cli([
      'esim',
      'euiccs',
      'register',
      '--eis-request',
      join(dir, 'eis.xml'),
      '--eum-certificate',
      join(dir, 'eum.pem'),
      '--output',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ simId: string; type: string }>(r.stdout)).toMatchObject({
      simId: EID,
      type: 'euicc',
      eid: EID,
    });
    expect(await b.attach()).toBe(1);
    const missing = await cli([
      'esim',
      'euiccs',
      'register',
      '--eis-request',
      join(dir, 'nope.xml'),
      '--eum-certificate',
      'x',
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('ERR_CLI_USAGE');
  });

  it('downloads with --wait and prints the ended operation with its steps', async () => {
    const r = await cli([
      'esim',
      'profiles',
      'download',
      EID,
      '--iccid',
      SECOND,
      '--profile-type',
      'simtrust-usim',
      '--wait',
      '--output',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const op = json<EsimOperationView>(r.stdout);
    expect(op).toMatchObject({ kind: 'download', status: 'succeeded', iccid: SECOND });
    expect(op.steps.map((s) => s.name)).toEqual([
      'ES2.DownloadProfile',
      'CreateISDP',
      'DownloadAndInstallation',
      'ProfileDownloadCompleted',
      'ES4.GetEIS',
    ]);
  });

  it('enable --wait waits while the SM-SR waits for the card, then ends succeeded', async () => {
    const running = cli(['esim', 'profiles', 'enable', EID, SECOND, '--wait', '--output', 'json']);
    await b.awaitingNotification('EnableProfile');
    expect(await b.attach()).toBe(1);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(json<EsimOperationView>(r.stdout)).toMatchObject({ kind: 'enable', status: 'succeeded' });
  });

  it('a refused operation exits non-zero with ERR_ESIM_OPERATION_FAILED and its SGP.02 codes', async () => {
    // SECOND is enabled now: deleting an enabled profile is refused by the SM-SR.
    const r = await cli(['esim', 'profiles', 'delete', EID, SECOND, '--wait']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ESIM_OPERATION_FAILED');
    expect(r.stderr).toMatch(/FAILED \d+(\.\d+)*\/\d+(\.\d+)*/);
  });

  it('lists and gets operations; refusals of the API are passed through with their code', async () => {
    const list = await cli(['esim', 'operations', 'list', EID, '--output', 'json']);
    expect(list.code, list.stderr).toBe(0);
    const ops = json<EsimOperationView[]>(list.stdout);
    expect(ops.map((o) => o.kind)).toEqual(['delete', 'enable', 'download']);
    const first = ops[2]?.operationId ?? '';
    const got = await cli(['esim', 'operations', 'get', first, '--output', 'table']);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(first);
    expect(got.stdout).toContain('succeeded');
    const bad = await cli(['esim', 'operations', 'get', 'not-an-id']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('ERR_VALIDATION');
    const unknown = await cli(['esim', 'profiles', 'disable', EID, '8944000000000000997']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('ERR_ESIM_PROFILE_NOT_FOUND');
    const notEuicc = await cli(['esim', 'profiles', 'enable', ICCID.slice(0, 18), SECOND]);
    expect(notEuicc.code).not.toBe(0);
    expect(notEuicc.stderr).toContain('ERR_SIM_NOT_FOUND');
  });

  it('profiles audit --wait runs AuditEIS as an operation and ends succeeded', async () => {
    const r = await cli(['esim', 'profiles', 'audit', EID, '--wait', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const op = json<EsimOperationView>(r.stdout);
    expect(op).toMatchObject({ kind: 'audit', iccid: '', status: 'succeeded' });
    expect(op.steps[0]).toMatchObject({ name: 'ES4.AuditEIS', state: 'succeeded' });
    expect(op.steps.at(-1)).toMatchObject({ name: 'ES4.GetEIS', state: 'succeeded' });
  });
});

// `simtrust endorse …` as a user runs it: a card file made by `simtrust card new`, imported as a SIM,
// proves itself with `endorse challenge` over the device listener; `endorse verify` checks the
// token; `endorse keys list|rotate|get` manage the keys through the API.

import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeviceApp } from '../../src/servers/device/app.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';

let api: TestApi;
let device: FastifyInstance;
let env: Record<string, string>;
let deviceUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'simtrust-endorse-cli-'));

beforeAll(async () => {
  api = await startTestApi();
  const endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  device = await buildDeviceApp({ platform: api.platform });
  await device.listen({ host: '127.0.0.1', port: 0 });
  deviceUrl = `http://127.0.0.1:${(device.server.address() as AddressInfo).port}`;
  env = { SIMTRUST_ENDPOINT: endpoint, SIMTRUST_TOKEN: api.operator.token };
});
afterAll(async () => {
  await device.close();
  await api.close();
});

describe('simtrust endorse', () => {
  it('challenge with a card file, then verify the token', async () => {
    const card = join(dir, 'device.card.json');
    const made = await runCli(['card', 'new', '--imsi', '001010000004242', '--out', card, '--csv-line']);
    expect(made.code).toBe(0);
    const [iccid, imsi, , ki, opc] = made.stdout.trim().split(',');
    const group = await api.call({
      method: 'POST',
      url: '/v1/groups',
      payload: { configuration: { Endorse: { enabled: true } } },
    });
    const sim = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: { iccid, imsi, ki, opc, groupId: group.json().groupId },
    });
    await api.call({ method: 'POST', url: `/v1/sims/${sim.json().simId}/activate` });

    const r = await runCli(['endorse', 'challenge', '--card', card, '--device-url', deviceUrl], env);
    expect(r.stderr).toBe('');
    const { token } = JSON.parse(r.stdout) as { token: string };
    // The card file saved the SQN it accepted (the card's persistent state).
    expect(readFileSync(card, 'utf8')).toContain('"seq"');

    const op = api.operator.operatorId;
    const jwksUrl = `${deviceUrl}/v1/operators/${op}/endorse/jwks.json`;
    const v = await runCli(['endorse', 'verify', token, '--operator', op, '--jwks-url', jwksUrl]);
    expect(v.code).toBe(0);
    // Without the operator (or an issuer) the command says what to give.
    const noIssuer = await runCli(['endorse', 'verify', token, '--jwks-url', jwksUrl]);
    expect([noIssuer.code, noIssuer.stderr]).toEqual([2, expect.stringContaining('--operator')]);
    // The operator-less URL of a single-operator platform serves the same keys.
    const legacy = await runCli([
      'endorse',
      'verify',
      token,
      '--operator',
      op,
      '--jwks-url',
      `${deviceUrl}/.well-known/jwks.json`,
    ]);
    expect(legacy.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ amr: ['sim-aka'], sim: { imsi } });
    const bad = await runCli(['endorse', 'verify', `${token}x`, '--operator', op, '--jwks-url', jwksUrl]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('TOKEN_SIGNATURE_INVALID');
  });

  it('token from an address without a session is refused with its code', async () => {
    const r = await runCli(['endorse', 'token', '--device-url', deviceUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_ENDORSE_NO_SESSION');
  });

  it('keys list, rotate and get', async () => {
    const rotated = await runCli(
      ['endorse', 'keys', 'rotate', '--algorithm', 'EdDSA', '--activate-in', '30'],
      env,
    );
    expect(rotated.code).toBe(0);
    const [key] = JSON.parse(rotated.stdout) as Array<{ kid: string; compatKid: string; state: string }>;
    expect(key?.state).toBe('pending');
    const list = await runCli(['endorse', 'keys', 'list', '--output', 'table'], env);
    expect(list.stdout).toContain(key!.kid);
    expect(list.stdout).toContain('pending');
    const pem = await runCli(['endorse', 'keys', 'get', key!.compatKid], env);
    expect(pem.stdout).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});

// `simtrust esim ci show --pem` / `ci import` / `certs request|sign|import` through the real bin, as
// two administrators run them for two deployments with one common CI (issue 16): deployment 1 holds
// the CI, deployment 2 trusts it, makes its SM-SR key and gets its certificate signed; the eUICCs'
// EUM certificate is trusted at deployment 2. Only certificates and the request cross; no output
// carries a private key.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  trustedCiFromCertificate,
  verifyCertificateChain,
} from '../../src/crypto/sgp-02-certificate-chain.js';
import { runCli } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'simtrust-pki-requests-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
let one: { url: string; drop: () => Promise<void> };
let two: { url: string; drop: () => Promise<void> };
let env1: Record<string, string>;
let env2: Record<string, string>;

const ok = async (args: string[], env: Record<string, string>) => {
  const r = await runCli(args, env);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stdout).not.toMatch(/PRIVATE KEY|"privateKey"|s1\./);
  return r.stdout;
};

beforeAll(() => {
  one = freshDatabaseUrl();
  two = freshDatabaseUrl();
  env1 = { SIMTRUST_DATABASE_URL: one.url, SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64') };
  env2 = { SIMTRUST_DATABASE_URL: two.url, SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64') };
});
afterAll(async () => {
  await one.drop();
  await two.drop();
});

describe('simtrust esim certs request / sign / import between two deployments', () => {
  it('deployment 2 gets its SM-SR certificate from the CI of deployment 1 and trusts its EUM', {
    timeout: 180_000,
  }, async () => {
    await ok(['esim', 'ci', 'init'], env1);
    const eum = JSON.parse(
      await ok(['esim', 'certs', 'issue', '--role', 'eum', '--entity-id', '2.999.16.1'], env1),
    ) as { certificate: string };
    const ciPem = await ok(['esim', 'ci', 'show', '--pem'], env1);

    const operator = JSON.parse(
      await ok(
        ['admin', 'operators', 'create', '--email', 'op2@example.com', '--password', 'correct horse battery'],
        env2,
      ),
    ) as { operatorId: string };
    await ok(['esim', 'ci', 'import', '--certificate', file('ci.pem', ciPem)], env2);
    // Without the CI's key deployment 2 issues nothing itself.
    const refused = await runCli(
      [
        'esim',
        'certs',
        'issue',
        '--role',
        'sm-sr',
        '--operator-id',
        operator.operatorId,
        '--entity-id',
        '2.999.16.3.2',
      ],
      env2,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ERR_ESIM_CI_NO_KEY/);
    expect(refused.stderr).toMatch(/esim certs request/);

    const request = await ok(
      [
        'esim',
        'certs',
        'request',
        '--role',
        'sm-sr',
        '--operator-id',
        operator.operatorId,
        '--entity-id',
        '2.999.16.3.2',
        '--pem',
      ],
      env2,
    );
    expect(request.trim()).toMatch(/^7f21[0-9a-f]+$/);
    const certificate = await ok(
      ['esim', 'certs', 'sign', '--request', file('sm-sr.req', request), '--pem'],
      env1,
    );
    const imported = JSON.parse(
      await ok(['esim', 'certs', 'import', '--certificate', file('sm-sr.cert', certificate)], env2),
    ) as { role: string; subject: string; pending: boolean; operatorId: string; certificate: string };
    expect(imported).toMatchObject({
      role: 'sm-sr',
      subject: '2.999.16.3.2',
      pending: false,
      operatorId: operator.operatorId,
      certificate: certificate.trim(),
    });
    const ci = trustedCiFromCertificate(ciPem);
    if (!ci.ok) throw new Error(ci.error.message);
    expect(
      verifyCertificateChain({
        certificate: Buffer.from(imported.certificate, 'hex'),
        role: 'sm-sr',
        trustedCis: [ci.value],
        now: Date.now(),
      }).ok,
    ).toBe(true);

    // The same answer again: nothing pending for that key.
    const again = await runCli(
      ['esim', 'certs', 'import', '--certificate', file('sm-sr.cert', certificate)],
      env2,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ERR_ESIM_NO_CERTIFICATE_REQUEST/);
    // Not hex: a usage error.
    const garbage = await runCli(['esim', 'certs', 'sign', '--request', file('bad.req', 'not hex')], env1);
    expect(garbage.code).toBe(2);

    await ok(
      [
        'esim',
        'certs',
        'import',
        '--certificate',
        file('eum.pem', eum.certificate),
        '--entity-id',
        '2.999.16.1',
      ],
      env2,
    );
    const list = JSON.parse(await ok(['esim', 'certs', 'list'], env2)) as { role: string; subject: string }[];
    expect(list.map((c) => [c.role, c.subject]).sort()).toEqual([
      ['eum', '2.999.16.1'],
      ['sm-sr', '2.999.16.3.2'],
    ]);
  });
});

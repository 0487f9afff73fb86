// `simtrust esim ci …` and `simtrust esim certs …` on the configured database (SQLite or
// PostgreSQL), as an administrator runs them: JSON output without private keys, an SM-DP
// certificate for an operator, and refusals with their codes and exit status.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  trustedCiFromCertificate,
  verifyCertificateChain,
} from '../../src/crypto/sgp-02-certificate-chain.js';
import { runCli, seedOperator } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;

beforeAll(async () => {
  db = freshDatabaseUrl();
  env = { SIMTRUST_DATABASE_URL: db.url, SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64') };
});
afterAll(() => db.drop());

describe('simtrust esim ci / certs', () => {
  it('init, a refused second init, an SM-DP certificate for an operator, the list', async () => {
    const init = await runCli(['esim', 'ci', 'init', '--name', 'CN=Test CI,O=cli'], env);
    expect(init.code, init.stderr).toBe(0);
    const ci = JSON.parse(init.stdout) as Record<string, unknown>;
    expect(ci).toMatchObject({ origin: 'created', canIssue: true, subject: 'CN=Test CI, O=cli' });

    const again = await runCli(['esim', 'ci', 'init'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(ERR_ESIM_CI_EXISTS\)/);

    const email = `esim-${randomBytes(4).toString('hex')}@example.com`;
    await seedOperator(db.url, email, 'correct horse battery');
    const { openStore } = await import('../../src/platform/store/database.js');
    const store = await openStore(db.url, { migrate: false });
    const operatorId = (
      await store.db
        .selectFrom('operators')
        .select('operator_id')
        .where('email', '=', email)
        .executeTakeFirstOrThrow()
    ).operator_id;
    await store.close();

    const issued = await runCli(
      [
        'esim',
        'certs',
        'issue',
        '--role',
        'sm-dp',
        '--operator-id',
        operatorId,
        '--entity-id',
        '1.3.6.1.4.1.99999.1.1',
      ],
      env,
    );
    expect(issued.code, issued.stderr).toBe(0);
    const view = JSON.parse(issued.stdout) as { certificate: string; certId: string; role: string };
    expect(view.role).toBe('sm-dp');
    const trusted = trustedCiFromCertificate(ci.certificate as string);
    expect(trusted.ok).toBe(true);
    if (trusted.ok) {
      const r = verifyCertificateChain({
        certificate: Buffer.from(view.certificate, 'hex'),
        role: 'sm-dp',
        trustedCis: [trusted.value],
        now: Date.now(),
      });
      expect(r.ok).toBe(true);
    }

    const list = await runCli(['esim', 'certs', 'list', '--operator-id', operatorId], env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ certId: string }>).map((c) => c.certId)).toEqual([
      view.certId,
    ]);
    for (const out of [init.stdout, issued.stdout, list.stdout]) expect(out).not.toMatch(/private|s1\./i);

    const noOperator = await runCli(
      ['esim', 'certs', 'issue', '--role', 'sm-sr', '--entity-id', '1.2.3'],
      env,
    );
    expect(noOperator.code).toBe(2);
    expect(noOperator.stderr).toMatch(/ERR_CLI_USAGE/);
  });
});

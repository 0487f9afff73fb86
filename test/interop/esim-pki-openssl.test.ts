// The X.509 part of the SGP.02 chain checked by an independent implementation: `openssl verify`
// accepts the EUM certificate our CI issued, refuses it under another CI and once tampered with, and
// `openssl x509` reads the profile (CA, path length 0, keyCertSign, SKI/AKI linkage, ECDSA-SHA256).
// Also the whole CLI path: `esim ci init`, `esim ci show --pem`, `esim certs issue --role eum --pem`.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificateDer } from '../../src/crypto/sgp-02-certificate-chain.js';
import { runCli } from '../helpers/cli.js';
import { createTestPki } from '../helpers/esim-pki.js';
import { requirePrograms } from '../helpers/external.js';

const ok = requirePrograms({ openssl: 'openssl' });
const dir = mkdtempSync(join(tmpdir(), 'esim-pki-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const verify = (ca: string, cert: string) =>
  spawnSync('openssl', ['verify', '-CAfile', ca, cert], { encoding: 'utf8' });

describe.skipIf(!ok)('eSIM PKI X.509 with openssl', () => {
  it('openssl verify accepts the EUM certificate under its CI and refuses it under another', async () => {
    const pki = await createTestPki({ now: Date.now() });
    const other = await createTestPki({ now: Date.now() });
    const ci = file('ci.pem', pki.ci.pem);
    const eum = file('eum.pem', pki.eum.pem);
    const good = verify(ci, eum);
    expect(good.stdout.trim(), good.stderr).toBe(`${eum}: OK`);
    const bad = verify(file('other-ci.pem', other.ci.pem), eum);
    expect(bad.status).not.toBe(0);
    // One changed byte inside the signed part (tbsCertificate, the first ~350 of ~450 bytes).
    const der = Buffer.from(certificateDer(pki.eum.pem));
    const at = Math.floor(der.length / 2);
    der[at] = (der[at] as number) ^ 0x01;
    const tampered = file('tampered.der', '');
    writeFileSync(tampered, der);
    const t = spawnSync('openssl', ['verify', '-CAfile', ci, '-inform', 'DER', tampered], {
      encoding: 'utf8',
    });
    expect(t.status).not.toBe(0);
  });

  it('openssl reads the SGP.02 X.509 profile: CA roots, EUM path length 0, key ids linking the chain', async () => {
    const pki = await createTestPki({ now: Date.now() });
    const text = (pem: string) =>
      execFileSync(
        'openssl',
        ['x509', '-noout', '-text', '-in', file(`${randomBytes(4).toString('hex')}.pem`, pem)],
        {
          encoding: 'utf8',
        },
      );
    const ci = text(pki.ci.pem);
    const eum = text(pki.eum.pem);
    expect(ci).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(ci).toMatch(/NIST CURVE: P-256/);
    expect(ci).toMatch(/CA:TRUE/);
    expect(eum).toMatch(/CA:TRUE, pathlen:0/);
    expect(eum).toMatch(/Certificate Sign/);
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(ci)?.[1];
    const aki = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(eum)?.[1];
    expect(ski).toBeDefined();
    expect(aki).toBe(ski);
    expect(ski?.replace(/:/g, '').toLowerCase()).toBe(Buffer.from(pki.ci.trusted.keyId).toString('hex'));
  });

  it('the CLI creates a CI and an EUM that openssl verify accepts', async () => {
    const env = {
      SIMTRUST_DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`,
      SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    };
    const init = await runCli(['esim', 'ci', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    const ciPem = await runCli(['esim', 'ci', 'show', '--pem'], env);
    const eumPem = await runCli(
      ['esim', 'certs', 'issue', '--role', 'eum', '--entity-id', '1.3.6.1.4.1.99999.3', '--pem'],
      env,
    );
    expect(eumPem.code, eumPem.stderr).toBe(0);
    const eum = file('cli-eum.pem', eumPem.stdout);
    const r = verify(file('cli-ci.pem', ciPem.stdout), eum);
    expect(r.stdout.trim(), r.stderr).toBe(`${eum}: OK`);
  });
});

// `simtrust card new --euicc`: the card file with its euicc section and the EIS for RegisterEIS
// (esim.md §2), consistent with each other; the card answers the ECASD's GET DATA with its EID.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCardFile } from '../../../src/card/card-file.js';
import { ECASD_AID, ISD_R_AID, isdpAid } from '../../../src/card/euicc/sgp-02-annex-h.js';
import { toHex } from '../../../src/lib/hex.js';
import { isEid } from '../../../src/lib/sgp-02-eid.js';
import { createTestPki } from '../../helpers/esim-pki.js';
import { runCli } from '../../helpers/simtrust-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'simtrust-euicc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('simtrust card new --euicc', () => {
  it('issues an eUICC card file and its EIS; the EID reads back through the ECASD', async () => {
    const out = join(dir, 'e.json');
    const eisPath = join(dir, 'eis.json');
    const r = await runCli([
      'card',
      'new',
      '--euicc',
      '--imsi',
      '001010000000007',
      '--eid',
      '890490321234512345123456789012',
      '--smsr-address',
      '8170000999',
      '--smsr-id',
      '1.3.6.1.4.1.99999.2',
      '--ecasd-certificate',
      '7F2103930101',
      '--out',
      out,
      '--eis',
      eisPath,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = readCardFile(out);
    if (!file.ok) throw new Error(file.error.message);
    const e = file.value.euicc;
    expect(e?.eid).toBe('89049032123451234512345678901235');
    expect(e?.isdps.map((i) => [i.aid, i.state, i.fallback])).toEqual([[isdpAid(0x10), 0x3f, true]]);
    expect(e?.isdr.scp80.map((k) => [k.kvn, k.kicAlgorithm, k.kidAlgorithm])).toEqual([
      [1, 'aes-cbc', 'aes-cmac'],
    ]);
    expect(e?.isdr.scp81.map((k) => k.kvn)).toEqual([0x40]);
    expect(statSync(eisPath).mode & 0o777).toBe(0o600);
    const eis = JSON.parse(readFileSync(eisPath, 'utf8'));
    expect(isEid(eis.eid)).toBe(true);
    expect(eis).toMatchObject({
      eid: e?.eid,
      smsrId: '1.3.6.1.4.1.99999.2',
      ecasd: { aid: ECASD_AID, role: 'ECASD', certificate: '7f2103930101' },
      isdR: { aid: ISD_R_AID, tar: ['000001'], role: 'ISD-R' },
      profiles: [
        { iccid: file.value.iccid, isdPAid: isdpAid(0x10), state: 'Enabled', fallbackAttribute: true },
      ],
    });
    // The EIS carries the same ISD-R keys as the card, and the ECASD public key (65 bytes, 04‖X‖Y).
    expect(eis.isdR.keysets[0].keys.map((k: { value: string }) => k.value)).toEqual([
      e?.isdr.scp80[0]?.kic,
      e?.isdr.scp80[0]?.kid,
      e?.isdr.scp80[0]?.dek,
    ]);
    expect(eis.ecasd.publicKey).toMatch(/^04[0-9a-f]{128}$/);
    const apdu = await runCli(['card', 'apdu', out, `00A4040C10${ECASD_AID}`, '80CA005A00']);
    expect(apdu.stdout.trim().split('\n')).toEqual(['9000', `5A10${e?.eid} 9000`]);
  });

  it('--ci-certificate puts PK.CI and its key id in the ECASD (what ES8 verifies SM-DP certificates with)', async () => {
    const pki = await createTestPki();
    const pem = join(dir, 'ci.pem');
    writeFileSync(pem, pki.ci.pem);
    const out = join(dir, 'ci.json');
    const r = await runCli([
      'card',
      'new',
      '--euicc',
      '--imsi',
      '001010000000008',
      '--ci-certificate',
      pem,
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = readCardFile(out);
    expect(file.ok && file.value.euicc?.ecasd.ci).toEqual({
      keyId: toHex(pki.ci.trusted.keyId),
      publicKey: toHex(pki.ci.trusted.publicKey),
    });
    writeFileSync(pem, 'not a certificate');
    const bad = await runCli([
      'card',
      'new',
      '--euicc',
      '--imsi',
      '001010000000008',
      '--ci-certificate',
      pem,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--ci-certificate/);
  });

  it('refuses eUICC options without --euicc and a bad EID', async () => {
    const a = await runCli([
      'card',
      'new',
      '--imsi',
      '001010000000007',
      '--eid',
      '89049032123451234512345678901235',
    ]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/go with --euicc/);
    const b = await runCli([
      'card',
      'new',
      '--euicc',
      '--imsi',
      '001010000000007',
      '--eid',
      '89049032123451234512345678901234',
    ]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/check digits/);
  });
});

// `simtrust card new|apdu` in-process.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCardFile } from '../../src/card/card-file.js';
import { hasValidLuhn } from '../../src/lib/luhn.js';
import { runCli } from '../helpers/simtrust-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'simtrust-card-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('simtrust card new', () => {
  it('writes a card file and prints the vendor CSV line', async () => {
    const out = join(dir, 'a.json');
    const r = await runCli([
      'card',
      'new',
      '--imsi',
      '001010000000001',
      '--msisdn',
      '817000000001',
      '--out',
      out,
      '--csv-line',
    ]);
    expect(r.code).toBe(0);
    const [iccid, imsi, msisdn, ki, opc] = r.stdout.trim().split(',');
    expect(hasValidLuhn(iccid ?? '')).toBe(true);
    expect({ imsi, msisdn }).toEqual({ imsi: '001010000000001', msisdn: '817000000001' });
    expect(ki).toMatch(/^[0-9a-f]{32}$/);
    expect(opc).toMatch(/^[0-9a-f]{32}$/);
    const file = readCardFile(out);
    expect(file.ok && [file.value.ki, file.value.opc, file.value.iccid]).toEqual([ki, opc, iccid]);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(r.stderr).toMatch(/wrote .*a\.json/);
  });

  it('refuses to overwrite a card file without --force (the old Ki would be lost)', async () => {
    const out = join(dir, 'b.json');
    expect((await runCli(['card', 'new', '--imsi', '001010000000002', '--out', out])).code).toBe(0);
    const before = readFileSync(out, 'utf8');
    const again = await runCli(['card', 'new', '--imsi', '001010000000002', '--out', out]);
    expect(again.code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect((await runCli(['card', 'new', '--imsi', '001010000000002', '--out', out, '--force'])).code).toBe(
      0,
    );
  });

  it('prints the card JSON without --out; takes given keys, OP and an initial SQN', async () => {
    const r = await runCli([
      'card',
      'new',
      '--imsi',
      '310410123456789',
      '--mnc-length',
      '3',
      '--ki',
      '465b5ce8b199b49faa5f0a2ee238a6bc',
      '--op',
      'cdc202d5123e20f62b6d676ac72cb318',
      '--sqn',
      '0000000a0000',
      '--pin1-enabled',
    ]);
    expect(r.code).toBe(0);
    const card = JSON.parse(r.stdout);
    expect(card.opc).toBe('cd63cb71954a9f4e48a5994e37a02baf');
    expect(card.pin1Enabled).toBe(true);
    expect(card.mncLength).toBe(3);
    expect(card.sqn.seq.every((s: number) => s === 0x5000)).toBe(true);
  });

  it.each([
    [['--imsi', '12'], /--imsi is required/],
    [['--imsi', '001010000000001', '--iccid', '8949440000001155315'], /--iccid/],
    [['--imsi', '001010000000001', '--ki', '00'], /--ki must be 32 hex digits/],
    [['--imsi', '001010000000001', '--op', '00'.repeat(16)], /--op needs --ki/],
    [['--imsi', '001010000000001', '--mnc-length', '4'], /--mnc-length/],
    [['--imsi', '001010000000001', '--pin1', '12'], /--pin1 must be 4 to 8 digits/],
  ])('bad input %j exits 2', async (args, message) => {
    const r = await runCli(['card', 'new', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('simtrust card new --anti-theft', () => {
  it('installs the applet with a new AES key set; the CSV line carries the OTA columns', async () => {
    const out = join(dir, 'anti-theft.json');
    const r = await runCli([
      'card',
      'new',
      '--imsi',
      '001010000000031',
      '--msisdn',
      '817000000031',
      '--anti-theft',
      '--alert-destination',
      '8170000999',
      '--learning',
      '60',
      '--out',
      out,
      '--csv-header',
      '--csv-line',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [header, line] = r.stdout.trim().split('\n');
    expect(header).toBe('iccid,imsi,msisdn,ki,opc,kic,kid,kvn,quarantine_imsi');
    const [iccid, imsi, , ki, , kic, kid, kvn, quarantine] = (line ?? '').split(',');
    expect({ imsi, kvn, quarantine }).toEqual({
      imsi: '001010000000031',
      kvn: '1',
      quarantine: '001990000000031',
    });
    expect([kic, kid]).toEqual([
      expect.stringMatching(/^[0-9a-f]{32}$/),
      expect.stringMatching(/^[0-9a-f]{32}$/),
    ]);
    expect(kic).not.toBe(kid);
    const file = readCardFile(out);
    if (!file.ok) throw new Error(file.error.message);
    expect(file.value).toMatchObject({ iccid, ki });
    expect(file.value.ota?.keysets).toEqual([
      { kvn: 1, kicAlgorithm: 'aes-cbc', kic, kidAlgorithm: 'aes-cmac', kid },
    ]);
    expect(file.value.applets).toEqual([
      {
        name: 'anti-theft',
        tar: 'C0A7C0',
        reportKvn: 1,
        parameters: { quarantineImsi: quarantine, alertDestination: '8170000999', learningSeconds: 60 },
      },
    ]);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('needs the alert destination, and a quarantine IMSI other than its own', async () => {
    const base = ['card', 'new', '--imsi', '001010000000032', '--anti-theft'];
    const none = await runCli(base);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--alert-destination.*otaSmppSourceAddr/);
    const own = await runCli([
      ...base,
      '--alert-destination',
      '81700',
      '--quarantine-imsi',
      '001010000000032',
    ]);
    expect(own.code).toBe(2);
    const stray = await runCli([
      'card',
      'new',
      '--imsi',
      '001010000000033',
      '--quarantine-imsi',
      '001990000000033',
    ]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/go with --anti-theft/);
  });
});

describe('simtrust card apdu', () => {
  it('sends APDUs in order and prints "<data> <SW>"; state persists across runs', async () => {
    const path = join(dir, 'apdu.json');
    await runCli(['card', 'new', '--imsi', '001010000000001', '--out', path]);
    const r = await runCli([
      'card',
      'apdu',
      path,
      '00A4040C07A0000000871002',
      '00B0870009',
      '00A4000C026F7B',
      '00D6000003 62F210',
      '0050000000',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(['9000', '080910100000000010 9000', '9000', '9000', '6D00', ''].join('\n'));
    const again = await runCli(['card', 'apdu', path, '00A4080C047FF06F7B', '00B0000003']);
    expect(again.stdout).toBe('9000\n62F210 9000\n');
  });

  it('bad hex or a missing card file exits 2', async () => {
    const path = join(dir, 'apdu2.json');
    await runCli(['card', 'new', '--imsi', '001010000000001', '--out', path]);
    const badHex = await runCli(['card', 'apdu', path, '00A4X']);
    expect(badHex.code).toBe(2);
    expect(badHex.stderr).toMatch(/is not an APDU/);
    const missing = await runCli(['card', 'apdu', join(dir, 'nope.json'), '00A4000C023F00']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it('every card command has a help example', async () => {
    for (const sub of ['new', 'apdu', 'serve', 'wpa-bridge']) {
      const r = await runCli(['card', sub, '--help']);
      expect(r.stdout, sub).toMatch(/Example[\s\S]*\$ simtrust card/);
    }
  });
});

// Interop: the software card in a PC/SC reader. pcscd (Debian pcscd) loads vsmartcard's vpcd driver
// (vsmartcard-vpcd); `simtrust card serve` connects the card to it; then ordinary PC/SC software
// uses it: a pyscard script (python3-pyscard, /usr/bin/python3) selects ADF.USIM, reads EF.IMSI and
// runs AUTHENTICATE with a vector from `simtrust aka gen`, and pcsc_scan (pcsc-tools) shows the ATR.
// pcscd's socket directory and vpcd's port live in a private mount + network namespace.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCardFile } from '../../src/card/card-file.js';
import { ATR } from '../../src/card/ts-102-221.js';
import { c3Kc } from '../../src/crypto/gsm-milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { encodeEfImsi } from '../../src/lib/identities.js';
import { inCi, requirePrograms } from '../helpers/external.js';
import { CLI_SCRIPT, runCli } from '../helpers/simtrust-cli.js';
import { isRoot, type Namespace, startNamespace } from './helpers/namespace.js';

const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const READER = 'Virtual PCD 00 00';

function ready(): boolean {
  const programs = requirePrograms({
    pcscd: 'pcscd',
    pcsc_scan: 'pcsc-tools',
    '/usr/bin/python3': 'python3-pyscard',
    unshare: 'util-linux',
    nsenter: 'util-linux',
  });
  if (!programs) return false;
  const missing = [
    existsSync(VPCD_DRIVER) ? '' : `${VPCD_DRIVER} (apt-get install vsmartcard-vpcd)`,
    existsSync('/usr/lib/python3/dist-packages/smartcard') ? '' : 'pyscard (apt-get install python3-pyscard)',
    isRoot() ? '' : 'root (for private namespaces)',
  ].filter(Boolean);
  if (missing.length === 0) return true;
  if (inCi) throw new Error(`PC/SC interop needs ${missing.join(', ')}`);
  console.warn(`skipping PC/SC interop: missing ${missing.join(', ')}`);
  return false;
}

const available = ready();

describe.skipIf(!available)('PC/SC through pcscd + vpcd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-pcsc-'));
  const cardPath = join(dir, 'card.json');
  const imsi = '001010000000123';
  let ns: Namespace;

  beforeAll(async () => {
    const made = await runCli(['card', 'new', '--imsi', imsi, '--out', cardPath]);
    expect(made.code, made.stderr).toBe(0);
    ns = await startNamespace({ tmpfs: ['/run/pcscd'] });
    ns.spawn('pcscd', ['-f']);
    const serve = ns.spawn(process.execPath, ['--import', 'tsx', CLI_SCRIPT, 'card', 'serve', cardPath], {
      cwd: resolve('.'),
    });
    await serve.waitFor(/connected to vpcd/, 'simtrust card serve');
  });

  afterAll(async () => {
    await ns?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pyscard selects ADF.USIM, reads EF.IMSI and authenticates with a `simtrust aka gen` vector', async () => {
    const file = readCardFile(cardPath);
    if (!file.ok) throw new Error(file.error.message);
    const rand = '00112233445566778899aabbccddeeff';
    const gen = await runCli([
      'aka',
      'gen',
      '--k',
      file.value.ki,
      '--opc',
      file.value.opc ?? '',
      '--rand',
      rand,
      '--sqn',
      '000000000021',
      '--amf',
      '8000',
      '--json',
    ]);
    const v = JSON.parse(gen.stdout) as Record<string, string>;

    const script = resolve('test/interop/helpers/pcsc-usim.py');
    const r = await ns.run('/usr/bin/python3', [script, READER, rand, v.autn as string], {
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, { data: string; sw: string }> & { atr: string };

    expect(seen.atr).toBe(toHex(ATR).toUpperCase());
    expect(seen.select_usim).toEqual({ data: '', sw: '9000' });
    expect(seen.read_imsi).toEqual({ data: toHex(encodeEfImsi(imsi)).toUpperCase(), sw: '9000' });
    const kc = toHex(c3Kc(hex(v.ck as string), hex(v.ik as string)));
    expect(seen.authenticate).toEqual({
      data: `DB08${v.res}10${v.ck}10${v.ik}08${kc}`.toUpperCase(),
      sw: '9000',
    });

    // The replayed challenge is refused with AUTS, which `simtrust aka auts` opens to the SQN used.
    expect(seen.replay?.sw).toBe('9000');
    const auts = seen.replay?.data.match(/^DC0E([0-9A-F]{28})$/)?.[1];
    expect(auts).toBeDefined();
    const check = await runCli([
      'aka',
      'auts',
      '--k',
      file.value.ki,
      '--opc',
      file.value.opc ?? '',
      '--rand',
      rand,
      '--auts',
      auts ?? '',
      '--json',
    ]);
    expect(JSON.parse(check.stdout)).toEqual({ sqn_ms: '000000000021' });

    // The bridge saved the card after AUTHENTICATE: SEQ 1 accepted in IND slot 1.
    const saved = readCardFile(cardPath);
    expect(saved.ok && saved.value.sqn.seq[1]).toBe(1);
  });

  it("pcsc_scan shows the card's ATR", async () => {
    const r = await ns.run('pcsc_scan', ['-c'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(READER);
    expect(r.stdout).toContain('Card inserted');
    const spaced = [...ATR].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    expect(r.stdout).toContain(`ATR: ${spaced}`);
  });
});

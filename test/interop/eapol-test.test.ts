// Interop: wpa_supplicant's eapol_test (Debian eapoltest) as the Wi-Fi client of simtrust's RADIUS
// server, the SIM answered by `simtrust card wpa-bridge` through wpa_cli (external_sim=1), the SIMs
// provisioned the way an operator does it (`simtrust sims import`, `simtrust radius-clients add`).
// EAP-AKA, EAP-AKA' and EAP-SIM succeed with matching MPPE keys; a card ahead in SQN is
// resynchronised; a wrong Ki, a suspended SIM and an unknown IMSI fail; with -r 5 the later rounds
// are fast re-authentications (the card is asked once). Recipe: shared/reference/cellular.md §3.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine, readCardFile } from '../../src/card/card-file.js';
import { requirePrograms } from '../helpers/external.js';
import { CLI_SCRIPT, runCli } from '../helpers/simtrust-cli.js';
import { writeEapolTestConf } from './helpers/eap-configs.js';
import { type SimtrustProcess, startSimtrust } from './helpers/simtrust-platform.js';

const available = requirePrograms({ eapol_test: 'eapoltest', wpa_cli: 'wpasupplicant' });

const REALM = 'wlan.mnc001.mcc001.3gppnetwork.org';
const SECRET = `eapol-${randomBytes(6).toString('hex')}`;

describe.skipIf(!available)("eapol_test ⇄ simtrust RADIUS: EAP-AKA, EAP-AKA', EAP-SIM", () => {
  let simtrust: SimtrustProcess;
  const children: ChildProcess[] = [];
  let serial = 0;
  const block = String(randomBytes(2).readUInt16BE(0) % 10_000).padStart(4, '0');

  beforeAll(async () => {
    simtrust = await startSimtrust();
    const added = await simtrust.cli([
      'radius-clients',
      'add',
      '127.0.0.1',
      '--secret',
      SECRET,
      '--name',
      'eapol_test',
    ]);
    expect(added.code, added.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await simtrust?.stop();
  });

  /** A card made with `simtrust card new`; imported (with `platformKi` instead of its own, if given). */
  async function card(o: { newArgs?: string[]; platformKi?: string; imported?: boolean } = {}) {
    serial++;
    const imsi = `00101${block}${String(serial).padStart(6, '0')}`;
    const path = join(simtrust.dir, `card-${serial}.json`);
    const made = await runCli(['card', 'new', '--imsi', imsi, '--out', path, ...(o.newArgs ?? [])]);
    expect(made.code, made.stderr).toBe(0);
    const file = readCardFile(path);
    if (!file.ok) throw new Error(file.error.message);
    if (o.imported !== false) {
      const line = csvLine(file.value).split(',');
      if (o.platformKi !== undefined) line[3] = o.platformKi;
      await simtrust.importSims([line.join(',')]);
    }
    return { path, imsi, iccid: file.value.iccid };
  }

  function spawnTracked(command: string, args: string[]) {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve('.') });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    return { child, output: () => output, exited };
  }

  async function authenticate(cardPath: string, method: 'AKA' | "AKA'" | 'SIM', imsi: string, rounds = 0) {
    const prefix = { AKA: '0', "AKA'": '6', SIM: '1' }[method];
    const run = `${method === "AKA'" ? 'akaprime' : method.toLowerCase()}-${imsi}-${rounds}`;
    const ctrl = join(simtrust.dir, `ctrl-${run}`);
    const conf = join(simtrust.dir, `eapol-${run}.conf`);
    writeEapolTestConf(conf, { ctrl, method, identity: `${prefix}${imsi}@${REALM}` });
    const eapol = spawnTracked('eapol_test', [
      '-W',
      '-c',
      conf,
      '-a',
      '127.0.0.1',
      '-p',
      String(simtrust.radius.authPort),
      '-s',
      SECRET,
      ...(rounds > 0 ? ['-r', String(rounds)] : []),
    ]);
    // eapol_test -W waits for a monitor on its control socket; the bridge attaches to it.
    await new Promise((r) => setTimeout(r, 300));
    const bridge = spawnTracked(process.execPath, [
      '--import',
      'tsx',
      CLI_SCRIPT,
      'card',
      'wpa-bridge',
      cardPath,
      '--ctrl',
      ctrl,
    ]);
    const timer = setTimeout(() => eapol.child.kill('SIGKILL'), 60_000);
    const code = await eapol.exited;
    clearTimeout(timer);
    if (bridge.child.exitCode === null) {
      bridge.child.kill('SIGTERM');
      await bridge.exited;
    }
    const lines = eapol.output().trim().split('\n');
    return { code, result: lines.at(-1), eapol: eapol.output(), bridge: bridge.output() };
  }

  for (const method of ['AKA', "AKA'", 'SIM'] as const) {
    it(`EAP-${method}: SUCCESS with a SIM imported through the CLI, MPPE keys match`, async () => {
      const c = await card();
      const r = await authenticate(c.path, method, c.imsi);
      expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
      expect(r.code).toBe(0);
      expect(r.eapol).toMatch(/MPPE keys OK: 1 {2}mismatch: 0/);
      expect(r.bridge).toMatch(
        method === 'SIM' ? /GSM-AUTH request \d+: success \(3 triplets\)/ : /UMTS-AUTH request \d+: success/,
      );
    });
  }

  it('SUCCESS after resynchronisation when the card is ahead of the AuC (AUTS)', async () => {
    const c = await card({ newArgs: ['--sqn', '0000000a0000'] });
    const r = await authenticate(c.path, 'AKA', c.imsi);
    expect(r.bridge).toMatch(/synchronisation failure, sent AUTS/);
    expect(r.bridge).toMatch(/UMTS-AUTH request \d+: success/);
    expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
  });

  it('FAILURE for a card whose Ki is not the one imported (the card refuses AUTN)', async () => {
    const c = await card({ platformKi: randomBytes(16).toString('hex') });
    const r = await authenticate(c.path, 'AKA', c.imsi);
    expect(r.bridge).toMatch(/MAC failure/);
    expect(r.result).toBe('FAILURE');
    expect(r.code).not.toBe(0);
  });

  it('FAILURE for a suspended SIM (before any challenge: the card is never asked)', async () => {
    const c = await card();
    expect((await simtrust.cli(['sims', 'activate', c.iccid])).code).toBe(0);
    expect((await simtrust.cli(['sims', 'suspend', c.iccid])).code).toBe(0);
    const r = await authenticate(c.path, "AKA'", c.imsi);
    expect(r.result).toBe('FAILURE');
    expect(r.bridge).not.toMatch(/UMTS-AUTH request/);
  });

  it('FAILURE for an IMSI the platform does not know', async () => {
    const c = await card({ imported: false });
    const r = await authenticate(c.path, 'AKA', c.imsi);
    expect(r.result).toBe('FAILURE');
    expect(r.bridge).not.toMatch(/UMTS-AUTH request/);
  });

  for (const method of ['AKA', "AKA'", 'SIM'] as const) {
    it(`${method} with -r 5: six successes, the five re-authentications are fast (the card is asked once)`, async () => {
      const c = await card();
      const r = await authenticate(c.path, method, c.imsi, 5);
      expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
      expect(r.eapol.match(/CTRL-EVENT-EAP-SUCCESS/g)?.length).toBe(6);
      expect(r.bridge.match(/(UMTS|GSM)-AUTH request/g)?.length).toBe(1);
    });
  }
});

// Interop: the software card as the SIM of a Wi-Fi client. Debian's eapol_test (eapoltest) runs
// EAP with `external_sim=1`; `simtrust card wpa-bridge` answers its SIM requests through wpa_cli
// (wpasupplicant) by sending AUTHENTICATE APDUs to the card. The server is Debian's hostapd acting
// as a RADIUS EAP server, its AuC answered by a test responder speaking hlr_auc_gw's protocol with
// our Milenage (helpers/hlr-auc-gw.ts). Recipe: shared/reference/cellular.md §3.
//
// hostapd binds its RADIUS port on INADDR_ANY, so hostapd and eapol_test run in a private network
// namespace; the UNIX sockets (hlr socket, ctrl_interface) are file paths, reachable from outside.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCardFile } from '../../src/card/card-file.js';
import { inCi, requirePrograms } from '../helpers/external.js';
import { CLI_SCRIPT, runCli } from '../helpers/simtrust-cli.js';
import { writeEapolTestConf, writeHostapdEapServer } from './helpers/eap-configs.js';
import { HlrAucGw } from './helpers/hlr-auc-gw.js';
import { isRoot, type Namespace, startNamespace } from './helpers/namespace.js';

function ready(): boolean {
  const programs = requirePrograms({
    hostapd: 'hostapd',
    eapol_test: 'eapoltest',
    wpa_cli: 'wpasupplicant',
    '/usr/bin/python3': 'python3',
    unshare: 'util-linux',
    nsenter: 'util-linux',
  });
  if (!programs) return false;
  if (isRoot()) return true;
  if (inCi) throw new Error('the wpa_supplicant interop test needs root for its network namespace');
  console.warn('skipping wpa_supplicant interop: needs root for a private network namespace');
  return false;
}

const available = ready();

const RADIUS_PORT = 18120;
const SECRET = 'testsecret';
const REALM = 'wlan.mnc001.mcc001.3gppnetwork.org';

describe.skipIf(!available)("EAP-AKA, EAP-AKA' and EAP-SIM with wpa_supplicant external_sim", () => {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-wpa-'));
  const hlr = new HlrAucGw();
  let ns: Namespace;

  /** A card made with `simtrust card new`, registered in the AuC with `aucKi` (its own Ki unless given). */
  async function card(name: string, imsi: string, options: { newArgs?: string[]; aucKi?: string } = {}) {
    const path = join(dir, `${name}.json`);
    const made = await runCli(['card', 'new', '--imsi', imsi, '--out', path, ...(options.newArgs ?? [])]);
    expect(made.code, made.stderr).toBe(0);
    const f = readCardFile(path);
    if (!f.ok) throw new Error(f.error.message);
    hlr.add(imsi, { ki: options.aucKi ?? f.value.ki, opc: f.value.opc ?? '', amf: f.value.amf });
    return path;
  }

  /** One eapol_test run with the bridge attached; resolves with eapol_test's result and the logs. */
  async function authenticate(cardPath: string, method: 'AKA' | "AKA'" | 'SIM', imsi: string) {
    const prefix = { AKA: '0', "AKA'": '6', SIM: '1' }[method];
    const run = `${method === "AKA'" ? 'akaprime' : method.toLowerCase()}-${imsi}`;
    const ctrl = join(dir, `ctrl-${run}`);
    const conf = join(dir, `eapol-${run}.conf`);
    writeEapolTestConf(conf, { ctrl, method, identity: `${prefix}${imsi}@${REALM}` });
    const eapol = ns.spawn('eapol_test', [
      '-W',
      '-c',
      conf,
      '-a',
      '127.0.0.1',
      '-p',
      String(RADIUS_PORT),
      '-s',
      SECRET,
    ]);
    const bridge = ns.spawn(
      process.execPath,
      ['--import', 'tsx', CLI_SCRIPT, 'card', 'wpa-bridge', cardPath, '--ctrl', ctrl],
      {
        cwd: resolve('.'),
      },
    );
    const code = await new Promise<number | null>((done) => {
      if (eapol.child.exitCode !== null) done(eapol.child.exitCode);
      else eapol.child.once('exit', (c) => done(c));
    });
    if (bridge.child.pid !== undefined && bridge.child.exitCode === null) {
      const stopped = new Promise((r) => bridge.child.once('exit', r));
      process.kill(bridge.child.pid, 'SIGTERM');
      await stopped;
    }
    const lines = eapol.output().trim().split('\n');
    return { code, result: lines.at(-1), eapol: eapol.output(), bridge: bridge.output() };
  }

  beforeAll(async () => {
    const hostapd = writeHostapdEapServer(dir, {
      port: RADIUS_PORT,
      secret: SECRET,
      // An identity's leading digit names method and kind (permanent, pseudonym, re-authentication):
      // 0/2/4 AKA (RFC 4187), 1/3/5 SIM (RFC 4186), 6/7/8 AKA' (RFC 5448).
      users: ['0', '2', '4']
        .map((d) => `"${d}"*\tAKA`)
        .concat(['1', '3', '5'].map((d) => `"${d}"*\tSIM`))
        .concat(['6', '7', '8'].map((d) => `"${d}"*\tAKA'`)),
      resultIndication: true,
    });
    await hlr.listen(hostapd.hlrSocket);
    ns = await startNamespace();
    const server = ns.spawn('hostapd', [hostapd.config]);
    await server.waitFor(/AP-ENABLED/, 'hostapd');
  });

  afterAll(async () => {
    await ns?.stop();
    await hlr.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('EAP-AKA: SUCCESS', async () => {
    const imsi = '001010000000101';
    const path = await card('aka', imsi);
    const r = await authenticate(path, 'AKA', imsi);
    expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
    expect(r.code).toBe(0);
    expect(r.bridge).toMatch(/UMTS-AUTH request \d+: success/);
  });

  it("EAP-AKA': SUCCESS (AMF 8000 carries the separation bit)", async () => {
    const imsi = '001010000000102';
    const path = await card('akaprime', imsi);
    const r = await authenticate(path, "AKA'", imsi);
    expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
    expect(r.eapol).toMatch(/EAP-AKA'/);
    expect(r.bridge).toMatch(/UMTS-AUTH request \d+: success/);
  });

  it('EAP-SIM: SUCCESS with GSM-context AUTHENTICATE', async () => {
    const imsi = '001010000000103';
    const path = await card('sim', imsi);
    const r = await authenticate(path, 'SIM', imsi);
    expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
    expect(r.bridge).toMatch(/GSM-AUTH request \d+: success \([23] triplets\)/);
  });

  it('a card ahead of the AuC answers AUTS; the AuC resynchronises and the next challenge succeeds', async () => {
    const imsi = '001010000000104';
    const path = await card('ahead', imsi, { newArgs: ['--sqn', '0000000a0000'] });
    const r = await authenticate(path, 'AKA', imsi);
    expect(r.bridge).toMatch(/synchronisation failure, sent AUTS/);
    expect(hlr.requests.some((l) => l.startsWith(`AKA-AUTS ${imsi} `))).toBe(true);
    expect(r.result, r.eapol.slice(-3000)).toBe('SUCCESS');
    expect(hlr.subscriber(imsi)?.sqn).toBeGreaterThan(0xa0000);
  });

  it('a card with a wrong Ki refuses the network (MAC failure) and gets FAILURE', async () => {
    const imsi = '001010000000105';
    const path = await card('wrong-ki', imsi, { aucKi: '00112233445566778899aabbccddeeff' });
    const r = await authenticate(path, 'AKA', imsi);
    expect(r.bridge).toMatch(/MAC failure/);
    expect(r.eapol).toMatch(/Authentication-Reject/);
    expect(r.result).toBe('FAILURE');
    expect(r.code).not.toBe(0);
  });
});

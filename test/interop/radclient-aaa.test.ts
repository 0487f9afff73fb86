// Interop: FreeRADIUS's radclient as the packet gateway against `simtrust serve` (its own process):
// Access-Request with 3GPP attributes → Access-Accept with Framed-IP-Address; Accounting
// Start/Interim/Stop → usage and session events through the API; a SIM locked to another IMEI →
// Access-Reject; suspending the SIM → a Disconnect-Request reaches the NAS's RFC 5176 listener.
// The NAS client is registered with the CLI (`simtrust radius-clients add`).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../src/lib/luhn.js';
import { getAttribute } from '../../src/lib/radius/attributes.js';
import { RADIUS_CODES } from '../../src/lib/radius/rfc-2865-packet.js';
import { loginToken, runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';
import { requirePrograms } from '../helpers/external.js';
import { TestDynamicAuthorizationServer } from '../servers/radius/nas.js';

const available = requirePrograms({ radclient: 'freeradius-utils' });
const SECRET = 'radclient-interop-secret';
const IMEISV = '3534321910800007';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let das: TestDynamicAuthorizationServer;
let token = '';
let dictDir = '';

async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

function radclient(
  kind: 'auth' | 'acct',
  attributes: string[],
): Promise<{ code: number | null; out: string }> {
  const port = kind === 'auth' ? server.radius!.authPort : server.radius!.acctPort;
  return new Promise((resolve) => {
    const child = spawn('radclient', [
      '-x',
      '-r',
      '2',
      '-t',
      '3',
      '-d',
      dictDir,
      '-D',
      '/usr/share/freeradius',
      `127.0.0.1:${port}`,
      kind,
      SECRET,
    ]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      out += String(d);
    });
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(attributes.join(', '));
  });
}

let serial = 0;
async function newSim(): Promise<{ simId: string; imsi: string }> {
  serial++;
  const body = `89811077${String(serial).padStart(10, '0')}`;
  const imsi = `00101770${String(serial).padStart(7, '0')}`;
  const created = await api<{ simId: string }>('POST', '/v1/sims', {
    iccid: body + luhnCheckDigit(body),
    imsi,
    ki: randomBytes(16).toString('hex'),
    opc: randomBytes(16).toString('hex'),
  });
  expect(created.status).toBe(201);
  return { simId: created.json.simId, imsi };
}

const gateway = (imsi: string, imeisv = IMEISV) => [
  `User-Name = "${imsi}"`,
  `3GPP-IMSI = "${imsi}"`,
  `3GPP-IMEISV = "${imeisv}"`,
  '3GPP-User-Location-Info = 0x8200f110426d00f11000013e02',
  '3GPP-RAT-Type = EUTRAN',
  'Called-Station-Id = "iot.example"',
  'Framed-Protocol = GPRS-PDP-Context',
  'NAS-IP-Address = 127.0.0.1',
  'Message-Authenticator = 0x00',
];

describe.skipIf(!available)('simtrust RADIUS ⇄ FreeRADIUS radclient (packet gateway)', () => {
  beforeAll(async () => {
    dictDir = mkdtempSync(join(tmpdir(), 'simtrust-radclient-aaa-'));
    writeFileSync(join(dictDir, 'dictionary'), '');
    db = freshDatabaseUrl();
    server = await startServeProcess({
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    await seedOperator(db.url, 'nas@example.com', 'radclient-password');
    token = await loginToken(server.apiUrl, 'nas@example.com', 'radclient-password');
    das = new TestDynamicAuthorizationServer(SECRET);
    const coaPort = await das.start();
    const added = await runCli(
      [
        'radius-clients',
        'add',
        '127.0.0.1',
        '--secret',
        SECRET,
        '--name',
        'radclient',
        '--coa-port',
        String(coaPort),
      ],
      { SIMTRUST_ENDPOINT: server.apiUrl, SIMTRUST_TOKEN: token },
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({
      address: '127.0.0.1/32',
      coaPort,
      requireMessageAuthenticator: true,
    });
    expect(added.stdout).not.toContain(SECRET);
  }, 120_000);

  afterAll(async () => {
    das?.close();
    await server?.stop();
    await db?.drop();
    if (dictDir) rmSync(dictDir, { recursive: true, force: true });
  });

  it('Access-Request with 3GPP attributes → Access-Accept with Framed-IP-Address', async () => {
    const sim = await newSim();
    const { code, out } = await radclient('auth', gateway(sim.imsi));
    expect(out).toMatch(/Received Access-Accept/);
    expect(out).toMatch(/Framed-IP-Address = 127\.64\.\d+\.\d+/);
    expect(out).toMatch(/WISPr-Bandwidth-Max-Down = 512000/);
    expect(code).toBe(0);
    expect((await api('GET', `/v1/sims/${sim.simId}`)).json.status).toBe('active');
  });

  it('Accounting Start / Interim / Stop → usage and session events in the API', async () => {
    const sim = await newSim();
    const common = [
      `3GPP-IMSI = "${sim.imsi}"`,
      'Acct-Session-Id = "rc-1"',
      'Framed-IP-Address = 127.64.200.1',
    ];
    const start = await radclient('acct', [
      'Acct-Status-Type = Start',
      ...common,
      `3GPP-IMEISV = "${IMEISV}"`,
      '3GPP-User-Location-Info = 0x8200f110426d00f11000013e02',
    ]);
    expect(start.out).toMatch(/Received Accounting-Response/);
    expect((await api('GET', `/v1/sims/${sim.simId}`)).json.sessionStatus).toMatchObject({
      online: true,
      ueIpAddress: '127.64.200.1',
      imei: '353432191080009',
      cell: { radioType: 'eutran', mcc: '001', mnc: '01', tac: 0x426d, eci: 0x13e02 },
    });
    for (const input of [5000, 5000, 9000]) {
      const r = await radclient('acct', [
        'Acct-Status-Type = Interim-Update',
        ...common,
        `Acct-Input-Octets = ${input}`,
        'Acct-Output-Octets = 100',
        'Acct-Output-Gigawords = 1',
      ]);
      expect(r.out).toMatch(/Received Accounting-Response/);
    }
    const stop = await radclient('acct', [
      'Acct-Status-Type = Stop',
      ...common,
      'Acct-Input-Octets = 12000',
      'Acct-Output-Octets = 100',
      'Acct-Output-Gigawords = 1',
      'Acct-Terminate-Cause = User-Request',
    ]);
    expect(stop.code).toBe(0);
    const now = Math.floor(Date.now() / 1000);
    const usage = await api<Array<{ dataTrafficStatsMap: Record<string, unknown> }>>(
      'GET',
      `/v1/stats/air/sims/${sim.simId}?from=${now - 3600}&to=${now + 3600}&period=hour`,
    );
    expect(usage.json).toHaveLength(1);
    expect(usage.json[0]?.dataTrafficStatsMap['s1.standard']).toMatchObject({
      uploadByteSizeTotal: 12000,
      downloadByteSizeTotal: 2 ** 32 + 100,
    });
    const events = await api<Array<{ event: string }>>('GET', `/v1/sims/${sim.simId}/events/sessions`);
    expect(events.json.map((e) => e.event)).toEqual(['Deleted', 'Created']);
    expect((await api('GET', `/v1/sims/${sim.simId}`)).json.previousSession).toMatchObject({
      ueIpAddress: '127.64.200.1',
    });
  });

  it('a SIM locked to another IMEI → Access-Reject with Reply-Message', async () => {
    const sim = await newSim();
    expect(
      (await api('POST', `/v1/sims/${sim.simId}/set_imei_lock`, { imei: '490154203237518' })).status,
    ).toBe(200);
    const { code, out } = await radclient('auth', gateway(sim.imsi));
    expect(out).toMatch(/Received Access-Reject/);
    expect(out).toMatch(/Reply-Message = "SIM is IMEI-locked to another device"/);
    expect(code).not.toBe(0);
    const refusals = await api<unknown[]>('GET', `/v1/sims/${sim.simId}/events/refusals`);
    expect(refusals.json[0]).toMatchObject({ code: 'IMEI_MISMATCH', imei: '353432191080009' });
  });

  it('suspending the SIM sends a Disconnect-Request that reaches the NAS listener', async () => {
    const sim = await newSim();
    expect((await radclient('auth', gateway(sim.imsi))).code).toBe(0);
    const start = await radclient('acct', [
      'Acct-Status-Type = Start',
      `3GPP-IMSI = "${sim.imsi}"`,
      'Acct-Session-Id = "rc-dm"',
      'Framed-IP-Address = 127.64.201.1',
    ]);
    expect(start.code).toBe(0);
    expect((await api('POST', `/v1/sims/${sim.simId}/suspend`)).status).toBe(200);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !das.sessionIds(RADIUS_CODES['Disconnect-Request']).includes('rc-dm')) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const request = das.seen.find((s) => s.packet.code === RADIUS_CODES['Disconnect-Request']);
    expect(request?.authentic).toBe(true);
    expect(getAttribute(request!.packet, 'Framed-IP-Address')).toEqual({ ok: true, value: '127.64.201.1' });
    expect(getAttribute(request!.packet, '3GPP-IMSI')).toEqual({ ok: true, value: sim.imsi });
    let outcome: Array<{ status?: string }> = [];
    while (Date.now() < deadline && outcome[0]?.status !== 'ack') {
      outcome = (
        await api<Array<{ status?: string }>>('GET', `/v1/sims/${sim.simId}/events/dynamic_authorization`)
      ).json;
    }
    expect(outcome[0]).toMatchObject({ kind: 'disconnect', reason: 'Sim:suspendSim', status: 'ack' });
    // …and the suspended SIM is refused from then on.
    const again = await radclient('auth', gateway(sim.imsi));
    expect(again.out).toMatch(/Reply-Message = "SIM is suspended"/);
  });
});

// The serve wiring of eSIM (src/servers/esim/esim-runtime.ts): this deployment's SM-SR and SM-DP
// connected to the operator API, ES5 over HTTPS through the real SCP81 listener (PSK-TLS) to the
// software eUICC. Threats: the API claiming an outcome the card never gave; the listener accepting an
// eUICC's key while nothing waits for it (keys of idle eUICCs are not even in memory); an unwired
// deployment answering anything but a 503 that says what to configure.

import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cardFromFile } from '../../../src/card/card-file.js';
import { runIsdrScript } from '../../../src/card/euicc/isd-r-ota.js';
import { ISD_R_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import { issueDemoEuicc } from '../../../src/cli/demo-euicc.js';
import { targetedApplication } from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex } from '../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../src/lib/identities.js';
import { mnoIdOf, type RunningEsim, startEsim } from '../../../src/servers/esim/esim-runtime.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { cardConnect, post } from './scp81-card.js';

const silent = pino({ level: 'silent' });
let api: TestApi | undefined;
let esim: RunningEsim | undefined;
const sockets: TLSSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await esim?.close();
  esim = undefined;
  await api?.platform.esimOperations.drained();
  await api?.close();
  api = undefined;
});

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const profileA = () => ({
  iccid: iccidWithCheckDigit(`8944001500${digits(8)}`),
  imsi: `00101015${digits(7)}`,
  msisdn: `81700015${digits(4)}`,
  ki: randomBytes(16).toString('hex'),
  opc: randomBytes(16).toString('hex'),
});

describe('eSIM in serve', () => {
  it('without eSIM roles, registering an eUICC answers 503 ERR_ESIM_NOT_CONNECTED naming esimOperatorId', async () => {
    api = await startTestApi();
    const euicc = await issueDemoEuicc(api.platform, {
      profile: profileA(),
      smsrId: '2.999.15.3.1',
      smsrAddress: '819000000999',
      mnoId: mnoIdOf(api.operator.operatorId),
    });
    const res = await api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: euicc.registerEisRequest, eumCertificate: euicc.eumCertificate },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'ERR_ESIM_NOT_CONNECTED' });
    expect(res.json().message).toContain('esimOperatorId');
  });

  it('registers an eUICC at its SM-SR and runs an operation over PSK-TLS to the card, to the card’s answer', async () => {
    api = await startTestApi({
      // Everything over HTTPS (the push aside): this test plays the card's PSK-TLS side only.
      config: { esimEs5SmsMaxScriptBytes: 0 },
    });
    await api.platform.esimPki.ensureDemo();
    const operatorId = api.operator.operatorId;
    esim = await startEsim(api.platform, operatorId, silent, { scp81Port: 0 });
    const port = esim.scp81Port ?? 0;
    expect(port).toBeGreaterThan(0);
    expect(api.platform.esimOperations.connected).toBe(true);
    // The operator's GP certificates were issued for the roles (entity ids under 2.999.15.3 / .2).
    expect(esim.smsrId).toMatch(/^2\.999\.15\.3\.\d+$/);
    expect(esim.smdpId).toMatch(/^2\.999\.15\.2\.\d+$/);

    const A = profileA();
    const issued = await issueDemoEuicc(api.platform, {
      profile: A,
      smsrId: esim.smsrId,
      smsrAddress: '819000000999',
      mnoId: mnoIdOf(operatorId),
    });
    const reg = await api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: issued.registerEisRequest, eumCertificate: issued.eumCertificate },
    });
    expect(reg.statusCode, reg.body).toBe(201);
    const eid = issued.eid;
    const sim = await api.call({ method: 'GET', url: `/v1/sims/${eid}` });
    expect(sim.json()).toMatchObject({ simId: eid });
    expect(JSON.stringify(sim.json())).toContain(A.iccid);

    const card = cardFromFile(issued.file);
    const euicc = card.euicc;
    if (euicc === undefined) throw new Error('not an eUICC');
    const psk = hex(issued.file.euicc?.isdr.scp81[0]?.psk ?? '');
    // Nothing waits for this eUICC: its key is not offered, the handshake fails.
    expect(await cardConnect(sockets, port, eid, psk)).toBeUndefined();

    const op = await api.call({ method: 'POST', url: `/v1/sims/${eid}/profiles/${A.iccid}/disable` });
    expect(op.statusCode, op.body).toBe(202);
    const operationId = op.json().operationId as string;
    // The push SMS has no SMSC here (no OTA link); the eUICC connects as it would after it.
    let socket: TLSSocket | undefined;
    await vi.waitFor(async () => {
      socket = await cardConnect(sockets, port, eid, psk);
      expect(socket).toBeDefined();
    });
    if (socket === undefined) throw new Error('no session');
    // A wrong key for the same identity is refused even now.
    expect(await cardConnect(sockets, port, eid, randomBytes(16))).toBeUndefined();

    const first = await post(socket, eid, '/gp/ram', new Uint8Array(0));
    expect(first.status).toBe(200);
    expect(first.headers['x-admin-targeted-application']).toBe(targetedApplication(ISD_R_AID));
    const next = first.headers['x-admin-next-uri'] ?? '';
    const run = runIsdrScript(euicc, new Uint8Array(first.body));
    const last = await post(socket, eid, next, run.response, 'ok');
    expect(last.status).toBe(204);

    await vi.waitFor(async () => {
      const got = await api?.call({ method: 'GET', url: `/v1/esim/operations/${operationId}` });
      expect(got?.json().status).not.toBe('running');
    });
    const done = (await api.call({ method: 'GET', url: `/v1/esim/operations/${operationId}` })).json();
    // The card refuses to disable its fall-back profile (SGP.02 §3.4: 6985): the operation says so.
    expect(done.status).toBe('failed');
    expect(done.result.message).toContain('refused by the eUICC');
    expect(done.steps.map((s: { name: string }) => s.name)).toContain('DisableProfile');
    expect(euicc.isdpAids.length).toBeGreaterThan(0);
  });
});

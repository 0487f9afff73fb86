// A SIM whose anti-theft applet blocked it attaches with its quarantine IMSI. Threat: a stolen
// device keeps a data session after the SIM blocked itself. Over real RADIUS (UDP): the quarantine
// identity gets Access-Reject, the refusal is recorded on its SIM and names anti-theft, and an
// unknown IMSI stays unknown (nothing recorded). SQLite and PostgreSQL.

import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttribute } from '../../../src/lib/radius/attributes.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import type { EapHandler } from '../../../src/servers/radius/eap-handler.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { provisionAntiTheft } from '../../helpers/anti-theft.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../../platform/aaa/fixture.js';
import { TestNas } from './nas.js';

const SECRET = 'radius-quarantine-secret';
const QUARANTINE_IMSI = '001019999000077';
const noEap: EapHandler = {
  async handle() {
    return { code: 'reject' } as never;
  },
};

let api: TestApi;
let radius: RunningRadius;
let nas: TestNas;

beforeAll(async () => {
  api = await startTestApi();
  const created = await api.call({
    method: 'POST',
    url: '/v1/radius_clients',
    payload: { address: '127.0.0.1', secret: SECRET, name: 'pgw-quarantine' },
  });
  expect(created.statusCode).toBe(201);
  radius = await startRadius({
    platform: api.platform,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    eapHandler: noEap,
    host: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
  });
  nas = await new TestNas(SECRET).start();
});
afterAll(async () => {
  nas.close();
  await radius.close();
  await api.close();
});

const request = (imsi: string) =>
  nas.access(radius.authPort, [
    ['User-Name', imsi],
    ['3GPP-IMSI', imsi],
    ['3GPP-IMEISV', '3534321910800007'],
    ['Called-Station-Id', 'iot.example'],
    ['NAS-IP-Address', '127.0.0.1'],
  ]);

describe(`anti-theft quarantine identity over RADIUS on ${testDialect}`, () => {
  it('refuses the quarantine IMSI every data session and records it on the SIM, naming anti-theft', async () => {
    const sim = await createSim(api);
    await provisionAntiTheft(
      api.platform.ota,
      api.platform.store.db,
      api.operator.operatorId,
      sim.simId,
      QUARANTINE_IMSI,
    );
    // The SIM itself (its real IMSI) is admitted as before.
    expect((await request(sim.imsi))?.packet.code).toBe(RADIUS_CODES['Access-Accept']);

    const answer = await request(QUARANTINE_IMSI);
    expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
    expect(getAttribute(answer!.packet, 'Reply-Message')).toEqual({
      ok: true,
      value: expect.stringMatching(/^anti-theft: /),
    });
    const refusals = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/refusals` });
    expect(refusals.json()).toEqual([
      expect.objectContaining({
        code: 'ANTI_THEFT_BLOCKED',
        imsi: QUARANTINE_IMSI,
        access: 'packet-gateway',
      }),
    ]);
  });

  it('an IMSI that is neither a SIM nor a quarantine identity stays an unknown subscriber', async () => {
    const answer = await request('001019999000078');
    expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
    expect(getAttribute(answer!.packet, 'Reply-Message')).toEqual({ ok: true, value: 'unknown subscriber' });
    const recorded = await api.platform.store.db
      .selectFrom('aaa_refusals')
      .select('imsi')
      .where('imsi', '=', '001019999000078')
      .execute();
    expect(recorded).toEqual([]);
  });
});

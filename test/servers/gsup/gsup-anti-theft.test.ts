// A SIM whose anti-theft applet blocked it attaches over GSUP with its quarantine IMSI. Threat: a
// stolen device keeps (or gets) a data session through the HLR after its SIM blocked itself — while
// the operator must still reach the card over SMS to unblock it. Over real GSUP (IPA/TCP): the
// quarantine identity authenticates with its SIM's keys and registers for CS (SMS, under the SIM's
// MSISDN), its PS UpdateLocation is refused with "GPRS services not allowed" and recorded on the SIM
// as RADIUS records it, and an unknown IMSI stays unknown (nothing recorded). SQLite and PostgreSQL.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CN_DOMAIN, GMM_CAUSE } from '../../../src/lib/gsup/gsup.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { GsupServer } from '../../../src/servers/gsup/server.js';
import { GsupClient } from '../../../src/simulator/gsup-client.js';
import { authenticateCard, registerLocation } from '../../../src/simulator/network.js';
import { type AntiTheftSim, createAntiTheftSim } from '../../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { testDialect } from '../../helpers/database.js';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

let api: TestApi;
let server: GsupServer;
let client: GsupClient;
let sim: AntiTheftSim;

beforeAll(async () => {
  api = await startTestApi();
  sim = await createAntiTheftSim(api.platform, api.operator.operatorId, 1);
  server = await GsupServer.start({
    db: api.platform.store.db,
    auc: api.platform.auc,
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    insertTimeoutMs: 2000,
  });
  client = await GsupClient.open({ host: '127.0.0.1', port: server.port, name: 'TEST-SGSN' });
});
afterAll(async () => {
  client?.close();
  await server?.close();
  await api?.close();
});

const refusals = async () =>
  (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/refusals` })).json() as Array<
    Record<string, unknown>
  >;

describe(`anti-theft quarantine identity over GSUP on ${testDialect}`, () => {
  it('the SIM itself attaches as before', async () => {
    expect(await authenticateCard(client, sim.card, sim.imsi)).toMatchObject({ ok: true });
    expect(await registerLocation(client, sim.imsi)).toEqual({ ok: true, value: true });
  });

  it('the quarantine IMSI authenticates with its SIM’s keys and registers for SMS (CS) under its MSISDN', async () => {
    // The card answers the challenge: the vectors are its own USIM's, SQN included.
    expect(await authenticateCard(client, sim.card, sim.quarantineImsi)).toEqual({
      ok: true,
      value: { resyncs: 0 },
    });
    const cs = await client.updateLocation(sim.quarantineImsi, CN_DOMAIN.CS);
    if (!cs.ok) throw new Error(`CS UpdateLocation refused: ${cs.error.message}`);
    expect(cs.value?.msisdn).toBe(sim.msisdn);
    expect(cs.value?.pdpInfo).toBeUndefined();
    expect((await client.purgeMs(sim.quarantineImsi)).ok).toBe(true);
    expect(await refusals()).toEqual([]);
  });

  it('refuses its PS UpdateLocation (no data session) and records it on the SIM, naming anti-theft', async () => {
    const ps = await client.updateLocation(sim.quarantineImsi, CN_DOMAIN.PS);
    expect(ps.ok ? 'attached' : ps.error.cause).toBe(GMM_CAUSE['GPRS-Not-Allowed']);
    expect(await refusals()).toEqual([
      {
        time: expect.any(Number),
        code: 'ANTI_THEFT_BLOCKED',
        reason: expect.stringMatching(/^anti-theft: /),
        access: 'gsup',
        imsi: sim.quarantineImsi,
        imei: null,
        apn: null,
        nasAddress: '127.0.0.1',
      },
    ]);
    // Each refused attach is recorded, as RADIUS records each Access-Reject.
    await client.updateLocation(sim.quarantineImsi, CN_DOMAIN.PS);
    expect(await refusals()).toHaveLength(2);
  });

  it('a quarantine identity of a suspended SIM is refused CS too, as the SIM itself would be', async () => {
    const other = await createAntiTheftSim(api.platform, api.operator.operatorId, 2);
    const ctx = systemContext(api.operator.operatorId, 'Sim:suspendSim', 'test');
    await api.platform.sims.transition(ctx, other.simId, 'activate');
    await api.platform.sims.transition(ctx, other.simId, 'suspend');
    const cs = await client.updateLocation(other.quarantineImsi, CN_DOMAIN.CS);
    expect(cs.ok ? 'registered' : cs.error.cause).toBe(GMM_CAUSE['PLMN-Not-Allowed']);
  });

  it('property: IMSIs near the quarantine identity (a lookup key from the peer) get nothing and record nothing', async () => {
    // Threat: a peer probing for quarantine identities, or a prefix/suffix/LIKE-style match, getting
    // vectors or a CS registration for an IMSI that is not exactly a SIM's quarantine IMSI.
    const before = (await refusals()).length;
    const db = api.platform.store.db;
    const known = new Set([
      ...(await db.selectFrom('sim_profiles').select('imsi').execute()).map((r) => r.imsi),
      ...(await db.selectFrom('anti_theft_sims').select('quarantine_imsi').execute()).map(
        (r) => r.quarantine_imsi,
      ),
    ]);
    const near = fc.oneof(
      fc.stringMatching(/^[0-9]{1,15}$/),
      fc.integer({ min: 1, max: 14 }).map((n) => sim.quarantineImsi.slice(0, n)),
      fc.integer({ min: 1, max: 14 }).map((n) => sim.quarantineImsi.slice(n)),
      fc.tuple(fc.integer({ min: 0, max: 14 }), fc.integer({ min: 1, max: 9 })).map(([i, d]) => {
        const digits = [...sim.quarantineImsi];
        digits[i] = String((Number(digits[i]) + d) % 10);
        return digits.join('');
      }),
    );
    await fc.assert(
      fc.asyncProperty(near, async (imsi) => {
        fc.pre(!known.has(imsi));
        const sai = await client.sendAuthInfo(imsi, { numVectors: 1 });
        expect(sai.ok ? 'vectors' : sai.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
        for (const domain of [CN_DOMAIN.CS, CN_DOMAIN.PS]) {
          const ul = await client.updateLocation(imsi, domain);
          expect(ul.ok ? 'registered' : ul.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
        }
      }),
      { numRuns: 60 },
    );
    expect(await refusals()).toHaveLength(before);
  });

  it('an IMSI that is neither a SIM nor a quarantine identity stays unknown, and nothing is recorded', async () => {
    const unknown = '001019999000099';
    const sai = await client.sendAuthInfo(unknown, { numVectors: 1 });
    expect(sai.ok ? 'vectors' : sai.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    const ps = await client.updateLocation(unknown, CN_DOMAIN.PS);
    expect(ps.ok ? 'attached' : ps.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    const recorded = await api.platform.store.db
      .selectFrom('aaa_refusals')
      .select('imsi')
      .where('imsi', '=', unknown)
      .execute();
    expect(recorded).toEqual([]);
  });
});

// Issue 16 end to end: two operators' deployments as two `simtrust serve` processes (own database,
// master key, certificates from one CI, SOAP over mutual TLS, RADIUS, AuC), set up only through
// their CLI and API, and one roaming device whose eUICC runs operator 1's profile
// (esim-switch-fixture.ts). SQLite for both by default; with SIMTRUST_TEST_DATABASE=postgres,
// operator 1 on PostgreSQL and operator 2 on SQLite.
//
// Threat: a carrier switch that the platforms report done while the network says otherwise — the
// device still at operator 1, operator 1 still able to reach the eUICC, operator 2 never having
// authenticated the new IMSI — or two deployments that trust each other by accident (a partner they
// never configured, a certificate of another CI).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../src/card/euicc/euicc-state.js';
import { openStore } from '../../src/platform/store/database.js';
import { GsupClient } from '../../src/simulator/gsup-client.js';
import { PacketGateway } from '../../src/simulator/packet-gateway.js';
import { waitFor } from '../helpers/anti-theft.js';
import { testDialect } from '../helpers/database.js';
import { issueTlsIdentity } from '../servers/esim/tls-fixtures.js';
import {
  PLMN_1,
  PLMN_2,
  PROFILE_TYPE,
  removeLabFiles,
  SETTLE_MS,
  type SwitchLab,
  soapStatusFrom,
  startSwitchLab,
  VISITED_CELL,
} from './esim-switch-fixture.js';

const dialects =
  testDialect === 'postgres' ? (['postgres', 'sqlite'] as const) : (['sqlite', 'sqlite'] as const);

type SimView = {
  type?: string;
  activeProfileId?: string | null;
  profiles?: Record<string, { iccid: string; state: string; primaryImsi: string }>;
  sessionStatus?: { online: boolean } | null;
};
type Operation = {
  operationId: string;
  status: string;
  result?: { status: string } | null;
  steps: { name: string; state: string }[];
};
type Partner = { role: string; entityId: string; endpoint: string; fingerprint: string };

describe(`carrier switch between two deployments (operator 1 on ${dialects[0]}, operator 2 on ${dialects[1]})`, () => {
  let lab: SwitchLab;

  beforeAll(async () => {
    lab = await startSwitchLab(dialects);
  }, 600_000);

  afterAll(async () => {
    await lab?.close();
    removeLabFiles();
  });

  it('the setup: both deployments serve, each knows the other as its only partner, a stranger is refused', async () => {
    const { one, two } = lab;
    for (const [d, other, roles] of [
      [
        one,
        two,
        [
          ['sm-dp', two.smdpId],
          ['sm-sr', two.smsrId],
        ],
      ],
      [
        two,
        one,
        [
          ['operator', one.mnoId],
          ['sm-sr', one.smsrId],
        ],
      ],
    ] as const) {
      const partners = JSON.parse(
        await d.cli(['esim', 'partners', 'list', '--operator-id', d.operator.operatorId]),
      ) as Partner[];
      expect(partners.map((p) => [p.role, p.entityId, p.endpoint]).sort()).toEqual(
        roles.map(([role, id]) => [role, id, other.soapUrl]),
      );
      // Its listener takes the partner's TLS identity, and refuses one nobody configured.
      expect(await soapStatusFrom(other.tls, d)).not.toBe(403);
      expect(await soapStatusFrom(await issueTlsIdentity('stranger'), d)).toBe(403);
    }
    // One CI: operator 2's SM-SR certificate was signed by operator 1's CI, its key made at operator 2.
    const certs2 = JSON.parse(await two.cli(['esim', 'certs', 'list'])) as {
      role: string;
      subject: string;
      issuerKeyId: string;
      pending: boolean;
    }[];
    const ci1 = (
      JSON.parse(await one.cli(['esim', 'ci', 'show'])) as { keyId: string; canIssue: boolean }[]
    )[0];
    const ci2 = (
      JSON.parse(await two.cli(['esim', 'ci', 'show'])) as { keyId: string; canIssue: boolean }[]
    )[0];
    expect(ci1).toMatchObject({ canIssue: true });
    expect(ci2).toMatchObject({ keyId: ci1?.keyId, canIssue: false });
    expect(
      certs2
        .filter((c) => c.role !== 'eum')
        .map((c) => [c.role, c.subject, c.issuerKeyId, c.pending])
        .sort(),
    ).toEqual([
      ['sm-dp', two.smdpId, ci1?.keyId, false],
      ['sm-sr', two.smsrId, ci1?.keyId, false],
    ]);
  });

  it('the device roams on operator 2’s cell with operator 1’s profile, attached through operator 1’s AuC and RADIUS', async () => {
    const { one, two, eid, profileA, profileB } = lab;
    const attached = await lab.attachedAs(profileA.imsi);
    expect(attached).toMatchObject({
      roaming: { visited: `${PLMN_2.mcc}${PLMN_2.mnc}`, home: `${PLMN_1.mcc}${PLMN_1.mnc}` },
    });
    // Operator 1 holds the eUICC (registered through its API) and the session of profile A.
    const euicc = await one.call<SimView>('GET', `/v1/sims/${eid}`);
    expect(euicc.status).toBe(200);
    expect(euicc.body).toMatchObject({ type: 'euicc', activeProfileId: profileA.iccid });
    expect(euicc.body.profiles?.[profileA.iccid]).toMatchObject({
      state: 'Enabled',
      primaryImsi: profileA.imsi,
    });
    await waitFor(
      'profile A online at operator 1',
      async () => (await one.call<SimView>('GET', `/v1/sims/${profileA.iccid}`)).body,
      (s) => s.sessionStatus?.online === true,
      SETTLE_MS,
    );
    // Operator 2 knows nothing of this eUICC yet; its own profile for the device is not online.
    expect((await two.call('GET', `/v1/sims/${eid}`)).status).toBe(404);
    const b = await two.call<SimView>('GET', `/v1/sims/${profileB.iccid}`);
    expect(b.status).toBe(200);
    expect(b.body.sessionStatus?.online ?? false).toBe(false);
    // Every SMS so far came from operator 1's SM-SR.
    expect(lab.mt.every((m) => m.source === one.smsrNumber)).toBe(true);
  }, 180_000);

  it('the switch through operator 1’s API: SM-SR change, download and enable at operator 2, the device at home there', async () => {
    const { one, two, eid, profileA, profileB } = lab;
    const from = lab.events.length;
    const asked = await one.call<{ operationId: string; kind: string; status: string }>(
      'POST',
      `/v1/sims/${eid}/switch_operator`,
      { targetSmsrId: two.smsrId, targetSmdpId: two.smdpId, profileType: PROFILE_TYPE },
    );
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    expect(asked.body).toMatchObject({ kind: 'switch', status: 'running' });
    const op = await waitFor(
      'the switch to end',
      async () => (await one.call<Operation>('GET', `/v1/esim/operations/${asked.body.operationId}`)).body,
      (o) => o.status !== 'running',
      SETTLE_MS * 2,
    );
    expect(op, JSON.stringify(op)).toMatchObject({
      status: 'succeeded',
      result: { status: 'EXECUTED_SUCCESS' },
    });
    expect(op.steps.map((s) => [s.name, s.state])).toEqual(
      expect.arrayContaining([
        ['ES4.PrepareSMSRChange', 'succeeded'],
        ['ES4.SMSRChange', 'succeeded'],
        ['ES2.DownloadProfile', 'succeeded'],
      ]),
    );

    // The device: REFRESH, then attached with operator 2's IMSI, at home (not roaming), online there.
    const attached = await lab.attachedAs(profileB.imsi, from);
    expect(attached).not.toHaveProperty('roaming');
    await waitFor(
      'profile B online at operator 2',
      async () => (await two.call<SimView>('GET', `/v1/sims/${profileB.iccid}`)).body,
      (s) => s.sessionStatus?.online === true,
      SETTLE_MS,
    );
    // Operator 2's inventory has the eUICC with its profile enabled; operator 1 shows it handed over.
    const atTwo = await two.call<SimView>('GET', `/v1/sims/${eid}`);
    expect(atTwo.status).toBe(200);
    expect(atTwo.body).toMatchObject({ type: 'euicc', activeProfileId: profileB.iccid });
    expect(atTwo.body.profiles?.[profileB.iccid]).toMatchObject({
      state: 'Enabled',
      primaryImsi: profileB.imsi,
    });
    const atOne = await one.call<SimView & { handedOver?: unknown }>('GET', `/v1/sims/${eid}`);
    expect(atOne.body.handedOver, JSON.stringify(atOne.body)).toBeTruthy();

    // The card: operator 2's profile enabled, operator 1's disabled; its ISD-R key sets are exactly
    // the ones SM-SR2 holds (SM-SR1's were deleted), and SM-SR1 holds no EIS any more.
    const euicc = lab.card.uicc.euicc;
    if (euicc === undefined) throw new Error('not an eUICC');
    const states = Object.fromEntries(
      euicc
        .snapshot()
        .isdps.filter((i) => i.profile !== undefined)
        .map((i) => [i.profile?.identity.iccid, i.state]),
    );
    expect(states).toEqual({ [profileA.iccid]: LIFE_CYCLE.DISABLED, [profileB.iccid]: LIFE_CYCLE.ENABLED });
    const db1 = await openStore(one.databaseUrl, { migrate: false, poolSize: 1 });
    const db2 = await openStore(two.databaseUrl, { migrate: false, poolSize: 1 });
    try {
      expect(await db1.db.selectFrom('esim_sr_eis').select('eid').where('eid', '=', eid).execute()).toEqual(
        [],
      );
      expect(
        await db1.db.selectFrom('esim_sr_keysets').select('eid').where('eid', '=', eid).execute(),
      ).toEqual([]);
      const eis2 = await db2.db
        .selectFrom('esim_sr_eis')
        .select('smsr_id')
        .where('eid', '=', eid)
        .executeTakeFirst();
      expect(eis2?.smsr_id).toBe(two.smsrId);
      const kvns2 = (
        await db2.db.selectFrom('esim_sr_keysets').select('kvn').where('eid', '=', eid).execute()
      )
        .map((k) => Number(k.kvn))
        .sort((a, b) => a - b);
      const card = euicc.snapshot();
      const onCard = [...card.scp80, ...card.scp81].map((k) => k.kvn).sort((a, b) => a - b);
      expect(onCard).toEqual(kvns2);
      // Notifications: every one about this eUICC delivered, from SM-SR2 (to operator 2's layer and
      // SM-DP, HandleSMSRChangeNotification to operator 1 over SOAP).
      const outbox = await waitFor(
        'the notifications delivered',
        () =>
          db2.db
            .selectFrom('esim_notification_outbox')
            .select(['interface', 'kind', 'receiver_id', 'state'])
            .where('eid', '=', eid)
            .execute(),
        (rows) => rows.length > 0 && rows.every((r) => r.state === 'delivered'),
        SETTLE_MS,
      );
      expect(outbox.map((r) => r.kind)).toEqual(expect.arrayContaining(['smsr-changed', 'enabled']));
      // HandleSMSRChangeNotification reached operator 1 (the MNO of profile A, over SOAP).
      expect(outbox).toContainEqual(
        expect.objectContaining({ kind: 'smsr-changed', receiver_id: one.mnoId, state: 'delivered' }),
      );
    } finally {
      await db1.close();
      await db2.close();
    }

    // Operator 1 is refused when it addresses the eUICC, and its AuC and RADIUS do not admit the
    // device's new IMSI (they never had it: operator 2's subscriber).
    const audit = await one.call<{ code?: string }>('POST', `/v1/sims/${eid}/profiles/audit`);
    expect(audit.status).toBe(409);
    expect(audit.body.code).toBe('ERR_ESIM_HANDED_OVER');
    const gsup = await GsupClient.open({ ...lab.cores.one.gsup, name: 'SIMTRUST-TEST-SGSN' });
    try {
      const vectors = await gsup.sendAuthInfo(profileB.imsi, { numVectors: 1 });
      expect(vectors.ok).toBe(false);
    } finally {
      gsup.close();
    }
    // …nor does its RADIUS: an Access-Request for the new IMSI from the packet gateway it admits.
    const gateway = await PacketGateway.start({
      ...lab.cores.one.radius,
      nasAddress: lab.cores.one.nasAddress,
      coaPort: 0,
      apn: 'iot.simtrust',
      onDisconnect: () => undefined,
      onRateChange: () => undefined,
    });
    try {
      const granted = await gateway.authorize({ imsi: profileB.imsi, imeisv: undefined, cell: VISITED_CELL });
      expect(granted.ok).toBe(false);
    } finally {
      gateway.close();
    }
    // Every SMS after the change came from operator 2's SM-SR.
    expect(lab.mt.at(-1)?.source).toBe(two.smsrNumber);
  }, 600_000);
});

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
import { testDialect } from '../helpers/database.js';
import { issueTlsIdentity } from '../servers/esim/tls-fixtures.js';
import {
  PLMN_1,
  PLMN_2,
  removeLabFiles,
  SETTLE_MS,
  type SwitchLab,
  soapStatusFrom,
  startSwitchLab,
} from './esim-switch-fixture.js';

const dialects =
  testDialect === 'postgres' ? (['postgres', 'sqlite'] as const) : (['sqlite', 'sqlite'] as const);

type SimView = {
  type?: string;
  activeProfileId?: string | null;
  profiles?: Record<string, { iccid: string; state: string; primaryImsi: string }>;
  sessionStatus?: { online: boolean } | null;
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
    for (const [d, other] of [
      [one, two],
      [two, one],
    ] as const) {
      const partners = JSON.parse(
        await d.cli(['esim', 'partners', 'list', '--operator-id', d.operator.operatorId]),
      ) as Partner[];
      expect(partners.map((p) => [p.role, p.entityId, p.endpoint]).sort()).toEqual([
        ['sm-sr', other.smsrId, other.soapUrl],
      ]);
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
    const { waitFor } = await import('../helpers/anti-theft.js');
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
});

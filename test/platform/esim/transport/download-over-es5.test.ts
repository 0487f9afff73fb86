// Acceptance of issue 15's "both transports used": the SM-DP downloads and enables a profile through
// the real SM-SR, which picks the ES5 transport per command (Es5Router) — SMS (SCP80 to the ISD-R TAR
// 000001, through an SMSC into the modem, PoRs back as MO SMS) for the small ISD-R commands
// (CreateISDP, INSTALL [for personalization], GET STATUS, EnableProfile, notification confirmations),
// HTTPS for the rest: the push SMS makes the card's SCP81 agent open a BIP channel through the modem's
// relay, PSK-TLS to the SM-SR's listener, and RAM over HTTP carries the key establishment scripts and
// every SCP03t TLV raw to the ISD-P, back-to-back SendData riding one session (MoreToDo). The eUICC
// installs the profile, the SM-SR enables it by SMS, the card REFRESHes, and AUTHENTICATE answers
// with the downloaded keys. Runs on SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE=postgres).
// Threat / failure: the device switched off mid-download — the SCP81 session dies with a segment in
// flight, the SendData fails with the transport's code, and the SM-DP's error sub-routine (SGP.02
// §3.1.4) deletes the ISD-P by SMS, which the SMSC holds until the device is back; the download ends
// FAILED with the ISD-P gone from the card and the EIS.

import { afterEach, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { generateVector } from '../../../../src/crypto/milenage.js';
import { generateTestVector } from '../../../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import { decodeProfilePackage, readProfile } from '../../../../src/lib/saip-profile-package.js';
import { ts48GenericPackage } from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { testDialect } from '../../../helpers/database.js';
import type { Sim } from '../sm-dp/fixture.js';
import { EID, MNO_ID, OPERATOR, SMSR_ID, type TransportBench, transportBench } from './fixture.js';

const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
const SIM: Sim = {
  iccid: iccidWithCheckDigit('894400000000000777'),
  imsi: '001010000000777',
  msisdn: '817000000777',
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
  algorithm: 'milenage',
};

function ts48Sim(): Sim {
  const pes = decodeProfilePackage(ts48GenericPackage());
  const p = pes.ok ? readProfile(pes.value) : pes;
  if (!p.ok) throw new Error(p.error.message);
  const aka = p.value.aka[0];
  if (p.value.imsi === undefined || aka === undefined) throw new Error('no USIM');
  return { iccid: p.value.iccid, imsi: p.value.imsi, ki: aka.k, opc: new Uint8Array(16), algorithm: 'test' };
}

/** AUTHENTICATE (3G context) on the card's USIM: RES equals the one the keys give. */
function authenticates(card: Uicc, sim: Sim): boolean {
  const rand = hex('0123456789abcdef0123456789abcdef');
  const v =
    sim.algorithm === 'test'
      ? generateTestVector(sim.ki, rand, hex('000000000040'), hex('8000'))
      : generateVector(sim.ki, sim.opc, rand, hex('000000000020'), hex('8000'));
  card.transmit(hex('00A4040C07A0000000871002'));
  const r = card.transmit(hex(`008800812210${toHex(rand)}10${toHex(v.autn)}00`));
  return (
    toHex(r.subarray(r.length - 2)) === '9000' &&
    r[1] === v.res.length &&
    toHex(r.subarray(2, 2 + v.res.length)) === toHex(v.res)
  );
}

let b: TransportBench | undefined;
let n = 0;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

const download = (bench: TransportBench, o: { iccid: string; profileType?: string }) =>
  bench.smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID }).downloadProfile({
    functionCallIdentifier: `transport-${++n}`,
    eid: EID,
    smsrId: SMSR_ID,
    iccid: o.iccid,
    enableProfile: true,
    ...(o.profileType ? { profileType: o.profileType } : {}),
  });

const isdpOf = (bench: TransportBench, iccid: string) =>
  euiccOf(bench.card)
    .snapshot()
    .isdps.find((i) => i.profile?.identity.iccid === iccid);

describe(`the profile download over SMS and HTTPS (SCP80 + SCP81) on ${testDialect}`, () => {
  it('simtrust-usim: CreateISDP and Enable by SMS, key establishment and SCP03t by HTTPS in one SCP81 session; the enabled profile authenticates', async () => {
    const bench = await transportBench();
    b = bench;
    await bench.addSim(SIM);
    const r = await download(bench, { iccid: SIM.iccid });
    expect(r.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    const isdp = isdpOf(bench, SIM.iccid);
    expect(isdp?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(isdp?.profile?.identity).toMatchObject({ iccid: SIM.iccid, imsi: SIM.imsi });
    // The card REFRESHed and the modem read the new IMSI; the USIM answers with the downloaded keys.
    expect(bench.modem.imsi).toBe(SIM.imsi);
    expect(authenticates(bench.card, SIM)).toBe(true);

    // Both transports, each for its commands.
    const { routes, pushes, sessions } = bench.traffic;
    const toIsdp = routes.filter((x) => x.aid !== ISD_R_AID);
    const scp03t = toIsdp.filter((x) => x.route === 'https');
    // INSTALL [for personalization] is small: SMS; 3A01, 3A02 and the SCP03t TLVs: HTTPS.
    expect(toIsdp[0]).toMatchObject({ route: 'sms' });
    expect(toIsdp.slice(1).every((x) => x.route === 'https')).toBe(true);
    expect(scp03t.length).toBeGreaterThanOrEqual(5); // 3A01, 3A02, 84, 85, ≥1 segment
    // CreateISDP (first), GET STATUS of ProfileDownloadCompleted and EnableProfile: SMS to the ISD-R.
    const isdr = routes.filter((x) => x.aid === ISD_R_AID);
    expect(isdr.every((x) => x.route === 'sms')).toBe(true);
    expect(isdr.length).toBeGreaterThanOrEqual(3);
    // Every MT SMS is a command the router sent by SMS, or the push: nothing else went by SMS.
    expect(bench.traffic.mt.length).toBe(routes.filter((x) => x.route === 'sms').length + pushes);
    // One push, one PSK-TLS session for the whole download (MoreToDo held it open).
    expect(pushes).toBe(1);
    expect(sessions).toBe(1);
    expect(bench.card.toolkitFaults).toBe(0);
    // The EIS agrees: the new profile Enabled, the bootstrap one Disabled.
    const eis = await bench.smsr
      .es3For('1.3.6.1.4.1.99999.1.1')
      .getEIS({ functionCallIdentifier: 'g', eid: EID });
    expect(eis.eis?.profiles.find((p) => p.iccid === SIM.iccid)?.state).toBe('Enabled');
  });

  it('ts48-generic (published TS.48 package, 11.7 kB): sessions bounded to 8 jobs carry it in several pushes; the test-algorithm USIM authenticates', async () => {
    const bench = await transportBench({ sessions: { maxScriptsPerSession: 8 } });
    b = bench;
    const sim = ts48Sim();
    await bench.addSim(sim);
    const r = await download(bench, { iccid: sim.iccid, profileType: 'ts48-generic' });
    expect(r.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect(isdpOf(bench, sim.iccid)?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(bench.modem.imsi).toBe(sim.imsi);
    expect(authenticates(bench.card, sim)).toBe(true);
    const https = bench.traffic.routes.filter((x) => x.route === 'https').length;
    // Every HTTPS job ran; a session carried at most 8 of them, each after a push.
    expect(bench.traffic.sessions).toBeGreaterThanOrEqual(Math.ceil(https / 8));
    expect(bench.traffic.pushes).toBeGreaterThanOrEqual(bench.traffic.sessions);
    expect(bench.card.toolkitFaults).toBe(0);
  });

  it('the device switched off mid-download: SendData fails with the transport code, the ISD-P is deleted by SMS once the device is back, the download ends FAILED', async () => {
    // Small segments, so the package takes many SendData and the cut falls in its middle.
    const bench = await transportBench({ segmentSize: 96 });
    b = bench;
    await bench.addSim(SIM);
    let segments = 0;
    bench.onRoute = (route, aid) => {
      // The third SCP03t segment (after 3A01, 3A02, 84, 85): the device goes off as it leaves.
      if (route === 'https' && aid !== ISD_R_AID && ++segments === 7) bench.switchOff();
    };
    const result = download(bench, { iccid: SIM.iccid });
    // The error sub-routine's DeleteISDP goes by SMS and waits in the SMSC for the device.
    for (let i = 0; i < 5000 && bench.stored() === 0; i++) await new Promise((r) => setTimeout(r, 2));
    expect(bench.stored()).toBe(1);
    const isdpBefore = euiccOf(bench.card)
      .snapshot()
      .isdps.find((i) => i.aid !== '' && i.profile === undefined && i.state !== LIFE_CYCLE.ENABLED);
    expect(isdpBefore).toBeDefined(); // the half-downloaded ISD-P is still on the card
    bench.onRoute = undefined;
    bench.switchOn();
    const r = await result;
    expect(r.functionExecutionStatus.status).toBe('FAILED');
    // The cause is the transport's: the SCP81 session ended with the segment in flight.
    expect(r.functionExecutionStatus.statusCodeData?.message).toMatch(/ES5: ES5_SEND_FAILED/);
    expect(r.functionExecutionStatus.statusCodeData?.message).not.toMatch(/not deleted/);
    const row = await bench.db.store.db
      .selectFrom('esim_dp_downloads')
      .select(['status', 'failure_code'])
      .where('iccid', '=', SIM.iccid)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'FAILED', failure_code: 'SMDP_SEND_DATA' });
    // The ISD-P is gone from the card and the EIS; the bootstrap profile is still the enabled one.
    const isdps = euiccOf(bench.card).snapshot().isdps;
    expect(isdps.map((i) => i.state)).toEqual([LIFE_CYCLE.ENABLED]);
    const eis = await bench.smsr
      .es3For('1.3.6.1.4.1.99999.1.1')
      .getEIS({ functionCallIdentifier: 'g', eid: EID });
    expect(eis.eis?.profiles.map((p) => p.iccid)).not.toContain(SIM.iccid);
    expect(bench.modem.imsi).not.toBe(SIM.imsi);
  });
});

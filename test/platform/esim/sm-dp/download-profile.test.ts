// ES2.DownloadProfile end to end on both databases: SM-DP (this module) → ES3 → the real SM-SR → ES5
// → the software eUICC, which establishes the ISD-P key set with its ECASD (PK.CI), takes the SCP03t
// segments and installs the package; the enabled profile then answers AUTHENTICATE with the keys the
// inventory holds. Threats and failures covered: a forged receipt (a card that is not this ECASD,
// or a man in the middle) and a tampered segment end the download with the ISD-P deleted (SGP.02
// §3.1.4); another eUICC's valid ECASD certificate in the EIS is refused before any ISD-P exists;
// a SIM outside the caller's inventory is not downloaded; a profile of another operator cannot be
// managed through ES2; Ki/OPc and the key set are nowhere in the database after the download; a
// restart during key establishment or during the download ends in an installed profile.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cardFromFile, withState } from '../../../../src/card/card-file.js';
import { euiccSectionOf, euiccStateOf } from '../../../../src/card/euicc/card-file-section.js';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { generateVector } from '../../../../src/crypto/milenage.js';
import { generateTestVector } from '../../../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import {
  buildProfilePackage,
  decodeProfilePackage,
  readProfile,
} from '../../../../src/lib/saip-profile-package.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import { REASON_CODES, SUBJECT_CODES } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { STEP_NAMES } from '../../../../src/platform/esim/sm-dp/download-steps.js';
import { stepsOf } from '../../../../src/platform/esim/sm-dp/download-store.js';
import type { ProfileType } from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { ts48GenericPackage } from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { testDialect } from '../../../helpers/database.js';
import { type DpBench, dpBench, EID, MNO_ID, OPERATOR, type Sim, SMSR_ID, settle } from './fixture.js';

const SIM: Sim = {
  iccid: iccidWithCheckDigit('894400000000000555'),
  imsi: '001010000000555',
  msisdn: '817000000555',
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
  algorithm: 'milenage',
};

let b: DpBench;
let n = 0;
const fc = () => ({ functionCallIdentifier: `op-call-${++n}` });
/** The FunctionCallIdentifier of the last request made. */
const lastCallId = () => `op-call-${n}`;
const es2 = () => b.smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID });
const isdpOf = (iccid: string) =>
  euiccOf(b.card)
    .snapshot()
    .isdps.find((i) => i.profile?.identity.iccid === iccid);
const isdpCount = () => euiccOf(b.card).snapshot().isdps.length;
const download = (o: { iccid?: string; enable?: boolean; profileType?: string } = {}) =>
  es2().downloadProfile({
    ...fc(),
    eid: EID,
    smsrId: SMSR_ID,
    iccid: o.iccid ?? SIM.iccid,
    enableProfile: o.enable ?? false,
    ...(o.profileType ? { profileType: o.profileType } : {}),
  });
const row = async (iccid = SIM.iccid) =>
  b.db.store.db
    .selectFrom('esim_dp_downloads')
    .selectAll()
    .where('iccid', '=', iccid)
    .orderBy('created_at', 'desc')
    .executeTakeFirstOrThrow();
const stepNow = async () =>
  (
    await b.db.store.db
      .selectFrom('esim_dp_downloads')
      .select('step')
      .where('iccid', '=', SIM.iccid)
      .executeTakeFirst()
  )?.step;
const smsrStep = async (fn: string) =>
  (
    await b.db.store.db
      .selectFrom('esim_sr_procedures')
      .select('step')
      .where('function', '=', fn)
      .where('active_eid', 'is not', null)
      .executeTakeFirst()
  )?.step;

/** The inventory SIM that is the published TS.48 generic test profile (test algorithm, K 00…0f). */
function ts48Sim(): Sim {
  const pes = decodeProfilePackage(ts48GenericPackage());
  const p = pes.ok ? readProfile(pes.value) : pes;
  if (!p.ok) throw new Error(p.error.message);
  const aka = p.value.aka[0];
  if (p.value.imsi === undefined || aka === undefined) throw new Error('no USIM');
  return { iccid: p.value.iccid, imsi: p.value.imsi, ki: aka.k, opc: new Uint8Array(16), algorithm: 'test' };
}

/** AUTHENTICATE with a TS 34.108 test-algorithm challenge: RES is XDOUT (16 bytes). */
function authenticatesWithTestAlgorithm(sim: Sim, card: Uicc = b.card, sqn = '000000000040'): boolean {
  const rand = hex('00112233445566778899aabbccddeeff');
  const v = generateTestVector(sim.ki, rand, hex(sqn), hex('8000'));
  card.transmit(hex('00A4040C07A0000000871002'));
  const r = card.transmit(hex(`008800812210${toHex(rand)}10${toHex(v.autn)}00`));
  return (
    toHex(r.subarray(r.length - 2)) === '9000' &&
    r[1] === v.res.length &&
    toHex(r.subarray(2, 2 + v.res.length)) === toHex(v.res)
  );
}

/** AUTHENTICATE (3G context) on the card's USIM with a Milenage challenge made from `sim`'s keys. */
function authenticates(sim: Sim): boolean {
  const rand = hex('0123456789abcdef0123456789abcdef');
  const v = generateVector(sim.ki, sim.opc, rand, hex('000000000020'), hex('8000'));
  b.card.transmit(hex('00A4040C07A0000000871002'));
  const r = b.card.transmit(hex(`008800812210${toHex(rand)}10${toHex(v.autn)}00`));
  return toHex(r.subarray(r.length - 2)) === '9000' && toHex(r.subarray(2, 10)) === toHex(v.res);
}

/** Lets an enable through: the SM-SR waits for the card's notification after its REFRESH. */
async function withAttach<T>(call: Promise<T>): Promise<T> {
  await settle(async () => (await smsrStep('EnableProfile')) === 'awaiting-notification');
  expect(await b.attach()).toBe(1);
  return call;
}

beforeEach(async () => {
  b = await dpBench();
  await b.addSim(SIM);
});
afterEach(() => b.db.cleanup());

describe(`ES2.DownloadProfile on ${testDialect}`, () => {
  it('downloads a simtrust-usim profile built from the inventory SIM, enables it, and the card authenticates with its Ki/OPc', async () => {
    const r = await withAttach(download({ enable: true }));
    expect(r.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect(r.iccid).toBe(SIM.iccid);
    const isdp = isdpOf(SIM.iccid);
    expect(isdp?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(isdp?.profile?.identity).toMatchObject({ iccid: SIM.iccid, imsi: SIM.imsi });
    expect(authenticates(SIM)).toBe(true);
    // Each step was reported running then succeeded, under the operator's FunctionCallIdentifier.
    const reports = b.progress.filter((p) => p.id === lastCallId());
    expect(reports.filter((p) => p.state === 'succeeded').map((p) => p.step)).toEqual([
      'PrepareProfile',
      'GetEIS',
      'VerifyECASDCertificate',
      'CleanUpISDP',
      'CreateISDP',
      'EstablishISDPKeySet:certificate',
      'EstablishISDPKeySet:keyAgreement',
      'DownloadAndInstallation',
      'ProfileDownloadCompleted',
      'EnableProfile',
    ]);
    expect(reports.filter((p) => p.state === 'running')).toHaveLength(10);
    // The SM-SR's notification reached the operator through the SM-DP (ES3 → ES2).
    expect(b.notified).toContainEqual({ kind: 'enabled', iccid: SIM.iccid });

    // Every step was stored, in order; the key set is gone once the procedure ended.
    const done = await row();
    expect(await stepsOf(b.db.store.db, done.download_id)).toEqual([...STEP_NAMES]);
    expect(done).toMatchObject({
      status: 'EXECUTED_SUCCESS',
      active_iccid: null,
      secrets: null,
      failure_code: null,
    });
    const everything = JSON.stringify([
      await b.db.store.db.selectFrom('esim_dp_downloads').selectAll().execute(),
      await b.db.store.db.selectFrom('esim_dp_steps').selectAll().execute(),
    ]).toLowerCase();
    expect(everything).not.toContain(toHex(SIM.ki).toLowerCase());
    expect(everything).not.toContain(toHex(SIM.opc).toLowerCase());

    // The SM-SR recorded the profile with its subscription address.
    const eis = await es2().getEIS({ ...fc(), eid: EID, smsrId: SMSR_ID });
    expect(eis.eis?.profiles.find((p) => p.iccid === SIM.iccid)).toMatchObject({
      state: 'Enabled',
      subscriptionAddress: { imsi: SIM.imsi, msisdn: SIM.msisdn },
      profileType: 'simtrust-usim',
    });
    // Downloaded once: a second download of the same ICCID is refused.
    const again = await download();
    expect(again.functionExecutionStatus.statusCodeData?.reason).toBe(REASON_CODES.ALREADY_IN_USE);
  });

  it('without EnableProfile the profile stays Disabled; ES2 Enable/Disable/Delete reach the card through the SM-SR', async () => {
    const r = await download();
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(isdpOf(SIM.iccid)?.state).toBe(LIFE_CYCLE.DISABLED);
    const upd = await es2().updateSubscriptionAddress({
      ...fc(),
      eid: EID,
      smsrId: SMSR_ID,
      iccid: SIM.iccid,
      newSubscriptionAddress: { imsi: SIM.imsi, msisdn: '817000000999' },
    });
    expect(upd.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const pol = await es2().updatePolicyRules({
      ...fc(),
      eid: EID,
      smsrId: SMSR_ID,
      iccid: SIM.iccid,
      pol2: { rules: [{ subject: 'PROFILE', action: 'DELETE', qualification: 'Not-Allowed' }] },
    });
    expect(pol.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const refused = await es2().deleteProfile({ ...fc(), eid: EID, smsrId: SMSR_ID, iccid: SIM.iccid });
    expect(refused.functionExecutionStatus.status).toBe('FAILED');
    await es2().updatePolicyRules({
      ...fc(),
      eid: EID,
      smsrId: SMSR_ID,
      iccid: SIM.iccid,
      pol2: { rules: [] },
    });

    const enabled = await withAttach(
      es2().enableProfile({ ...fc(), eid: EID, smsrId: SMSR_ID, iccid: SIM.iccid }),
    );
    expect(enabled.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(authenticates(SIM)).toBe(true);

    // Another operator cannot touch it.
    const other = await b.smdp
      .es2For({ operatorId: 'someone-else', mnoId: MNO_ID })
      .disableProfile({ ...fc(), eid: EID, smsrId: SMSR_ID, iccid: SIM.iccid });
    expect(other.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.PROFILE_ICCID,
      reason: REASON_CODES.UNKNOWN,
    });
  });

  it('a forged receipt: the SM-DP refuses the key set, deletes the ISD-P and answers FAILED with a code', async () => {
    const before = isdpCount();
    b.transport.tamperAnswer = (command, r) =>
      command[0] === 0x80 && command[1] === 0xe2 && command[2] === 0x89 && r.data[0] === 0x85
        ? { ...r, data: r.data.map((x, i) => (i === r.data.length - 1 ? x ^ 0x01 : x)) }
        : r;
    const r = await download();
    expect(r.functionExecutionStatus).toMatchObject({
      status: 'FAILED',
      statusCodeData: { subject: SUBJECT_CODES.ISD_P, reason: REASON_CODES.VERIFICATION_FAILED },
    });
    expect(r.iccid).toBeUndefined();
    expect((await row()).failure_code).toBe('SMDP_RECEIPT_INVALID');
    expect(b.progress.filter((p) => p.id === lastCallId() && p.state !== 'running').slice(-2)).toEqual([
      { id: lastCallId(), step: 'EstablishISDPKeySet:keyAgreement', state: 'failed' },
      { id: lastCallId(), step: 'DeleteISDP', state: 'succeeded' },
    ]);
    expect(await stepsOf(b.db.store.db, (await row()).download_id)).toContain('delete-isdp');
    expect(isdpCount()).toBe(before);
    const eis = await es2().getEIS({ ...fc(), eid: EID, smsrId: SMSR_ID });
    expect(eis.eis?.profiles.some((p) => p.iccid === SIM.iccid)).toBe(false);
    // The ICCID is free again: a clean second attempt installs it.
    b.transport.tamperAnswer = undefined;
    expect((await download()).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });

  it('a segment whose MAC does not verify: the card refuses it, the ISD-P is deleted, FAILED', async () => {
    const before = isdpCount();
    let segments = 0;
    b.transport.tamperCommand = (_aid, c) =>
      c[0] === 0x86 && ++segments === 2 ? c.map((x, i) => (i === 10 ? x ^ 0x80 : x)) : c;
    const r = await download();
    expect(r.functionExecutionStatus.status).toBe('FAILED');
    expect((await row()).failure_code).toBe('SMDP_SCP03T');
    expect(isdpCount()).toBe(before);
    expect(isdpOf(SIM.iccid)).toBeUndefined();
  });

  it('an enable the card refuses after a good install: EXECUTED_WITHWARNING, the ICCID answered, the profile Disabled', async () => {
    // STORE DATA 3A03 (ES5.EnableProfile) reaches the card naming another ISD-P: the card refuses it.
    b.transport.tamperCommand = (_aid, c) =>
      c[1] === 0xe2 && c[5] === 0x3a && c[6] === 0x03
        ? c.map((x, k) => (k === c.length - 2 ? x ^ 0x40 : x))
        : c;
    const r = await download({ enable: true });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_WITHWARNING');
    expect(r.functionExecutionStatus.statusCodeData?.message).toContain('installed, not enabled');
    expect(r.iccid).toBe(SIM.iccid);
    expect(isdpOf(SIM.iccid)?.state).toBe(LIFE_CYCLE.DISABLED);
    expect((await row()).status).toBe('EXECUTED_WITHWARNING');
  });

  it('a ValidityPeriod that passes mid-procedure ends it EXPIRED, the ISD-P deleted', async () => {
    const before = isdpCount();
    b.es3.port = (real: Es3Port): Es3Port => ({
      ...real,
      sendData: async (q) => {
        b.clock.advance(31_000);
        return real.sendData(q);
      },
    });
    b.restartSmdp();
    const r = await es2().downloadProfile({
      ...fc(),
      validityPeriod: 30,
      eid: EID,
      smsrId: SMSR_ID,
      iccid: SIM.iccid,
      enableProfile: false,
    });
    expect(r.functionExecutionStatus.status).toBe('EXPIRED');
    expect(r.iccid).toBeUndefined();
    expect((await row()).failure_code).toBe('SMDP_EXPIRED');
    expect(isdpCount()).toBe(before);
  });

  it('one download per ICCID at a time: a second request while the first runs is refused, the first completes', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    b.es3.port = (real: Es3Port): Es3Port => ({
      ...real,
      getEIS: async (q) => {
        await gate;
        return real.getEIS(q);
      },
    });
    b.restartSmdp();
    const first = download();
    await settle(async () => (await stepNow()) !== undefined);
    const second = await download();
    expect(second.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.PROFILE_ICCID,
      reason: REASON_CODES.UNAVAILABLE,
    });
    release();
    expect((await first).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });

  it("another eUICC's valid ECASD certificate in the EIS is refused before any ISD-P is created", async () => {
    const other = b.pki.ecasd('89049032123451234512345678901282');
    b.es3.port = (real: Es3Port): Es3Port => ({
      ...real,
      getEIS: async (q) => {
        const r = await real.getEIS(q);
        if (r.eis === undefined) return r;
        const info = r.eis.eumSignedInfo;
        const keysets = info.ecasd.keysets.map((k) => ({
          ...k,
          certificates: k.certificates.map((c) => ({ ...c, value: other.certificate })),
        }));
        return { ...r, eis: { ...r.eis, eumSignedInfo: { ...info, ecasd: { ...info.ecasd, keysets } } } };
      },
    });
    b.restartSmdp();
    const sent = b.transport.sent.length;
    const r = await download();
    expect(r.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.ECASD,
      reason: REASON_CODES.VERIFICATION_FAILED,
    });
    expect(r.functionExecutionStatus.statusCodeData?.message).toContain('CERT_WRONG_SUBJECT');
    expect(b.transport.sent.length).toBe(sent);
  });

  it('a SIM outside the caller inventory, an unknown SM-SR or profile type: FAILED, nothing sent', async () => {
    const sent = b.transport.sent.length;
    const foreign = await b.smdp
      .es2For({ operatorId: 'someone-else', mnoId: MNO_ID })
      .downloadProfile({ ...fc(), eid: EID, smsrId: SMSR_ID, iccid: SIM.iccid, enableProfile: false });
    expect(foreign.functionExecutionStatus.statusCodeData).toMatchObject({ reason: REASON_CODES.UNKNOWN });
    const smsr = await es2().downloadProfile({
      ...fc(),
      eid: EID,
      smsrId: '1.2.3.4',
      iccid: SIM.iccid,
      enableProfile: false,
    });
    expect(smsr.functionExecutionStatus.statusCodeData?.subject).toBe(SUBJECT_CODES.SM_SR);
    expect((await download({ profileType: 'no-such-type' })).functionExecutionStatus.status).toBe('FAILED');
    // ts48-generic is fixed content: this SIM is not that profile.
    const ts48 = await download({ profileType: 'ts48-generic' });
    expect(ts48.functionExecutionStatus.statusCodeData?.message).toContain('SMDP_PROFILE_MISMATCH');
    expect(b.transport.sent.length).toBe(sent);
  });
});

describe(`the GSMA TS.48 generic test profile on ${testDialect}`, () => {
  it('the SM-DP downloads the published package, the eUICC installs it, and the enabled USIM runs the test algorithm', async () => {
    await b.db.cleanup();
    b = await dpBench({ segmentSize: 1000 });
    const sim = ts48Sim();
    await b.addSim(sim);
    const r = await withAttach(download({ iccid: sim.iccid, profileType: 'ts48-generic', enable: true }));
    expect(r.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    const isdp = isdpOf(sim.iccid);
    expect(isdp?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(isdp?.profile?.identity).toMatchObject({ iccid: sim.iccid, imsi: sim.imsi });
    expect(authenticatesWithTestAlgorithm(sim)).toBe(true);
    // A Milenage challenge with the same K is not what this USIM runs.
    expect(authenticates({ ...sim, algorithm: 'milenage' })).toBe(false);
    // Saved and loaded again, the card file's live USIM still runs the enabled profile's algorithm.
    const saved = withState(b.file, b.card);
    expect(saved.algorithm).toBe('test');
    expect(saved.iccid).toBe(sim.iccid);
    // (a fresh SQN: the saved SQN array remembers the first challenge)
    expect(authenticatesWithTestAlgorithm(sim, cardFromFile(saved, { clock: b.clock }), '000000000060')).toBe(
      true,
    );
    const eis = await es2().getEIS({ ...fc(), eid: EID, smsrId: SMSR_ID });
    expect(eis.eis?.profiles.find((p) => p.iccid === sim.iccid)?.profileType).toBe('ts48-generic');
  });

  it('a disabled test-algorithm profile keeps its algorithm in the card file section', async () => {
    await b.db.cleanup();
    b = await dpBench({ segmentSize: 1000 });
    const sim = ts48Sim();
    await b.addSim(sim);
    expect(
      (await download({ iccid: sim.iccid, profileType: 'ts48-generic' })).functionExecutionStatus.status,
    ).toBe('EXECUTED_SUCCESS');
    const { section } = euiccSectionOf(euiccOf(b.card).persistentState());
    const stored = section.isdps.find((i) => i.profile?.iccid === sim.iccid)?.profile;
    expect(stored?.algorithm).toBe('test');
    const state = euiccStateOf(section, {
      identity: { iccid: '8988211000000000001', imsi: '001010000000001', mncLength: 2 },
      ki: new Uint8Array(16),
      opc: new Uint8Array(16),
    });
    expect(state.isdps.find((i) => i.profile?.identity.iccid === sim.iccid)?.profile?.algorithm).toBe('test');
  });
});

describe(`the card's answer when it cannot install on ${testDialect}`, () => {
  it('a package whose PEs pass but which the eUICC cannot install (its ICCID is taken) gets an aborted EUICCResponse; the SM-DP deletes the ISD-P', async () => {
    await b.db.cleanup();
    const taken = euiccOf(b.card)
      .snapshot()
      .isdps.find((i) => i.profile !== undefined)?.profile?.identity.iccid;
    const clash: ProfileType = {
      name: 'clash',
      requiredMemory: 32 * 1024,
      prepare: (s) => ({
        ok: true,
        value: buildProfilePackage({ iccid: taken ?? '', imsi: s.imsi, ki: s.ki, opc: s.opc }),
      }),
    };
    b = await dpBench({ profileTypes: new Map([['clash', clash]]) });
    await b.addSim(SIM);
    const before = isdpCount();
    const r = await download({ profileType: 'clash' });
    expect(r.functionExecutionStatus.status).toBe('FAILED');
    expect((await row()).failure_code).toBe('SMDP_PE_REFUSED');
    expect(isdpCount()).toBe(before);
  });
});

describe(`restarts on ${testDialect}`, () => {
  /** An ES3 port whose `nth` matching SendData reaches the SM-SR but whose answer never comes back. */
  function loseAnswer(match: (data: Uint8Array) => boolean, nth = 1) {
    let seen = 0;
    b.es3.port = (real: Es3Port): Es3Port => ({
      ...real,
      sendData: async (q) => {
        const r = await real.sendData(q);
        if (match(q.data) && ++seen === nth) return new Promise(() => undefined);
        return r;
      },
    });
    b.restartSmdp();
  }

  it('a restart during the SCP03t download resumes it from INITIALIZE UPDATE with the sealed key set', async () => {
    loseAnswer((d) => d[0] === 0x86, 2);
    void download();
    await settle(
      async () =>
        (await stepNow()) === 'download' && b.transport.sent.filter((s) => s.command[0] === 0x86).length >= 2,
    );
    const stuck = await row();
    expect(stuck.secrets).not.toBeNull();
    expect(stuck.secrets).not.toContain('"keys"');
    b.es3.port = (real) => real;
    const results = await b.restartSmdp().recover();
    expect(results.map((x) => x.status.status)).toEqual(['EXECUTED_SUCCESS']);
    expect(isdpOf(SIM.iccid)?.state).toBe(LIFE_CYCLE.DISABLED);
    const steps = await stepsOf(b.db.store.db, stuck.download_id);
    expect(steps.filter((s) => s === 'download')).toHaveLength(2);
    expect((await row()).secrets).toBeNull();
  });

  it('a restart after ProfileDownloadCompleted reached the SM-SR but before its answer: the EIS says Disabled, the download completes', async () => {
    b.es3.port = (real: Es3Port): Es3Port => ({
      ...real,
      profileDownloadCompleted: async (q) => {
        await real.profileDownloadCompleted(q);
        return new Promise(() => undefined);
      },
    });
    b.restartSmdp();
    void download();
    await settle(
      async () =>
        (await stepNow()) === 'download-completed' && isdpOf(SIM.iccid)?.state === LIFE_CYCLE.DISABLED,
    );
    await settle(async () => {
      const eis = await b.smsr.es4For(MNO_ID).getEIS({ ...fc(), eid: EID });
      return eis.eis?.profiles.find((p) => p.iccid === SIM.iccid)?.state === 'Disabled';
    });
    b.es3.port = (real) => real;
    const results = await b.restartSmdp().recover();
    expect(results.map((x) => x.status.status)).toEqual(['EXECUTED_SUCCESS']);
    expect((await row()).status).toBe('EXECUTED_SUCCESS');
  });

  it('a restart during key establishment deletes the ISD-P and downloads again', async () => {
    loseAnswer((d) => d[0] === 0x80 && d[1] === 0xe2 && d[2] === 0x89);
    void download();
    await settle(
      async () =>
        // key-agreement is not stored (a restart in it is one in send-certificate): the card's
        // PERSONALIZED ISD-P says the 3A02 ran.
        (await stepNow()) === 'send-certificate' &&
        isdpCount() === 2 &&
        euiccOf(b.card).snapshot().isdps[1]?.state === LIFE_CYCLE.PERSONALIZED,
    );
    b.es3.port = (real) => real;
    const results = await b.restartSmdp().recover();
    expect(results.map((x) => x.status.status)).toEqual(['EXECUTED_SUCCESS']);
    const done = await row();
    expect(done.attempt).toBe(2);
    const steps = await stepsOf(b.db.store.db, done.download_id);
    expect(steps).toContain('delete-isdp');
    expect(isdpOf(SIM.iccid)?.state).toBe(LIFE_CYCLE.DISABLED);
    expect(euiccOf(b.card).snapshot().isdps).toHaveLength(2);
  });
});

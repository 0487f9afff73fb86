// The ES3 port across processes (issue 15: "an SM-DP and an SM-SR may run in one process or in two
// processes of different operators; the code path is the same"): the real SM-DP here downloads a
// profile through the real SM-SR service in a CHILD process (its own database, its own software
// eUICC) — CreateISDP, the ES8 SendData units, ProfileDownloadCompleted, then an ES2 Enable whose
// ES3 notification comes back over SOAP to the SM-DP and on to the operator — over SOAP 1.2 and mutual
// TLS, with the port clients of port-clients.ts on this side and the dispatch of soap-dispatch.ts on
// the other. Threats: a party whose certificate is not a configured partner gets nothing done (the
// SM-SR refuses it before the body is read; the port answers FAILED 1.1 unknown requester); a
// partner removed from the node is refused afterwards; a partner of the wrong role is refused by
// the dispatch although its certificate is known.
import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChainInput,
  trustedCiFromCertificate,
  verifyCertificateChain,
} from '../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { hex } from '../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../src/lib/identities.js';
import type { Es3Port } from '../../../src/platform/esim/es-ports.js';
import { soapEs3Port } from '../../../src/platform/esim/es-soap/port-clients.js';
import { REASON_CODES, SUBJECT_CODES } from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { SmDp } from '../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { packSecrets, profileSecretContext } from '../../../src/platform/sims/model.js';
import { soapHandlersFor } from '../../../src/servers/esim/soap-dispatch.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';
import { PKI_NOW } from '../../helpers/esim-pki.js';
import { EID, MNO_ID, SMDP_ID, SMSR_ID } from '../../platform/esim/sm-sr/fixture.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const EUM_ID = '1.3.6.1.4.1.99999.9';
const OPERATOR = 'op-soap-ports';
const SIM = {
  iccid: iccidWithCheckDigit('894400000000000777'),
  imsi: '001010000000777',
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
};

interface Peer {
  url: string;
  pid: number;
  ciPem: string;
  eumPem: string;
  smdpCertificate: string;
  smdpKeyPem: string;
}

let db: TestDatabase;
let dpTls: TlsIdentity;
let srTls: TlsIdentity;
let dp: SoapNode;
let child: ReturnType<typeof spawn>;
let exited: Promise<unknown>;
let peer: Peer;
let childLines: ReturnType<typeof createInterface>;
let smdp: SmDp;
/** Request elements the SM-DP sent over SOAP, in order. */
const sent: string[] = [];
const notified: string[] = [];
let n = 0;
const fc = () => ({ functionCallIdentifier: `soap-ports-${++n}` });

async function addSim(): Promise<void> {
  const keyRing = await KeyRing.open(db.store, randomBytes(32));
  await db.store.db
    .insertInto('operators')
    .values({
      operator_id: OPERATOR,
      email: 'ports@example.test',
      password_hash: 'x',
      created_at: 0,
      updated_at: 0,
    })
    .execute();
  await db.store.db
    .insertInto('sims')
    .values({
      sim_id: `sim-${SIM.iccid}`,
      operator_id: OPERATOR,
      type: 'esim',
      status: 'ready',
      speed_class: 's1.standard',
      group_id: null,
      imei_lock: null,
      imei_lock_anonymous: 0,
      termination_enabled: 0,
      serial_number: null,
      created_at: 0,
      updated_at: 0,
      expiry_time: null,
      expiry_action: null,
    })
    .execute();
  await db.store.db
    .insertInto('sim_profiles')
    .values({
      iccid: SIM.iccid,
      sim_id: `sim-${SIM.iccid}`,
      operator_id: OPERATOR,
      imsi: SIM.imsi,
      msisdn: null,
      secrets: keyRing.seal(packSecrets(SIM.ki, SIM.opc, 'milenage'), profileSecretContext(SIM.iccid)),
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
  const ci = trustedCiFromCertificate(peer.ciPem);
  if (!ci.ok) throw new Error(ci.error.message);
  const clock = new ManualClock(PKI_NOW);
  const es3 = soapEs3Port(dp, { partner: SMSR_ID });
  // Records what crossed the wire; the functions are the SOAP clients themselves.
  const recorded = Object.fromEntries(
    Object.entries(es3).map(([name, fn]) => [
      name,
      (body: never) => {
        sent.push(name);
        return (fn as (b: never) => Promise<unknown>)(body);
      },
    ]),
  ) as unknown as Es3Port;
  smdp = new SmDp({
    store: db.store,
    keyRing,
    clock,
    smdpId: SMDP_ID,
    segmentSize: 96,
    smsr: (id) => (id === SMSR_ID ? recorded : undefined),
    signer: async () => ({
      certificate: hex(peer.smdpCertificate),
      privateKey: createPrivateKey(peer.smdpKeyPem),
    }),
    verify: async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
      verifyCertificateChain({ ...input, trustedCis: [ci.value], now: clock.now() }),
    eumCertificate: async (id) => (id === EUM_ID ? peer.eumPem : undefined),
    operators: (id) =>
      id === MNO_ID
        ? {
            handleProfileEnabledNotification: async (b) => void notified.push(`enabled ${b.iccid}`),
            handleProfileDisabledNotification: async (b) => void notified.push(`disabled ${b.iccid}`),
            handleProfileDeletedNotification: async (b) => void notified.push(`deleted ${b.iccid}`),
          }
        : undefined,
    onError: (error) => {
      throw error;
    },
  });
}

beforeAll(async () => {
  db = await openTestDatabase();
  [dpTls, srTls] = await Promise.all([
    issueTlsIdentity('sm-dp.operator-1'),
    issueTlsIdentity('sm-sr.operator-2'),
  ]);
  dp = await SoapNode.start({
    name: 'sm-dp',
    log: { warn: (o, m) => console.error(m, o) },
    tls: dpTls,
    partners: [],
    handlers: soapHandlersFor(
      {
        // The SM-SR's ES3 notifications go to the real SM-DP, which relays them to the operator.
        es3Notifications: () => smdp.es3Notifications(),
      },
      (name) => (name === SMSR_ID ? { entityId: SMSR_ID, role: 'sm-sr' } : undefined),
    ),
  });
  child = spawn(process.execPath, ['--import', 'tsx', 'test/servers/esim/soap-smsr-process.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  exited = once(child, 'exit');
  childLines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = once(childLines, 'line') as Promise<[string]>;
  child.stdin?.write(
    `${JSON.stringify({ ...srTls, partner: { name: SMDP_ID, url: dp.url, certificatePem: dpTls.certificatePem } })}\n`,
  );
  peer = JSON.parse((await first)[0]) as Peer;
  dp.addPartner({ name: SMSR_ID, url: peer.url, certificatePem: srTls.certificatePem, interfaces: ['ES3'] });
  await addSim();
}, 60_000);

afterAll(async () => {
  child.stdin?.end();
  await exited;
  await dp.close();
  await db.cleanup();
});

describe(`ES3 over SOAP/mTLS to an SM-SR in another process (${testDialect})`, () => {
  it('downloads a profile: CreateISDP and every SendData cross the wire, the child card installs it', async () => {
    expect(peer.pid).not.toBe(process.pid);
    const es2 = smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID });
    const r = await es2.downloadProfile({
      ...fc(),
      eid: EID,
      smsrId: SMSR_ID,
      iccid: SIM.iccid,
      enableProfile: false,
    });
    expect(r.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect(r.iccid).toBe(SIM.iccid);
    expect(sent.slice(0, 2)).toEqual(['getEIS', 'createISDP']);
    // INSTALL [for perso], 3A01, 3A02, then SCP03t 84, 85…, 86 segments: one SendData each.
    expect(sent.filter((s) => s === 'sendData').length).toBeGreaterThanOrEqual(5);
    expect(sent.at(-1)).toBe('profileDownloadCompleted');

    // The other deployment's EIS (read over ES2 → ES3 GetEIS) holds the installed, disabled profile.
    const eis = await es2.getEIS({ ...fc(), eid: EID, smsrId: SMSR_ID });
    expect(eis.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(eis.eis?.profiles.find((p) => p.iccid === SIM.iccid)).toMatchObject({
      state: 'Disabled',
      profileType: 'simtrust-usim',
    });
    // AuditEIS reads the card itself in the child process.
    const audit = await soapEs3Port(dp, { partner: SMSR_ID }).auditEIS({
      ...fc(),
      eid: EID,
      iccids: [SIM.iccid],
    });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(audit.eis?.profiles.find((p) => p.iccid === SIM.iccid)?.state).toBe('Disabled');
  }, 120_000);

  it('ES2 Enable through the SM-DP: ES3 EnableProfile to the child, the card switches, the SM-SR’s notification comes back over SOAP and reaches the operator', async () => {
    const es2 = smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID });
    const enabling = es2.enableProfile({ ...fc(), eid: EID, smsrId: SMSR_ID, iccid: SIM.iccid });
    const attached = once(childLines, 'line') as Promise<[string]>;
    child.stdin?.write('attach\n');
    expect(JSON.parse((await attached)[0])).toEqual({ attached: 1 });
    expect((await enabling).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const eis = await es2.getEIS({ ...fc(), eid: EID, smsrId: SMSR_ID });
    expect(eis.eis?.profiles.find((p) => p.iccid === SIM.iccid)?.state).toBe('Enabled');
    // The notification is sent after the enable's answer: wait for it as the operator would.
    for (let i = 0; i < 500 && !notified.includes(`enabled ${SIM.iccid}`); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(notified).toContain(`enabled ${SIM.iccid}`);
  }, 60_000);

  it('parallel calls open several connections and each passes the certificate pin (no TLS resumption)', async () => {
    // Regression: a resumed TLS session shows no peer certificate, so every connection after the
    // first failed the pin and its response was lost.
    const es3 = soapEs3Port(dp, { partner: SMSR_ID });
    // The first exchange caches a TLS session on both sides; the parallel ones need new connections.
    expect((await es3.getEIS({ ...fc(), eid: EID })).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => es3.getEIS({ ...fc(), eid: EID, validityPeriod: 30 })),
    );
    expect(answers.map((a) => a.functionExecutionStatus.status)).toEqual(Array(6).fill('EXECUTED_SUCCESS'));
  });

  it('a response wait shorter than the POST rejects once, with no unhandled rejection', async () => {
    // Regression: the wait's rejection came before `call` awaited it (vitest fails on unhandled ones).
    // The SM-SR's process is stopped while the wait runs out, so the POST is certainly still going
    // (a bare 0 ms wait raced a fast answer on a loaded machine and sometimes lost).
    process.kill(peer.pid, 'SIGSTOP');
    let calling: Promise<unknown>;
    try {
      calling = dp.call(SMSR_ID, 'ES3-GetEISRequest', { ...fc(), eid: EID }, { timeoutMs: 0 });
      calling.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      process.kill(peer.pid, 'SIGCONT');
    }
    await expect(calling).rejects.toMatchObject({ code: 'ERR_ESIM_SOAP_TRANSPORT' });
  });

  it('a request with a ValidityPeriod the provider cannot meet comes back EXPIRED', async () => {
    const r = await soapEs3Port(dp, { partner: SMSR_ID, graceMs: 0 }).getEIS({
      ...fc(),
      validityPeriod: 0,
      eid: EID,
    });
    expect(r.functionExecutionStatus.status).toBe('EXPIRED');
  });

  it('an unknown certificate is refused by the SM-SR: FAILED 1.1 unknown requester, nothing run', async () => {
    const strangerTls = await issueTlsIdentity('sm-dp.stranger');
    const stranger = await SoapNode.start({
      name: 'stranger',
      tls: strangerTls,
      partners: [{ name: SMSR_ID, url: peer.url, certificatePem: srTls.certificatePem }],
      handlers: {},
    });
    try {
      const r = await soapEs3Port(stranger, { partner: SMSR_ID }).createISDP({
        ...fc(),
        eid: EID,
        iccid: iccidWithCheckDigit('894400000000000888'),
        mnoId: MNO_ID,
        requiredMemory: 1000,
      });
      expect(r.functionExecutionStatus.status).toBe('FAILED');
      expect(r.functionExecutionStatus.statusCodeData).toMatchObject({
        subject: SUBJECT_CODES.FUNCTION_REQUESTER,
        reason: REASON_CODES.UNKNOWN_REQUESTER,
      });
      expect(r.functionExecutionStatus.statusCodeData?.message).toContain('SOAP_PEER_UNKNOWN');
    } finally {
      await stranger.close();
    }
  });

  it('a partner removed is refused afterwards: no call leaves, its notifications are not taken', async () => {
    dp.removePartner(SMSR_ID);
    try {
      const r = await soapEs3Port(dp, { partner: SMSR_ID }).getEIS({ ...fc(), eid: EID });
      expect(r.functionExecutionStatus.status).toBe('FAILED');
      expect(r.functionExecutionStatus.statusCodeData).toMatchObject({
        subject: SUBJECT_CODES.FUNCTION_PROVIDER,
        reason: REASON_CODES.UNAVAILABLE,
      });
    } finally {
      dp.addPartner({ name: SMSR_ID, url: peer.url, certificatePem: srTls.certificatePem });
    }
    const back = await soapEs3Port(dp, { partner: SMSR_ID }).getEIS({ ...fc(), eid: EID });
    expect(back.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });
});

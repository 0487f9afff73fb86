// The eSIM benchmark's rig with the real ES5 bearers (`npm run bench -- esim --bearer https`): the real
// SM-DP → ES3 in-process port → the real SM-SR whose ES5 is the Es5Router over Es5Sms and Es5Https, as
// serve wires it → N devices. The devices (software eUICCs in ToolkitModems with the BIP relay on) run
// in a second process, bench/_esim-devices.ts, so this process — the server's side — gets a core of its
// own and each side's CPU is measured apart. The SM-SR's MT SMS (SCP80 secured packets to the ISD-R
// TAR: short scripts, the 3A08 confirmations and the SCP81 push) reach the device whose MSISDN they
// name over the IPC channel; its MO SMS (PoRs, default notifications) come back the same way to
// Es5Sms.receive, as the OTA inbound path hands them over; the HTTPS sessions are real TCP connections
// from the modems' relays to the SM-SR's PSK-TLS listener on loopback, carrying GP Amd B RAM over HTTP
// (command scripts for the ISD-R, raw SCP03t for the ISD-P). The SMSC is that direct hand-over (no
// SMPP). Built like the download test over both transports (test/platform/esim/transport).

import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { CardFile } from '../src/card/card-file.js';
import { newEuiccCardFile } from '../src/card/euicc/issue.js';
import { type ChainInput, verifyCertificateChain } from '../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../src/lib/clock.js';
import { toHex } from '../src/lib/hex.js';
import { iccidWithCheckDigit } from '../src/lib/identities.js';
import { withEidCheckDigits } from '../src/lib/sgp-02-eid.js';
import { SmDp } from '../src/platform/esim/sm-dp/sm-dp-service.js';
import { Es5Https } from '../src/platform/esim/sm-sr/es5-https.js';
import { Es5Router } from '../src/platform/esim/sm-sr/es5-router.js';
import { Es5Sms } from '../src/platform/esim/sm-sr/es5-sms.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../src/platform/esim/sm-sr/ram-over-http.js';
import { SmSr } from '../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { openStore } from '../src/platform/store/database.js';
import { GroupCommit } from '../src/platform/store/group-commit.js';
import { startScp81Listener } from '../src/servers/esim/scp81-listener.js';
import { KIC, KID, PLATFORM } from '../test/card/toolkit/fixture.js';
import { createTestPki, PKI_NOW } from '../test/helpers/esim-pki.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../test/platform/esim/sm-sr/fixture.js';
import type { CryptoCounts } from './_esim-crypto-count.js';
import type { DeviceSpec, FromDevices, ToDevices } from './_esim-devices.js';
import { addBenchSim, BENCH_OPERATOR, type EsimRig } from './_esim-rig.js';
import { type BenchDialect, freshDatabase } from './_support.js';

const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** The modems' STATUS polling while a BIP channel is open (ms). */
const POLL_MS = Number(process.env.ESIM_BENCH_POLL_MS ?? 2);

/** The devices' process: messages to it, and answers to the questions asked. */
class Devices {
  readonly #child: ChildProcess;
  readonly #answers = new Map<number, (v: unknown) => void>();
  #next = 0;
  #failed: Error | undefined;
  #ready: Promise<void>;

  constructor(onMo: (m: Extract<FromDevices, { t: 'mo' }>) => void) {
    this.#child = fork(fileURLToPath(new URL('./_esim-devices.ts', import.meta.url)), [], {
      // ESIM_BENCH_CPU_PROFILE=<dir>: the devices' process writes its V8 profile there when it ends.
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.ESIM_BENCH_CPU_PROFILE === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${process.env.ESIM_BENCH_CPU_PROFILE}`]),
      ],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let ready: () => void = () => undefined;
    let broke: (e: Error) => void = () => undefined;
    this.#ready = new Promise<void>((resolve, reject) => {
      ready = resolve;
      broke = reject;
    });
    this.#child.on('message', (m: FromDevices) => {
      if (m.t === 'mo') onMo(m);
      else if (m.t === 'answer') {
        this.#answers.get(m.id)?.(m.value);
        this.#answers.delete(m.id);
      } else if (m.t === 'ready') ready();
      else if (m.t === 'error') {
        this.#failed = new Error(`eUICC devices: ${m.message}`);
        broke(this.#failed);
        console.error(this.#failed.message);
      }
    });
    this.#child.on('exit', (code) => {
      if (code !== 0 && code !== null) broke(new Error(`the devices' process ended with ${code}`));
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  post(m: ToDevices): void {
    if (this.#failed !== undefined) throw this.#failed;
    this.#child.send(m);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  ask<T>(m: (id: number) => ToDevices): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve) => {
      this.#answers.set(id, resolve as (v: unknown) => void);
      this.post(m(id));
    });
  }

  stop(): Promise<void> {
    return new Promise((stopped) => {
      if (this.#child.exitCode !== null) return stopped();
      this.#child.once('exit', () => stopped());
      this.#child.disconnect();
    });
  }
}

export async function esimHttpsRig(o: { cards: number; dialect: BenchDialect }): Promise<EsimRig> {
  const database = await freshDatabase(o.dialect);
  const store = await openStore(database.url);
  const keyRing = await KeyRing.open(store, randomBytes(32));
  // The SM-SR, the SM-DP and Es5Sms's counter reservations share one group commit, as serve wires them.
  const writer = new GroupCommit(store, { maxBatch: 256, concurrency: 2 });
  const clock = new ManualClock(PKI_NOW);
  const pki = await createTestPki();
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  let closed = false;
  const pskByEid = new Map<string, Uint8Array>();
  let smsr: SmSr | undefined;
  let smdp: SmDp | undefined;

  // The MO path (OtaInbound's hand-over to Es5Sms.receive).
  const devices = new Devices((m) => {
    if (closed) return;
    sms
      .receive(m.sender, m.identifier, new Uint8Array(Buffer.from(m.packet, 'hex')))
      .catch((err: unknown) => {
        if (!closed) throw err;
      });
  });
  const sms: Es5Sms = new Es5Sms({
    store,
    keyRing,
    writer,
    link: {
      async send(destination, userData) {
        devices.post({
          t: 'sms',
          destination,
          userData: userData.map((u) => Buffer.from(u).toString('hex')),
        });
      },
    },
    notifications: async (eid, e1) => {
      if (smsr === undefined) throw new Error('no SM-SR');
      return smsr.handleNotification(eid, e1);
    },
  });
  const sessions = new RamOverHttpSessions();
  const listener = await startScp81Listener({
    sessions,
    maxConnections: Math.max(64, o.cards * 2),
    psk: (id) => (id.kvn === 0x40 ? pskByEid.get(id.eid) : undefined),
  });
  const https = new Es5Https({
    sessions,
    trigger: (eid) =>
      adminSessionTrigger({
        eid,
        isdRAid: ISD_R_AID,
        kvn: 0x40,
        kid: 1,
        address: '127.0.0.1',
        port: listener.port,
        adminUri: sessions.adminUri,
      }),
    push: (eid, data) => sms.push(eid, data),
  });
  const router = new Es5Router({
    sms,
    https,
    // ESIM_BENCH_TRACE=1: the bearer the router picks for each command.
    ...(process.env.ESIM_BENCH_TRACE === '1'
      ? { onRoute: (eid: string, route: string, aid: string) => console.log('route', eid, route, aid) }
      : {}),
  });
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport: router,
    smsrId: SMSR_ID,
    writer,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? smdp?.es3Notifications() : undefined),
      operator: () => undefined,
    },
  });
  const sr = smsr;
  smdp = new SmDp({
    store,
    keyRing,
    clock,
    smdpId: SMDP_ID,
    writer,
    smsr: (id) => (id === SMSR_ID ? sr.es3For(SMDP_ID) : undefined),
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify,
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
  });
  const dp = smdp;
  await store.db
    .insertInto('operators')
    .values({
      operator_id: BENCH_OPERATOR,
      email: 'esim-bench@example.test',
      password_hash: 'x',
      created_at: 0,
      updated_at: 0,
    })
    .execute();

  const specs: DeviceSpec[] = [];
  const cards: { eid: string; iccidB: string }[] = [];
  for (let i = 0; i < o.cards; i++) {
    const eid = withEidCheckDigits(`890490320000000000000${pad(i, 9)}`);
    if (!eid.ok) throw new Error(eid.error.message);
    const ecasd = pki.ecasd(eid.value);
    const iccidA = iccidWithCheckDigit(`894400771${pad(i, 9)}`);
    const imsiA = `00101771${pad(i, 7)}`;
    const msisdnA = `81771${pad(i, 7)}`;
    const iccidB = iccidWithCheckDigit(`894400772${pad(i, 9)}`);
    const imsiB = `00101772${pad(i, 7)}`;
    const psk = randomBytes(16);
    const { file } = newEuiccCardFile({
      imsi: imsiA,
      iccid: iccidA,
      msisdn: msisdnA,
      ki: randomBytes(16),
      opc: randomBytes(16),
      pin1Enabled: false,
      eid: eid.value,
      ecasdCertificate: ecasd.certificate,
      smsrAddress: PLATFORM,
    });
    const e = file.euicc;
    if (e === undefined) throw new Error('no euicc section');
    const dKey = ecasd.privateKey.export({ format: 'jwk' }).d ?? '';
    const deviceFile: CardFile = {
      ...file,
      euicc: {
        ...e,
        ecasd: {
          certificate: toHex(ecasd.certificate),
          privateKey: Buffer.from(dKey, 'base64url').toString('hex'),
          ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
        },
        isdr: {
          ...e.isdr,
          scp80: [{ ...(e.isdr.scp80[0] as (typeof e.isdr.scp80)[number]), kic: KIC, kid: KID }],
          scp81: [{ kvn: 0x40, psk: toHex(psk) }],
        },
      },
    };
    specs.push({ file: deviceFile, msisdn: msisdnA, iccidB });
    pskByEid.set(eid.value, psk);
    cards.push({ eid: eid.value, iccidB });
    const signed = eisOf(file, pki, ecasd.certificate);
    const eis = {
      ...signed,
      profiles: signed.profiles.map((p) => ({
        ...p,
        iccid: iccidA,
        subscriptionAddress: { imsi: imsiA, msisdn: msisdnA },
      })),
    };
    const r = await sr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: `reg-${i}`, eis });
    if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
      throw new Error(`RegisterEIS: ${JSON.stringify(r.functionExecutionStatus)}`);
    await addBenchSim(store, keyRing, { iccid: iccidB, imsi: imsiB });
  }
  devices.post({ t: 'devices', devices: specs, pollMs: POLL_MS });
  await devices.ready();
  devices.post({ t: 'boot' });
  // Every declaration confirmed and its procedure ended before the clock starts (paced by time,
  // bounded by a generous deadline).
  const deadline = Date.now() + 120_000;
  for (;;) {
    const active = await store.db
      .selectFrom('esim_sr_procedures')
      .select('procedure_id')
      .where('active_eid', 'is not', null)
      .executeTakeFirst();
    if (
      active === undefined &&
      (await devices.ask<number>((id) => ({ t: 'pending-notifications', id }))) === 0
    )
      break;
    if (Date.now() > deadline) throw new Error('declarations not confirmed within 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }

  const es2 = dp.es2For({ operatorId: BENCH_OPERATOR, mnoId: MNO_ID });
  return {
    cards,
    store,
    async download(i, callId) {
      const d = cards[i];
      if (d === undefined) throw new Error(`no card ${i}`);
      const r = await es2.downloadProfile({
        functionCallIdentifier: callId,
        eid: d.eid,
        smsrId: SMSR_ID,
        iccid: d.iccidB,
        enableProfile: true,
      });
      if (process.env.ESIM_BENCH_TRACE === '1' && r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
        console.log(JSON.stringify(r.functionExecutionStatus));
      return r.functionExecutionStatus.status;
    },
    async enabledB() {
      return devices.ask<boolean[]>((id) => ({ t: 'enabled-b', id }));
    },
    simulator: {
      description: `the ${o.cards} devices in a second process (pid ${devices.pid})`,
      async cpuMicros() {
        const u = await devices.ask<NodeJS.CpuUsage>((id) => ({ t: 'cpu', id }));
        return u.user + u.system;
      },
      async countCrypto(on: boolean) {
        return devices.ask<CryptoCounts | null>((id) => ({ t: 'count-crypto', id, on }));
      },
    },
    async close() {
      closed = true;
      await devices.stop();
      await listener.close();
      await store.close();
      await database.drop();
    },
  };
}

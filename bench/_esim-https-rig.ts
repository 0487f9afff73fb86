// The eSIM benchmark's rig with the real ES5 bearers (`npm run bench -- esim --bearer https`): the real
// SM-DP → ES3 in-process port → the real SM-SR whose ES5 is the Es5Router over Es5Sms and Es5Https, as
// serve wires it → N devices. Each device is a software eUICC in a ToolkitModem with the BIP relay on:
// the SM-SR's MT SMS (SCP80 secured packets to the ISD-R TAR: short scripts, the 3A08 confirmations and
// the SCP81 push) reach the device whose MSISDN they name as SMS-PP; its MO SMS (PoRs, default
// notifications) go back to Es5Sms.receive as the OTA inbound path does; the HTTPS sessions are real
// TCP connections from the modem's relay to the SM-SR's PSK-TLS listener on loopback, carrying GP Amd
// B RAM over HTTP (command scripts for the ISD-R, raw SCP03t for the ISD-P). The SMSC is a direct
// hand-over (no SMPP). Built like the download test over both transports (test/platform/esim/transport).

import { randomBytes } from 'node:crypto';
import { cardFromFile } from '../src/card/card-file.js';
import { LIFE_CYCLE } from '../src/card/euicc/euicc-state.js';
import { newEuiccCardFile } from '../src/card/euicc/issue.js';
import { Terminal } from '../src/card/terminal.js';
import { ToolkitModem } from '../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../src/lib/clock.js';
import { toHex } from '../src/lib/hex.js';
import { iccidWithCheckDigit } from '../src/lib/identities.js';
import { withEidCheckDigits } from '../src/lib/sgp-02-eid.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  decodeUserData,
  reassembleSecuredPacket,
  type UserData,
} from '../src/lib/ts-23-040-sms-tpdu.js';
import { SmDp } from '../src/platform/esim/sm-dp/sm-dp-service.js';
import { Es5Https } from '../src/platform/esim/sm-sr/es5-https.js';
import { Es5Router } from '../src/platform/esim/sm-sr/es5-router.js';
import { Es5Sms } from '../src/platform/esim/sm-sr/es5-sms.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../src/platform/esim/sm-sr/ram-over-http.js';
import { SmSr } from '../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { openStore } from '../src/platform/store/database.js';
import { startScp81Listener } from '../src/servers/esim/scp81-listener.js';
import { cell, IMEI, KIC, KID, PLATFORM, simDataDeliver } from '../test/card/toolkit/fixture.js';
import { createTestPki, PKI_NOW } from '../test/helpers/esim-pki.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../test/platform/esim/sm-sr/fixture.js';
import { addBenchSim, BENCH_OPERATOR, type EsimRig } from './_esim-rig.js';
import { type BenchDialect, freshDatabase } from './_support.js';

const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
const pad = (n: number, width: number) => String(n).padStart(width, '0');

interface Device {
  readonly eid: string;
  readonly card: Uicc;
  readonly modem: ToolkitModem;
  readonly msisdnA: string;
  readonly iccidB: string;
  readonly psk: Uint8Array;
}

export async function esimHttpsRig(o: { cards: number; dialect: BenchDialect }): Promise<EsimRig> {
  const database = await freshDatabase(o.dialect);
  const store = await openStore(database.url);
  const keyRing = await KeyRing.open(store, randomBytes(32));
  const clock = new ManualClock(PKI_NOW);
  const pki = await createTestPki();
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  let closed = false;
  const byMsisdn = new Map<string, Device>();
  const byEid = new Map<string, Device>();
  let smsr: SmSr | undefined;
  let smdp: SmDp | undefined;

  const sms = new Es5Sms({
    store,
    keyRing,
    link: {
      async send(destination, userData) {
        const d = byMsisdn.get(destination);
        if (d === undefined) throw new Error(`no device at ${destination}`);
        setImmediate(() => {
          if (closed) return;
          for (const raw of userData) {
            const ud = decodeUserData(raw, true);
            if (!ud.ok) throw new Error(ud.error.message);
            const r = d.modem.deliverSms(simDataDeliver(ud.value));
            if (!r.ok) throw new Error(r.error.message);
          }
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
    psk: (id) => (id.kvn === 0x40 ? byEid.get(id.eid)?.psk : undefined),
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
  const router = new Es5Router({ sms, https });
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport: router,
    smsrId: SMSR_ID,
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

  const devices: Device[] = [];
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
    const card = cardFromFile(
      {
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
      },
      { clock },
    );
    const partial = new Map<number, UserData[]>();
    card.reset();
    const modem: ToolkitModem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
      imei: IMEI,
      cell: cell(1),
      reset: () => card.reset(),
      bip: { pollMs: 2 },
      onSms: (tpdu) => {
        const s = decodeSmsSubmit(tpdu);
        if (!s.ok) throw new Error(s.error.message);
        const concat = concatenationOf(s.value.userData.header ?? []);
        const reference = concat?.reference ?? -1;
        const parts = [...(partial.get(reference) ?? []), s.value.userData];
        if (concat !== undefined && parts.length < concat.total) {
          partial.set(reference, parts);
          return;
        }
        partial.delete(reference);
        const packet = reassembleSecuredPacket(parts);
        if (!packet.ok) throw new Error(packet.error.message);
        const sender = modem.imsi ?? '';
        setImmediate(() => {
          if (closed) return;
          sms.receive(sender, packet.value.identifier, packet.value.packet).catch((err: unknown) => {
            if (!closed) throw err;
          });
        });
      },
      // After the enable's REFRESH the device attaches with profile B and tells the card.
      onRefresh: () => setImmediate(() => modem.registered('normal_service')),
    });
    const device: Device = { eid: eid.value, card, modem, msisdnA, iccidB, psk };
    byMsisdn.set(msisdnA, device);
    byEid.set(eid.value, device);
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
    const booted = modem.boot();
    if (!booted.ok) throw new Error(booted.error.message);
    // Attached: the eUICC declares itself (type 01, MO SMS); the SM-SR confirms by SMS (3A08).
    modem.registered('normal_service');
    devices.push(device);
  }
  // Every declaration confirmed and its procedure ended before the clock starts.
  for (let round = 0; ; round++) {
    const active = await store.db
      .selectFrom('esim_sr_procedures')
      .select('procedure_id')
      .where('active_eid', 'is not', null)
      .executeTakeFirst();
    if (
      active === undefined &&
      devices.every((d) => (d.card.euicc?.snapshot().notifications.length ?? 0) === 0)
    )
      break;
    if (round > 20_000) throw new Error('declarations not confirmed');
    await new Promise((r) => setTimeout(r, 2));
  }

  const es2 = dp.es2For({ operatorId: BENCH_OPERATOR, mnoId: MNO_ID });
  return {
    cards: devices.map((d) => ({ eid: d.eid })),
    store,
    async download(i, callId) {
      const d = devices[i];
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
    enabledB(i) {
      const d = devices[i];
      const isdp = d?.card.euicc?.snapshot().isdps.find((p) => p.profile?.identity.iccid === d.iccidB);
      return isdp?.state === LIFE_CYCLE.ENABLED;
    },
    async close() {
      closed = true;
      await listener.close();
      await store.close();
      await database.drop();
    },
  };
}

// A lab for killing the server that runs the SM-SR and SM-DP while the eUICC lives on: `simtrust serve`
// in a child process (esimOperatorId, the SCP81 listener, the OTA SMPP link) on a database this test
// owns, and in the test process the lab SMSC the child binds to and the device — the eUICC card file
// in a ToolkitModem with the BIP relay. MT SIM data from the child reaches the card as SMS-PP; the
// card's MO SMS go back through the SMSC, held there while no server is bound (store and forward) and
// delivered once the restarted server binds again. The push makes the modem open a real TCP
// connection to the child's PSK-TLS listener. `tap` sees every command the card runs (ISD-R C-APDUs
// from SMS and HTTPS scripts, SCP03t data for an ISD-P) after it ran, so a test can SIGKILL the
// child at an exact point of a procedure: the card's answer has not left the device yet.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { cardFromFile } from '../../../src/card/card-file.js';
import type { Euicc } from '../../../src/card/euicc/euicc.js';
import type { Isdp } from '../../../src/card/euicc/euicc-state.js';
import type { CommandApdu } from '../../../src/card/iso-7816-4.js';
import { Terminal } from '../../../src/card/terminal.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { issueDemoEuicc } from '../../../src/cli/demo-euicc.js';
import { iccidWithCheckDigit } from '../../../src/lib/identities.js';
import { decodeSmsSubmit, encodeUserData } from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { mnoIdOf, startEsim } from '../../../src/servers/esim/esim-runtime.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { cell, IMEI } from '../../card/toolkit/fixture.js';
import { OTA_ACCOUNT, smsDeliverOf, waitFor } from '../../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { type ServerProcess, startServeProcess } from '../../helpers/cli.js';

/** The SM-SR's MO address (where the card's notifications go) and the OTA link's source number. */
const SMSR_ADDRESS = '819000000999';

export interface LabProfile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string;
  readonly ki: string;
  readonly opc: string;
}

/** A command the card just ran, and its answer (not yet on its way back). */
export type CardEvent =
  | { readonly kind: 'isdr'; readonly apdu: CommandApdu; readonly sw: number }
  | { readonly kind: 'isdp'; readonly aid: string; readonly data: Uint8Array; readonly answer: Uint8Array };

export interface EsimOperation {
  readonly operationId: string;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly result: { status: string; subject?: string; reason?: string; message?: string } | null;
  readonly steps: readonly { name: string; state: string }[];
}

export interface EuiccLab {
  readonly api: TestApi;
  readonly eid: string;
  readonly profileA: LabProfile;
  readonly profileB: LabProfile;
  readonly card: Uicc;
  readonly euicc: Euicc;
  readonly modem: ToolkitModem;
  readonly smsc: Smsc;
  /** The running server (the child), if any. */
  readonly server: ServerProcess | undefined;
  /** Called after every command the card ran; a test kills the server from here. */
  tap: ((e: CardEvent) => void) | undefined;
  /** MO SMS the SMSC holds for the server (none is bound). */
  readonly heldMo: () => number;
  /** Starts `simtrust serve` on the lab's database; resolves once it serves (recovery runs on after). */
  start(): Promise<ServerProcess>;
  /** SIGKILL now (synchronous: nothing more leaves the child); `exited` resolves once it is gone. */
  kill(): { exited: Promise<void> };
  /** An HTTP call to the running server as the operator. */
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The operation until it is no longer running. */
  settled(operationId: string, ms?: number): Promise<EsimOperation>;
  /** No procedure of the SM-SR or download of the SM-DP runs, and the card has nothing to notify. */
  quiet(ms?: number): Promise<void>;
  close(): Promise<void>;
}

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const newProfile = (tag: string): LabProfile => ({
  iccid: iccidWithCheckDigit(`89440015${tag}${digits(9)}`),
  imsi: `0010101${tag}${digits(7)}`,
  msisdn: `8170015${tag}${digits(4)}`,
  ki: randomBytes(16).toString('hex'),
  opc: randomBytes(16).toString('hex'),
});

export async function startEuiccLab(): Promise<EuiccLab> {
  const api = await startTestApi();
  const { platform } = api;
  const operatorId = api.operator.operatorId;
  const ctx = (operationId: string) => systemContext(operatorId, operationId, 'test');

  // --- the deployment before its server runs: PKI, inventory, the eUICC registered at the SM-SR -----
  await platform.esimPki.ensureDemo();
  const setup = await startEsim(platform, operatorId, pino({ level: 'silent' }));
  const profileA = newProfile('1');
  const profileB = newProfile('2');
  for (const p of [profileA, profileB]) await platform.sims.create(ctx('Sim:createSim'), p);
  const issued = await issueDemoEuicc(platform, {
    profile: profileA,
    smsrId: setup.smsrId,
    smsrAddress: SMSR_ADDRESS,
    mnoId: mnoIdOf(operatorId),
  });
  await platform.esimOperations.registerEuicc(ctx('Esim:registerEuicc'), {
    registerEisRequest: issued.registerEisRequest,
    eumCertificate: issued.eumCertificate,
  });
  await setup.close();

  // --- the network: SMSC, MT to the card, MO held while no server is bound ---------------------------
  let modem: ToolkitModem | undefined;
  const heldMo: Uint8Array[] = [];
  /** Binds the SMSC had counted when the server died: a higher count is the restarted server. */
  let deadAtBinds: number | undefined;
  let closed = false;
  const smsc = await Smsc.start({
    accounts: { [OTA_ACCOUNT.systemId]: OTA_ACCOUNT.password },
    onSimData: (m) => {
      if (closed) return;
      const r = modem?.deliverSms(smsDeliverOf(m));
      if (r !== undefined && !r.ok) throw new Error(`the modem refused an SMS-PP: ${r.error.message}`);
    },
  });
  const flushMo = () => {
    if (closed || (deadAtBinds !== undefined && smsc.binds <= deadAtBinds)) return;
    while (heldMo.length > 0) {
      const tpdu = heldMo[0] as Uint8Array;
      const s = decodeSmsSubmit(tpdu);
      if (!s.ok) throw new Error(`the card sent an SMS-SUBMIT that does not decode: ${s.error.message}`);
      const delivered = smsc.deliverMo(OTA_ACCOUNT.systemId, {
        // The SM-SR knows its eUICCs by the MSISDN or IMSI of their profiles: the device's IMSI now.
        source: modem?.imsi ?? '',
        destination: s.value.destinationAddress.kind === 'digits' ? s.value.destinationAddress.digits : '',
        protocolId: s.value.protocolIdentifier,
        dataCoding: s.value.dataCodingScheme,
        userData: encodeUserData(s.value.userData),
      });
      if (!delivered) return;
      heldMo.shift();
    }
  };
  const moTimer = setInterval(flushMo, 20);

  // --- the device: the eUICC in a modem with the BIP relay ---------------------------------------------
  const card = cardFromFile(issued.file);
  let tap: EuiccLab['tap'];
  const euicc = card.euicc;
  if (euicc === undefined) throw new Error('not an eUICC');
  // Observe every command the card runs, after it ran (the instance methods shadow the prototype's).
  const isdr = euicc.processIsdr.bind(euicc);
  const isdp = euicc.processIsdpData.bind(euicc);
  euicc.processIsdr = (c, fx) => {
    const r = isdr(c, fx);
    tap?.({ kind: 'isdr', apdu: c, sw: r.sw });
    return r;
  };
  euicc.processIsdpData = (aid, data) => {
    const answer = isdp(aid, data);
    tap?.({ kind: 'isdp', aid, data, answer });
    return answer;
  };
  card.reset();
  const device = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    bip: { pollMs: 2 },
    onSms: (tpdu) => {
      heldMo.push(tpdu);
      setImmediate(flushMo);
    },
    // The REFRESH after an enable: the device attaches with the new profile (the network knows it).
    onRefresh: () => setImmediate(() => !closed && device.registered('normal_service')),
  });
  modem = device;

  // --- the server -----------------------------------------------------------------------------------
  const env: Record<string, string> = {
    SIMTRUST_DATABASE_URL: api.db.url,
    SIMTRUST_MASTER_KEY: api.masterKey.toString('base64'),
    SIMTRUST_ESIM_OPERATOR_ID: operatorId,
    SIMTRUST_ESIM_SCP81_PORT: '0',
    SIMTRUST_OTA_SMPP_URL: smsc.url,
    SIMTRUST_OTA_SMPP_SYSTEM_ID: OTA_ACCOUNT.systemId,
    SIMTRUST_OTA_SMPP_PASSWORD: OTA_ACCOUNT.password,
    SIMTRUST_OTA_SMPP_SOURCE_ADDR: SMSR_ADDRESS,
  };
  let server: ServerProcess | undefined;
  let token: string | undefined;
  const http = async <T>(method: string, path: string, body?: unknown, auth = true) => {
    if (server === undefined) throw new Error('no server runs');
    const res = await fetch(`${server.apiUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  };

  const running = async () => {
    const db = api.db.store.db;
    const sr = await db
      .selectFrom('esim_sr_procedures')
      .select(['function', 'step'])
      .where('active_eid', 'is not', null)
      .execute();
    const dp = await db
      .selectFrom('esim_dp_downloads')
      .select(['step'])
      .where('status', '=', 'running')
      .execute();
    return { sr, dp, notifications: euicc.snapshot().notifications.length };
  };

  const lab: EuiccLab = {
    api,
    eid: issued.eid,
    profileA,
    profileB,
    card,
    euicc,
    modem: device,
    smsc,
    get server() {
      return server;
    },
    get tap() {
      return tap;
    },
    set tap(t) {
      tap = t;
    },
    heldMo: () => heldMo.length,
    async start() {
      server = await startServeProcess(env);
      const auth = await http<{ token: string }>(
        'POST',
        '/v1/auth',
        { email: api.operator.email, password: api.operator.password },
        false,
      );
      if (auth.status !== 200) throw new Error(`login failed: ${JSON.stringify(auth.body)}`);
      token = auth.body.token;
      return server;
    },
    kill() {
      const s = server;
      if (s === undefined) throw new Error('no server runs');
      deadAtBinds = smsc.binds;
      server = undefined;
      return { exited: s.stop('SIGKILL') };
    },
    call: http,
    async settled(operationId: string, ms = 90_000) {
      return waitFor(
        `operation ${operationId} to end`,
        async () => (await http<EsimOperation>('GET', `/v1/esim/operations/${operationId}`)).body,
        (o) => o?.status !== 'running',
        ms,
      );
    },
    async quiet(ms = 90_000) {
      await waitFor(
        'no eSIM procedure running and nothing left to notify',
        running,
        (r) => r.sr.length === 0 && r.dp.length === 0 && r.notifications === 0,
        ms,
      );
    },
    async close() {
      closed = true;
      clearInterval(moTimer);
      device.bip?.shutdown();
      await server?.stop('SIGKILL');
      await smsc.close();
      await api.close();
    },
  };

  // The device attaches with profile A: its first location status makes the eUICC declare itself.
  const booted = device.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  device.registered('normal_service');
  return lab;
}

/** The card's ISD-Ps that hold a profile or are being filled: AID, life cycle and ICCID. */
export const isdpsOf = (euicc: Euicc): { aid: string; state: number; iccid: string | undefined }[] =>
  euicc.snapshot().isdps.map((i: Isdp) => ({ aid: i.aid, state: i.state, iccid: i.profile?.identity.iccid }));

// `simtrust esim demo` (docs/esim.md §Demo): the seed's Figure 5 on one machine — an operator orders
// profile B for an eUICC in the field that runs profile A, and the device ends up attached as B.
//
// Everything is real but the bearers: a platform in-process on a temporary SQLite database (its CI,
// EUM, SM-DP and SM-SR certificates from EsimPki, the inventory's SIMs A and B with their Ki/OPc
// sealed), the SM-SR (sm-sr-service.ts) registered with the eUICC's EUM-signed EIS, the SM-DP
// (sm-dp-service.ts) reached by the operator over ES2 and calling the SM-SR over ES3 (in-process
// ports), and a software eUICC made as `simtrust card new --euicc` makes it, with an ECASD
// certificate the platform's EUM issued. ES5 is in-process: the SM-SR's C-APDUs run as an expanded
// command script in the card's ISD-R and SCP03t TLVs go to the ISD-P (what the SCP80 applet and the
// SCP81 agent hand over once an SMS or HTTPS message is open). The attach is the AKA exchange: the
// terminal reads EF.IMSI and the card answers AUTHENTICATE for a vector from the platform's AuC.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cardFromFile } from '../card/card-file.js';
import type { Euicc } from '../card/euicc/euicc.js';
import { NOTIFICATION_TYPE } from '../card/euicc/euicc-state.js';
import { runIsdrScript } from '../card/euicc/isd-r-ota.js';
import { newEuiccCardFile } from '../card/euicc/issue.js';
import { ISD_R_AID } from '../card/euicc/sgp-02-annex-h.js';
import { Terminal } from '../card/terminal.js';
import type { Uicc } from '../card/uicc.js';
import { ecPublicKeyFromPrivate } from '../crypto/sgp-02-key-establishment.js';
import { systemClock } from '../lib/clock.js';
import { hex, toHex } from '../lib/hex.js';
import { iccidWithCheckDigit } from '../lib/identities.js';
import { encodeNotification } from '../lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../lib/ts-102-226-remote-command.js';
import { PLATFORM_OWNER } from '../platform/esim/ci/pki-service.js';
import { signEis } from '../platform/esim/es-soap/sgp-02-eis-signature.js';
import { SmDp } from '../platform/esim/sm-dp/sm-dp-service.js';
import type { Es5Outcome, Es5Response, Es5Transport } from '../platform/esim/sm-sr/es5-transport.js';
import { SmSr } from '../platform/esim/sm-sr/sm-sr-service.js';
import { createOperator } from '../platform/iam/operators.js';
import { systemContext } from '../platform/iam/principal.js';
import { openPlatform, type Platform } from '../platform/platform.js';
import { configFromFlags } from './commands/serve.js';
import { eisOf } from './demo-euicc.js';

export interface DemoStep {
  readonly n: number;
  /** Who acts: operator, SM-DP, SM-SR, eUICC, device, platform. */
  readonly actor: string;
  readonly step: string;
  readonly detail: string;
}

export interface DemoResult {
  readonly eid: string;
  readonly profileA: { readonly iccid: string; readonly imsi: string };
  readonly profileB: { readonly iccid: string; readonly imsi: string };
  /** The IMSI the device attached with at the end. */
  readonly attachedImsi: string;
  readonly downloadStatus: string;
  readonly steps: readonly DemoStep[];
}

const MNO_ID = '2.999.15.4.1';
const SMSR_MSISDN = '819000000100';

/** The SM-DP's step names (download-steps.ts) as Figure 5 tells them. */
const DP_STEPS: Readonly<Record<string, [actor: string, text: string]>> = {
  PrepareProfile: ['SM-DP', 'profile B prepared from the inventory (Ki/OPc unsealed for the package)'],
  GetEIS: ['SM-DP', 'ES3.GetEIS: the SM-SR returns the eUICC Information Set'],
  VerifyECASDCertificate: ['SM-DP', 'CERT.ECASD verified: ECASD → EUM → CI'],
  CleanUpISDP: ['SM-DP', 'clean-up: any ISD-P an earlier attempt for this ICCID left is deleted'],
  CreateISDP: ['SM-SR', 'ES3.CreateISDP → ES5 CreateISDP on the ISD-R: a new ISD-P'],
  'EstablishISDPKeySet:certificate': [
    'SM-DP',
    'key establishment: CERT.DP (3A01) verified by the eUICC, random challenge back',
  ],
  'EstablishISDPKeySet:keyAgreement': [
    'SM-DP',
    'key establishment: ePK.DP signed (3A02), ECKA-EG on both ends, receipt verified — ISD-P SCP03 keys',
  ],
  DownloadAndInstallation: ['SM-DP', 'download: profile package in SCP03t segments, installed by the ISD-P'],
  ProfileDownloadCompleted: ['SM-SR', 'ES3.ProfileDownloadCompleted: the EIS records profile B (Disabled)'],
  EnableProfile: ['SM-SR', 'ES3.EnableProfile → ES5 EnableProfile (3A03) on the ISD-R'],
};

/** Runs Figure 5; `onStep` sees each step as it happens. */
export async function runEsimDemo(o: { onStep?: (s: DemoStep) => void } = {}): Promise<DemoResult> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-esim-demo-'));
  const steps: DemoStep[] = [];
  const say = (actor: string, step: string, detail = '') => {
    const s = { n: steps.length + 1, actor, step, detail };
    steps.push(s);
    o.onStep?.(s);
  };
  let platform: Platform | undefined;
  try {
    const config = configFromFlags(
      { databaseUrl: `sqlite:${join(dir, 'esim-demo.db')}`, dataDir: dir },
      false,
    );
    platform = await openPlatform(config, { masterKey: randomBytes(32) });
    return { ...(await figure5(platform, say)), steps };
  } finally {
    await platform?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function figure5(
  p: Platform,
  say: (actor: string, step: string, detail?: string) => void,
): Promise<Omit<DemoResult, 'steps'>> {
  const operator = await createOperator(p.store, p.clock, {
    email: `esim-demo-${randomBytes(3).toString('hex')}@example.test`,
    password: randomBytes(12).toString('base64url'),
  });
  const operatorId = operator.operatorId;

  // The PKI: CI, EUM, the operator's SM-DP and SM-SR certificates.
  const pki = p.esimPki;
  const { ci, eum } = await pki.ensureDemo();
  const dpCert = await pki.ensureOperatorCertificate(operatorId, 'sm-dp');
  const srCert = await pki.ensureOperatorCertificate(operatorId, 'sm-sr');
  say(
    'platform',
    'PKI',
    `CI ${ci.keyId.slice(0, 8)}…, EUM ${eum.subject}, SM-DP ${dpCert.subject}, SM-SR ${srCert.subject}`,
  );

  // The inventory: profile A (in the card today) and profile B (to download).
  const make = (k: number) => ({
    iccid: iccidWithCheckDigit(`89440015${k}000000000`),
    imsi: `00101015${k}000000`,
    msisdn: `81700015${k}000`,
    ki: randomBytes(16),
    opc: randomBytes(16),
  });
  const A = make(1);
  const B = make(2);
  for (const s of [A, B])
    await p.sims.create(systemContext(operatorId, 'Sim:createSim', 'esim-demo'), {
      iccid: s.iccid,
      imsi: s.imsi,
      msisdn: s.msisdn,
      ki: toHex(s.ki),
      opc: toHex(s.opc),
    });

  // The eUICC: profile A enabled in the bootstrap ISD-P, CERT.ECASD from the platform's EUM.
  const trusted = (await pki.trustedCis())[0];
  if (trusted === undefined) throw new Error('no trusted CI');
  const { file } = newEuiccCardFile({
    imsi: A.imsi,
    iccid: A.iccid,
    msisdn: A.msisdn,
    ki: A.ki,
    opc: A.opc,
    pin1Enabled: false,
    smsrAddress: SMSR_MSISDN,
    smsrId: srCert.subject,
    eumId: eum.subject,
    ci: { keyId: trusted.keyId, publicKey: trusted.publicKey },
  });
  const section = file.euicc;
  if (section === undefined) throw new Error('no euicc section');
  const ecasdPublic = ecPublicKeyFromPrivate('P-256', hex(section.ecasd.privateKey));
  const ecasd = await pki.issueEcasd({ eid: section.eid, publicKey: ecasdPublic });
  const card = cardFromFile({
    ...file,
    euicc: { ...section, ecasd: { ...section.ecasd, certificate: toHex(ecasd.certificate) } },
  });
  const euicc = card.euicc as Euicc;
  const eid = section.eid;
  say('EUM', 'eUICC issued', `EID ${eid}, profile A ICCID ${A.iccid} IMSI ${A.imsi} enabled`);

  // The SM-SR and the SM-DP of this operator.
  let smdp: SmDp | undefined;
  let pendingAttach: Promise<void> | undefined;
  const transport = new DemoTransport(eid, card, {
    onRefresh: () => {
      say('eUICC', 'REFRESH', 'UICC reset after EnableProfile: the terminal restarts the card');
      pendingAttach = attach().then(() => undefined);
    },
    onConfirmation: () =>
      say('SM-SR', 'notification confirmed', 'ES5 3A08 to the ISD-R: the eUICC stops resending'),
  });
  const verify = (input: Parameters<typeof pki.verify>[0]) => pki.verify(input);
  const smsr = new SmSr({
    store: p.store,
    keyRing: p.keyRing,
    clock: p.clock,
    transport,
    smsrId: srCert.subject,
    chains: { verify },
    directory: {
      smdp: (id) => (id === dpCert.subject ? smdp?.es3Notifications() : undefined),
      operator: () => undefined,
    },
  });
  const signer = await pki.signingKey(dpCert.certId, operatorId);
  smdp = new SmDp({
    store: p.store,
    keyRing: p.keyRing,
    clock: p.clock,
    smdpId: dpCert.subject,
    smsr: (id) => (id === srCert.subject ? smsr.es3For(dpCert.subject) : undefined),
    signer: async () => ({ certificate: signer.certificate, privateKey: signer.privateKey }),
    verify,
    eumCertificate: async (id) => (id === eum.subject ? ecasd.eumCertificate : undefined),
    operators: (id) =>
      id === MNO_ID
        ? {
            handleProfileEnabledNotification: async (n) =>
              say(
                'operator',
                'ES2 notification',
                `HandleProfileEnabledNotification: ICCID ${n.iccid} enabled`,
              ),
            handleProfileDisabledNotification: async (n) =>
              say('operator', 'ES2 notification', `HandleProfileDisabledNotification: ICCID ${n.iccid}`),
            handleProfileDeletedNotification: async (n) =>
              say('operator', 'ES2 notification', `HandleProfileDeletedNotification: ICCID ${n.iccid}`),
          }
        : undefined,
    progress: {
      report: async (r) => {
        const known = DP_STEPS[r.step];
        if (known === undefined) return;
        // EnableProfile ends only once the card has switched and notified: say when it starts too.
        if (r.state === 'running' && r.step === 'EnableProfile') say(known[0], r.step, known[1]);
        if (r.state === 'running') return;
        if (r.state === 'succeeded' && r.step === 'EnableProfile') {
          say(known[0], 'EnableProfile answered', 'profile B is Enabled in the EIS, profile A Disabled');
          return;
        }
        if (r.state === 'failed') say(known[0], r.step, `failed: ${JSON.stringify(r.status)}`);
        else
          say(
            known[0],
            r.step,
            r.step === 'DownloadAndInstallation'
              ? `${known[1]} (${transport.segments} segment${transport.segments === 1 ? '' : 's'})`
              : known[1],
          );
      },
    },
  });

  // The EUM registers the eUICC at the SM-SR (ES1), then the device attaches with profile A.
  const eumKey = await pki.signingKey(eum.certId, PLATFORM_OWNER);
  const eis = eisOf(file, ecasd.certificate, {
    eumId: eum.subject,
    smsrId: srCert.subject,
    mnoId: MNO_ID,
    productionDate: new Date(systemClock.now()),
  });
  const reg = await smsr.es1For(ecasd.eumCertificate).registerEIS({
    functionCallIdentifier: 'esim-demo-register',
    eis: signEis(eis, eumKey.privateKey),
  });
  if (reg.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    throw new Error(`RegisterEIS: ${JSON.stringify(reg.functionExecutionStatus)}`);
  say('EUM', 'ES1.RegisterEIS', 'the SM-SR holds the EIS (signed by the EUM) and the ISD-R keys');

  const terminal = new Terminal((apdu) => card.transmit(apdu));
  const attach = async (): Promise<string> => {
    euicc.reset();
    if (!terminal.selectUsim().ok) throw new Error('no USIM');
    const imsi = terminal.readImsi();
    if (!imsi.ok) throw new Error(`EF.IMSI: ${imsi.error.message}`);
    const vectors = await p.auc.vectors(imsi.value);
    if (!vectors.ok) throw new Error(`the AuC refused IMSI ${imsi.value}: ${JSON.stringify(vectors.error)}`);
    const v = vectors.value[0];
    if (v === undefined) throw new Error('no vector');
    const answer = terminal.authenticateUmts(v.rand, v.autn);
    if (!answer.ok || answer.value.kind !== 'success' || toHex(answer.value.res) !== toHex(v.xres))
      throw new Error(`AUTHENTICATE with IMSI ${imsi.value} failed`);
    say('device', `attached as IMSI ${imsi.value}`, 'EF.IMSI read, AuC vector, AUTHENTICATE: RES = XRES');
    attached = imsi.value;
    for (const n of euicc.connectivity(0).send) {
      const e1 = encodeNotification({ eid, type: n.type, aid: n.aid, seq: n.seq });
      if (!e1.ok) throw new Error(e1.error.message);
      say(
        'eUICC',
        'default notification',
        `${notificationName(n.type)} (seq ${n.seq}) to the SM-SR (an MO SMS on a real device)`,
      );
      await smsr.handleNotification(eid, e1.value);
    }
    return imsi.value;
  };
  let attached = '';
  await attach();

  // Figure 5: the operator orders profile B with enable.
  say('operator', 'ES2.DownloadProfile', `ICCID ${B.iccid} for EID ${eid}, enableProfile = true`);
  const r = await smdp.es2For({ operatorId, mnoId: MNO_ID }).downloadProfile({
    functionCallIdentifier: 'esim-demo-download',
    eid,
    smsrId: srCert.subject,
    iccid: B.iccid,
    enableProfile: true,
  });
  await pendingAttach;
  say('operator', 'DownloadProfile answered', r.functionExecutionStatus.status);
  return {
    eid,
    profileA: { iccid: A.iccid, imsi: A.imsi },
    profileB: { iccid: B.iccid, imsi: B.imsi },
    attachedImsi: attached,
    downloadStatus: r.functionExecutionStatus.status,
  };
}

const notificationName = (type: number): string =>
  Object.entries(NOTIFICATION_TYPE).find(([, v]) => v === type)?.[0] ?? `type ${type}`;

/** ES5 in-process to the one card (see the header); tells the demo about REFRESH and 3A08. */
class DemoTransport implements Es5Transport {
  segments = 0;
  constructor(
    readonly eid: string,
    readonly card: Uicc,
    readonly on: { onRefresh: () => void; onConfirmation: () => void },
  ) {}

  async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const euicc = this.card.euicc;
    if (eid !== this.eid || euicc === undefined)
      return { ok: false, code: 'ES5_NO_KEYSET', message: 'unknown eUICC' };
    const first = commands[0];
    if (
      aid !== ISD_R_AID &&
      commands.length === 1 &&
      first !== undefined &&
      [0x84, 0x85, 0x86].includes(first[0] ?? 0)
    ) {
      if (first[0] === 0x86) this.segments++;
      return { ok: true, responses: [{ data: euicc.processIsdpData(aid, first), sw: 0x9000 }] };
    }
    if (commands.some((c) => c[5] === 0x3a && c[6] === 0x08)) this.on.onConfirmation();
    const run = runIsdrScript(euicc, commandScript(commands));
    const script = decodeResponseScript(run.response);
    if (!script.ok) return { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code };
    const responses: Es5Response[] = script.value.items.flatMap((i) =>
      i.type === 'r-apdu'
        ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
        : [],
    );
    // The REFRESH comes after the answer has left (the PoR goes out first).
    if (run.refresh) setImmediate(() => this.on.onRefresh());
    return { ok: true, responses };
  }
}

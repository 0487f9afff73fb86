// `simtrust esim demo --switch` (docs/esim-switch.md §Demo): the seed's whole story on one machine —
// a product made in Japan ships with operator 1's profile enabled, roams abroad, and its customer
// switches it to a local operator 2 from operator 1's platform: SM-SR change (the seed's Figure 4,
// steps ①–⑥), then profile download and enable through operator 2's SM-DP and SM-SR (Figure 5, i–ix).
//
// Two deployments run in this process exactly as `simtrust serve` runs them (startServers: API,
// RADIUS, GSUP, the SM-SR, SM-DP and SM-SR change, the SGP.02 SOAP listener with mutual TLS on
// loopback, the SCP81 listener, the OTA SMPP link), each with its own temporary SQLite database,
// master key and operator. Operator 1 holds the CI; operator 2 trusts it and has its own SM-SR and
// SM-DP keys certified there (EsimPki request → sign → import: no private key crosses). Each takes
// the other as its partner (EsimPartners, the registry `simtrust esim partners add` writes). The
// network is a lab SMSC both OTA links bind to (MO SMS routed by the number the card sent to) and
// a roaming device: a software eUICC with operator 1's profile (a Japanese IMSI) in a modem with the
// BIP relay, camping on operator 2's cell, attached through operator 1's AuC and RADIUS.
//
// The switch is the public API's: POST /v1/sims/{eid}/switch_operator at operator 1. The demo only
// watches, from outside the roles: the commands the card runs (ISD-R APDUs, SCP03t data), the
// device's attaches, what each deployment has stored (the SM-SRs' procedure rows and EISs, the SM-DP's
// download, the notifications), the operation's steps through the API, and operator 2's SM-DP steps
// as its progress port reports them. Each step is printed as it is seen, with the time since the
// switch was asked for.

import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import pino from 'pino';
import { NOTIFICATION_TYPE } from '../card/euicc/euicc-state.js';
import type { CommandApdu } from '../card/iso-7816-4.js';
import { iccidWithCheckDigit } from '../lib/identities.js';
import { EsimPki } from '../platform/esim/ci/pki-service.js';
import { EsimPartners } from '../platform/esim/partners/partners-registry.js';
import { createOperator } from '../platform/iam/operators.js';
import { KeyRing } from '../platform/secrets/key-ring.js';
import { openStore } from '../platform/store/database.js';
import { mnoIdOf } from '../servers/esim/esim-runtime.js';
import { type RunningServers, startServers } from '../servers/runtime.js';
import { Smsc } from '../servers/smpp/smsc.js';
import { simulatedCard, simulatedImei } from '../simulator/cards.js';
import { Fleet } from '../simulator/fleet.js';
import type { Cell } from '../simulator/packet-gateway.js';
import { SmsNetwork } from '../simulator/sms-network.js';
import { configFromFlags } from './commands/serve.js';
import { issueDemoEuicc } from './demo-euicc.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface SwitchDemoStep {
  readonly n: number;
  /** '①'…'⑥' (Figure 4: SM-SR change), 'i'…'ix' (Figure 5: download and enable), '' around them. */
  readonly mark: string;
  /** Who acts: operator 1, operator 2, SM-SR1, SM-SR2, SM-DP2, eUICC, device, network. */
  readonly actor: string;
  readonly step: string;
  readonly detail: string;
  /** Milliseconds since operator 1 asked for the switch (negative: the set-up before it). */
  readonly atMs: number;
}

export interface SwitchDemoResult {
  readonly eid: string;
  readonly profileA: { readonly iccid: string; readonly imsi: string };
  readonly profileB: { readonly iccid: string; readonly imsi: string };
  /** The switch operation at operator 1 as its API shows it at the end. */
  readonly operation: {
    readonly operationId: string;
    readonly status: string;
    readonly result: unknown;
    readonly steps: readonly { name: string; state: string }[];
  };
  /** The SM-SR holding the eUICC's EIS at the end (operator 2's after a switch). */
  readonly managedBy: string | undefined;
  /** The IMSI the device attached with last, and whether it was roaming then. */
  readonly attachedImsi: string;
  readonly roaming: boolean;
  readonly steps: readonly SwitchDemoStep[];
}

/** Example PLMNs of two countries: the product's home (Japan) and where it is (MCC 310). */
const PLMN_1 = '44010';
const PLMN_2 = '310410';
const CELL: Cell = { mcc: '310', mnc: '410', tac: 0x16, eci: 0x16a0 };
const EUM_ID = '2.999.16.1';
const PROFILE_TYPE = 'simtrust-usim';
/** The whole story takes seconds; these bound a hang. */
const STORY_MS = 300_000;

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const profile = (plmn: string, tag: string) => ({
  iccid: iccidWithCheckDigit(`8916${tag}${digits(12)}`),
  imsi: `${plmn}${digits(15 - plmn.length)}`,
  msisdn: `81${tag}${digits(8)}`,
  ki: randomBytes(16).toString('hex'),
  opc: randomBytes(16).toString('hex'),
});

/** A self-signed P-256 TLS identity for the SOAP listener (what an administrator makes with openssl). */
async function tlsIdentity(commonName: string): Promise<{ keyPem: string; certificatePem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^./, '1'),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return {
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`,
    certificatePem: cert.toString('pem'),
  };
}

interface Deployment {
  readonly n: 1 | 2;
  readonly servers: RunningServers;
  readonly operatorId: string;
  readonly mnoId: string;
  readonly smsrId: string;
  readonly smdpId: string;
  readonly smsrNumber: string;
  readonly soapUrl: string;
  readonly tls: { readonly keyPem: string; readonly certificatePem: string };
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** Runs the story; `onStep` sees each step as it is seen. */
export async function runEsimSwitchDemo(
  o: { onStep?: (s: SwitchDemoStep) => void } = {},
): Promise<SwitchDemoResult> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-esim-switch-demo-'));
  const closers: Array<() => Promise<unknown>> = [];
  const steps: SwitchDemoStep[] = [];
  let switchAt: number | undefined;
  const said = new Set<string>();
  /** Prints a step once (`key`), with its time since the switch was asked for. */
  const say = (key: string, mark: string, actor: string, step: string, detail = '') => {
    if (said.has(key)) return;
    said.add(key);
    const at = Date.now();
    const s = { n: steps.length + 1, mark, actor, step, detail, atMs: at - (switchAt ?? at) };
    steps.push(s);
    o.onStep?.(s);
  };
  try {
    let network: SmsNetwork | undefined;
    const otaPasswords = { 1: randomBytes(9).toString('hex'), 2: randomBytes(9).toString('hex') };
    const smsc = await Smsc.start({
      host: '127.0.0.1',
      port: 0,
      accounts: { 'ota-1': otaPasswords[1], 'ota-2': otaPasswords[2] },
      receipt: false,
      onSimData: (m) => network?.onSimData(m),
    });
    closers.push(() => smsc.close());

    // --- two administrators prepare their deployments: database, operator, PKI -------------------
    const prepared = await Promise.all(
      ([1, 2] as const).map(async (n) => {
        const masterKey = randomBytes(32);
        const dataDir = join(dir, `operator${n}`);
        mkdirSync(dataDir, { mode: 0o700 });
        const databaseUrl = `sqlite:${join(dataDir, 'simtrust.db')}`;
        const store = await openStore(databaseUrl, { poolSize: 2 });
        const keyRing = await KeyRing.open(store, masterKey);
        const clock = { now: () => Date.now() };
        const email = `operator${n}@example.test`;
        const password = randomBytes(12).toString('base64url');
        const operator = await createOperator(store, clock, { email, password });
        return {
          n,
          masterKey,
          dataDir,
          databaseUrl,
          store,
          pki: new EsimPki(store, keyRing, clock),
          operatorId: operator.operatorId,
          email,
          password,
          smsrId: `2.999.16.3.${n}`,
          smdpId: `2.999.16.2.${n}`,
          smsrNumber: `8190000016${n}0`,
        };
      }),
    );
    const [p1, p2] = prepared as [(typeof prepared)[0], (typeof prepared)[0]];
    try {
      const ciPem = (await p1.pki.initCi({ name: 'CN=CI of the demo,O=simtrust' })).certificate;
      const eumPem = (await p1.pki.issue({ role: 'eum', operatorId: '', entityId: EUM_ID })).certificate;
      for (const role of ['sm-sr', 'sm-dp'] as const)
        await p1.pki.issue({
          role,
          operatorId: p1.operatorId,
          entityId: role === 'sm-sr' ? p1.smsrId : p1.smdpId,
        });
      await p2.pki.importCi(ciPem);
      for (const role of ['sm-sr', 'sm-dp'] as const) {
        const { request } = await p2.pki.requestCertificate({
          role,
          operatorId: p2.operatorId,
          entityId: role === 'sm-sr' ? p2.smsrId : p2.smdpId,
        });
        const signed = await p1.pki.signRequest(new Uint8Array(Buffer.from(request, 'hex')));
        await p2.pki.importCertificate(signed.certificate);
      }
      await p2.pki.importCertificate(eumPem, { entityId: EUM_ID });
    } finally {
      await p1.store.close();
      await p2.store.close();
    }
    say(
      'ci',
      '',
      'operator 1',
      'CI',
      `holds the CI; issues EUM ${EUM_ID}, its SM-SR1 ${p1.smsrId} and SM-DP1 ${p1.smdpId}`,
    );
    say(
      'ci-2',
      '',
      'operator 2',
      'certificates from the one CI',
      `trusts operator 1's CI, makes its own keys and has them certified: SM-SR2 ${p2.smsrId}, SM-DP2 ${p2.smdpId}; trusts the EUM`,
    );

    // --- both deployments, as `simtrust serve` runs them --------------------------------------------
    /** Operator 2's SM-DP steps as its progress port reports them (Figure 5). */
    let onDpStep: ((step: string, state: string) => void) | undefined;
    const deployments: Deployment[] = [];
    for (const p of [p1, p2]) {
      const tls = await tlsIdentity(`operator${p.n}.example.test`);
      const keyFile = join(p.dataDir, 'soap-key.pem');
      const certificateFile = join(p.dataDir, 'soap-cert.pem');
      writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
      writeFileSync(certificateFile, tls.certificatePem, { mode: 0o600 });
      const config = configFromFlags(
        {
          databaseUrl: p.databaseUrl,
          dataDir: p.dataDir,
          masterKey: p.masterKey.toString('base64'),
          logLevel: 'silent',
          httpHost: '127.0.0.1',
          httpPort: 0,
          deviceHttpPort: 0,
          radiusHost: '127.0.0.1',
          radiusAuthPort: 0,
          radiusAcctPort: 0,
          gsupHost: '127.0.0.1',
          gsupPort: 0,
          esimOperatorId: p.operatorId,
          esimScp81Host: '127.0.0.1',
          esimScp81Port: 0,
          esimSoapPort: 0,
          esimSoapHost: '127.0.0.1',
          esimSoapKeyFile: keyFile,
          esimSoapCertificateFile: certificateFile,
          esimSoapPartnersRefreshSeconds: 1,
          otaSmppUrl: smsc.url,
          otaSmppSystemId: `ota-${p.n}`,
          otaSmppPassword: otaPasswords[p.n],
          otaSmppSourceAddr: p.smsrNumber,
        },
        false,
      );
      const servers = await startServers(config, pino({ level: 'silent' }), async (platform) => {
        if (p.n !== 2) return;
        // Watch only: operator 2's SM-DP reports each step of its download to the operator layer.
        const ops = platform.esimOperations;
        const report = ops.report.bind(ops);
        ops.report = async (r) => {
          onDpStep?.(r.step, r.state);
          return report(r);
        };
      });
      closers.push(() => servers.close());
      const soapUrl = servers.esim?.soap?.url;
      if (soapUrl === undefined) throw new Error(`operator ${p.n}: no SOAP listener`);
      const login = await fetch(`${servers.apiUrl}/v1/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: p.email, password: p.password }),
      });
      if (login.status !== 200) throw new Error(`operator ${p.n}: login ${login.status}`);
      const { token } = (await login.json()) as { token: string };
      deployments.push({
        n: p.n,
        servers,
        operatorId: p.operatorId,
        mnoId: mnoIdOf(p.operatorId),
        smsrId: p.smsrId,
        smdpId: p.smdpId,
        smsrNumber: p.smsrNumber,
        soapUrl,
        tls,
        async call<T>(method: string, path: string, body?: unknown) {
          const res = await fetch(`${servers.apiUrl}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await res.text();
          return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
        },
      });
      say(
        `up-${p.n}`,
        '',
        `operator ${p.n}`,
        'deployment up',
        `own SQLite database and master key; API ${servers.apiUrl}, SGP.02 SOAP ${soapUrl} (mutual TLS), SCP81 :${servers.esim?.scp81Port}, RADIUS :${servers.radius?.authPort}, GSUP :${servers.gsup?.port}`,
      );
    }
    const [one, two] = deployments as [Deployment, Deployment];

    // --- partners: what `simtrust esim partners add` writes, then applied at once ----------------
    const partner = async (d: Deployment, other: Deployment, roles: ReadonlyArray<[string, string]>) => {
      const registry = new EsimPartners(d.servers.platform.store, d.servers.platform.clock);
      for (const [role, entityId] of roles)
        await registry.add({
          operatorId: d.operatorId,
          entityId,
          role,
          endpoint: other.soapUrl,
          certificatePem: other.tls.certificatePem,
        });
      await d.servers.esim?.soap?.refresh();
    };
    // Operator 1 calls operator 2's SM-SR (ES4 PrepareSMSRChange; ES7 from its SM-SR) and SM-DP (ES2).
    await partner(one, two, [
      ['sm-sr', two.smsrId],
      ['sm-dp', two.smdpId],
    ]);
    // Operator 2 takes operator 1's SM-SR (ES7) and operator 1 as an operator (ES4, ES2).
    await partner(two, one, [
      ['sm-sr', one.smsrId],
      ['operator', one.mnoId],
    ]);
    say(
      'partners',
      '',
      'operators',
      'partners',
      'each registers the other: entity ids, SOAP endpoint, pinned TLS certificate',
    );

    // --- inventories; the eUICC made by operator 1's EUM, registered at SM-SR1 -----------------------
    const A = profile(PLMN_1, '01');
    const B = profile(PLMN_2, '02');
    const created = async (d: Deployment, body: Record<string, unknown>) => {
      const r = await d.call('POST', '/v1/sims', body);
      if (r.status !== 201)
        throw new Error(`operator ${d.n}: POST /v1/sims ${r.status} ${JSON.stringify(r.body)}`);
    };
    await created(one, A);
    // Operator 2's switch pool: profiles of this type it serves to partners' switches.
    await created(two, { ...B, tags: { esimSwitchProfileType: PROFILE_TYPE } });
    const issued = await issueDemoEuicc(one.servers.platform, {
      profile: A,
      smsrId: one.smsrId,
      smsrAddress: one.smsrNumber,
      mnoId: one.mnoId,
    });
    const eid = issued.eid;
    const reg = await one.call('POST', '/v1/esim/euiccs', {
      registerEisRequest: issued.registerEisRequest,
      eumCertificate: issued.eumCertificate,
    });
    if (reg.status !== 201)
      throw new Error(`operator 1: POST /v1/esim/euiccs ${reg.status} ${JSON.stringify(reg.body)}`);
    say(
      'euicc',
      '',
      'EUM',
      'eUICC made in Japan',
      `EID ${eid}, operator 1's profile ICCID ${A.iccid} IMSI ${A.imsi} enabled; EIS registered at SM-SR1`,
    );

    // --- the device: the card watched, roaming on operator 2's cell ------------------------------------
    const card = simulatedCard(issued.file);
    const euicc = card.uicc.euicc;
    if (euicc === undefined) throw new Error('not an eUICC');
    let segments = 0;
    const isdr = euicc.processIsdr.bind(euicc);
    const isdp = euicc.processIsdpData.bind(euicc);
    euicc.processIsdr = (c, fx) => {
      const r = isdr(c, fx);
      if (switchAt !== undefined) onCard(isdrCommandName(c), r.sw);
      return r;
    };
    euicc.processIsdpData = (aid, data) => {
      const answer = isdp(aid, data);
      if (switchAt !== undefined && data[0] === 0x86) segments++;
      return answer;
    };
    network = new SmsNetwork({
      systemId: 'ota-1',
      moRoutes: { [one.smsrNumber]: 'ota-1', [two.smsrNumber]: 'ota-2' },
      subscribers: [
        { imsi: A.imsi, msisdn: A.msisdn },
        { imsi: B.imsi, msisdn: B.msisdn, card: A.imsi },
      ],
    });
    const attaches: { imsi: string; roaming: boolean }[] = [];
    let onFleet: ((kind: string, imsi: string, roaming: boolean) => void) | undefined;
    const coreOf = (d: Deployment) => ({
      gsup: { host: '127.0.0.1', port: d.servers.gsup?.port ?? 0 },
      radius: {
        host: '127.0.0.1',
        authPort: d.servers.radius?.authPort ?? 0,
        acctPort: d.servers.radius?.acctPort ?? 0,
        secret: randomBytes(12).toString('hex'),
      },
      nasAddress: '127.0.0.1',
    });
    const core1 = { ...coreOf(one), nasAddress: '127.0.16.1' };
    const core2 = { ...coreOf(two), nasAddress: '127.0.16.2' };
    const fleet = await Fleet.open({
      devices: [{ card, imei: simulatedImei(1616), cell: CELL }],
      ...core2,
      homeNetworks: [{ imsiPrefix: PLMN_1, ...core1 }],
      retrySeconds: 60,
      attachSpreadMs: 0,
      onCardSms: network.onCardSms,
      bip: { allow: (host) => host === '127.0.0.1' },
      log: (e) => {
        if (e.kind === 'attached') {
          attaches.push({ imsi: e.imsi, roaming: e.roaming !== undefined });
          onFleet?.('attached', e.imsi, e.roaming !== undefined);
        } else if (e.kind === 'refreshed') onFleet?.('refreshed', e.imsi, false);
        else if (e.kind === 'rejected') onFleet?.('rejected', e.imsi, false);
      },
    });
    closers.push(async () => {
      await fleet.stop();
      network?.close();
    });
    network.connect(fleet, smsc);
    for (const [d, c, imsi] of [
      [one, core1, A.imsi],
      [two, core2, B.imsi],
    ] as const) {
      const r = await d.call('POST', '/v1/radius_clients', {
        address: c.nasAddress,
        secret: c.radius.secret,
        coaPort: fleet.coaPortOf(imsi),
        name: 'visited network packet gateway',
      });
      if (r.status !== 201) throw new Error(`operator ${d.n}: POST /v1/radius_clients ${r.status}`);
    }
    fleet.start();
    const db1 = one.servers.platform.store.db;
    const db2 = two.servers.platform.store.db;
    const until = async (what: string, check: () => boolean | Promise<boolean>) => {
      const deadline = Date.now() + STORY_MS;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`the demo gave up waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await until('the device attached with profile A', () => attaches.some((a) => a.imsi === A.imsi));
    say(
      'attached-a',
      '',
      'device',
      `attached as IMSI ${A.imsi}, roaming`,
      `camps on operator 2's cell (${CELL.mcc}-${CELL.mnc}); authenticated at operator 1's AuC, session at operator 1's RADIUS`,
    );
    // The eUICC's first notification (its declaration) is confirmed; nothing runs on it.
    await until('operator 1 idle on the eUICC', async () => {
      const running = await db1
        .selectFrom('esim_sr_procedures')
        .select('function')
        .where('active_eid', '=', eid)
        .execute();
      return running.length === 0 && euicc.snapshot().notifications.length === 0;
    });

    // --- the watchers ----------------------------------------------------------------------------------
    let downloading = false;
    const fig4 = {
      one: () =>
        say(
          'f4-1',
          '①',
          'SM-SR1 → SM-SR2',
          'HandoverEUICC: the EIS',
          "SMSRChange from operator 1; SM-SR2 checks the EUM's signature and CERT.ECASD → EUM → CI: it authenticates the eUICC",
        ),
      five: () => {
        fig4.one();
        say(
          'f4-5',
          '⑤',
          'SM-SR2',
          'EIS registered at SM-SR2',
          'the receipt verified (the commit point): SM-SR2 manages the eUICC from now on, with its own key set only',
        );
      },
    };
    const onCard = (name: string, sw: number) => {
      const ok = sw === 0x9000;
      if (!downloading) {
        if (name === 'STORE DATA 3A01' && !said.has('f4-5')) {
          fig4.one();
          say(
            'f4-2',
            '②',
            'SM-SR2 → SM-SR1 → ISD-R',
            'AuthenticateSMSR',
            `CERT.SR2 relayed by SM-SR1 (STORE DATA 3A01): the eUICC verifies it under PK.CI${ok ? ', random challenge back' : ` — refused ${sw.toString(16)}`}`,
          );
        } else if (name === 'STORE DATA 3A02' && !said.has('f4-5')) {
          fig4.one();
          say(
            'f4-3',
            '③',
            'SM-SR2 → SM-SR1 → ISD-R',
            'CreateAdditionalKeySet',
            `ePK.SR2 signed, relayed (STORE DATA 3A02); ECKA-EG on the card: SM-SR2's SCP80 key set and the receipt${ok ? '' : ` — refused ${sw.toString(16)}`}`,
          );
        } else if (name === 'FinaliseISDRhandover') {
          fig4.five();
          say(
            'f4-4',
            '④',
            'SM-SR2 → ISD-R',
            'FinaliseISDRhandover',
            "under SM-SR2's new key set: SM-SR1's key sets deleted on the card",
          );
        } else if (name === 'STORE DATA 3A07')
          say(
            'f4-addr',
            '',
            'SM-SR2 → ISD-R',
            'UpdateSMSRAddressingParameters',
            "the card's notifications go to SM-SR2's number from now on",
          );
        else if (said.has('f4-5') && (name === 'STORE DATA 3A01' || name === 'STORE DATA 3A02'))
          say(
            'f4-scp81',
            '',
            'SM-SR2 → ISD-R',
            'SCP81 key set',
            "EstablishISDRKeySet again under SM-SR2's key set: its PSK for HTTPS",
          );
        return;
      }
      if (name === 'STORE DATA 3A03')
        say(
          'f5-7',
          'vii',
          'SM-SR2 → ISD-R',
          'EnableProfile (3A03)',
          "operator 2's profile enabled on the card",
        );
      if (name === 'STORE DATA 3A08' && said.has('f5-9'))
        say('f5-9c', '', 'SM-SR2 → ISD-R', 'notification confirmed (3A08)', 'the eUICC stops sending it');
    };
    onDpStep = (step, state) => {
      if (state !== 'succeeded' && !(step === 'EnableProfile' && state === 'running')) return;
      downloading = true;
      const row: Record<string, [string, string, string, string]> = {
        VerifyECASDCertificate: [
          'i',
          'SM-DP2',
          'DownloadProfile received; GetEIS and checks',
          'the EIS from SM-SR2 (GetEIS); CERT.ECASD → EUM → CI, memory, no profile with this ICCID',
        ],
        CreateISDP: ['ii', 'SM-DP2 → SM-SR2 → ISD-R', 'CreateISDP', 'a new ISD-P for the profile'],
        'EstablishISDPKeySet:certificate': [
          'iii',
          'SM-DP2 → ISD-P',
          'the eUICC authenticates SM-DP2',
          'CERT.DP2 (3A01) verified under PK.CI, random challenge back',
        ],
        'EstablishISDPKeySet:keyAgreement': [
          'iv',
          'SM-DP2 → ISD-P',
          'key establishment',
          'ePK.DP2 signed (3A02), ECKA-EG on both ends, receipt verified: the ISD-P SCP03 keys',
        ],
        DownloadAndInstallation: [
          'v',
          'SM-DP2 → ISD-P',
          'download and installation',
          `the profile package in SCP03t (${segments} segment${segments === 1 ? '' : 's'}), installed by the ISD-P`,
        ],
        ProfileDownloadCompleted: [
          'vi',
          'SM-DP2 → SM-SR2',
          'ProfileDownloadCompleted',
          "SM-SR2's EIS records operator 2's profile (Disabled)",
        ],
      };
      const r = row[step];
      if (r !== undefined) say(`f5-${step}`, r[0], r[1], r[2], r[3]);
    };
    onFleet = (kind, imsi, roaming) => {
      if (switchAt === undefined) return;
      if (kind === 'refreshed' && imsi === B.imsi)
        say(
          'f5-8',
          'viii',
          'ISD-R → device',
          'REFRESH',
          'the device restarts the card and reads the new IMSI',
        );
      if (kind === 'attached' && imsi === B.imsi)
        say(
          'f5-8a',
          '',
          'device',
          `attached as IMSI ${imsi}${roaming ? ', roaming' : ', at home'}`,
          "location registration with operator 2's profile: operator 2's AuC and RADIUS",
        );
    };

    // --- the switch, from operator 1's API -------------------------------------------------------------
    switchAt = Date.now();
    const asked = await one.call<{ operationId: string }>('POST', `/v1/sims/${eid}/switch_operator`, {
      targetSmsrId: two.smsrId,
      targetSmdpId: two.smdpId,
      profileType: PROFILE_TYPE,
    });
    if (asked.status !== 202)
      throw new Error(
        `operator 1: POST /v1/sims/${eid}/switch_operator ${asked.status} ${JSON.stringify(asked.body)}`,
      );
    say(
      'switch',
      '',
      'operator 1',
      'POST /v1/sims/{eid}/switch_operator',
      `target SM-SR2 ${two.smsrId}, SM-DP2 ${two.smdpId}, profile type ${PROFILE_TYPE}: operation ${asked.body.operationId}`,
    );
    type Op = SwitchDemoResult['operation'];
    let operation: Op | undefined;
    const seenOpSteps = new Set<string>();
    await until('the story to end', async () => {
      // SM-SR1 → SM-SR2: the take-over accepted the EIS (its row past 'prepared').
      const takeOver = await db2
        .selectFrom('esim_sr_procedures')
        .select('step')
        .where('eid', '=', eid)
        .where('function', '=', 'ReceiveSMSRChange')
        .execute();
      if (takeOver.some((t) => t.step !== 'prepared' && t.step !== 'started')) fig4.one();
      const eis2 = await db2
        .selectFrom('esim_sr_eis')
        .select('smsr_id')
        .where('eid', '=', eid)
        .executeTakeFirst();
      if (eis2 !== undefined) fig4.five();
      const eis1 = await db1
        .selectFrom('esim_sr_eis')
        .select('eid')
        .where('eid', '=', eid)
        .executeTakeFirst();
      if (eis1 === undefined && said.has('f4-5'))
        say(
          'f4-6',
          '⑥',
          'SM-SR1',
          'EIS deleted at SM-SR1',
          'SM-SR1 can no longer reach the eUICC (its key sets are gone from the card too)',
        );
      const notified = await db2
        .selectFrom('esim_sr_notifications')
        .select('type')
        .where('eid', '=', eid)
        .where('type', '=', NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED)
        .executeTakeFirst();
      if (notified !== undefined)
        say(
          'f5-9',
          'ix',
          'ISD-R → SM-SR2',
          'profile change notification (type 02)',
          "sent once the new profile registered; SM-SR2's EIS: operator 2's profile Enabled",
        );
      const op = await one.call<Op>('GET', `/v1/esim/operations/${asked.body.operationId}`);
      operation = op.body;
      for (const st of op.body.steps ?? []) {
        const key = `${st.name}:${st.state}`;
        if (seenOpSteps.has(key) || st.state === 'running') continue;
        seenOpSteps.add(key);
        say(
          `op-${key}`,
          '',
          'operator 1',
          `${st.name} ${st.state}`,
          'a step of the switch operation, as the API shows it',
        );
      }
      const ended = op.body.status !== 'running';
      const attachedB = attaches.some((a) => a.imsi === B.imsi);
      return ended && (op.body.status !== 'succeeded' || (attachedB && said.has('f5-9') && said.has('f4-6')));
    });

    // --- after: who may address the eUICC ----------------------------------------------------------------
    const refused = await one.call<{ code?: string }>('POST', `/v1/sims/${eid}/profiles/audit`);
    say(
      'refused',
      '',
      'operator 1',
      'addresses the eUICC',
      `POST /v1/sims/{eid}/profiles/audit → ${refused.status} ${refused.body?.code ?? ''}: handed over to operator 2`,
    );
    const atTwo = await two.call<{ activeProfileId?: string | null }>('GET', `/v1/sims/${eid}`);
    say(
      'inventory-2',
      '',
      'operator 2',
      'inventory',
      `GET /v1/sims/{eid} → ${atTwo.status}, active profile ${atTwo.body?.activeProfileId ?? '(none)'}`,
    );
    const managedBy = (
      await db2.selectFrom('esim_sr_eis').select('smsr_id').where('eid', '=', eid).executeTakeFirst()
    )?.smsr_id;
    const last = attaches.at(-1);
    return {
      eid,
      profileA: { iccid: A.iccid, imsi: A.imsi },
      profileB: { iccid: B.iccid, imsi: B.imsi },
      operation: operation as Op,
      managedBy,
      attachedImsi: last?.imsi ?? '',
      roaming: last?.roaming ?? false,
      steps,
    };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The name of an ISD-R command the card just ran, for the figure's steps. */
export function isdrCommandName(c: CommandApdu): string {
  if (c.ins === 0xe6) return c.p1 === 0x20 ? 'INSTALL-personalization' : 'CreateISDP';
  if (c.ins === 0xe4) return c.data[0] === 0xf2 ? 'FinaliseISDRhandover' : 'DeleteProfile';
  if (c.ins === 0xe2) {
    const dgi = (((c.data[0] ?? 0) << 8) | (c.data[1] ?? 0)).toString(16).toUpperCase().padStart(4, '0');
    return `STORE DATA ${dgi}`;
  }
  return `INS ${c.ins.toString(16).toUpperCase()}`;
}

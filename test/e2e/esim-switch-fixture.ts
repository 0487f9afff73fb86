// Two operators, two deployments, one roaming device (issue 16): the lab for the carrier switch.
//
// Each operator runs its own `simtrust serve` in a child process — its own database (SQLite or
// PostgreSQL), master key, operator, SM-SR and SM-DP GP certificates, SGP.02 SOAP listener with
// mutual TLS on loopback (its own TLS certificate), SCP81 listener, RADIUS, GSUP (AuC) and OTA SMPP
// link — and the two are set up the way two administrators would, through the public CLI and API
// only:
//
//   operator 1 (holds the CI)                      operator 2
//   admin operators create                          admin operators create
//   esim ci init; esim certs issue eum/sm-sr/sm-dp  esim ci import (operator 1's `ci show --pem`)
//   esim certs sign (operator 2's requests)   ◀──   esim certs request sm-sr / sm-dp
//                                             ──▶   esim certs import (the answers; the EUM's PEM)
//   serve (SOAP, SCP81, RADIUS, GSUP, OTA)          serve (the same)
//   esim partners add: operator 2's SM-SR, SM-DP    esim partners add: operator 1's SM-SR, SM-DP
//   POST /v1/sims (profile A), /v1/radius_clients   POST /v1/sims (its profile), /v1/radius_clients
//   POST /v1/esim/euiccs (the eUICC's EIS)
//
// In the test process: the lab SMSC both OTA links bind to (accounts ota-1, ota-2; MO SMS routed by
// the number the card sent to), and the device — a software eUICC made by operator 1's EUM (the
// factory: the deployment's platform opened in-process once, before its server runs) with profile A
// (operator 1's IMSI, MCC 440) enabled, in a modem with the BIP relay, camping on a cell of operator
// 2's country (MCC 310). The visited network is operator 2's: the device's attach goes to operator 1's
// AuC and RADIUS by its IMSI (roaming, Fleet homeNetworks) until its IMSI is operator 2's.
//
// Entity ids sit under the example arc 2.999.16 (issue 16): EUM 2.999.16.1, SM-DP n 2.999.16.2.n,
// SM-SR n 2.999.16.3.n. The PLMNs are examples of two countries, not real operators' data.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueDemoEuicc } from '../../src/cli/demo-euicc.js';
import { iccidWithCheckDigit } from '../../src/lib/identities.js';
import { openPlatform } from '../../src/platform/platform.js';
import { mnoIdOf } from '../../src/servers/esim/esim-runtime.js';
import { Smsc } from '../../src/servers/smpp/smsc.js';
import { type SimulatedCard, simulatedCard, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import type { Cell } from '../../src/simulator/packet-gateway.js';
import { type SimDataMessage, SmsNetwork } from '../../src/simulator/sms-network.js';
import { waitFor } from '../helpers/anti-theft.js';
import { testConfig } from '../helpers/app.js';
import { runCli, type ServerProcess, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';
import { issueTlsIdentity, type TlsIdentity } from '../servers/esim/tls-fixtures.js';

/** Operator 1's home network (Japan, the product's home) and operator 2's (where the device is). */
export const PLMN_1 = { mcc: '440', mnc: '10' } as const;
export const PLMN_2 = { mcc: '310', mnc: '410' } as const;
/** The cell the device camps on: operator 2's network. */
export const VISITED_CELL: Cell = { mcc: PLMN_2.mcc, mnc: PLMN_2.mnc, tac: 0x16, eci: 0x16a0 };
export const EUM_ID = '2.999.16.1';
/** The profile type operator 2 offers for switches (its SIMs tagged esimSwitchProfileType). */
export const PROFILE_TYPE = 'simtrust-usim';
/** Settling bounds: a procedure over SMS and HTTPS takes about a second; the machine is loaded. */
export const SETTLE_MS = 90_000;

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

export interface Profile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string;
  readonly ki: string;
  readonly opc: string;
}

const newProfile = (plmn: { mcc: string; mnc: string }, tag: string): Profile => {
  const prefix = `${plmn.mcc}${plmn.mnc}`;
  return {
    iccid: iccidWithCheckDigit(`8916${tag}${digits(12)}`),
    imsi: `${prefix}${digits(15 - prefix.length)}`,
    msisdn: `81${tag}${digits(8)}`,
    ki: randomBytes(16).toString('hex'),
    opc: randomBytes(16).toString('hex'),
  };
};

export interface Deployment {
  readonly n: 1 | 2;
  readonly dialect: 'sqlite' | 'postgres';
  readonly databaseUrl: string;
  /** SIMTRUST_DATABASE_URL and SIMTRUST_MASTER_KEY: what its administrator's CLI runs with. */
  readonly env: Readonly<Record<string, string>>;
  readonly operator: { readonly operatorId: string; readonly email: string; readonly password: string };
  /** Its MNO id as its own SM-SR and SM-DP know the operator. */
  readonly mnoId: string;
  readonly smsrId: string;
  readonly smdpId: string;
  /** The SM-SR's SMS number: the OTA link's source address, where its eUICCs' SMS go. */
  readonly smsrNumber: string;
  readonly otaSystemId: string;
  readonly tls: TlsIdentity;
  readonly tlsCertificateFile: string;
  /** The `simtrust serve` process running now (another one after restart()). */
  readonly server: ServerProcess;
  readonly soapUrl: string;
  /** A call to its API as its operator. */
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** `simtrust …` as its administrator (exit 0 expected; stdout). */
  cli(args: readonly string[]): Promise<string>;
  /** SIGKILL of its serve process: nothing of it runs to an end, its database stays as it was. */
  kill(): Promise<void>;
  /**
   * `simtrust serve` again on the same database and key, every listener on the port it had (partners
   * and the device's network know those), logged in again.
   */
  restart(): Promise<void>;
  /** The last lines its serve processes printed (for a failure's message). */
  logTail(): string;
  /** How many lines its serve processes printed so far; logSince(mark): the lines after it. */
  logMark(): number;
  logSince(mark: number): readonly string[];
}

export interface CoreEndpoints {
  readonly gsup: { readonly host: string; readonly port: number };
  readonly radius: {
    readonly host: string;
    readonly authPort: number;
    readonly acctPort: number;
    readonly secret: string;
  };
  readonly nasAddress: string;
}

export interface SwitchLab {
  readonly one: Deployment;
  readonly two: Deployment;
  readonly eid: string;
  /** Operator 1's profile, enabled on the eUICC as it leaves the factory. */
  readonly profileA: Profile;
  /** Operator 2's profile for this device (in operator 2's inventory). */
  readonly profileB: Profile;
  readonly card: SimulatedCard;
  readonly fleet: Fleet;
  readonly events: readonly FleetEvent[];
  readonly smsc: Smsc;
  /** The packet gateway's and the visited network's view of each operator's AAA and AuC. */
  readonly cores: {
    readonly one: CoreEndpoints;
    readonly two: CoreEndpoints;
  };
  /** Every MT SIM data message the SMSC carried: the sending SM-SR's number and the card's. */
  readonly mt: readonly { readonly source: string; readonly destination: string }[];
  /** The radio between the SMSC and the device, as the failure tests cut it. */
  readonly radio: Radio;
  /** The device attached with this IMSI after event index `from`. */
  attachedAs(imsi: string, from?: number): Promise<FleetEvent>;
  close(): Promise<void>;
}

/**
 * Test-only: the lab's radio leg for MT SIM data (SMSC → device). `cut(source, 'drop')` loses every
 * SMS from that number — the device out of coverage, as the SM-SR cannot tell it from a switched-off
 * one — and `cut(source, 'hold')` keeps them back in order, so a test can stop a procedure exactly
 * where its next message to the card is due (an HTTPS script needs the push SMS first, so this
 * gates both bearers). `restore()` lets SMS through again, the held ones delivered or dropped.
 */
export interface Radio {
  cut(source: string, mode: 'hold' | 'drop'): void;
  restore(o?: { deliverHeld?: boolean }): void;
  /** Held now, and dropped since the lab started (source and destination numbers). */
  readonly held: readonly { readonly source: string; readonly destination: string }[];
  readonly dropped: readonly { readonly source: string; readonly destination: string }[];
}

/** Serve's environment for the lab beyond the database and key (extraEnv: e.g. the switch's validity). */
export interface SwitchLabOptions {
  readonly env?: Readonly<Record<string, string>>;
}

const tmp = mkdtempSync(join(tmpdir(), 'simtrust-switch-'));

/** Operator n's database, key and operator, through `simtrust admin`. */
async function prepare(n: 1 | 2, dialect: 'sqlite' | 'postgres') {
  const db = freshDatabaseUrl(dialect);
  const env = { SIMTRUST_DATABASE_URL: db.url, SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64') };
  const cli = async (args: readonly string[]) => {
    const r = await runCli([...args], env);
    if (r.code !== 0) throw new Error(`operator ${n}: simtrust ${args.join(' ')} → ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const email = `operator${n}-${randomBytes(3).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const created = JSON.parse(
    await cli(['admin', 'operators', 'create', '--email', email, '--password', password]),
  ) as { operatorId: string };
  const file = (name: string, text: string) => {
    const path = join(tmp, `${n}-${randomBytes(4).toString('hex')}-${name}`);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  return {
    n,
    dialect,
    db,
    env,
    cli,
    file,
    operator: { operatorId: created.operatorId, email, password },
    smsrId: `2.999.16.3.${n}`,
    smdpId: `2.999.16.2.${n}`,
    smsrNumber: `8190000016${n}0`,
    otaSystemId: `ota-${n}`,
  };
}

type Prepared = Awaited<ReturnType<typeof prepare>>;

/** Operator 1: the CI, the EUM of its eUICCs, its SM-SR and SM-DP certificates. */
async function pkiOfOne(d: Prepared): Promise<{ ciPem: string; eumPem: string }> {
  await d.cli(['esim', 'ci', 'init']);
  const eum = JSON.parse(await d.cli(['esim', 'certs', 'issue', '--role', 'eum', '--entity-id', EUM_ID])) as {
    certificate: string;
  };
  for (const [role, id] of [
    ['sm-sr', d.smsrId],
    ['sm-dp', d.smdpId],
  ] as const)
    await d.cli([
      'esim',
      'certs',
      'issue',
      '--role',
      role,
      '--operator-id',
      d.operator.operatorId,
      '--entity-id',
      id,
    ]);
  return { ciPem: await d.cli(['esim', 'ci', 'show', '--pem']), eumPem: eum.certificate };
}

/** Operator 2: trusts operator 1's CI, has its own keys certified there, trusts the EUM. */
async function pkiOfTwo(d: Prepared, one: Prepared, fromOne: { ciPem: string; eumPem: string }) {
  await d.cli(['esim', 'ci', 'import', '--certificate', d.file('ci.pem', fromOne.ciPem)]);
  for (const [role, id] of [
    ['sm-sr', d.smsrId],
    ['sm-dp', d.smdpId],
  ] as const) {
    const request = await d.cli([
      'esim',
      'certs',
      'request',
      '--role',
      role,
      '--operator-id',
      d.operator.operatorId,
      '--entity-id',
      id,
      '--pem',
    ]);
    const answer = await one.cli([
      'esim',
      'certs',
      'sign',
      '--request',
      one.file(`${role}.req`, request),
      '--pem',
    ]);
    await d.cli(['esim', 'certs', 'import', '--certificate', d.file(`${role}.cert`, answer)]);
  }
  await d.cli([
    'esim',
    'certs',
    'import',
    '--certificate',
    d.file('eum.pem', fromOne.eumPem),
    '--entity-id',
    EUM_ID,
  ]);
}

/** The lines a deployment's serve processes printed (both streams); the last 2,000 are kept. */
class LogLines {
  readonly #lines: string[] = [];
  /** Lines printed before the first one kept. */
  #dropped = 0;

  follow(server: ServerProcess): void {
    let partial = '';
    const keep = (chunk: unknown) => {
      const parts = (partial + String(chunk)).split('\n');
      partial = parts.pop() ?? '';
      this.add(...parts.filter((l) => l !== ''));
    };
    server.child.stdout?.on('data', keep);
    server.child.stderr?.on('data', keep);
  }

  add(...lines: string[]): void {
    this.#lines.push(...lines);
    const over = this.#lines.length - 2_000;
    if (over > 0) {
      this.#lines.splice(0, over);
      this.#dropped += over;
    }
  }

  get mark(): number {
    return this.#dropped + this.#lines.length;
  }

  since(mark: number): readonly string[] {
    return this.#lines.slice(Math.max(0, mark - this.#dropped));
  }

  tail(n = 300): string {
    return this.#lines.slice(-n).join('\n');
  }
}

/**
 * `simtrust serve` for the deployment, every listener on a port the system picks; restart() starts it
 * again on the ports the first start got.
 */
async function serve(
  d: Prepared,
  smsc: Smsc,
  tls: TlsIdentity,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<Deployment> {
  const keyFile = d.file('soap-key.pem', tls.keyPem);
  const certificateFile = d.file('soap-cert.pem', tls.certificatePem);
  const env: Record<string, string> = {
    ...d.env,
    SIMTRUST_GSUP_PORT: '0',
    SIMTRUST_ESIM_OPERATOR_ID: d.operator.operatorId,
    SIMTRUST_ESIM_SCP81_PORT: '0',
    SIMTRUST_ESIM_SOAP_PORT: '0',
    SIMTRUST_ESIM_SOAP_HOST: '127.0.0.1',
    SIMTRUST_ESIM_SOAP_KEY_FILE: keyFile,
    SIMTRUST_ESIM_SOAP_CERTIFICATE_FILE: certificateFile,
    SIMTRUST_ESIM_SOAP_PARTNERS_REFRESH_SECONDS: '1',
    SIMTRUST_OTA_SMPP_URL: smsc.url,
    SIMTRUST_OTA_SMPP_SYSTEM_ID: d.otaSystemId,
    SIMTRUST_OTA_SMPP_PASSWORD: `${d.otaSystemId}-secret`,
    SIMTRUST_OTA_SMPP_SOURCE_ADDR: d.smsrNumber,
    ...extraEnv,
  };
  const lines = new LogLines();
  let server = await startServeProcess(env);
  lines.follow(server);
  const soapUrl = server.esim?.soapUrl;
  const { radius, gsup } = server;
  const scp81Port = server.esim?.scp81Port;
  if (soapUrl === undefined || radius === undefined || gsup === undefined || scp81Port === undefined) {
    await server.stop('SIGKILL');
    throw new Error(`operator ${d.n}: serve reported no SOAP, SCP81, RADIUS or GSUP listener`);
  }
  // A restart listens where partners and the device's network reach it.
  const sameEnv = {
    ...env,
    SIMTRUST_GSUP_PORT: String(gsup.port),
    SIMTRUST_RADIUS_AUTH_PORT: String(radius.authPort),
    SIMTRUST_RADIUS_ACCT_PORT: String(radius.acctPort),
    SIMTRUST_ESIM_SOAP_PORT: new URL(soapUrl).port,
    SIMTRUST_ESIM_SCP81_PORT: String(scp81Port),
  };
  const login = async () => {
    const res = await fetch(`${server.apiUrl}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: d.operator.email, password: d.operator.password }),
    });
    if (res.status !== 200) throw new Error(`operator ${d.n}: login ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };
  let token = await login();
  return {
    n: d.n,
    dialect: d.dialect,
    databaseUrl: d.db.url,
    env: d.env,
    operator: d.operator,
    mnoId: mnoIdOf(d.operator.operatorId),
    smsrId: d.smsrId,
    smdpId: d.smdpId,
    smsrNumber: d.smsrNumber,
    otaSystemId: d.otaSystemId,
    tls,
    tlsCertificateFile: certificateFile,
    get server() {
      return server;
    },
    soapUrl,
    cli: d.cli,
    async call<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${server.apiUrl}${path}`, {
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
    kill: () => server.stop('SIGKILL'),
    async restart() {
      await server.stop('SIGKILL');
      lines.add(`--- operator ${d.n}: serve restarted ---`);
      server = await startServeProcess(sameEnv);
      lines.follow(server);
      if (server.esim?.soapUrl !== soapUrl)
        throw new Error(`operator ${d.n}: restarted on ${server.esim?.soapUrl}, not ${soapUrl}`);
      token = await login();
    },
    logTail: () => lines.tail(),
    logMark: () => lines.mark,
    logSince: (mark) => lines.since(mark),
  };
}

/**
 * `partner`'s SM-SR and SM-DP as partners of `d` (`simtrust esim partners add`: entity id, role,
 * endpoint, the TLS certificate it presents), then until `d`'s listener has picked them up (its
 * partners refresh): a mutual-TLS request from the partner's identity is no longer refused 403.
 */
export async function addPartners(
  d: Deployment,
  partner: Deployment,
  roles: ReadonlyArray<{ role: 'sm-sr' | 'sm-dp' | 'operator'; entityId: string }>,
): Promise<void> {
  const mark = d.logMark();
  for (const r of roles)
    await d.cli([
      'esim',
      'partners',
      'add',
      '--operator-id',
      d.operator.operatorId,
      '--role',
      r.role,
      '--entity-id',
      r.entityId,
      '--soap-url',
      partner.soapUrl,
      '--certificate',
      partner.tlsCertificateFile,
    ]);
  await waitFor(
    `operator ${d.n}'s SOAP listener to accept operator ${partner.n}`,
    () => soapStatusFrom(partner.tls, d),
    (status) => status !== 403,
    SETTLE_MS,
  );
  // …in every role added: a refresh reads the registry between two adds as well, so the listener
  // may take the certificate before its last role; its log names the roles of each refresh.
  const wanted = roles.map((r) => `${r.role}:${r.entityId}`);
  await waitFor(
    `operator ${d.n}'s SOAP listener to take ${wanted.join(', ')}`,
    () => d.logSince(mark).some((line) => wanted.every((w) => partnersOfLine(line).includes(w))),
    (taken) => taken,
    SETTLE_MS,
  );
}

/** The partners (role:entity id) a listener's "eSIM partners changed" log line names. */
function partnersOfLine(line: string): readonly string[] {
  if (!line.includes('eSIM partners changed')) return [];
  try {
    const partners = (JSON.parse(line) as { partners?: unknown }).partners;
    return Array.isArray(partners) ? partners.map(String) : [];
  } catch {
    return [];
  }
}

/**
 * The HTTP status `d`'s SOAP listener answers an empty POST from the holder of `identity` with:
 * 403 before the body is read for a party that is not its partner, a SOAP fault otherwise.
 */
export function soapStatusFrom(identity: TlsIdentity, d: Deployment): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      d.soapUrl,
      {
        method: 'POST',
        key: identity.keyPem,
        cert: identity.certificatePem,
        // The listener's own certificate is the one pinned for it (as a partner pins it).
        ca: d.tls.certificatePem,
        headers: { 'content-type': 'text/xml; charset=utf-8', 'content-length': '0' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Stops a deployment's serve as its administrator would (SIGTERM), and SIGKILLs it if it is still
 * running after 30 s — its shutdown may wait for a partner or card that a failure case left hanging —
 * so no serve outlives the lab.
 */
async function shutDown(d: Deployment): Promise<void> {
  const server = d.server;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 30_000);
  });
  try {
    if ((await Promise.race([server.stop(), late])) === 'late') await server.stop('SIGKILL');
  } finally {
    clearTimeout(timer);
  }
}

export async function startSwitchLab(
  dialects: readonly ['sqlite' | 'postgres', 'sqlite' | 'postgres'],
  options: SwitchLabOptions = {},
): Promise<SwitchLab> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    // --- the network's SMSC: both OTA links bind here; MO SMS go to the number's ESME --------------
    const mt: { source: string; destination: string }[] = [];
    let network: SmsNetwork | undefined;
    const cuts = new Map<string, 'hold' | 'drop'>();
    const held: SimDataMessage[] = [];
    const dropped: { source: string; destination: string }[] = [];
    const radio: Radio = {
      cut: (source, mode) => {
        cuts.set(source, mode);
      },
      restore: (o = {}) => {
        cuts.clear();
        const release = held.splice(0);
        if (o.deliverHeld === true) for (const m of release) network?.onSimData(m);
        else dropped.push(...release.map((m) => ({ source: m.source, destination: m.destination })));
      },
      held,
      dropped,
    };
    const smsc = await Smsc.start({
      host: '127.0.0.1',
      port: 0,
      accounts: { 'ota-1': 'ota-1-secret', 'ota-2': 'ota-2-secret' },
      receipt: false,
      onSimData: (m) => {
        mt.push({ source: m.source, destination: m.destination });
        const cut = cuts.get(m.source);
        if (cut === 'hold') held.push(m);
        else if (cut === 'drop') dropped.push({ source: m.source, destination: m.destination });
        else network?.onSimData(m);
      },
    });
    cleanups.push(() => smsc.close());

    // --- two administrators, two databases, one CI ------------------------------------------------
    const [p1, p2] = await Promise.all([prepare(1, dialects[0]), prepare(2, dialects[1])]);
    cleanups.push(
      () => p1.db.drop(),
      () => p2.db.drop(),
    );
    const fromOne = await pkiOfOne(p1);
    await pkiOfTwo(p2, p1, fromOne);

    // --- the factory: operator 1's EUM makes the eUICC with profile A (before the server runs) ----
    const profileA = newProfile(PLMN_1, '01');
    const profileB = newProfile(PLMN_2, '02');
    const masterKey = Buffer.from(p1.env.SIMTRUST_MASTER_KEY as string, 'base64');
    const factory = await openPlatform(testConfig({ databaseUrl: p1.db.url, masterKey }), { masterKey });
    let issued: Awaited<ReturnType<typeof issueDemoEuicc>>;
    try {
      issued = await issueDemoEuicc(factory, {
        profile: profileA,
        smsrId: p1.smsrId,
        smsrAddress: p1.smsrNumber,
        mnoId: mnoIdOf(p1.operator.operatorId),
      });
    } finally {
      await factory.close();
    }

    // --- both servers; each takes the other as its partner ----------------------------------------
    const [tls1, tls2] = await Promise.all([
      issueTlsIdentity('operator1.sm-sr'),
      issueTlsIdentity('operator2.sm-sr'),
    ]);
    const one = await serve(p1, smsc, tls1, options.env);
    cleanups.push(() => shutDown(one));
    const two = await serve(p2, smsc, tls2, options.env);
    cleanups.push(() => shutDown(two));
    // One TLS certificate per deployment, registered in each role the other deployment plays: at
    // operator 1, operator 2's SM-SR (ES4 PrepareSMSRChange, ES7) and SM-DP (ES2 DownloadProfile);
    // at operator 2, operator 1's SM-SR (ES7) and operator 1 as an operator (ES4, ES2).
    await addPartners(one, two, [
      { role: 'sm-sr', entityId: two.smsrId },
      { role: 'sm-dp', entityId: two.smdpId },
    ]);
    await addPartners(two, one, [
      { role: 'sm-sr', entityId: one.smsrId },
      { role: 'operator', entityId: one.mnoId },
    ]);

    // --- inventories and the eUICC, through each operator's API -----------------------------------
    const created = async (d: Deployment, p: Profile, tags?: Record<string, string>) => {
      const r = await d.call('POST', '/v1/sims', {
        iccid: p.iccid,
        imsi: p.imsi,
        msisdn: p.msisdn,
        ki: p.ki,
        opc: p.opc,
        ...(tags === undefined ? {} : { tags }),
      });
      if (r.status !== 201)
        throw new Error(`operator ${d.n}: POST /v1/sims ${r.status} ${JSON.stringify(r.body)}`);
    };
    await created(one, profileA);
    // Operator 2's switch pool: the profiles of this type it serves to its partners' switches.
    await created(two, profileB, { esimSwitchProfileType: PROFILE_TYPE });
    const reg = await one.call('POST', '/v1/esim/euiccs', {
      registerEisRequest: issued.registerEisRequest,
      eumCertificate: issued.eumCertificate,
    });
    if (reg.status !== 201)
      throw new Error(`operator 1: POST /v1/esim/euiccs ${reg.status} ${JSON.stringify(reg.body)}`);

    // --- the device: roaming on operator 2's cell, its AuC and RADIUS at operator 1 by its IMSI -----
    const card = simulatedCard(issued.file);
    network = new SmsNetwork({
      systemId: one.otaSystemId,
      moRoutes: { [one.smsrNumber]: one.otaSystemId, [two.smsrNumber]: two.otaSystemId },
      subscribers: [
        { imsi: profileA.imsi, msisdn: profileA.msisdn },
        // Once operator 2's profile is enabled, SMS to its MSISDN reach the same card.
        { imsi: profileB.imsi, msisdn: profileB.msisdn, card: profileA.imsi },
      ],
    });
    const events: FleetEvent[] = [];
    const core = (d: Deployment) => {
      const radius = d.server.radius;
      const gsup = d.server.gsup;
      if (radius === undefined || gsup === undefined) throw new Error(`operator ${d.n}: no RADIUS or GSUP`);
      return {
        gsup: { host: '127.0.0.1', port: gsup.port },
        radius: {
          host: '127.0.0.1',
          authPort: radius.authPort,
          acctPort: radius.acctPort,
          secret: randomBytes(12).toString('hex'),
        },
        nasAddress: `127.0.${16 + d.n}.${1 + Math.floor(Math.random() * 250)}`,
      };
    };
    const core1 = core(one);
    const core2 = core(two);
    const fleet = await Fleet.open({
      devices: [{ card, imei: simulatedImei(1616), cell: VISITED_CELL }],
      ...core2,
      homeNetworks: [{ imsiPrefix: `${PLMN_1.mcc}${PLMN_1.mnc}`, ...core1 }],
      retrySeconds: 120,
      attachSpreadMs: 0,
      onCardSms: network.onCardSms,
      bip: { allow: (host) => host === '127.0.0.1' },
      log: (e) => events.push(e),
    });
    cleanups.push(async () => {
      await fleet.stop();
      network?.close();
    });
    network.connect(fleet, smsc);
    // Each operator admits the packet gateway that serves its subscribers (POST /v1/radius_clients).
    for (const [d, c, imsi] of [
      [one, core1, profileA.imsi],
      [two, core2, profileB.imsi],
    ] as const) {
      const r = await d.call('POST', '/v1/radius_clients', {
        address: c.nasAddress,
        secret: c.radius.secret,
        coaPort: fleet.coaPortOf(imsi),
        name: 'visited network packet gateway',
      });
      if (r.status !== 201)
        throw new Error(`operator ${d.n}: POST /v1/radius_clients ${r.status} ${JSON.stringify(r.body)}`);
    }
    fleet.start();

    const attachedAs = (imsi: string, from = 0) =>
      waitFor(
        `the device attached as ${imsi}`,
        () => events.slice(from).find((e) => e.kind === 'attached' && e.imsi === imsi),
        (e) => e !== undefined,
        SETTLE_MS,
      ) as Promise<FleetEvent>;
    return {
      one,
      two,
      eid: issued.eid,
      profileA,
      profileB,
      card,
      fleet,
      events,
      smsc,
      cores: { one: core1, two: core2 },
      mt,
      radio,
      attachedAs,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Removes the lab's files (TLS keys, certificates, requests) once every lab is closed. */
export function removeLabFiles(): void {
  rmSync(tmp, { recursive: true, force: true });
}

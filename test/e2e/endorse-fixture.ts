// The world of the token tests: the API (through inject), the device listener on a real socket,
// SIMs backed by software cards, groups with an Endorse configuration, and HTTP requests sent from
// a chosen 127.x source address (the simulated device's session address).

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { cardFromFile, newCardFile } from '../../src/card/card-file.js';
import { Terminal } from '../../src/card/terminal.js';
import type { Uicc } from '../../src/card/uicc.js';
import type { Config } from '../../src/config/defaults.js';
import type { Clock } from '../../src/lib/clock.js';
import { fromHex } from '../../src/lib/hex.js';
import { getAttribute } from '../../src/lib/radius/attributes.js';
import { ACCT_STATUS_TYPE } from '../../src/lib/radius/dictionary.js';
import { encodeRequest, messageAuthenticator } from '../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../src/lib/radius/rfc-2865-packet.js';
import { operatorIssuer } from '../../src/platform/endorse/tokens.js';
import { createOperator } from '../../src/platform/iam/operators.js';
import { type AuditContext, systemContext } from '../../src/platform/iam/principal.js';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { buildDeviceApp } from '../../src/servers/device/app.js';
import { createLogger } from '../../src/servers/logger.js';
import { RadiusServer } from '../../src/servers/radius/server.js';
import { testConfig } from '../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

export interface EndorseWorld {
  readonly db: TestDatabase;
  readonly platform: Platform;
  readonly operatorId: string;
  /** An audit context of the world's operator. */
  ctx(operationId?: string): AuditContext;
  readonly device: FastifyInstance;
  /** http://127.0.0.1:PORT of the device listener (reachable from any 127.x source). */
  readonly deviceUrl: string;
  /** The operator's own JWKS on the device listener (issue 11: one per operator). */
  readonly jwksUrl: string;
  /** The operator's native issuer, `simtrust/operators/<operatorId>`. */
  readonly issuer: string;
  readonly radius: RadiusServer;
  /** The packet gateway's RADIUS secret (the gateway is a NAS at 127.0.0.1). */
  readonly nasSecret: string;
  close(): Promise<void>;
}

/**
 * The platform with an operator, and its device listener on a real socket. SIMs and groups are
 * made through the domain services (the API's own tests cover those routes).
 */
export async function startEndorseWorld(
  options: { clock?: Clock; config?: Partial<Config> } = {},
): Promise<EndorseWorld> {
  const db = await openTestDatabase();
  const masterKey = randomBytes(32);
  const platform = await openPlatform(testConfig({ databaseUrl: db.url, masterKey, ...options.config }), {
    masterKey,
    store: db.store,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const operator = await createOperator(db.store, platform.clock, {
    email: `endorse-${randomBytes(4).toString('hex')}@example.com`,
    password: randomBytes(12).toString('hex'),
  });
  await platform.endorse.keys.ensure(operator.operatorId);
  // The packet gateway is a registered NAS; the RADIUS server loads its clients when it starts.
  const nasSecret = randomBytes(12).toString('hex');
  await platform.aaa.radiusClients.create(systemContext(operator.operatorId, 'RadiusClient:create', 'test'), {
    address: '127.0.0.1',
    secret: nasSecret,
    name: 'test packet gateway',
  });
  const radius = await RadiusServer.start({
    platform,
    logger: createLogger({ logLevel: 'silent' }),
    host: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
  });
  const device = await buildDeviceApp({ platform });
  await device.listen({ host: '127.0.0.1', port: 0 });
  const deviceUrl = `http://127.0.0.1:${(device.server.address() as AddressInfo).port}`;
  return {
    db,
    platform,
    operatorId: operator.operatorId,
    ctx: (operationId = 'Test:endorse') => systemContext(operator.operatorId, operationId, 'test'),
    device,
    deviceUrl,
    jwksUrl: `${deviceUrl}/v1/operators/${operator.operatorId}/endorse/jwks.json`,
    issuer: operatorIssuer(platform.config.endorseIssuer, operator.operatorId),
    radius,
    nasSecret,
    async close() {
      await device.close();
      await radius.close();
      await platform.close();
      await db.cleanup();
    },
  };
}

/** Another operator on the world's platform, with its own JWKS URL and issuer (issue 11). */
export interface Tenant {
  readonly operatorId: string;
  ctx(operationId?: string): AuditContext;
  readonly jwksUrl: string;
  readonly issuer: string;
}

export async function addOperator(world: EndorseWorld): Promise<Tenant> {
  const { operatorId } = await createOperator(world.db.store, world.platform.clock, {
    email: `endorse-${randomBytes(4).toString('hex')}@example.com`,
    password: randomBytes(12).toString('hex'),
  });
  return {
    operatorId,
    ctx: (operationId = 'Test:endorse') => systemContext(operatorId, operationId, 'test'),
    jwksUrl: `${world.deviceUrl}/v1/operators/${operatorId}/endorse/jwks.json`,
    issuer: operatorIssuer(world.platform.config.endorseIssuer, operatorId),
  };
}

/** A group whose `Endorse` namespace is `config` (written through the SORACOM alias on purpose). */
export async function createEndorseGroup(
  world: EndorseWorld,
  config: Record<string, unknown>,
  tenant: Pick<Tenant, 'ctx'> = world,
): Promise<string> {
  const group = await world.platform.groups.create(tenant.ctx(), { tags: { name: 'endorse' } });
  await world.platform.groups.putConfiguration(
    tenant.ctx(),
    group.groupId,
    'SoracomEndorse',
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

export interface CardSim {
  readonly simId: string;
  readonly imsi: string;
  readonly msisdn: string;
  readonly card: Uicc;
  readonly terminal: Terminal;
}

let serial = 0;

/** A software card and its SIM in the platform (same Ki/OPc), active and in `groupId`. */
export async function createCardSim(
  world: EndorseWorld,
  options: { groupId?: string; acceptedSqn?: Uint8Array; imsi?: string; tenant?: Pick<Tenant, 'ctx'> } = {},
): Promise<CardSim> {
  const tenant = options.tenant ?? world;
  serial++;
  const imsi =
    options.imsi ?? `00101${String(process.pid % 1000).padStart(3, '0')}${String(serial).padStart(7, '0')}`;
  const msisdn = `8190${String(serial).padStart(8, '0')}`;
  const file = newCardFile({
    imsi,
    msisdn,
    ...(options.acceptedSqn ? { acceptedSqn: options.acceptedSqn } : {}),
  });
  const sim = await world.platform.sims.create(tenant.ctx('Sim:createSim'), {
    iccid: file.iccid,
    imsi,
    msisdn,
    ki: file.ki,
    opc: file.opc,
    ...(options.groupId ? { groupId: options.groupId } : {}),
  });
  await world.platform.sims.transition(tenant.ctx('Sim:activateSim'), sim.simId, 'activate');
  const card = cardFromFile(file);
  const terminal = new Terminal((apdu) => card.transmit(apdu));
  const selected = terminal.selectUsim();
  if (!selected.ok) throw new Error(selected.error.message);
  return { simId: sim.simId, imsi, msisdn, card, terminal };
}

let exchangeId = 0;

/** One RADIUS request/response exchange over UDP, as the packet gateway sends it. */
async function radiusExchange(
  port: number,
  secret: string,
  code: number,
  attributes: Parameters<typeof encodeRequest>[0]['attributes'],
) {
  exchangeId = (exchangeId + 1) % 256;
  const bytes = encodeRequest({ code, identifier: exchangeId, attributes }, secret);
  if (!bytes.ok) throw new Error(bytes.error.message);
  const socket = createSocket('udp4');
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no RADIUS answer')), 5_000);
      socket.once('message', (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      socket.send(bytes.value, port, '127.0.0.1');
    });
    const decoded = decodePacket(new Uint8Array(answer));
    if (!decoded.ok) throw new Error(decoded.error.message);
    return decoded.value;
  } finally {
    socket.close();
  }
}

export interface DeviceSession {
  /** The address the AAA gave the device (Framed-IP-Address), in 127.64.0.0/16. */
  readonly address: string;
  readonly sessionId: string;
}

/** Where a packet gateway sends RADIUS: the AAA's ports and the gateway's shared secret. */
export interface RadiusTarget {
  readonly authPort: number;
  readonly acctPort: number;
  readonly secret: string;
}

const targetOf = (world: EndorseWorld): RadiusTarget => ({
  authPort: world.radius.port('auth'),
  acctPort: world.radius.port('acct'),
  secret: world.nasSecret,
});

/**
 * The device attaches the real way: the packet gateway asks the AAA (Access-Request with
 * 3GPP-IMSI and 3GPP-IMEISV), gets the device's address in Framed-IP-Address, and reports the
 * session (Accounting-Start). From then on, requests from that address are the SIM's.
 */
export async function attachVia(target: RadiusTarget, imsi: string, imei: string): Promise<DeviceSession> {
  const access = await radiusExchange(target.authPort, target.secret, RADIUS_CODES['Access-Request'], [
    messageAuthenticator(),
    ['User-Name', imsi],
    ['3GPP-IMSI', imsi],
    ['3GPP-IMEISV', `${imei.slice(0, 14)}00`],
    ['Called-Station-Id', 'simtrust.test'],
  ]);
  if (access.code !== RADIUS_CODES['Access-Accept']) {
    const reason = getAttribute(access, 'Reply-Message');
    throw new Error(`Access-Reject: ${reason?.ok ? reason.value : 'no reason'}`);
  }
  const framed = getAttribute(access, 'Framed-IP-Address');
  if (!framed?.ok) throw new Error('no Framed-IP-Address in Access-Accept');
  const address = String(framed.value);
  const sessionId = randomBytes(8).toString('hex');
  await account(target, imsi, imei, address, sessionId, ACCT_STATUS_TYPE.Start);
  return { address, sessionId };
}

export const attach = (world: EndorseWorld, sim: { imsi: string }, imei: string) =>
  attachVia(targetOf(world), sim.imsi, imei);

/** Accounting-Stop: the session ends and its address no longer speaks for the SIM. */
export async function detach(
  world: EndorseWorld,
  sim: { imsi: string },
  imei: string,
  session: DeviceSession,
) {
  await account(targetOf(world), sim.imsi, imei, session.address, session.sessionId, ACCT_STATUS_TYPE.Stop);
}

async function account(
  target: RadiusTarget,
  imsi: string,
  imei: string,
  address: string,
  sessionId: string,
  status: number,
) {
  const answer = await radiusExchange(target.acctPort, target.secret, RADIUS_CODES['Accounting-Request'], [
    ['Acct-Status-Type', status],
    ['Acct-Session-Id', sessionId],
    ['User-Name', imsi],
    ['3GPP-IMSI', imsi],
    ['3GPP-IMEISV', `${imei.slice(0, 14)}00`],
    ['Framed-IP-Address', address],
    ['Called-Station-Id', 'simtrust.test'],
  ]);
  if (answer.code !== RADIUS_CODES['Accounting-Response']) throw new Error('accounting not answered');
}

/** The card's answer to a challenge: RES, or AUTS after a synchronisation failure. */
export function runAka(
  sim: CardSim,
  challenge: { rand: string; autn: string },
): { res: string } | { auts: string } {
  const r = sim.terminal.authenticateUmts(fromHex(challenge.rand)!, fromHex(challenge.autn)!);
  if (!r.ok) throw new Error(r.error.message);
  if (r.value.kind === 'mac_failure') throw new Error('the card refused AUTN (MAC failure)');
  if (r.value.kind === 'sync_failure') return { auts: Buffer.from(r.value.auts).toString('hex') };
  return { res: Buffer.from(r.value.res).toString('hex') };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

/** An HTTP request whose TCP connection starts from `localAddress` (e.g. 127.0.0.42). */
export function httpFrom(
  localAddress: string,
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? 'GET', localAddress, headers: init.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
      },
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

export const postJson = (localAddress: string, url: string, body: unknown) =>
  httpFrom(localAddress, url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

// Fixture of the EAP server tests: a test database with the platform (real AuC, admission, key
// ring), the EAP server under test, SIMs made from software cards, and a driver that runs one EAP
// conversation between the server and the simulator's peer (the card answering through APDUs).

import { randomBytes } from 'node:crypto';
import { type CardFile, cardFromFile, keysOf, newCardFile } from '../../../src/card/card-file.js';
import { Terminal } from '../../../src/card/terminal.js';
import type { Config } from '../../../src/config/defaults.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { toHex } from '../../../src/lib/hex.js';
import type { AuthenticationCentre } from '../../../src/platform/aaa/auc.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { openPlatform, type Platform } from '../../../src/platform/platform.js';
import { createEapServer } from '../../../src/servers/radius/eap/index.js';
import type { EapHandler, EapOutcome, EapRequestContext } from '../../../src/servers/radius/eap-handler.js';
import { EapPeer, type PeerMemory, simOverTerminal } from '../../../src/simulator/eap-peer.js';
import { testConfig } from '../../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

export const REALM = 'wlan.mnc001.mcc001.3gppnetwork.org';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

export interface EapFixture {
  readonly db: TestDatabase;
  readonly platform: Platform;
  readonly clock: ManualClock;
  readonly auc: AuthenticationCentre;
  readonly operatorId: string;
  readonly logs: LogLine[];
  /** A new EAP server instance on the same database (another "instance"). */
  server(config?: Partial<Config>): Promise<EapHandler>;
  readonly handler: EapHandler;
  /** A software card, provisioned in the platform with its own keys unless `platformKi` differs. */
  card(o?: { acceptedSqn?: string; platformKi?: string; msisdn?: string }): Promise<Card>;
  client(operatorId?: string): EapRequestContext['client'];
  close(): Promise<void>;
}

export interface Card {
  readonly file: CardFile;
  readonly imsi: string;
  readonly simId: string;
  /** The card itself: its SQN state persists between conversations like a real card's. */
  readonly terminal: Terminal;
}

export async function eapFixture(config: Partial<Config> = {}): Promise<EapFixture> {
  const db = await openTestDatabase();
  const masterKey = randomBytes(32);
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const full = testConfig({ databaseUrl: db.url, masterKey, ...config });
  const platform = await openPlatform(full, { masterKey, store: db.store, clock });
  const auc = platform.auc;
  const operator = await createOperator(db.store, clock, {
    email: `eap-${randomBytes(3).toString('hex')}@example.com`,
    password: 'correct horse battery',
  });
  const logs: LogLine[] = [];
  const logger = {
    info: (fields: Record<string, unknown>, message: string) =>
      void logs.push({ level: 'info', fields, message }),
    warn: (fields: Record<string, unknown>, message: string) =>
      void logs.push({ level: 'warn', fields, message }),
    error: (fields: Record<string, unknown>, message: string) =>
      void logs.push({ level: 'error', fields, message }),
  } as unknown as Parameters<typeof createEapServer>[0]['logger'];
  const server = (c: Partial<Config> = {}) =>
    createEapServer({
      store: db.store,
      keyRing: platform.keyRing,
      clock,
      config: { ...full, ...c },
      auc,
      logger,
      writer: platform.aaa.writer,
    });
  const handler = await server();
  let serial = 0;
  const run = randomBytes(2).readUInt16BE(0);
  return {
    db,
    platform,
    clock,
    auc,
    operatorId: operator.operatorId,
    logs,
    server,
    handler,
    async card(o = {}) {
      serial++;
      const imsi = `00101${String(run).padStart(5, '0')}${String(serial).padStart(5, '0')}`;
      const file = newCardFile({
        imsi,
        ...(o.acceptedSqn === undefined ? {} : { acceptedSqn: Buffer.from(o.acceptedSqn, 'hex') }),
      });
      const keys = keysOf(file);
      const sim = await platform.sims.create(systemContext(operator.operatorId, 'Sim:createSim', 'test'), {
        iccid: file.iccid,
        imsi,
        ki: o.platformKi ?? toHex(keys.ki),
        ...(o.msisdn === undefined ? {} : { msisdn: o.msisdn }),
        opc: toHex(keys.opc),
      });
      const uicc = cardFromFile(file);
      uicc.reset();
      return { file, imsi, simId: sim.simId, terminal: new Terminal((apdu) => uicc.transmit(apdu)) };
    },
    client: (operatorId = operator.operatorId) => ({ address: '127.0.0.1/32', name: 'test-nas', operatorId }),
    async close() {
      await db.cleanup();
    },
  };
}

export interface Conversation {
  readonly outcome: EapOutcome;
  readonly peer: EapPeer;
  /** Every (request, outcome) pair, in order. */
  readonly turns: { request: EapRequestContext; outcome: EapOutcome }[];
  readonly peerResult: ReturnType<EapPeer['respond']> | undefined;
}

export function request(
  client: EapRequestContext['client'],
  eapMessage: Uint8Array,
  state: Uint8Array | undefined,
): EapRequestContext {
  return {
    packet: { code: 1, identifier: 0, authenticator: new Uint8Array(16), attributes: [] },
    eapMessage,
    state,
    client,
    sourceAddress: '127.0.0.1',
  };
}

/** Run one conversation: the peer starts with its identity; `servers` answer turns in rotation. */
export async function converse(
  servers: EapHandler | EapHandler[],
  client: EapRequestContext['client'],
  card: Card,
  o: {
    method: 'sim' | 'aka' | 'akaPrime';
    memory?: PeerMemory;
    resultInd?: boolean;
    identity?: Uint8Array;
    realm?: string;
    peerMethod?: 'sim' | 'aka' | 'akaPrime';
  },
): Promise<Conversation> {
  const list = Array.isArray(servers) ? servers : [servers];
  const peer = new EapPeer({
    sim: simOverTerminal(card.terminal),
    imsi: card.imsi,
    realm: o.realm ?? REALM,
    method: o.peerMethod ?? o.method,
    resultInd: o.resultInd ?? false,
    ...(o.memory ? { memory: o.memory } : {}),
  });
  let eap = peer.start(7);
  if (o.identity !== undefined) eap = Uint8Array.of(2, 7, 0, 5 + o.identity.length, 1, ...o.identity);
  let state: Uint8Array | undefined;
  const turns: Conversation['turns'] = [];
  for (let i = 0; ; i++) {
    const r = request(client, eap, state);
    const server = list[i % list.length] as EapHandler;
    const outcome = await server.handle(r);
    turns.push({ request: r, outcome });
    const peerResult = peer.respond(outcome.eapMessage);
    if (outcome.code !== 'challenge' || peerResult.kind !== 'respond' || i > 20) {
      return { outcome, peer, turns, peerResult };
    }
    eap = peerResult.packet;
    state = outcome.state;
  }
}

export async function sqnOf(f: EapFixture, imsi: string): Promise<number> {
  const row = await f.db.store.db
    .selectFrom('sim_profiles')
    .select('sqn')
    .where('imsi', '=', imsi)
    .executeTakeFirstOrThrow();
  return Number(row.sqn);
}

export async function statusOf(f: EapFixture, simId: string): Promise<string> {
  const row = await f.db.store.db
    .selectFrom('sims')
    .select('status')
    .where('sim_id', '=', simId)
    .executeTakeFirstOrThrow();
  return row.status;
}

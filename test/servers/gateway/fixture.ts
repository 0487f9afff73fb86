// A gateway under test: a fresh database, the platform with an SMPP provider bound to a real SMPP
// peer (the lab SMSC), a directory with a user, a protected upstream application that records what
// it receives (HTTP and WebSocket), and the gateway listening on a free port. `Browser` is a small
// cookie-keeping HTTP client for flow tests that do not need Chromium.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../../src/config/defaults.js';
import type { Clock } from '../../../src/lib/clock.js';
import { PLATFORM_KEY_OWNER } from '../../../src/platform/endorse/signing-keys.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import type { AuditContext } from '../../../src/platform/iam/principal.js';
import { openPlatform, type Platform } from '../../../src/platform/platform.js';
import type { GatewayApplication } from '../../../src/servers/gateway/applications.js';
import { buildGateway } from '../../../src/servers/gateway/gateway.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { testConfig } from '../../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

export interface Upstream {
  readonly url: string;
  readonly requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }>;
  readonly upgrades: IncomingHttpHeaders[];
  close(): Promise<void>;
}

interface WsSocket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  send(data: string): void;
}
interface WsServer {
  handleUpgrade(req: unknown, socket: unknown, head: unknown, done: (ws: WsSocket) => void): void;
  close(): void;
}
type WsModule = { WebSocketServer: new (o: { noServer: true }) => WsServer };

/** The protected application: an HTML page naming the user it was told about, and a WebSocket echo. */
export async function startUpstream(): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  const upgrades: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const user = String(req.headers['x-simtrust-user'] ?? 'nobody');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'set-cookie': 'app-cookie=1; Path=/',
      });
      res.end(
        `<!doctype html><title>Backend</title><h1 id="backend">Backend content for ${user}</h1><p id="path">${req.url}</p>`,
      );
    });
  });
  // `ws` is what @fastify/http-proxy itself uses for WebSocket proxying.
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as WsModule;
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push(req.headers);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) =>
        ws.send(`echo:${data.toString()}:${String(req.headers['x-simtrust-user'])}`),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    upgrades,
    close: () =>
      new Promise((r) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface GatewayFixture {
  readonly db: TestDatabase;
  readonly platform: Platform;
  readonly smsc: Smsc;
  readonly upstream: Upstream;
  readonly gateway: FastifyInstance;
  readonly url: string;
  readonly operatorId: string;
  readonly directoryId: string;
  readonly admin: AuditContext;
  readonly password: string;
  close(): Promise<void>;
}

export const PASSWORD = 'correct horse battery';
export const PHONE = '+819012345678';

export async function startGatewayFixture(
  o: {
    config?: Partial<Config>;
    clock?: Clock;
    applications?: (base: { directoryId: string; upstream: string }) => GatewayApplication[];
    /** SMS providers, given where the gateway will listen and the SMSC (default: SMPP to the SMSC). */
    smsProviders?: (o: { gatewayUrl: string; smsc: Smsc }) => Array<Record<string, unknown>>;
    /** An SMS centre the test made (closed with the fixture); by default one is made. */
    smsc?: Smsc;
  } = {},
): Promise<GatewayFixture> {
  const smsc = o.smsc ?? (await Smsc.start({ accounts: { gateway: 'secret' }, receipt: 'DELIVRD' }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const upstream = await startUpstream();
  const db = await openTestDatabase();
  const masterKey = randomBytes(32);
  const config = testConfig({
    databaseUrl: db.url,
    masterKey,
    smsProviders: o.smsProviders?.({ gatewayUrl: url, smsc }) ?? [
      {
        name: 'smsc',
        kind: 'smpp',
        url: smsc.url,
        systemId: 'gateway',
        password: 'secret',
        reconnectMinMs: 50,
      },
    ],
    ...o.config,
  });
  const platform = await openPlatform(config, {
    masterKey,
    store: db.store,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  await platform.endorse.keys.ensure(PLATFORM_KEY_OWNER);
  const operator = await createOperator(db.store, platform.clock, {
    email: `op-${randomBytes(4).toString('hex')}@example.com`,
    password: 'operator password',
  });
  const admin: AuditContext = {
    principal: { operatorId: operator.operatorId, kind: 'root', id: operator.email },
    operationId: 'Directory:test',
  };
  const directory = await platform.directories.create(admin, { name: 'staff' });
  await platform.directories.createUser(admin, directory.directoryId, {
    userId: 'alice',
    password: PASSWORD,
    phoneNumber: PHONE,
    phoneVerified: true,
    groups: ['staff'],
  });
  const applications = o.applications?.({ directoryId: directory.directoryId, upstream: upstream.url }) ?? [
    {
      name: 'wiki',
      prefix: '/',
      upstream: upstream.url,
      users: { directory: directory.directoryId },
      policy: [{ factors: ['sms-otp'] }],
      websocket: true,
      stripPrefix: false,
      audience: 'wiki',
    },
  ];
  const gateway = await buildGateway({ platform, applications });
  await gateway.listen({ host: '127.0.0.1', port });
  return {
    db,
    platform,
    smsc,
    upstream,
    gateway,
    url,
    operatorId: operator.operatorId,
    directoryId: directory.directoryId,
    admin,
    password: PASSWORD,
    async close() {
      await gateway.close();
      await platform.sms.close();
      await upstream.close();
      await smsc.close();
      await db.cleanup();
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The OTP in an SMS as the SMSC received it. */
export const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1] ?? '';

export interface Page {
  readonly status: number;
  readonly url: string;
  readonly html: string;
  readonly headers: Headers;
}

/** A cookie-keeping client that follows redirects on this origin, like a browser without JavaScript. */
export class Browser {
  readonly cookies = new Map<string, string>();
  readonly history: string[] = [];

  constructor(
    readonly origin: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(
    method: string,
    path: string,
    form?: Record<string, string>,
    extra: Record<string, string> = {},
  ): Promise<Page> {
    let url = new URL(path, this.origin).toString();
    let body: string | undefined = form === undefined ? undefined : new URLSearchParams(form).toString();
    let m = method;
    for (let hop = 0; hop < 10; hop++) {
      this.history.push(`${m} ${url}`);
      const res = await fetch(url, {
        method: m,
        redirect: 'manual',
        headers: {
          ...this.headers,
          ...extra,
          ...(this.cookies.size ? { cookie: this.cookieHeader() } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        ...(body === undefined ? {} : { body }),
      });
      this.keep(res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        if (next.origin !== this.origin)
          return { status: res.status, url: next.toString(), html: '', headers: res.headers };
        url = next.toString();
        m = 'GET';
        body = undefined;
        continue;
      }
      return { status: res.status, url, html: await res.text(), headers: res.headers };
    }
    throw new Error('too many redirects');
  }

  get(path: string, extra?: Record<string, string>) {
    return this.request('GET', path, undefined, extra);
  }

  post(path: string, form: Record<string, string>, extra?: Record<string, string>) {
    return this.request('POST', path, form, extra);
  }
}

/** The value of a hidden input in a page. */
export function hidden(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';
}

// npm run bench -- gateway [--seconds S] [--logins N] [--db sqlite|postgres]
//
// 1. Proxy overhead: the maximum requests per second (10 connections; wrk when installed, whose
//    load generator takes far less CPU than autocannon on a small machine, else autocannon) and
//    p50/p99 at half that rate (evenly spaced, open loop) through the MFA gateway with an authenticated session
//    (session lookup, identity assertion, header rewrite, proxying), against the same upstream
//    called directly in the same run. Target: ≥ 70% of direct. Two reference lines separate the
//    costs: the least proxy Node can run (node:http + an undici pool, nothing else) is the runtime's
//    ceiling, and the same upstream behind a bare @fastify/http-proxy (no session, no identity) is
//    the library's own cost; the gateway's own work is the rest.
// 2. Complete logins per second: login page, password (scrypt), SMS OTP sent over SMPP to the lab
//    SMS centre, code read from the received PDU and typed back, session, redirect to the backend.
//
// The upstream and the gateway (`simtrust gateway`) run in their own processes; the load generator,
// the SMS centre and the login clients run here.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { systemClock } from '../src/lib/clock.js';
import { PLATFORM_KEY_OWNER } from '../src/platform/endorse/signing-keys.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { hashPassword } from '../src/platform/iam/passwords.js';
import type { AuditContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { Smsc } from '../src/servers/smpp/smsc.js';
import { hasWrk, profile, ready, startMinimalProxy, startProcess, stopProcess } from './_proxy-reference.js';
import {
  type BenchDialect,
  flag,
  fmt,
  freePort,
  freshDatabase,
  p99Cell,
  profileArgs,
  table,
} from './_support.js';

const PASSWORD = 'bench password 123';

/** A small upstream application: a 1 KB HTML page for every path. */
const startUpstream = () =>
  startProcess(`
    const page = '<!doctype html><title>app</title>' + 'x'.repeat(1000);
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
      res.end(page);
    }).listen(PORT, '127.0.0.1', ${ready});`);

/** The same upstream behind @fastify/http-proxy with nothing else: the library's own cost. */
const startBareProxy = (upstream: string) =>
  startProcess(`
    (async () => {
      const app = require('fastify')();
      await app.register(require('@fastify/http-proxy'), { upstream: ${JSON.stringify(upstream)} });
      await app.listen({ port: PORT, host: '127.0.0.1' });
      (${ready})();
    })();`);

async function startGatewayProcess(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...profileArgs(), resolve('bin/simtrust.js'), 'gateway', '--listen', `127.0.0.1:${port}`],
    {
      env: { ...process.env, SIMTRUST_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/.simtrust/health`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not start');
}

/** One complete login as a browser without JavaScript would do it; resolves with the session cookie. */
async function login(base: string, smsc: Smsc, userId: string, phone: string): Promise<string> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const page = await fetch(`${base}/.simtrust/login?app=default&return_to=%2F`);
  keep(page);
  const form = new URLSearchParams({
    csrf: csrfOf(await page.text()),
    app: 'default',
    return_to: '/',
    user_id: userId,
    password: PASSWORD,
  });
  const destination = phone.slice(1);
  const sms = smsc.waitForMessage((m) => m.destination === destination, 30_000);
  const posted = await fetch(`${base}/.simtrust/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  keep(posted);
  if (posted.status !== 303) throw new Error(`login step answered ${posted.status}`);
  const factor = await fetch(`${base}/.simtrust/factor`, { headers: { cookie: cookie() } });
  const csrf = csrfOf(await factor.text());
  const code = /\b(\d{6})\b/.exec((await sms).text)?.[1] ?? '';
  const done = await fetch(`${base}/.simtrust/factor`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, code }),
  });
  keep(done);
  if (done.status !== 303) throw new Error(`code step answered ${done.status}`);
  const session = jar.get('simtrust-session');
  if (session === undefined) throw new Error('no session cookie');
  return `simtrust-session=${session}`;
}

export async function run(args: string[]): Promise<void> {
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const seconds = Number(flag(args, '--seconds') ?? 5);
  const loginCount = Number(flag(args, '--logins') ?? 200);
  const db = await freshDatabase(dialect);
  const masterKey = randomBytes(32);
  const smsc = await Smsc.start({ accounts: { bench: 'benchpw' }, receipt: 'DELIVRD' });
  const upstream = await startUpstream();
  const children: ChildProcess[] = [upstream.child];
  try {
    // Users (one scrypt hash shared, so preparing them is quick), each with their own phone number.
    const config = loadConfig({ flags: { databaseUrl: db.url }, env: {} });
    const platform = await openPlatform(config, { masterKey });
    const operator = await createOperator(platform.store, systemClock, {
      email: `bench-${randomBytes(3).toString('hex')}@example.com`,
      password: PASSWORD,
    });
    const admin: AuditContext = {
      principal: { operatorId: operator.operatorId, kind: 'root', id: operator.email },
      operationId: 'Directory:bench',
    };
    const directory = await platform.directories.create(admin, { name: 'bench' });
    const passwordHash = await hashPassword(PASSWORD);
    const users = Array.from({ length: loginCount + 1 }, (_, i) => ({
      userId: `user${i}`,
      phone: `+8170${String(i).padStart(8, '0')}`,
    }));
    for (const u of users) {
      await platform.directories.createUser(admin, directory.directoryId, {
        userId: u.userId,
        passwordHash,
        phoneNumber: u.phone,
        phoneVerified: true,
      });
    }
    await platform.endorse.keys.ensure(PLATFORM_KEY_OWNER);
    await platform.close();

    const port = await freePort();
    const gateway = `http://127.0.0.1:${port}`;
    children.push(
      await startGatewayProcess(
        {
          SIMTRUST_DATABASE_URL: db.url,
          SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
          SIMTRUST_GATEWAY_UPSTREAM: upstream.url,
          SIMTRUST_GATEWAY_DIRECTORY: directory.directoryId,
          SIMTRUST_GATEWAY_FACTORS: 'sms-otp',
          SIMTRUST_MFA_ADDRESS_MAX_ATTEMPTS: '100000',
          SIMTRUST_SMS_PROVIDERS: JSON.stringify([
            {
              name: 'lab',
              kind: 'smpp',
              url: smsc.url,
              systemId: 'bench',
              password: 'benchpw',
              windowSize: 50,
            },
          ]),
        },
        port,
      ),
    );

    // 1. Proxy overhead with an authenticated session.
    const first = users[0] as { userId: string; phone: string };
    const cookie = await login(gateway, smsc, first.userId, first.phone);
    const bare = await startBareProxy(upstream.url);
    const minimal = await startMinimalProxy(upstream.url);
    children.push(bare.child, minimal.child);
    const direct = await profile(`${upstream.url}/page`, {}, seconds);
    const floor = await profile(`${minimal.url}/page`, {}, seconds);
    const library = await profile(`${bare.url}/page`, {}, seconds);
    const proxied = await profile(`${gateway}/page`, { cookie }, seconds);
    if (proxied.errors > 0) throw new Error(`${proxied.errors} errors through the gateway`);

    // 2. Complete logins (password + SMS OTP over SMPP), 8 at a time.
    const queue = users.slice(1);
    const started = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
          await login(gateway, smsc, u.userId, u.phone);
          done++;
        }
      }),
    );
    const loginSeconds = (performance.now() - started) / 1000;

    table([
      {
        path: 'upstream direct',
        'req/s': fmt(direct.maxRps),
        'p50 ms': direct.p50,
        'p99 ms': p99Cell(direct),
      },
      {
        path: 'minimal Node proxy (undici)',
        'req/s': fmt(floor.maxRps),
        'p50 ms': floor.p50,
        'p99 ms': p99Cell(floor),
      },
      {
        path: 'bare @fastify/http-proxy',
        'req/s': fmt(library.maxRps),
        'p50 ms': library.p50,
        'p99 ms': p99Cell(library),
      },
      {
        path: 'through the gateway',
        'req/s': fmt(proxied.maxRps),
        'p50 ms': proxied.p50,
        'p99 ms': p99Cell(proxied),
      },
    ]);
    console.log(
      `gateway/direct = ${fmt((100 * proxied.maxRps) / direct.maxRps, 1)}% (target ≥ 70%) on ${dialect}, ${seconds} s per run, max rate by ${hasWrk ? 'wrk' : 'autocannon'}`,
    );
    console.log(
      `minimal Node proxy/direct = ${fmt((100 * floor.maxRps) / direct.maxRps, 1)}%; gateway/minimal Node proxy = ${fmt((100 * proxied.maxRps) / floor.maxRps, 1)}%`,
    );
    console.log(
      `gateway/bare proxy = ${fmt((100 * proxied.maxRps) / library.maxRps, 1)}% (what sessions, identity and header rewriting cost on top of the library)`,
    );
    console.log(
      `complete logins (password + SMS OTP over SMPP): ${done} in ${fmt(loginSeconds, 1)} s = ${fmt(done / loginSeconds, 1)} logins/s (8 clients)`,
    );
  } finally {
    for (const c of children.reverse()) await stopProcess(c);
    await smsc.close();
    await db.drop();
  }
}

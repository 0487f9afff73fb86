// npm run bench -- access [--db sqlite|postgres] [--seconds N] [--rate-limits on]
//
// 1. The permission layer on the hot path: GET /v1/sims/{id} from a separate server process as
//    root (no policy evaluation — the reference) and as a sub-user whose decision pools a direct
//    permission, two roles and the operator's default permissions, with conditions (loaded in the
//    token lookup's round trip, then evaluated). Max req/s and p50/p99 at half that rate. Target:
//    the user at ≥ 80% of root's rate.
// 2. Logins/s over HTTP: password (scrypt N=2^15 per login) against the raw scrypt verifications/s
//    of this machine in the same run (the reference: the login flow's throttling, audit and token
//    writes should cost little beside the hash), and auth-key logins/s.
// 3. Decisions/s of the compiled engine in-process for a 20-statement document against
//    JSON.parse of the same document (reference: the cheapest thing one could do per request).

import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { systemClock } from '../src/lib/clock.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { hashPassword, verifyPassword } from '../src/platform/iam/passwords.js';
import { decide } from '../src/platform/iam/policy/decide.js';
import { compilePolicy } from '../src/platform/iam/policy/policy.js';
import { openStore } from '../src/platform/store/database.js';
import {
  type BenchDialect,
  flag,
  fmt,
  freshDatabase,
  loadProfile,
  p99Cell,
  startServer,
  table,
} from './_support.js';

const statement = (i: number) => ({
  effect: i % 7 === 0 ? 'deny' : 'allow',
  api: [`Tag${i}:op${i}`, `Sim:list${i}*`],
  condition: `ipAddress('10.${i}.0.0/16', '127.0.0.0/8') and currentDate >= date(2026, 1, 1) and not httpMethod('DELETE')`,
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

async function loginsPerSecond(url: string, body: unknown, seconds: number) {
  const r = await autocannon({
    url: `${url}/v1/auth`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    connections: 4,
    duration: seconds,
  });
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

export async function run(args: string[]): Promise<void> {
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const seconds = Number(flag(args, '--seconds') ?? 5);
  // `--rate-limits on`: the API rate limits stay on (per address and per token, limits far above
  // what the bench sends), so the figures include the limiter's cost on every request.
  const rateLimits = flag(args, '--rate-limits') === 'on';
  const db = await freshDatabase(dialect);
  const masterKey = randomBytes(32);
  const email = 'bench@example.com';
  const password = 'bench-password-1';
  const store = await openStore(db.url, { poolSize: 2 });
  await createOperator(store, systemClock, { email, password });
  await store.close();

  const server = await startServer({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
    // Login throughput from one address must not trip the per-address limit of failures.
    SIMTRUST_LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
    ...(rateLimits
      ? { SIMTRUST_API_RATE_LIMIT_PER_ADDRESS: '100000000', SIMTRUST_API_RATE_LIMIT_PER_TOKEN: '100000000' }
      : {}),
  });
  try {
    const root = (await post(`${server.url}/v1/auth`, { email, password })) as {
      token: string;
      operatorId: string;
    };
    const auth = { authorization: `Bearer ${root.token}` };
    const op = `${server.url}/v1/operators/${root.operatorId}`;
    const sim = (await post(
      `${server.url}/v1/sims`,
      { imsi: '001019000000001', ki: randomBytes(16).toString('hex'), opc: randomBytes(16).toString('hex') },
      auth,
    )) as { simId: string };

    // A user whose decision needs every source: own permission, two roles, defaults.
    await post(`${op}/users/bench-user`, { description: 'bench' }, auth);
    await post(`${op}/users/bench-user/password`, { password }, auth);
    const doc = (statements: object[]) => JSON.stringify({ statements });
    const put = (path: string, body: unknown) =>
      fetch(`${op}${path}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await put('/users/bench-user/permission', {
      permission: doc([
        ...Array.from({ length: 8 }, (_, i) => statement(i + 1)),
        { effect: 'allow', api: ['Sim:get*'], condition: "ipAddress('127.0.0.0/8')" },
      ]),
    });
    for (const roleId of ['bench-a', 'bench-b']) {
      await post(
        `${op}/roles/${roleId}`,
        { permission: doc(Array.from({ length: 5 }, (_, i) => statement(i + 20))) },
        auth,
      );
      await post(`${op}/users/bench-user/roles`, { roleId }, auth);
    }
    await put('/users/default_permissions', {
      permissions: doc([{ effect: 'deny', api: ['Sim:terminateSim'] }]),
    });
    const user = (await post(`${server.url}/v1/auth`, {
      operatorId: root.operatorId,
      userName: 'bench-user',
      password,
    })) as { token: string };
    const key = (await post(`${op}/users/bench-user/auth_keys`, {}, auth)) as {
      authKeyId: string;
      authKey: string;
    };

    const path = `${server.url}/v1/sims/${sim.simId}`;
    const userAuth = { authorization: `Bearer ${user.token}` };
    // Warm both paths up (JIT, caches), then measure root before and after the user so that a
    // machine whose load drifts does not favour either side; the reference is root's mean.
    await loadProfile(path, auth, 2);
    await loadProfile(path, userAuth, 2);
    const before = await loadProfile(path, auth, seconds);
    const asUser = await loadProfile(path, userAuth, seconds);
    const after = await loadProfile(path, auth, seconds);
    const asRoot = {
      maxRps: (before.maxRps + after.maxRps) / 2,
      p50: Math.max(before.p50, after.p50),
      p99: Math.max(before.p99, after.p99),
      senderLateP99: Math.max(before.senderLateP99 ?? 0, after.senderLateP99 ?? 0),
      errors: before.errors + after.errors,
    };
    table([
      {
        request: 'GET /v1/sims/{id} as root (reference)',
        'req/s': fmt(asRoot.maxRps),
        p50: asRoot.p50,
        p99: p99Cell(asRoot),
        errors: asRoot.errors,
      },
      {
        request: 'GET /v1/sims/{id} as a user (4 sources, 20 statements)',
        'req/s': fmt(asUser.maxRps),
        p50: asUser.p50,
        p99: p99Cell(asUser),
        errors: asUser.errors,
      },
    ]);
    console.log(
      `permission layer: user/root = ${fmt((asUser.maxRps / asRoot.maxRps) * 100, 1)}% (target ≥ 80%)`,
    );

    // Logins against the raw hash.
    const hash = await hashPassword(password);
    const started = performance.now();
    let hashes = 0;
    while (performance.now() - started < seconds * 1000) {
      await Promise.all([
        verifyPassword(password, hash),
        verifyPassword(password, hash),
        verifyPassword(password, hash),
        verifyPassword(password, hash),
      ]);
      hashes += 4;
    }
    const rawRate = hashes / ((performance.now() - started) / 1000);
    const byPassword = await loginsPerSecond(
      server.url,
      { operatorId: root.operatorId, userName: 'bench-user', password },
      seconds,
    );
    const byKey = await loginsPerSecond(server.url, key, seconds);
    table([
      {
        what: 'scrypt verifications/s in this process, 4 at a time (reference)',
        rate: fmt(rawRate, 1),
        p99: '',
        errors: '',
      },
      {
        what: 'password logins/s (HTTP, 4 connections)',
        rate: fmt(byPassword.rps, 1),
        p99: byPassword.p99,
        errors: byPassword.errors,
      },
      {
        what: 'auth-key logins/s (HTTP, 4 connections)',
        rate: fmt(byKey.rps, 1),
        p99: byKey.p99,
        errors: byKey.errors,
      },
    ]);
    console.log(`password login / raw scrypt = ${fmt((byPassword.rps / rawRate) * 100, 1)}%`);
  } finally {
    await server.stop();
    await db.drop();
  }

  // The engine alone.
  const text = JSON.stringify({ statements: Array.from({ length: 20 }, (_, i) => statement(i)) });
  const compiled = compilePolicy(text);
  if (!compiled.ok) throw new Error(compiled.error.message);
  const sources = [{ source: 'user', policy: compiled.value }];
  const context = {
    now: Date.now(),
    sourceIp: '127.0.0.1',
    method: 'GET',
    pathVariables: { sim_id: '1' },
    userName: 'u',
  };
  const n = 200_000;
  let t = performance.now();
  for (let i = 0; i < n; i++) decide(sources, 'Sim:list7x', context);
  const decisions = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) JSON.parse(text);
  const parses = n / ((performance.now() - t) / 1000);
  table([
    { what: 'JSON.parse of the 20-statement document (reference)', 'per second': fmt(parses) },
    { what: 'decisions of the compiled 20-statement document', 'per second': fmt(decisions) },
  ]);
  console.log(`decision / JSON.parse = ${fmt(decisions / parses, 1)}×`);
}

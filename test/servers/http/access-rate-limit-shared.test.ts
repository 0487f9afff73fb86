// The threat: a client spreading its requests over the instances behind a load balancer to get N
// times the configured rate (issue 11: each process used to count on its own). Two `simtrust serve`
// processes on one database (SQLite file or PostgreSQL) must together allow the configured rate —
// per token and per source address — and refuse the rest with 429 and Retry-After.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { type ServerProcess, startServeProcess } from '../../helpers/cli.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

const PER_TOKEN = 10;
const PER_ADDRESS = 20;

let db: TestDatabase;
let servers: ServerProcess[];
const email = 'limits@example.com';
const password = 'shared-limit-password';

beforeAll(async () => {
  db = await openTestDatabase();
  const { systemClock } = await import('../../../src/lib/clock.js');
  await createOperator(db.store, systemClock, { email, password });
  const env = {
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    SIMTRUST_RADIUS_ENABLED: 'false',
    // Each test speaks from addresses of its own (X-Forwarded-For), so their counts never mix.
    SIMTRUST_HTTP_TRUST_PROXY: 'true',
    SIMTRUST_API_RATE_LIMIT_PER_TOKEN: String(PER_TOKEN),
    SIMTRUST_API_RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
    // Long enough that no window ends during the test: nothing here depends on timing.
    SIMTRUST_API_RATE_LIMIT_WINDOW_SECONDS: '3600',
  };
  servers = [];
  for (let i = 0; i < 2; i++) servers.push(await startServeProcess(env));
});
afterAll(async () => {
  await Promise.all((servers ?? []).map((s) => s.stop()));
  await db.cleanup();
});

async function login(from: string): Promise<string> {
  const res = await fetch(`${servers[0]!.apiUrl}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ email, password }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

const get = (server: ServerProcess, from: string, token?: string) =>
  fetch(`${server.apiUrl}/v1/auth/session`, {
    headers: {
      'x-forwarded-for': from,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
  });

describe(`API rate limits shared by two instances on ${testDialect} (issue 11)`, () => {
  it('per token: requests alternating between the instances get the configured rate, not twice it', async () => {
    const token = await login('10.11.0.1');
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < PER_TOKEN + 6; i++) {
      const res = await get(servers[i % 2]!, '10.11.0.1', token);
      statuses.push(res.status);
      if (res.status === 429) refused = res;
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, PER_TOKEN)).toEqual(Array(PER_TOKEN).fill(200));
    expect(statuses.slice(PER_TOKEN)).toEqual(Array(6).fill(429));
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('per token: a concurrent burst over both instances admits exactly the limit', async () => {
    const token = await login('10.12.0.1');
    // Every request from an address of its own: only the token's count can refuse them.
    const responses = await Promise.all(
      Array.from({ length: 3 * PER_TOKEN }, (_, i) => get(servers[i % 2]!, `10.12.1.${i + 1}`, token)),
    );
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(PER_TOKEN);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2 * PER_TOKEN);
    // Both instances served some and refused some: neither kept a count of its own.
    expect(new Set(statuses.filter((_, i) => i % 2 === 0))).toEqual(new Set([200, 429]));
    expect(new Set(statuses.filter((_, i) => i % 2 === 1))).toEqual(new Set([200, 429]));
  });

  it('per address: unauthenticated requests over both instances get the configured rate', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < PER_ADDRESS + 4; i++) {
      const res = await get(servers[i % 2]!, '10.13.0.1');
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, PER_ADDRESS)).toEqual(Array(PER_ADDRESS).fill(401));
    expect(statuses.slice(PER_ADDRESS)).toEqual(Array(4).fill(429));
    // Another address is not affected.
    expect((await get(servers[1]!, '10.13.0.2')).status).toBe(401);
  });
});

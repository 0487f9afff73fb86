// The threat: an attacker guessing the root password (or a key secret) of an account — from one
// address, or spread over many — to take over every SIM. The scripted attack below must get no
// success, must be slowed as specified (5 failures, then a wait that doubles), must leave every
// attempt in the audit log, and must not keep the real owner out once the wait is over.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { listAudit } from '../../../src/platform/audit/audit-log.js';
import { PLATFORM_AUDIT_OPERATOR } from '../../../src/platform/iam/principal.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
const clock = new ManualClock(Date.UTC(2026, 2, 1));

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(() => api.close());

const attempt = (payload: object, remoteAddress = '198.51.100.7') =>
  api.app.inject({ method: 'POST', url: '/v1/auth', remoteAddress, payload });

async function loginAudit(operatorId: string) {
  const out = [];
  let before: number | undefined;
  do {
    const page = await listAudit(api.platform.store.db, operatorId, {
      operationId: 'Auth:auth',
      limit: 100,
      before,
    });
    out.push(...page.records);
    before = page.nextKey;
  } while (before !== undefined);
  return out;
}

describe('brute force', () => {
  it('100 wrong passwords from one address: 5 checked, the rest 429 with Retry-After; all audited; the owner gets in after the wait', async () => {
    const victim = await api.newOperator();
    const auditBefore = (await loginAudit(victim.operatorId)).length;
    const statuses: number[] = [];
    const waits: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await attempt({ email: victim.email, password: `guess-${i}` });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.json().code).toBe('ERR_TOO_MANY_ATTEMPTS');
        waits.push(Number(res.headers['retry-after']));
      } else expect(res.json().code).toBe('ERR_INVALID_CREDENTIALS');
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(0);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect(waits.every((w) => w === 1)).toBe(true);

    // Slowed as specified: after each wait one more guess is checked, and the wait doubles.
    for (const wait of [1, 2, 4, 8]) {
      clock.advance(wait * 1000);
      expect((await attempt({ email: victim.email, password: 'another-guess' })).statusCode).toBe(401);
      const next = await attempt({ email: victim.email, password: 'too-soon' });
      expect(next.statusCode).toBe(429);
      expect(Number(next.headers['retry-after'])).toBe(wait * 2);
    }

    // Even the right password waits…
    expect((await attempt({ email: victim.email, password: victim.password })).statusCode).toBe(429);
    // …until the wait is over; then it works and ends the streak.
    clock.advance(16_000);
    const owner = await attempt({ email: victim.email, password: victim.password }, '203.0.113.50');
    expect(owner.statusCode).toBe(200);
    expect((await attempt({ email: victim.email, password: 'typo' }, '203.0.113.50')).statusCode).toBe(401);

    // Every attempt is in the audit log (100 + 8 + 1 throttled + 1 success + 1 typo).
    const records = (await loginAudit(victim.operatorId)).slice(0, -auditBefore || undefined);
    expect(records).toHaveLength(111);
    expect(records.filter((r) => r.result === 'success')).toHaveLength(1);
    expect(records.filter((r) => r.result === 'denied' && r.detail.reason === 'throttled')).toHaveLength(100);
    expect(
      records.filter((r) => r.result === 'failure' && r.detail.reason === 'invalid-credentials'),
    ).toHaveLength(10);
    expect(records.every((r) => r.sourceIp !== null && r.actor.kind === 'root')).toBe(true);
    expect(JSON.stringify(records)).not.toContain('guess-');
  });

  it('100 wrong passwords from 100 addresses, in parallel: at most 5 checked, none succeeds', async () => {
    const victim = await api.newOperator();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        attempt(
          { email: victim.email, password: `parallel-${i}` },
          `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        ),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(0);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(95);
    expect(
      results.filter((r) => r.statusCode === 429).every((r) => Number(r.headers['retry-after']) >= 1),
    ).toBe(true);
    const records = await loginAudit(victim.operatorId);
    expect(new Set(records.filter((r) => r.result !== 'success').map((r) => r.sourceIp)).size).toBe(100);
    clock.advance(1000);
    expect((await attempt({ email: victim.email, password: victim.password })).statusCode).toBe(200);
  });

  it('password spraying from one address over many accounts locks the address', async () => {
    const sprayer = '192.0.2.99';
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await attempt({ email: `nobody-${i}@example.com`, password: 'Winter2026!' }, sprayer);
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    // Attempts naming no operator are audited where no tenant can read them.
    const platformRecords = await loginAudit(PLATFORM_AUDIT_OPERATOR);
    expect(platformRecords.filter((r) => r.sourceIp === sprayer)).toHaveLength(25);
    const tenantView = (
      await api.call({ method: 'GET', url: '/v1/audit_logs?operation_id=Auth:auth' })
    ).json();
    expect(JSON.stringify(tenantView)).not.toContain('nobody-');
    // Another address is not affected.
    expect((await attempt({ email: 'nobody-0@example.com', password: 'x' }, '192.0.2.100')).statusCode).toBe(
      401,
    );
    clock.advance(2_000);
  });

  it('auth-key secrets are throttled the same way', async () => {
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${api.operator.operatorId}/auth_keys` })
    ).json();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push(
        (await attempt({ authKeyId: key.authKeyId, authKey: `secret-guess-${i}` }, `10.30.0.${i + 1}`))
          .statusCode,
      );
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    expect((await attempt(key, '10.30.1.1')).statusCode).toBe(429);
    clock.advance(1000);
    expect((await attempt(key, '10.30.1.1')).statusCode).toBe(200);
    const records = await loginAudit(api.operator.operatorId);
    expect(records.filter((r) => r.actor.kind === 'authKey' && r.actor.id === key.authKeyId)).toHaveLength(
      32,
    );
  });

  it('login costs the same for an unknown account as for a wrong password', async () => {
    const known = await api.newOperator();
    const time = async (email: string, remoteAddress: string) => {
      const start = performance.now();
      await attempt({ email, password: 'wrong-password' }, remoteAddress);
      return performance.now() - start;
    };
    const samples = { known: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < 4; i++) {
      samples.known.push(await time(known.email, `172.16.0.${i + 1}`));
      samples.unknown.push(await time(`ghost-${i}@example.com`, `172.16.1.${i + 1}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    // Both pay for one scrypt verification (tens of ms); without the dummy hash the unknown
    // account would answer in about a millisecond.
    expect(median(samples.unknown)).toBeGreaterThan(median(samples.known) * 0.5);
  });
});

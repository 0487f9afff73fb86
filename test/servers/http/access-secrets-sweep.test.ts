// The threat: a credential leaking through a side door — an answer, an error message, a log line,
// the audit log, or the database at rest. This test runs the whole access-management life cycle
// (passwords set and changed, logins, auth keys, MFA enrolment, backup codes, tokens) and walks every
// route with those secrets in its body; then it searches every answer (except the one answer that
// creates each secret), every log line, the audit log and every table of the database for each
// password, auth-key secret, token, TOTP secret and backup code.

import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { totpCode } from '../../../src/platform/mfa/totp.js';
import { routeTable } from '../../../src/servers/http/plugins/auth.js';
import { LOG_SERIALIZERS, REDACTED_PATHS } from '../../../src/servers/logger.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
let logs = '';
const clock = new ManualClock(Date.UTC(2026, 6, 1, 9, 0, 5));
const secrets = new Set<string>();
const answers: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  api = await startTestApi({
    clock,
    logger: pino(
      {
        level: 'trace',
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        serializers: LOG_SERIALIZERS,
      },
      sink,
    ),
  });
  secrets.add(api.operator.password);
});
afterAll(() => api.close());

type Call = Parameters<TestApi['call']>[0];
/** A call whose answer is swept. */
async function swept(o: Call) {
  const res = await api.call(o);
  answers.push(`${res.statusCode} ${JSON.stringify(res.headers)} ${res.body}`);
  return res;
}
/** The one call that creates a secret: its answer is not swept, the secret is remembered. */
async function creating(o: Call, take: (body: Record<string, unknown>) => string[]) {
  const res = await api.call(o);
  expect(res.statusCode, res.body).toBeLessThan(300);
  for (const s of take(res.json())) secrets.add(s);
  return res.json();
}

describe('no password, key secret, token, TOTP secret or backup code leaks', () => {
  it('through answers, errors, logs, the audit log or the database', async () => {
    const op = api.operator.operatorId;
    const user = `/v1/operators/${op}/users/sweeper`;
    const passwords = ['sweeper-password-1', 'sweeper-password-2'];
    for (const p of passwords) secrets.add(p);
    await swept({ method: 'POST', url: user, payload: { description: 'sweep' } });
    await swept({ method: 'POST', url: `${user}/password`, payload: { password: passwords[0] } });
    await swept({ method: 'POST', url: `${user}/password`, payload: { password: passwords[0] } }); // 409
    await swept({
      method: 'PUT',
      url: `${user}/permission`,
      payload: { permission: '{"statements":[{"effect":"allow","api":"*"}]}' },
    });
    const login = (payload: object) =>
      creating({ method: 'POST', url: '/v1/auth', token: null, payload }, (b) => [b.token as string]);
    const userToken = (await login({ operatorId: op, userName: 'sweeper', password: passwords[0] }))
      .token as string;
    await swept({
      method: 'PUT',
      url: `${user}/password`,
      token: userToken,
      payload: { currentPassword: 'wrong-password', newPassword: passwords[1] },
    });
    await swept({
      method: 'PUT',
      url: `${user}/password`,
      payload: { currentPassword: passwords[0], newPassword: passwords[1] },
    });
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { operatorId: op, userName: 'sweeper', password: passwords[0] },
    });
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: passwords[1] },
    });
    // A password typed into the email field.
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: passwords[1], password: passwords[1] },
    });

    const rootKey = await creating({ method: 'POST', url: `/v1/operators/${op}/auth_keys` }, (b) => [
      b.authKey as string,
    ]);
    const userKey = await creating({ method: 'POST', url: `${user}/auth_keys` }, (b) => [
      b.authKey as string,
    ]);
    await swept({ method: 'GET', url: `/v1/operators/${op}/auth_keys` });
    await swept({ method: 'GET', url: `${user}/auth_keys` });
    await swept({ method: 'GET', url: user });
    await login(rootKey);
    const keyToken = (await login(userKey)).token as string;
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { authKeyId: userKey.authKeyId, authKey: `${userKey.authKey as string}x` },
    });
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { authKeyId: 'keyId-unknown', authKey: userKey.authKey },
    });
    await creating(
      { method: 'POST', url: `/v1/operators/${op}/token`, token: keyToken, payload: {} },
      (b) => [b.token as string],
    );

    const enrol = await creating({ method: 'POST', url: `/v1/operators/${op}/mfa` }, (b) => {
      const s = new URL(b.totpUri as string).searchParams.get('secret') as string;
      return [s, s.toLowerCase()];
    });
    const totpSecret = new URL(enrol.totpUri as string).searchParams.get('secret') as string;
    const firstCode = totpCode(totpSecret, clock.now());
    const codes = (
      await creating(
        { method: 'POST', url: `/v1/operators/${op}/mfa/verify`, payload: { mfaOTPCode: firstCode } },
        (b) => (b.backupCodes as string[]).flatMap((c) => [c, c.replaceAll('-', ''), c.toUpperCase()]),
      )
    ).backupCodes as string[];
    await swept({ method: 'GET', url: `/v1/operators/${op}/mfa` });
    await swept({ method: 'GET', url: `/v1/operators/${op}` });
    const rootLogin = { email: api.operator.email, password: api.operator.password };
    await swept({ method: 'POST', url: '/v1/auth', token: null, payload: rootLogin });
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { ...rootLogin, mfaOTPCode: firstCode },
    });
    await login({ ...rootLogin, mfaOTPCode: codes[0] });
    await swept({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { ...rootLogin, mfaOTPCode: codes[0] },
    });
    clock.advance(30_000);
    await login({ ...rootLogin, mfaOTPCode: totpCode(totpSecret, clock.now()) });

    // Every route, with every kind of secret in its body and query.
    const hostile = {
      password: passwords[1],
      currentPassword: api.operator.password,
      newPassword: passwords[1],
      authKey: userKey.authKey,
      authKeyId: userKey.authKeyId,
      mfaOTPCode: codes[1],
      permission: `{"statements":[{"effect":"allow","api":"${userKey.authKey as string}"}]}`,
      email: api.operator.password,
      token: userToken,
    };
    const values: Record<string, string> = {
      operator_id: op,
      user_name: 'sweeper',
      auth_key_id: userKey.authKeyId as string,
    };
    let walked = 0;
    for (const route of routeTable(api.app)) {
      if (
        !route.url.startsWith('/v1/') ||
        /logout|tokens$|revoke|password$/.test(route.url) ||
        route.operation.endsWith('revokeUserAuthTokens')
      )
        continue;
      const url = route.url.replace(/:(\w+)/g, (_, n: string) => values[n] ?? 'sweep-x');
      const query = `?api=Sim:getSim&password=${encodeURIComponent(passwords[1] as string)}`;
      const payload = route.method === 'GET' || route.method === 'DELETE' ? undefined : hostile;
      await swept({
        method: route.method as 'GET',
        url: url + (route.method === 'GET' ? query : ''),
        ...(payload ? { payload } : {}),
      });
      await swept({
        method: route.method as 'GET',
        url,
        token: keyToken,
        ...(payload ? { payload: [hostile] } : {}),
      });
      walked++;
    }
    expect(walked).toBeGreaterThan(50);

    // The audit log, all pages, and every table.
    let next: string | undefined;
    do {
      const res = await swept({
        method: 'GET',
        url: `/v1/audit_logs?limit=100${next ? `&last_evaluated_key=${next}` : ''}`,
      });
      next = res.headers['x-soracom-next-key'] as string | undefined;
    } while (next);
    const tables = [
      'operators',
      'users',
      'roles',
      'auth_keys',
      'api_tokens',
      'account_mfa',
      'mfa_backup_codes',
      'audit_logs',
      'counters',
      'one_time_values',
      'default_permissions',
    ] as const;
    const rest: string[] = [];
    for (const t of tables)
      rest.push(JSON.stringify(await api.platform.store.db.selectFrom(t).selectAll().execute()));

    expect(secrets.size).toBeGreaterThan(40);
    expect(logs.length).toBeGreaterThan(1000);
    const haystacks = { answers: answers.join('\n'), logs, database: rest.join('\n') };
    for (const [where, text] of Object.entries(haystacks)) {
      const leaked = [...secrets].filter((s) => text.includes(s));
      expect(leaked, where).toEqual([]);
    }
  });
});

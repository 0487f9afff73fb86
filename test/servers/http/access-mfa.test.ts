// The threat: a stolen password. With MFA active the password alone must not log in; a TOTP code
// must work once only (RFC 6238 §5.2), within ±1 step; backup codes work once; guessing codes is
// throttled like guessing passwords; turning MFA off needs the password; and the TOTP secret is
// sealed at rest and shown only in the enrolment answer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { totpCode } from '../../../src/platform/mfa/totp.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
const clock = new ManualClock(Date.UTC(2026, 3, 1, 8, 0, 10));

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(() => api.close());

const secretOf = (uri: string) => new URL(uri).searchParams.get('secret') as string;
const step = () => clock.advance(30_000);

describe('root MFA', () => {
  let secret = '';
  let backupCodes: string[] = [];
  const op = () => api.operator.operatorId;
  const login = (extra: object = {}, remoteAddress = '127.0.0.1') =>
    api.app.inject({
      method: 'POST',
      url: '/v1/auth',
      remoteAddress,
      payload: { email: api.operator.email, password: api.operator.password, ...extra },
    });

  it('enable → UNCONFIRMED with an otpauth URI; the secret is sealed at rest', async () => {
    const res = await api.call({ method: 'POST', url: `/v1/operators/${op()}/mfa` });
    expect(res.statusCode).toBe(200);
    const uri: string = res.json().totpUri;
    expect(uri).toMatch(
      /^otpauth:\/\/totp\/simtrust:.+\?secret=[A-Z2-7]{32}&issuer=simtrust&algorithm=SHA1&digits=6&period=30$/,
    );
    secret = secretOf(uri);
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op()}/mfa` })).json()).toEqual({
      status: 'UNCONFIRMED',
    });
    const row = await api.platform.store.db
      .selectFrom('account_mfa')
      .selectAll()
      .where('operator_id', '=', op())
      .executeTakeFirstOrThrow();
    expect(row.secret).not.toContain(secret);
    // Not active yet: the password alone still logs in.
    expect((await login()).statusCode).toBe(200);
  });

  it('verify refuses a wrong code, then activates and returns 10 single-use backup codes', async () => {
    const wrong = await api.call({
      method: 'POST',
      url: `/v1/operators/${op()}/mfa/verify`,
      payload: { mfaOTPCode: '000000' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('ERR_INVALID_MFA_CODE');
    const res = await api.call({
      method: 'POST',
      url: `/v1/operators/${op()}/mfa/verify`,
      payload: { mfaOTPCode: totpCode(secret, clock.now()) },
    });
    expect(res.statusCode, res.body).toBe(200);
    backupCodes = res.json().backupCodes;
    expect(backupCodes).toHaveLength(10);
    expect(new Set(backupCodes).size).toBe(10);
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op()}/mfa` })).json()).toEqual({
      status: 'ACTIVE',
    });
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op()}` })).json().mfaStatus).toBe('ACTIVE');
    const stored = await api.platform.store.db.selectFrom('mfa_backup_codes').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(backupCodes[0]!.replaceAll('-', ''));
    const again = await api.call({ method: 'POST', url: `/v1/operators/${op()}/mfa` });
    expect(again.statusCode).toBe(409);
  });

  it('login needs the code; a code works once; ±1 step; two steps old is refused', async () => {
    const without = await login();
    expect(without.statusCode).toBe(401);
    expect(without.json().code).toBe('ERR_MFA_REQUIRED');
    // The code that confirmed enrolment was consumed.
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now()) })).json().code).toBe(
      'ERR_INVALID_MFA_CODE',
    );

    step();
    const code = totpCode(secret, clock.now());
    expect((await login({ mfaOTPCode: code })).statusCode).toBe(200);
    const replay = await login({ mfaOTPCode: code });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('ERR_INVALID_MFA_CODE');

    step();
    step();
    // One step behind (clock skew) is accepted; an older one is not, nor one that has been burnt.
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now() - 30_000) })).statusCode).toBe(200);
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now() - 60_000) })).statusCode).toBe(401);
    step();
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now() + 30_000) })).statusCode).toBe(200);
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now()) })).statusCode).toBe(401);
  });

  it('a backup code works once', async () => {
    const code = backupCodes[0] as string;
    expect((await login({ mfaOTPCode: code.toUpperCase() })).statusCode).toBe(200);
    expect((await login({ mfaOTPCode: code })).statusCode).toBe(401);
    expect((await login({ mfaOTPCode: backupCodes[1]!.replaceAll('-', '') })).statusCode).toBe(200);
    expect(
      await api.platform.store.db.selectFrom('mfa_backup_codes').select('code_hash').execute(),
    ).toHaveLength(8);
  });

  it('guessing codes is throttled: five wrong codes, then 429', async () => {
    step();
    step();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await login({ mfaOTPCode: String(100000 + i) }, `10.40.0.${i + 1}`)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // Even the right code waits until the backoff is over.
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now()) })).statusCode).toBe(429);
    clock.advance(1000);
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now()) })).statusCode).toBe(200);
    const audit = (
      await api.call({ method: 'GET', url: '/v1/audit_logs?operation_id=Auth:auth&limit=100' })
    ).json();
    expect(
      audit.filter((r: { detail: { reason?: string } }) => r.detail.reason === 'mfa-invalid').length,
    ).toBeGreaterThanOrEqual(5);
  });

  it('revoke needs the password', async () => {
    step();
    const wrong = await api.call({
      method: 'DELETE',
      url: `/v1/operators/${op()}/mfa`,
      payload: { password: 'not-it' },
    });
    expect(wrong.statusCode).toBe(401);
    expect((await api.call({ method: 'DELETE', url: `/v1/operators/${op()}/mfa` })).statusCode).toBe(400);
    const ok = await api.call({
      method: 'DELETE',
      url: `/v1/operators/${op()}/mfa`,
      payload: { password: api.operator.password },
    });
    expect(ok.statusCode).toBe(204);
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op()}/mfa` })).json()).toEqual({
      status: 'INACTIVE',
    });
    expect((await login()).statusCode).toBe(200);
  });
});

describe('user MFA', () => {
  it('enable, verify, login with the code, revoke', async () => {
    const op = api.operator.operatorId;
    await api.call({ method: 'POST', url: `/v1/operators/${op}/users/carol`, payload: {} });
    await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/carol/password`,
      payload: { password: 'carol-password' },
    });
    const uri = (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/carol/mfa` })).json()
      .totpUri as string;
    expect(uri).toContain(encodeURIComponent(`carol@${op}`));
    const secret = secretOf(uri);
    step();
    const verified = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/carol/mfa/verify`,
      payload: { mfaOTPCode: totpCode(secret, clock.now()) },
    });
    expect(verified.json().backupCodes).toHaveLength(10);
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op}/users/carol` })).json().mfaStatus).toBe(
      'ACTIVE',
    );
    const login = (extra: object) =>
      api.call({
        method: 'POST',
        url: '/v1/auth',
        token: null,
        payload: { operatorId: op, userName: 'carol', password: 'carol-password', ...extra },
      });
    expect((await login({})).json().code).toBe('ERR_MFA_REQUIRED');
    step();
    expect((await login({ mfaOTPCode: totpCode(secret, clock.now()) })).statusCode).toBe(200);
    // An auth key is a program's credential: MFA does not apply to it.
    const key = (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/carol/auth_keys` })).json();
    expect((await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).statusCode).toBe(
      200,
    );
    // Root revokes it with root's own password.
    const revoke = await api.call({
      method: 'DELETE',
      url: `/v1/operators/${op}/users/carol/mfa`,
      payload: { password: api.operator.password },
    });
    expect(revoke.statusCode, revoke.body).toBe(204);
    expect((await login({})).statusCode).toBe(200);
  });
});

// Interop: TOTP codes computed by an independent implementation, `oathtool --totp -b SECRET`
// (oath-toolkit, Debian package oathtool), are accepted at enrolment and login; a reused code, a
// code two windows old and a wrong code are refused. oathtool's -N pins its clock to the
// platform's test clock, so the windows are exact.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';

const available = requirePrograms({ oathtool: 'oathtool' });

const oathtool = (secret: string, atMs: number) =>
  execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${Math.floor(atMs / 1000)}`], {
    encoding: 'utf8',
  }).trim();

describe.skipIf(!available)('TOTP against oathtool', () => {
  let api: TestApi;
  const clock = new ManualClock(Date.UTC(2026, 4, 5, 10, 20, 7));
  let secret = '';
  const login = (mfaOTPCode: string) =>
    api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: api.operator.password, mfaOTPCode },
    });

  beforeAll(async () => {
    api = await startTestApi({ clock });
  });
  afterAll(() => api.close());

  it('enrolment is confirmed with an oathtool code', async () => {
    const uri = (
      await api.call({ method: 'POST', url: `/v1/operators/${api.operator.operatorId}/mfa` })
    ).json().totpUri;
    secret = new URL(uri).searchParams.get('secret') as string;
    const res = await api.call({
      method: 'POST',
      url: `/v1/operators/${api.operator.operatorId}/mfa/verify`,
      payload: { mfaOTPCode: oathtool(secret, clock.now()) },
    });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('accepts fresh oathtool codes and refuses reused, two-windows-old and wrong ones', async () => {
    clock.advance(30_000);
    const code = oathtool(secret, clock.now());
    expect(code).toMatch(/^\d{6}$/);
    expect((await login(code)).statusCode).toBe(200);
    expect((await login(code)).json().code).toBe('ERR_INVALID_MFA_CODE');

    clock.advance(30_000);
    const twoWindowsOld = oathtool(secret, clock.now() - 60_000);
    const fresh = oathtool(secret, clock.now());
    expect((await login(twoWindowsOld)).statusCode).toBe(401);
    const wrong = String((Number(fresh) + 1) % 1_000_000).padStart(6, '0');
    expect((await login(wrong)).statusCode).toBe(401);
    expect((await login(fresh)).statusCode).toBe(200);

    // The platform's own generator agrees with oathtool over many steps.
    const { totpCode } = await import('../../src/platform/mfa/totp.js');
    for (let i = 0; i < 20; i++) {
      const at = clock.now() + i * 30_000 + 13_000;
      expect(totpCode(secret, at)).toBe(oathtool(secret, at));
    }
  });
});

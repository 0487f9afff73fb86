// The gateway's texts in English and Japanese (issue 11): counts take the plural form of the
// language ("1 more time"), lengths of time are said in words that fit them ("30 seconds", not
// "1 minutes"), and the sign-in page names the application by its display name, never by the
// internal name `default`. Both on their own and as a person sees them in a real login, with the
// SMS from a real SMPP peer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayApplications } from '../../../src/servers/gateway/applications.js';
import { duration, t } from '../../../src/servers/gateway/i18n.js';
import { loginPage } from '../../../src/servers/gateway/pages.js';
import { testConfig } from '../../helpers/app.js';
import { Browser, codeIn, type GatewayFixture, hidden, PASSWORD, startGatewayFixture } from './fixture.js';

describe('texts (issue 11)', () => {
  it('counts: "1 more time", "2 more times"; Japanese has one form', () => {
    expect(t('en', 'error.ERR_OTP_INVALID', { left: 1 })).toBe(
      'The code is incorrect. You can try this code 1 more time.',
    );
    expect(t('en', 'error.ERR_OTP_INVALID', { left: 2 })).toBe(
      'The code is incorrect. You can try this code 2 more times.',
    );
    expect(t('ja', 'error.ERR_OTP_INVALID', { left: 1 })).toBe(
      'コードが正しくありません。このコードはあと1回入力できます。',
    );
  });

  it('durations: a 30-second code is valid for 30 seconds, waits read in minutes and seconds', () => {
    expect(t('en', 'sms.sent', { phone: '+81…78', validity: duration(30) })).toBe(
      'We sent a code to +81…78. It is valid for 30 seconds.',
    );
    expect(t('ja', 'sms.sent', { phone: '+81…78', validity: duration(30) })).toBe(
      '+81…78 にコードを送信しました。有効期間は30秒です。',
    );
    expect(t('en', 'sms.sent', { phone: 'x', validity: duration(60) })).toContain('valid for 1 minute.');
    expect(t('en', 'error.ERR_TOO_MANY_ATTEMPTS', { wait: duration(1) })).toBe(
      'Too many attempts. Try again in 1 second.',
    );
    expect(t('en', 'error.ERR_SMS_LIMIT', { wait: duration(90) })).toBe(
      'Too many codes were sent. Try again in 1 minute, 30 seconds or use another method.',
    );
    expect(t('ja', 'error.ERR_SMS_RESEND_TOO_SOON', { wait: duration(90) })).toBe(
      '新しいコードを送信できるまで1分30秒お待ちください。',
    );
  });

  it('the sign-in page shows the display name, or none — never the internal name', () => {
    const page = (displayName: string | undefined, lang: 'en' | 'ja' = 'en') =>
      loginPage({ lang, csrf: 'c', app: 'default', displayName, returnTo: '/' });
    expect(page('Team wiki')).toContain('<p>Sign in to Team wiki.</p>');
    expect(page('Team <wiki>')).toContain('Sign in to Team &lt;wiki&gt;.');
    expect(page(undefined)).toContain('<p>Sign in to continue.</p>');
    expect(page(undefined, 'ja')).toContain('<p>ログインして続行してください。</p>');
    expect(page(undefined)).not.toMatch(/Sign in to default/);
  });

  it('the display name comes from gatewayDisplayName or the application entry', () => {
    const shortcut = (gatewayDisplayName?: string) =>
      gatewayApplications(
        testConfig({
          gatewayUpstream: 'http://127.0.0.1:3000',
          ...(gatewayDisplayName ? { gatewayDisplayName } : {}),
        }),
      )[0];
    expect(shortcut()?.displayName).toBeUndefined();
    expect(shortcut('Team wiki')?.displayName).toBe('Team wiki');
    const [entry] = gatewayApplications(
      testConfig({
        gatewayApplications: [
          {
            name: 'wiki',
            displayName: 'Team wiki',
            prefix: '/',
            upstream: 'http://127.0.0.1:3000',
            users: { platform: true },
          },
        ],
      }),
    );
    expect(entry?.displayName).toBe('Team wiki');
  });
});

describe('texts in a real login with a 30-second code (issue 11)', () => {
  let f: GatewayFixture;
  beforeAll(async () => {
    f = await startGatewayFixture({ config: { mfaOtpTtlSeconds: 30, mfaAddressMaxAttempts: 10_000 } });
  });
  afterAll(async () => {
    await f?.close();
  });

  for (const [lang, texts] of [
    [
      'en',
      {
        intro: 'Sign in to continue.',
        validity: 'It is valid for 30 seconds.',
        three: 'You can try this code 3 more times.',
        one: 'You can try this code 1 more time.',
      },
    ],
    [
      'ja',
      {
        intro: 'ログインして続行してください。',
        validity: '有効期間は30秒です。',
        three: 'あと3回入力できます。',
        one: 'あと1回入力できます。',
      },
    ],
  ] as const) {
    it(`${lang}: the page, the SMS and the wrong-code message say what is true`, async () => {
      // A user of its own per language: the wrong codes of one run never lock the other's account.
      const userId = `texts-${lang}`;
      await f.platform.directories.createUser(f.admin, f.directoryId, {
        userId,
        password: PASSWORD,
        phoneNumber: lang === 'en' ? '+819011110001' : '+819011110002',
        phoneVerified: true,
      });
      const browser = new Browser(f.url, { 'accept-language': lang });
      const login = await browser.get('/');
      expect(login.html).toContain(texts.intro);
      expect(login.html).not.toContain('default');
      const before = f.smsc.messages.length;
      const factor = await browser.post('/.simtrust/login', {
        csrf: hidden(login.html, 'csrf'),
        app: 'wiki',
        return_to: '/',
        user_id: userId,
        password: PASSWORD,
      });
      expect(factor.html).toContain(texts.validity);
      const sms = await f.smsc.waitForMessage((m) => f.smsc.messages.indexOf(m) >= before);
      expect(sms.text).toContain('It expires in 30 seconds.');
      const wrong = String((Number(codeIn(sms.text)) + 1) % 1_000_000).padStart(6, '0');
      let html = factor.html;
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await browser.post('/.simtrust/factor', { csrf: hidden(html, 'csrf'), code: wrong });
        html = r.html;
        seen.push(html);
      }
      expect(seen[1]).toContain(texts.three);
      expect(seen[3]).toContain(texts.one);
    });
  }
});

// Platform accounts with SMS one-time codes as their second factor, through the same MFA engine as
// the gateway: enrolment and verification of the number, the two-call login of POST /v1/auth, and
// the gateway protecting an application for the platform's own users. Codes come from a real SMPP
// peer.

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../../../src/servers/gateway/gateway.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { Browser, codeIn, hidden, startUpstream, type Upstream } from '../../servers/gateway/fixture.js';

const PHONE = '+819055550000';
let api: TestApi;
let smsc: Smsc;

beforeAll(async () => {
  smsc = await Smsc.start({ accounts: { p: 'ppw' }, receipt: 'DELIVRD' });
  api = await startTestApi({
    config: { smsProviders: [{ name: 'lab', kind: 'smpp', url: smsc.url, systemId: 'p', password: 'ppw' }] },
  });
});
afterAll(async () => {
  await api?.platform.sms.close();
  await api?.close();
  await smsc?.close();
});

const nextCode = async (from: number) =>
  codeIn((await smsc.waitForMessage((m) => smsc.messages.indexOf(m) >= from)).text);
const login = (body: Record<string, unknown>) =>
  api.call({
    method: 'POST',
    url: '/v1/auth',
    token: null,
    payload: { email: api.operator.email, password: api.operator.password, ...body },
  });

describe('SMS codes as the second factor of platform login', () => {
  it("enrols and verifies the root account's phone number", async () => {
    expect((await api.call({ method: 'GET', url: '/v1/mfa/sms' })).json()).toEqual({
      status: 'INACTIVE',
      phoneNumber: null,
    });
    const from = smsc.messages.length;
    const enrolled = await api.call({
      method: 'PUT',
      url: '/v1/mfa/sms',
      payload: { phoneNumber: '+81 90 5555 0000' },
    });
    expect(enrolled.statusCode).toBe(201);
    expect((await api.call({ method: 'GET', url: '/v1/mfa/sms' })).json()).toEqual({
      status: 'UNVERIFIED',
      phoneNumber: PHONE,
    });
    // Unverified, the number is not yet a second factor.
    expect((await login({})).statusCode).toBe(200);
    const verified = await api.call({
      method: 'POST',
      url: '/v1/mfa/sms/verify',
      payload: { verificationId: enrolled.json().verificationId, code: await nextCode(from) },
    });
    expect(verified.json()).toEqual({ status: 'ACTIVE', phoneNumber: PHONE });
  });

  it('asks for a code, then logs in with it, once', async () => {
    const from = smsc.messages.length;
    const first = await login({});
    expect(first.statusCode).toBe(401);
    expect(first.json().code).toBe('ERR_MFA_SMS_REQUIRED');
    expect(first.json().message).toContain('+81…00');
    const mfaTransactionId = String(first.headers['x-simtrust-mfa-transaction']);
    const code = await nextCode(from);
    expect(first.body).not.toContain(code);
    const wrong = await login({ mfaTransactionId, mfaOTPCode: code === '000000' ? '111111' : '000000' });
    expect(wrong.json().code).toBe('ERR_OTP_INVALID');
    const ok = await login({ mfaTransactionId, mfaOTPCode: code });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().token).toMatch(/^tok-/);
    // Threat: the code (or the whole request) replayed.
    expect((await login({ mfaTransactionId, mfaOTPCode: code })).json().code).toBe('ERR_MFA_TRANSACTION');
    // Threat: a wrong password never gets as far as an SMS (no pumping through the login).
    const before = smsc.messages.length;
    const bad = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: 'wrong password' },
    });
    expect(bad.json().code).toBe('ERR_INVALID_CREDENTIALS');
    expect(smsc.messages.length).toBe(before);
  });

  it("protects an application for the platform's own users through the gateway", async () => {
    const upstream: Upstream = await startUpstream();
    const gateway: FastifyInstance = await buildGateway({
      platform: api.platform,
      applications: [
        {
          name: 'ops',
          prefix: '/',
          upstream: upstream.url,
          users: { platform: true, operatorId: api.operator.operatorId },
          policy: [{ factors: ['sms-otp'] }],
          websocket: false,
          stripPrefix: false,
          audience: 'ops',
        },
      ],
    });
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    try {
      const browser = new Browser(`http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`);
      const page = await browser.get('/');
      const from = smsc.messages.length;
      const factor = await browser.post('/.simtrust/login', {
        csrf: hidden(page.html, 'csrf'),
        app: 'ops',
        return_to: '/',
        user_id: api.operator.email,
        password: api.operator.password,
      });
      const done = await browser.post('/.simtrust/factor', {
        csrf: hidden(factor.html, 'csrf'),
        code: await nextCode(from),
      });
      expect(done.html).toContain(`Backend content for ${api.operator.email}`);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });

  it('turns SMS codes off only with the password', async () => {
    const wrong = await api.call({ method: 'DELETE', url: '/v1/mfa/sms', payload: { password: 'not it' } });
    expect(wrong.statusCode).toBe(401);
    const ok = await api.call({
      method: 'DELETE',
      url: '/v1/mfa/sms',
      payload: { password: api.operator.password },
    });
    expect(ok.statusCode).toBe(204);
    expect((await login({})).statusCode).toBe(200);
  });
});

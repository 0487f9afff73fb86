// The Directory API (/v1/directories, /v1/sms_messages) through the real app: users with phone
// numbers, TOTP and SIMs, CSV import, phone verification by an SMS read from a real SMPP peer,
// session revocation, and the guards: no secret in any answer, another operator sees nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { codeIn } from './fixture.js';

let api: TestApi;
let smsc: Smsc;
let directoryId: string;

beforeAll(async () => {
  smsc = await Smsc.start({ accounts: { api: 'pw' }, receipt: 'DELIVRD' });
  api = await startTestApi({
    config: { smsProviders: [{ name: 'lab', kind: 'smpp', url: smsc.url, systemId: 'api', password: 'pw' }] },
  });
  const res = await api.call({ method: 'POST', url: '/v1/directories', payload: { name: 'staff' } });
  expect(res.statusCode).toBe(201);
  directoryId = res.json().directoryId;
});
afterAll(async () => {
  await api?.platform.sms.close();
  await api?.close();
  await smsc?.close();
});

const users = () => `/v1/directories/${directoryId}/users`;

describe('Directory API', () => {
  it('creates, reads, updates and lists users without ever answering a secret', async () => {
    const created = await api.call({
      method: 'POST',
      url: users(),
      payload: {
        userId: 'bob',
        password: 'bobs long password',
        phoneNumber: '+81 90-1111-2222',
        groups: ['staff', 'admins'],
        sim: { imsi: '001010000000001', imei: '490154203237518' },
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      userId: 'bob',
      phoneNumber: '+819011112222',
      phoneVerified: false,
      totpEnabled: false,
      sim: { imsi: '001010000000001', imei: '490154203237518' },
      groups: ['admins', 'staff'],
    });
    expect(created.body).not.toMatch(/scrypt|bobs long password/);
    const totp = await api.call({ method: 'POST', url: `${users()}/bob/totp` });
    expect(totp.statusCode).toBe(201);
    const { secret, totpUri } = totp.json();
    expect(totpUri).toContain(secret);
    const got = await api.call({ method: 'GET', url: `${users()}/bob` });
    expect(got.json().totpEnabled).toBe(true);
    expect(got.body).not.toContain(secret);
    const updated = await api.call({
      method: 'PUT',
      url: `${users()}/bob`,
      payload: { phoneNumber: '+819033334444', groups: [] },
    });
    expect(updated.json()).toMatchObject({ phoneNumber: '+819033334444', phoneVerified: false, groups: [] });
    const list = await api.call({ method: 'GET', url: `${users()}?limit=1` });
    expect(list.headers['x-soracom-next-key']).toBeUndefined();
    expect(list.json().map((u: { userId: string }) => u.userId)).toEqual(['bob']);
  });

  it('refuses bad input with a code and changes nothing', async () => {
    const bad = await api.call({
      method: 'POST',
      url: users(),
      payload: { userId: 'carol', password: 'long enough pw', phoneNumber: '090-1234' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('ERR_PHONE_NUMBER');
    const short = await api.call({
      method: 'POST',
      url: users(),
      payload: { userId: 'carol', password: 'short' },
    });
    expect(short.json().code).toBe('ERR_BAD_REQUEST');
    const luhn = await api.call({
      method: 'POST',
      url: users(),
      payload: {
        userId: 'carol',
        password: 'long enough pw',
        sim: { imsi: '001010000000001', imei: '490154203237519' },
      },
    });
    expect(luhn.statusCode).toBe(400);
    expect((await api.call({ method: 'GET', url: `${users()}/carol` })).statusCode).toBe(404);
    const unknown = await api.call({
      method: 'POST',
      url: users(),
      payload: { userId: 'dave', password: 'long enough pw', role: 'admin' },
    });
    expect(unknown.json().code).toBe('ERR_VALIDATION');
  });

  it('imports users from CSV, reporting bad rows by line', async () => {
    const csv = [
      'user_id,password,phone_number,phone_verified,groups,sim_imsi',
      'erin,erins password,+819055556666,true,staff;ops,001010000000002',
      'frank,franks password,12345,false,,',
      'bob,,,,ops,',
    ].join('\n');
    const res = await api.call({
      method: 'POST',
      url: `${users()}/import`,
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ rows: 3, created: 1, updated: 1, rejected: 1 });
    expect(res.json().errors).toEqual([
      { line: 3, userId: 'frank', code: 'ERR_PHONE_NUMBER', reason: expect.any(String) },
    ]);
    expect((await api.call({ method: 'GET', url: `${users()}/erin` })).json()).toMatchObject({
      phoneVerified: true,
      groups: ['ops', 'staff'],
      sim: { imsi: '001010000000002', imei: null },
    });
    expect((await api.call({ method: 'GET', url: `${users()}/bob` })).json()).toMatchObject({
      groups: ['ops'],
      phoneNumber: '+819033334444',
    });
  });

  it('verifies a phone number with the code sent to it', async () => {
    const start = await api.call({ method: 'POST', url: `${users()}/bob/phone_verification` });
    expect(start.statusCode).toBe(201);
    const sms = await smsc.waitForMessage((m) => m.destination === '819033334444');
    const { verificationId, messageId } = start.json();
    const wrong = await api.call({
      method: 'POST',
      url: `${users()}/bob/phone_verification/confirm`,
      payload: { verificationId, code: '000000' === codeIn(sms.text) ? '111111' : '000000' },
    });
    expect(wrong.json().code).toBe('ERR_OTP_INVALID');
    const ok = await api.call({
      method: 'POST',
      url: `${users()}/bob/phone_verification/confirm`,
      payload: { verificationId, code: codeIn(sms.text) },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().phoneVerified).toBe(true);
    const record = await api.call({ method: 'GET', url: `/v1/sms_messages/${messageId}` });
    expect(record.json()).toMatchObject({
      purpose: 'phone-verification',
      phoneNumber: '+819033334444',
      provider: 'lab',
    });
    expect(record.body).not.toContain(codeIn(sms.text));
    const listed = await api.call({ method: 'GET', url: '/v1/sms_messages?phone_number=%2B819033334444' });
    expect(listed.json().map((m: { messageId: string }) => m.messageId)).toContain(messageId);
  });

  it("revokes all of a user's gateway sessions", async () => {
    const subject = `dir:${directoryId}:bob`;
    for (const application of ['wiki', 'crm']) {
      await api.platform.gatewaySessions.create({
        operatorId: api.operator.operatorId,
        application,
        subject,
        userId: 'bob',
        groups: [],
        amr: ['pwd', 'sms'],
      });
    }
    const list = await api.call({ method: 'GET', url: `${users()}/bob/sessions` });
    expect(list.json()).toHaveLength(2);
    const revoked = await api.call({ method: 'DELETE', url: `${users()}/bob/sessions` });
    expect(revoked.json()).toEqual({ revoked: 2 });
    expect((await api.call({ method: 'GET', url: `${users()}/bob/sessions` })).json()).toEqual([]);
  });

  it('keeps tenants apart: another operator gets 404 for every directory route', async () => {
    // Threat: one operator reading or changing another operator's application users.
    const other = await api.newOperator();
    for (const [method, url] of [
      ['GET', `/v1/directories/${directoryId}`],
      ['GET', users()],
      ['GET', `${users()}/bob`],
      ['PUT', `${users()}/bob`],
      ['DELETE', `${users()}/bob`],
      ['POST', `${users()}/bob/totp`],
      ['DELETE', `${users()}/bob/sessions`],
      ['POST', `${users()}/bob/phone_verification`],
    ] as const) {
      const res = await api.call({
        method,
        url,
        token: other.token,
        ...(method === 'PUT' ? { payload: { groups: [] } } : {}),
      });
      expect([method, url, res.statusCode]).toEqual([method, url, 404]);
    }
    expect((await api.call({ method: 'GET', url: '/v1/directories', token: other.token })).json()).toEqual(
      [],
    );
    expect((await api.call({ method: 'GET', url: '/v1/sms_messages', token: other.token })).json()).toEqual(
      [],
    );
  });
});

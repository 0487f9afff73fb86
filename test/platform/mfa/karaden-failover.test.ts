// The `http-json` provider with the Karaden preset against a local server that speaks the Karaden
// API as its OpenAPI document describes it (shared/reference/mfa-stk.md A1.4) — including its error
// answers 401, 422, 429 and 500 — and failover to the next provider (SMPP to a real SMPP peer).

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

type Mode = 'ok' | '401' | '422' | '429' | '500';

/** Karaden 空電プッシュ as its API mock behaves: POST /{tenant}/messages, GET /{tenant}/messages/{id}. */
class KaradenMock {
  mode: Mode = 'ok';
  readonly received: Array<{
    headers: Record<string, string | string[] | undefined>;
    form: URLSearchParams;
  }> = [];
  readonly messages = new Map<string, { sent_result: string }>();
  private server: Server | undefined;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(json));
        };
        const error = (status: number, code: string, extra: Record<string, string> = {}) =>
          send(status, { object: 'error', code, message: code }, extra);
        if (req.headers.authorization !== 'Bearer karaden-token') return error(401, 'unauthentication');
        if (req.headers['karaden-version'] !== '2024-03-01') return error(400, 'invalid_version');
        const get = /^\/tenant-1\/messages\/([0-9a-f-]{36})$/.exec(req.url ?? '');
        if (req.method === 'GET' && get) {
          const m = this.messages.get(get[1] as string);
          return m
            ? send(200, { object: 'message', id: get[1], status: 'done', ...m })
            : error(404, 'model_not_found');
        }
        if (req.method !== 'POST' || req.url !== '/tenant-1/messages') return error(404, 'model_not_found');
        const form = new URLSearchParams(body);
        this.received.push({ headers: req.headers, form });
        if (this.mode === '401') return error(401, 'unauthentication');
        if (this.mode === '429') return error(429, 'too_many_requests', { 'retry-after': '2' });
        if (this.mode === '500') return error(500, 'internal_server_error');
        if (this.mode === '422' || !/^[0-9]{11}$/.test(form.get('to') ?? ''))
          return error(422, 'validation_error');
        const id = randomUUID();
        this.messages.set(id, { sent_result: 'none' });
        return send(200, {
          object: 'message',
          id,
          service_id: Number(form.get('service_id')),
          to: form.get('to'),
          body: form.get('body'),
          status: 'processing',
          result: 'processing',
          sent_result: 'none',
          carrier: 'docomo',
        });
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

const clock = new ManualClock(Date.now());
const karaden = new KaradenMock();
let smsc: Smsc;
let api: TestApi;
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const base = await karaden.start();
  smsc = await Smsc.start({ accounts: { lab: 'labpw' }, receipt: 'DELIVRD' });
  api = await startTestApi({
    clock,
    config: {
      smsProviders: [
        {
          name: 'karaden',
          kind: 'http-json',
          preset: 'karaden',
          tenantId: 'tenant-1',
          token: 'karaden-token',
          serviceId: 7,
          baseUrl: base,
        },
        { name: 'lab', kind: 'smpp', url: smsc.url, systemId: 'lab', password: 'labpw' },
      ],
    },
  });
  api.platform.sms.useLogger({ warn: (d) => logged.push(d), info: () => {} });
});
afterAll(async () => {
  await api?.platform.sms.close();
  await api?.close();
  await smsc?.close();
  await karaden.close();
});
beforeEach(() => {
  karaden.mode = 'ok';
  clock.advance(600_000); // past any cool-down of the previous test
});

const send = (to = '+819012345678') =>
  api.platform.sms.send({
    operatorId: api.operator.operatorId,
    purpose: 'login-otp',
    subject: 'test',
    to,
    text: '123456 is your code',
  });

describe('http-json provider, Karaden preset', () => {
  it('sends the Karaden request and polls sent_result into the delivery status', async () => {
    const record = await send();
    expect(record).toMatchObject({ provider: 'karaden', status: 'accepted', attempts: 1, errorCode: null });
    const request = karaden.received.at(-1);
    expect(request?.headers.authorization).toBe('Bearer karaden-token');
    expect(request?.headers['karaden-version']).toBe('2024-03-01');
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request?.form ?? [])).toEqual({
      service_id: '7',
      to: '09012345678',
      body: '123456 is your code',
    });
    karaden.messages.set(record.providerMessageId as string, { sent_result: 'received' });
    const polled = await api.platform.sms.get(api.operator.operatorId, record.messageId, { refresh: true });
    expect(polled.status).toBe('delivered');
  });

  it.each([
    ['401', 'HTTP_UNAUTHORIZED', true],
    ['500', 'HTTP_SERVER_ERROR', true],
    ['429', 'HTTP_RATE_LIMITED', true],
    ['422', 'HTTP_VALIDATION', false],
  ] as const)('answer %s (%s) fails over to the next provider', async (mode, code, providerDown) => {
    karaden.mode = mode;
    const before = smsc.messages.length;
    const record = await send();
    expect(record).toMatchObject({ provider: 'lab', attempts: 2 });
    // The SMSC's receipt may already have arrived.
    expect(['accepted', 'delivered']).toContain(record.status);
    expect(smsc.messages.length).toBe(before + 1);
    expect(record.errorCode).toBeNull();
    // A provider-level failure takes Karaden out of the rotation for a while; a refused message does not.
    karaden.mode = 'ok';
    const requests = karaden.received.length;
    const next = await send();
    expect(next.provider).toBe(providerDown ? 'lab' : 'karaden');
    expect(karaden.received.length).toBe(providerDown ? requests : requests + 1);
    const warned = logged.filter((l) => l.provider === 'karaden').at(-1);
    expect(warned?.code).toBe(code);
  });

  it('honours Retry-After of a 429 as the cool-down', async () => {
    karaden.mode = '429';
    await send();
    karaden.mode = 'ok';
    clock.advance(1_000);
    expect((await send()).provider).toBe('lab');
    clock.advance(1_500);
    expect((await send()).provider).toBe('karaden');
  });

  it('when every provider fails: ERR_SMS_NOT_DELIVERED, the record failed with the last error code', async () => {
    karaden.mode = '500';
    await smsc.close();
    const dead = await Smsc.start({ accounts: {}, receipt: false });
    await dead.close();
    await api.platform.sms.close();
    const fresh = await startTestApi({
      clock,
      config: {
        smsProviders: [
          {
            name: 'karaden',
            kind: 'http-json',
            preset: 'karaden',
            tenantId: 'tenant-1',
            token: 'wrong',
            serviceId: 7,
            baseUrl: `http://127.0.0.1:${new URL(smsc.url).port}`,
          },
          {
            name: 'lab',
            kind: 'smpp',
            url: dead.url,
            systemId: 'lab',
            password: 'labpw',
            queueTimeoutMs: 300,
          },
        ],
      },
    });
    try {
      const error = await fresh.platform.sms
        .send({
          operatorId: fresh.operator.operatorId,
          purpose: 'login-otp',
          subject: 't',
          to: '+819012345678',
          text: 'x',
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_SMS_NOT_DELIVERED' });
      const [record] = (await fresh.platform.sms.list(fresh.operator.operatorId, { limit: 1 })).items;
      expect(record).toMatchObject({
        status: 'failed',
        provider: 'lab',
        errorCode: 'SMPP_NOT_BOUND',
        attempts: 2,
      });
    } finally {
      await fresh.platform.sms.close();
      await fresh.close();
    }
  });
});

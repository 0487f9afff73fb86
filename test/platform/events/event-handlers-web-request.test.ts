// ExecuteWebRequestAction (issue 14, slice 3). Threats: a handler used to reach the platform itself,
// a private network or the cloud metadata service (SSRF, CWE-918) — by an address literal, a local
// name, an IPv4-mapped or NAT64 form, or a name that resolves there at run time (rebinding); secrets
// in headers read back from the API or the database. And the function: a signed request with the
// variables filled in reaches a real HTTP server, whose signature verifies; 5xx and timeouts retry
// with backoff. SQLite and PostgreSQL.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { EventEngine } from '../../../src/platform/events/engine.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  webRequestExecutor,
  webRequestSignature,
} from '../../../src/platform/events/web-request.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../aaa/fixture.js';

const clock = new ManualClock(Date.UTC(2026, 6, 1, 8));
let api: TestApi;
let server: Server;
let port: number;
const received: Array<{ req: IncomingMessage; body: string }> = [];
/** What the test server answers next (status, or 'hang' to never answer). */
const answers: Array<number | 'hang'> = [];

beforeAll(async () => {
  api = await startTestApi({
    clock,
    config: { eventWebRequestAllowedNetworks: '127.0.0.1/32', eventWebRequestTimeoutMs: 300 },
  });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ req, body });
      const answer = answers.shift() ?? 200;
      if (answer === 'hang') return;
      res.writeHead(answer).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

const SECRET = 'whsec-0123456789abcdef';
const at = { executionDateTimeConst: 'IMMEDIATELY' };
const web = (url: string, extra: Record<string, string> = {}) => ({
  type: 'ExecuteWebRequestAction',
  properties: { url, httpMethod: 'POST', contentType: 'application/json', headers: '{}', ...at, ...extra },
});

async function create(targetSimId: string, action: object) {
  return api.call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: {
      name: 'hook',
      status: 'active',
      targetSimId,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      },
      actionConfigList: [action],
    },
  });
}

describe('the outbound policy', () => {
  const policy = outboundPolicy({ selfAddresses: ['203.0.114.7'] });
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.31.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    'fe80::1',
    'fd00:ec2::254',
    'ff02::1',
    '203.0.114.7',
  ])('refuses %s', (address) => {
    expect(policy.refusal(address)).toBeDefined();
  });
  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(policy.refusal(address)).toBeUndefined();
  });
  it('refuses every address of loopback and private networks (property), unless allowed', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(fc.constantFrom(127, 10), octet, octet, octet, (a, b, c, d) => {
        expect(policy.refusal(`${a}.${b}.${c}.${d}`)).toBeDefined();
        expect(policy.refusal(`::ffff:${a}.${b}.${c}.${d}`)).toBeDefined();
      }),
    );
    const open = outboundPolicy({ allowed: '10.20.0.0/16, 127.0.0.1' });
    expect(open.refusal('10.20.3.4')).toBeUndefined();
    expect(open.refusal('127.0.0.1')).toBeUndefined();
    expect(open.refusal('10.21.0.1')).toBeDefined();
    expect(() => outboundPolicy({ allowed: '10.0.0.0/33' })).toThrow(/eventWebRequestAllowedNetworks/);
  });
});

describe(`web request actions (${testDialect})`, () => {
  it('refuses to create a web request to a forbidden address, naming it', async () => {
    const s = await createSim(api);
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:8080/v1/sims',
      'http://localhost:8080/',
      'https://10.0.0.5/hook',
      'http://[::ffff:169.254.169.254]/',
    ]) {
      const res = await create(s.simId, web(url));
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code).toBe('ERR_EVENT_WEB_REQUEST_FORBIDDEN');
      expect(res.json().message).toMatch(
        /actionConfigList\[0\]\.properties\.url: .*eventWebRequestAllowedNetworks/,
      );
    }
    expect((await create(s.simId, web('https://hooks.example.com/x'))).statusCode).toBe(201);
  });

  it('keeps header values and the signing secret sealed: masked in answers, encrypted in the database', async () => {
    const s = await createSim(api);
    const headers = JSON.stringify({ 'X-Api-Key': 'key-value-4711' });
    const res = await create(s.simId, web('https://hooks.example.com/a', { headers, signingSecret: SECRET }));
    expect(res.statusCode, res.body).toBe(201);
    const h = res.json();
    expect(h.actionConfigList[0].properties).toMatchObject({
      headers: '{"X-Api-Key":"********"}',
      signingSecret: '********',
    });
    const row = await api.db.store.db
      .selectFrom('event_handlers')
      .select('action_config_list')
      .where('handler_id', '=', h.handlerId)
      .executeTakeFirstOrThrow();
    expect(row.action_config_list).not.toContain('key-value-4711');
    expect(row.action_config_list).not.toContain(SECRET);
    // Sending the masked values back keeps the stored ones; a new value replaces them.
    const put = (properties: Record<string, string>) =>
      api.call({
        method: 'PUT',
        url: `/v1/event_handlers/${h.handlerId}`,
        payload: {
          ...h,
          handlerId: undefined,
          actionConfigList: [{ type: 'ExecuteWebRequestAction', properties }],
        },
      });
    expect((await put(h.actionConfigList[0].properties)).statusCode).toBe(200);
    expect(api.platform.eventHandlers.unseal(await stored(h.handlerId, 'headers'), h.handlerId)).toBe(
      headers,
    );
    expect(api.platform.eventHandlers.unseal(await stored(h.handlerId, 'signingSecret'), h.handlerId)).toBe(
      SECRET,
    );
    const replaced = await put({
      ...h.actionConfigList[0].properties,
      headers: '{"X-Api-Key":"new-key-0815"}',
    });
    expect(replaced.statusCode).toBe(200);
    expect(api.platform.eventHandlers.unseal(await stored(h.handlerId, 'headers'), h.handlerId)).toBe(
      '{"X-Api-Key":"new-key-0815"}',
    );
    const short = await put({ ...h.actionConfigList[0].properties, signingSecret: 'short' });
    expect(short.statusCode).toBe(400);
    expect(short.json().message).toMatch(/signingSecret must be at least 16 characters/);
  });

  it('sends the signed request with variables, headers and idempotency key; 5xx and timeouts retry', async () => {
    const s = await createSim(api);
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/activate` });
    const url = `http://127.0.0.1:${port}/hook/\${simId}?imsi=\${imsi}`;
    const res = await create(
      s.simId,
      web(url, {
        headers: JSON.stringify({ 'X-Api-Key': 'key-9' }),
        body: '{"imsi":"${imsi}","old":"${oldStatus}","new":"${newStatus}"}',
        signingSecret: SECRET,
      }),
    );
    expect(res.statusCode, res.body).toBe(201);
    const handlerId = res.json().handlerId;
    answers.push(503);
    received.length = 0;
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/suspend` });
    await api.platform.events.tick({ traffic: false });
    expect(received).toHaveLength(1);
    const runs = async () =>
      (await api.call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` })).json()[0]
        .actions[0];
    expect(await runs()).toMatchObject({ status: 'pending', attempts: 1, result: { status: 503 } });
    clock.advance(10_000);
    await api.platform.events.tick({ traffic: false });
    expect(await runs()).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 200 } });

    const { req, body } = received[1] as { req: IncomingMessage; body: string };
    const full = `http://127.0.0.1:${port}${req.url}`;
    expect(req.url).toBe(`/hook/${s.simId}?imsi=${s.imsi}`);
    expect(JSON.parse(body)).toEqual({ imsi: s.imsi, old: 'active', new: 'suspended' });
    expect(req.headers['x-api-key']).toBe('key-9');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers[IDEMPOTENCY_HEADER]).toMatch(new RegExp(`^${handlerId}:${s.simId}:\\d+:0$`));
    expect(req.headers[IDEMPOTENCY_HEADER]).toBe(received[0]?.req.headers[IDEMPOTENCY_HEADER]);
    const ts = Number(req.headers[TIMESTAMP_HEADER]);
    expect(ts).toBe(Math.floor(clock.now() / 1000));
    expect(req.headers[SIGNATURE_HEADER]).toBe(webRequestSignature(SECRET, ts, 'POST', full, body));
    expect(req.headers[SIGNATURE_HEADER]).not.toBe(
      webRequestSignature('another-secret-000', ts, 'POST', full, body),
    );

    // A receiver that never answers: the request times out (eventWebRequestTimeoutMs) and is retried.
    answers.push('hang');
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/activate` });
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/suspend` });
    await api.platform.events.tick({ traffic: false });
    const latest = (
      await api.call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` })
    ).json()[0];
    expect(latest.actions[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      result: { error: 'no answer within 300 ms' },
    });
  });

  it('refuses at run time a name that resolves to a forbidden address (DNS rebinding)', async () => {
    const s = await createSim(api);
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/activate` });
    const res = await create(s.simId, web('http://rebind.example/hook'));
    expect(res.statusCode, res.body).toBe(201);
    const engine = new EventEngine(api.db.store, clock, api.platform.sims);
    engine.useExecutor(
      'ExecuteWebRequestAction',
      webRequestExecutor({
        policy: outboundPolicy(),
        clock,
        timeoutMs: 300,
        unseal: (v, id) => api.platform.eventHandlers.unseal(v, id),
        resolve: async (host) => (host === 'rebind.example' ? ['93.184.216.34', '127.0.0.1'] : []),
      }),
    );
    received.length = 0;
    await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/suspend` });
    await engine.tick({ traffic: false });
    const [e] = (
      await api.call({ method: 'GET', url: `/v1/event_handlers/${res.json().handlerId}/executions` })
    ).json();
    expect(e.actions[0].status).toBe('failed');
    expect(e.actions[0].result.error).toMatch(/rebind\.example resolves to 127\.0\.0\.1 is a loopback/);
    expect(received).toHaveLength(0);
  });
});

async function stored(handlerId: string, property: string): Promise<string> {
  const row = await api.db.store.db
    .selectFrom('event_handlers')
    .select('action_config_list')
    .where('handler_id', '=', handlerId)
    .executeTakeFirstOrThrow();
  return (JSON.parse(row.action_config_list) as Array<{ properties: Record<string, string> }>)[0]?.properties[
    property
  ] as string;
}

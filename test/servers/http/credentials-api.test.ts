// /v1/credentials through the app (SQLite or PostgreSQL). The threats: a secret in an answer, an
// error or a log line (the response schema must drop it even if the domain handed it over); a SAM
// user acting beyond `Credential:*` permissions; another operator listing, changing or deleting the
// sets; a hostile id or body answered with a 500 or stored. Every change leaves an audit record
// without the secrets.

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED_PATHS } from '../../../src/servers/logger.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { issueTlsIdentity, type TlsIdentity } from '../esim/tls-fixtures.js';

let api: TestApi;
let op: string;
let logs = '';
let identity: TlsIdentity;
const PSK = `psk-${randomBytes(16).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  api = await startTestApi({
    logger: pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink),
  });
  op = api.operator.operatorId;
  identity = await issueTlsIdentity('client');
});
afterAll(() => api.close());

const secrets = () => [PSK, PASSWORD, identity.keyPem.split('\n')[1]!];
const expectNoSecret = (text: string) => {
  for (const s of secrets()) expect(text.includes(s), `leaks ${s.slice(0, 16)}…`).toBe(false);
};

describe('SORACOM’s four operations', () => {
  it('creates, lists, updates and deletes, never answering a secret', async () => {
    const created = await api.call({
      method: 'POST',
      url: '/v1/credentials/beam-psk',
      payload: { type: 'psk', description: 'Beam signature', credentials: { key: PSK } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toEqual({
      credentialsId: 'beam-psk',
      type: 'psk',
      description: 'Beam signature',
      credentials: {},
      createDateTime: expect.any(Number),
      updateDateTime: expect.any(Number),
    });
    const login = await api.call({
      method: 'POST',
      url: '/v1/credentials/broker-login',
      payload: {
        type: 'username-password-credentials',
        credentials: { username: 'dev', password: PASSWORD },
      },
    });
    expect(login.json().credentials).toEqual({ username: 'dev' });
    const cert = await api.call({
      method: 'POST',
      url: '/v1/credentials/device-001010000000001',
      payload: { type: 'x509', credentials: { cert: identity.certificatePem, key: identity.keyPem } },
    });
    expect(cert.statusCode, cert.body).toBe(201);
    expect(cert.json().credentials).toEqual({});

    const again = await api.call({
      method: 'POST',
      url: '/v1/credentials/beam-psk',
      payload: { type: 'psk', credentials: { key: PSK } },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_CREDENTIALS_EXISTS');

    const list = await api.call({ method: 'GET', url: '/v1/credentials' });
    expect(list.statusCode).toBe(200);
    expect(list.json().map((c: { credentialsId: string }) => c.credentialsId)).toEqual([
      'beam-psk',
      'broker-login',
      'device-001010000000001',
    ]);

    const updated = await api.call({
      method: 'PUT',
      url: '/v1/credentials/broker-login',
      payload: { credentials: { username: 'dev2', password: `${PASSWORD}-new` } },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ credentials: { username: 'dev2' }, description: '' });
    const resolved = await api.platform.credentials.resolve(op, 'broker-login', { imsi: '001010000000001' });
    expect(resolved).toMatchObject({ username: 'dev2', password: `${PASSWORD}-new` });

    expect((await api.call({ method: 'DELETE', url: '/v1/credentials/broker-login' })).statusCode).toBe(204);
    const gone = await api.call({ method: 'DELETE', url: '/v1/credentials/broker-login' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().code).toBe('ERR_CREDENTIALS_NOT_FOUND');
    const putGone = await api.call({
      method: 'PUT',
      url: '/v1/credentials/broker-login',
      payload: { description: 'x' },
    });
    expect(putGone.statusCode).toBe(404);

    for (const res of [created, login, cert, again, list, updated]) expectNoSecret(res.body);
  });

  it('refuses bad sets with 400, never repeating a value', async () => {
    const cases: Array<[string, object]> = [
      ['no such type', { type: 'aws-lambda', credentials: { key: PSK } }],
      ['missing credentials', { type: 'psk' }],
      ['unknown field', { type: 'psk', credentials: { key: PSK, secret: PSK } }],
      ['wrong key', { type: 'x509', credentials: { cert: identity.certificatePem, key: PSK } }],
      ['unknown body member', { type: 'psk', credentials: { key: PSK }, password: PSK }],
    ];
    for (const [label, payload] of cases) {
      const res = await api.call({ method: 'POST', url: '/v1/credentials/refused', payload });
      expect(res.statusCode, `${label}: ${res.body}`).toBe(400);
      expectNoSecret(res.body);
    }
    const badId = await api.call({
      method: 'POST',
      url: '/v1/credentials/has%20space',
      payload: { type: 'psk', credentials: { key: PSK } },
    });
    expect(badId.statusCode).toBe(400);
    const empty = await api.call({ method: 'PUT', url: '/v1/credentials/beam-psk', payload: {} });
    expect(empty.statusCode).toBe(400);
    expect((await api.call({ method: 'GET', url: '/v1/credentials' })).body).not.toContain('refused');
  });

  it('the response schema drops a secret even if the domain hands one over', async () => {
    const real = api.platform.credentials.list.bind(api.platform.credentials);
    const service = api.platform.credentials as { list: typeof real };
    service.list = async (operatorId) =>
      (await real(operatorId)).map((v) => ({
        ...v,
        credentials: { ...v.credentials, password: PASSWORD, key: PSK },
      }));
    try {
      const res = await api.call({ method: 'GET', url: '/v1/credentials' });
      expect(res.statusCode).toBe(200);
      expectNoSecret(res.body);
    } finally {
      service.list = real;
    }
  });

  it('audits each change without its secrets', async () => {
    const rows = await api.db.store.db
      .selectFrom('audit_logs')
      .selectAll()
      .where('operator_id', '=', op)
      .where('operation_id', 'like', 'Credential:%')
      .execute();
    const ops = rows.map((r) => `${r.operation_id} ${r.result}`);
    expect(ops).toContain('Credential:createCredential success');
    expect(ops).toContain('Credential:updateCredential success');
    expect(ops).toContain('Credential:deleteCredential success');
    expect(ops).toContain('Credential:createCredential failure');
    expectNoSecret(JSON.stringify(rows));
  });

  it('no log line carries a secret', () => {
    expect(logs.length).toBeGreaterThan(0);
    expectNoSecret(logs);
  });
});

describe('permissions and tenants', () => {
  async function userWith(name: string, apis: string[]): Promise<string> {
    const created = await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}`, payload: {} });
    expect(created.statusCode, created.body).toBe(201);
    const permission = JSON.stringify({ statements: [{ effect: 'allow', api: apis }] });
    await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/${name}/permission`,
      payload: { permission },
    });
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}/auth_keys` })
    ).json();
    const login = await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key });
    expect(login.statusCode, login.body).toBe(200);
    return login.json().token;
  }

  it('a SAM user does what Credential:* statements allow and nothing more (refusals audited)', async () => {
    const reader = await userWith('cred-reader', ['Credential:listCredentials']);
    expect((await api.call({ method: 'GET', url: '/v1/credentials', token: reader })).statusCode).toBe(200);
    const denied = await api.call({
      method: 'POST',
      url: '/v1/credentials/from-reader',
      token: reader,
      payload: { type: 'psk', credentials: { key: PSK } },
    });
    expect(denied.statusCode).toBe(403);
    expectNoSecret(denied.body);
    expect(
      (await api.call({ method: 'DELETE', url: '/v1/credentials/beam-psk', token: reader })).statusCode,
    ).toBe(403);

    const writer = await userWith('cred-writer', ['Credential:create*', 'Credential:update*']);
    const made = await api.call({
      method: 'POST',
      url: '/v1/credentials/from-writer',
      token: writer,
      payload: { type: 'api-token-credentials', credentials: { token: PSK } },
    });
    expect(made.statusCode, made.body).toBe(201);
    expect((await api.call({ method: 'GET', url: '/v1/credentials', token: writer })).statusCode).toBe(403);
    expect(
      (await api.call({ method: 'DELETE', url: '/v1/credentials/from-writer', token: writer })).statusCode,
    ).toBe(403);
    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result'])
      .where('operator_id', '=', op)
      .where('result', '=', 'denied')
      .where('operation_id', 'like', 'Credential:%')
      .execute();
    expect(audit.map((a) => a.operation_id)).toEqual(
      expect.arrayContaining(['Credential:createCredential', 'Credential:deleteCredential']),
    );
  });

  it('another operator neither sees, changes, deletes nor resolves this operator’s sets', async () => {
    const other = await api.newOperator();
    const list = await api.call({ method: 'GET', url: '/v1/credentials', token: other.token });
    expect(list.json()).toEqual([]);
    for (const method of ['PUT', 'DELETE'] as const) {
      const res = await api.call({
        method,
        url: '/v1/credentials/beam-psk',
        token: other.token,
        ...(method === 'PUT' ? { payload: { credentials: { key: 'stolen' } } } : {}),
      });
      expect(res.statusCode).toBe(404);
    }
    // The same id is theirs to create; ours stays as it was.
    const theirs = await api.call({
      method: 'POST',
      url: '/v1/credentials/beam-psk',
      token: other.token,
      payload: { type: 'psk', credentials: { key: 'their-key' } },
    });
    expect(theirs.statusCode).toBe(201);
    expect(await api.platform.credentials.resolve(op, 'beam-psk', { imsi: '001010000000001' })).toMatchObject(
      {
        key: PSK,
      },
    );
    expect(
      await api.platform.credentials.resolve(other.operatorId, 'beam-psk', { imsi: '001010000000001' }),
    ).toMatchObject({ key: 'their-key' });
    await expect(
      api.platform.credentials.resolve(other.operatorId, 'device-#{imsi}', { imsi: '001010000000001' }),
    ).rejects.toMatchObject({ code: 'ERR_CREDENTIALS_NOT_FOUND' });
  });
});

describe('hostile input', () => {
  it('property: any id and body answers 201, 400 or 409 — never 500 — and stores only valid sets', async () => {
    const body = fc.oneof(
      fc.record({
        type: fc.oneof(fc.constantFrom('psk', 'x509', 'api-token-credentials', '__proto__'), fc.string()),
        credentials: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 30 }), fc.integer())),
          fc.constant({ key: 'k' }),
          fc.constant({ constructor: 'x', __proto__: 'y' }),
          fc.jsonValue(),
        ),
        description: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
      }),
      fc.jsonValue(),
    );
    const id = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
      fc.string({ maxLength: 20 }),
      fc.constantFrom('..', '.', '%2e%2e', '__proto__', 'a'.repeat(101), 'device-#{imsi}'),
    );
    await fc.assert(
      fc.asyncProperty(id, body, async (credentialsId, payload) => {
        const res = await api.call({
          method: 'POST',
          url: `/v1/credentials/${encodeURIComponent(credentialsId)}`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        });
        expect([201, 400, 404, 409, 414], res.body).toContain(res.statusCode);
        if (res.statusCode === 201) {
          const view = res.json();
          expect(view.credentialsId).toBe(credentialsId);
          expect(['psk', 'api-token-credentials']).toContain(view.type);
          await api.call({ method: 'DELETE', url: `/v1/credentials/${encodeURIComponent(credentialsId)}` });
        }
      }),
      { numRuns: 150 },
    );
  });
});

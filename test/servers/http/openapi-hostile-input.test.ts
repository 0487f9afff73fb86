// The threat: a query or path number the schema lets through (Infinity, NaN, 2^53, a negative
// count) reaching SQL or the clock and failing there with a 500 — issue 11: `limit=1e999` passed the
// 1–100 bound and made SQLite fail on ten list routes. And validation errors that do not help: a bad
// enum value answered "must be equal to constant" once per allowed value.
//
// This test reads the API's own OpenAPI document, so every route that exists when it runs is covered,
// including routes other issues add:
//   1. every numeric query or path parameter gets 1e999, -1e999, NaN, -1, 0 and 2^53: never a 5xx; a
//      value that is not a safe integer within the parameter's bounds is a 400 naming the parameter;
//   2. every enum field of a query or a JSON body gets one bad value: a 400 whose message names the
//      field and lists the allowed values once.

import { afterAll, describe, expect, it } from 'vitest';
import { startTestApi, vendorCsv } from '../../helpers/app.js';

interface Schema {
  readonly type?: string | string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: unknown[];
  readonly anyOf?: Schema[];
  readonly items?: Schema;
  readonly properties?: Record<string, Schema>;
  readonly required?: string[];
  readonly pattern?: string;
  readonly minLength?: number;
}
interface Parameter {
  readonly in: 'query' | 'path' | 'header';
  readonly name: string;
  readonly required?: boolean;
  readonly schema: Schema;
}
interface Operation {
  readonly operationId: string;
  readonly parameters?: Parameter[];
  readonly requestBody?: { content: Record<string, { schema: Schema }> };
}

// Rate limits are tested on their own; this walk makes hundreds of calls from one address.
const api = await startTestApi({ config: { apiRateLimitPerAddress: 0, apiRateLimitPerToken: 0 } });
afterAll(() => api.close());

const A = api.operator.operatorId;
const { csv, rows } = vendorCsv(2, { start: 900 });
await api.call({
  method: 'POST',
  url: '/v1/sims/import',
  headers: { 'content-type': 'text/csv' },
  payload: csv,
});
const group = (
  await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'walk' } } })
).json();
await api.call({ method: 'POST', url: `/v1/operators/${A}/users/walk-user`, payload: {} });
await api.call({
  method: 'POST',
  url: `/v1/operators/${A}/roles/walk-role`,
  payload: { permission: '{"statements":[]}' },
});
const directory = (
  await api.call({ method: 'POST', url: '/v1/directories', payload: { name: 'walk' } })
).json();

const PATH_VALUES = new Map<string, string>([
  ['operator_id', A],
  ['sim_id', rows[0]!.iccid],
  ['group_id', group.groupId],
  ['user_name', 'walk-user'],
  ['role_id', 'walk-role'],
  ['tag_name', 'name'],
  ['namespace', 'SoracomAir'],
  ['directory_id', directory.directoryId],
  // The retry of an event handler's action run: numeric path parameters, so that the one under test
  // is the only thing wrong.
  ['execution_id', '1'],
  ['action_index', '0'],
  // Beam/Funnel/Funk stats of this operator's SIM; an exported file id of the right form.
  ['imsi', rows[0]!.imsi],
  ['exported_file_id', `ef-${'0'.repeat(24)}`],
]);

/**
 * Valid values for the other required fields of a query or body, so that the value under test is the
 * only thing wrong. A route added with a new required field needs an entry here (the test says so).
 */
const VALID = new Map<string, unknown>([
  ['imsi', '001010000009999'],
  ['ki', '00112233445566778899aabbccddeeff'],
  ['api', 'Sim:listSims'],
  ['from', '0'],
  ['to', '3600'],
  // A stats export body (its query's export_mode enum is walked).
  ['period', 'day'],
  ['speedClass', 's1.fast'],
  // setSimExpiryTime: a time in the future (2100-01-01).
  ['expiryTime', 4_102_444_800_000],
  // An event handler body (its `status` enum is walked).
  ['name', 'walk-handler'],
  ['ruleConfig', { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'NEVER' } }],
  ['actionConfigList', [{ type: 'SuspendAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }]],
  // A credential set body (its `type` enum is walked).
  ['credentials', { key: 'walk-psk' }],
]);

const doc = (await api.call({ method: 'GET', url: '/openapi.json', token: null })).json() as {
  paths: Record<string, Record<string, Operation>>;
};

const operations = Object.entries(doc.paths)
  .filter(([path]) => path.startsWith('/v1/'))
  .flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );

const isNumeric = (s: Schema) => [s.type].flat().some((t) => t === 'integer' || t === 'number');

/** The values an enum field allows, as the OpenAPI document gives them (a union of constants or an enum). */
function enumValues(s: Schema): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum;
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0 && s.anyOf.every((b) => b.enum?.length === 1)) {
    return s.anyOf.map((b) => b.enum?.[0]);
  }
  return undefined;
}

function urlOf(path: string, query: Record<string, string>, pathOverride: Map<string, string> = new Map()) {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(pathOverride.get(name) ?? PATH_VALUES.get(name) ?? 'walk-unknown-1'),
  );
  const search = new URLSearchParams(query).toString();
  return search === '' ? filled : `${filled}?${search}`;
}

/** The other required query parameters, with valid values. */
function requiredQuery(op: Operation, except: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of op.parameters ?? []) {
    if (p.in !== 'query' || !p.required || p.name === except) continue;
    const allowed = enumValues(p.schema);
    const value =
      VALID.get(p.name) ?? allowed?.[0] ?? (isNumeric(p.schema) ? String(p.schema.minimum ?? 0) : undefined);
    if (value === undefined) throw new Error(`give the query parameter ${p.name} a valid value in VALID`);
    out[p.name] = String(value);
  }
  return out;
}

const HOSTILE_NUMBERS = ['1e999', '-1e999', 'NaN', '-1', '0', String(2 ** 53)];

describe('issue 11: numbers in queries and paths never make a 5xx', () => {
  const numeric = operations.flatMap(({ path, method, op }) =>
    (op.parameters ?? [])
      .filter((p) => (p.in === 'query' || p.in === 'path') && isNumeric(p.schema))
      .map((p) => ({ path, method, op, p })),
  );

  it('finds the numeric parameters (limit on every list route, times, keys)', () => {
    expect(numeric.length).toBeGreaterThanOrEqual(15);
    expect(numeric.filter(({ p }) => p.name === 'limit').length).toBeGreaterThanOrEqual(10);
  });

  it('sends 1e999, -1e999, NaN, -1, 0 and 2^53 to each', async () => {
    for (const { path, method, op, p } of numeric) {
      for (const text of HOSTILE_NUMBERS) {
        const query = requiredQuery(op, p.name);
        const url =
          p.in === 'query'
            ? urlOf(path, { ...query, [p.name]: text })
            : urlOf(path, query, new Map([[p.name, text]]));
        const res = await api.call({ method: method as 'GET', url });
        const label = `${method} ${url} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, label).toBeLessThan(500);
        const n = Number(text);
        const inBounds =
          Number.isSafeInteger(n) &&
          n >= (p.schema.minimum ?? Number.MIN_SAFE_INTEGER) &&
          n <= (p.schema.maximum ?? Number.MAX_SAFE_INTEGER);
        if (res.statusCode === 400 && res.json().message.startsWith('params/') && p.in !== 'path') {
          throw new Error(`${label}: give this path variable a well-formed value in PATH_VALUES`);
        }
        if (!inBounds) {
          expect(res.statusCode, label).toBe(400);
          expect(res.json(), label).toMatchObject({ code: 'ERR_VALIDATION' });
          expect(res.json().message, label).toContain(p.name);
        }
      }
    }
  });

  it('reads only plain decimals: 1e2, 0x10 and " 5" are refused, 5 is not', async () => {
    for (const text of ['1e2', '0x10', ' 5', '5.0', '+5']) {
      const res = await api.call({ method: 'GET', url: `/v1/sims?limit=${encodeURIComponent(text)}` });
      expect(res.statusCode, text).toBe(400);
      expect(res.json().message).toBe(
        'querystring/limit must be a whole number in decimal digits from 1 to 100 (no exponent, hex or spaces)',
      );
    }
    expect((await api.call({ method: 'GET', url: '/v1/sims?limit=5' })).statusCode).toBe(200);
  });
});

/** A body with every required field valid (for a case about the query). */
function validBody(schema: Schema): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of schema.required ?? []) {
    if (!VALID.has(name)) throw new Error(`give the body field ${name} a valid value in VALID`);
    body[name] = VALID.get(name);
  }
  return body;
}

/** A body with one field set to `bad`, the other required fields valid. */
function bodyWith(schema: Schema, field: string, bad: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of schema.required ?? []) {
    if (name === field) continue;
    if (!VALID.has(name)) throw new Error(`give the body field ${name} a valid value in VALID`);
    body[name] = VALID.get(name);
  }
  body[field] = bad;
  return body;
}

describe('issue 11: a bad enum value answers one message naming the field and the allowed values', () => {
  const BAD = 'not-a-valid-value';
  const cases = operations.flatMap(({ path, method, op }) => {
    const out: Array<{
      label: string;
      send: () => ReturnType<typeof api.call>;
      field: string;
      allowed: unknown[];
    }> = [];
    const bodySchema = op.requestBody?.content['application/json']?.schema;
    for (const p of op.parameters ?? []) {
      const allowed = p.in === 'query' ? enumValues(p.schema) : undefined;
      if (allowed === undefined) continue;
      const url = urlOf(path, { ...requiredQuery(op, p.name), [p.name]: BAD });
      // A route that needs a body gets a valid one, so that the query value is the only thing wrong.
      const payload = bodySchema === undefined ? undefined : validBody(bodySchema);
      out.push({
        label: `${method} ${url}`,
        send: () => api.call({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload }) }),
        field: `querystring/${p.name}`,
        allowed,
      });
    }
    const body = op.requestBody?.content['application/json']?.schema;
    for (const [name, s] of Object.entries(body?.properties ?? {})) {
      const direct = enumValues(s);
      const ofItems = s.items === undefined ? undefined : enumValues(s.items);
      const allowed = direct ?? ofItems;
      if (allowed === undefined || body === undefined) continue;
      const payload = bodyWith(body, name, direct !== undefined ? BAD : [BAD]);
      const url = urlOf(path, {});
      out.push({
        label: `${method} ${url} ${JSON.stringify(payload)}`,
        send: () => api.call({ method: method as 'POST', url, payload }),
        field: direct !== undefined ? `body/${name}` : `body/${name}/0`,
        allowed,
      });
    }
    return out;
  });

  it('finds the enum fields (speed class, SIM type, match mode, audit result, period, algorithms)', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
    expect(cases.map((c) => c.field)).toEqual(
      expect.arrayContaining(['body/speedClass', 'body/type', 'querystring/tag_value_match_mode']),
    );
  });

  it('sends one bad value to each', async () => {
    for (const c of cases) {
      const res = await c.send();
      const label = `${c.label} → ${res.statusCode} ${res.body}`;
      expect(res.statusCode, label).toBe(400);
      const { code, message } = res.json() as { code: string; message: string };
      expect(code, label).toBe('ERR_VALIDATION');
      const expected = `${c.field} must be one of: ${c.allowed.join(', ')}`;
      expect(message, label).toBe(expected);
      expect(message, label).not.toContain('constant');
    }
  });

  it('a speed class of the wrong type gets the same message (issue 11)', async () => {
    const res = await api.call({
      method: 'POST',
      url: `/v1/sims/${rows[0]!.iccid}/update_speed_class`,
      payload: { speedClass: 42 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^body\/speedClass must be one of: s1\.minimum, s1\.slow, /);
    expect(res.json().message.match(/s1\.minimum/g)).toHaveLength(1);
  });
});

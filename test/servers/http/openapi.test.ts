// Schema-first: every route declares a tag, an operationId and a schema for each response status,
// and the OpenAPI document and docs page are generated from them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

describe('OpenAPI', () => {
  it('documents every /v1 route with tag, operationId, responses and unique ids', async () => {
    const doc = (await api.call({ method: 'GET', url: '/openapi.json', token: null })).json() as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { tags?: string[]; operationId?: string; responses?: Record<string, unknown> }>
      >;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const ids = new Set<string>();
    let count = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, op] of Object.entries(methods)) {
        count++;
        expect(op.tags, `${method} ${path}`).toHaveLength(1);
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        const id = `${op.tags?.[0]}:${op.operationId}`;
        expect(ids.has(id), id).toBe(false);
        ids.add(id);
        const statuses = Object.keys(op.responses ?? {});
        expect(
          statuses.some((s) => s.startsWith('2')),
          `${id} success`,
        ).toBe(true);
        for (const s of ['400', '401', '403', '429', '500']) expect(statuses, `${id} ${s}`).toContain(s);
      }
    }
    expect(count).toBeGreaterThanOrEqual(30);
    expect(ids).toContain('Sim:listSims');
    expect(ids).toContain('Group:putConfigurationParameters');
  });

  it('serves the docs page', async () => {
    const res = await api.call({ method: 'GET', url: '/docs/', token: null });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('swagger');
  });
});

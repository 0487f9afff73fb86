// The threat: one client (a leaked token in a runaway script, or an unauthenticated flood from one
// address) starving the API for everyone. Requests are limited per token and per source address;
// the excess answers 429 with Retry-After, and monitoring endpoints stay reachable.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({
    config: { apiRateLimitPerToken: 5, apiRateLimitPerAddress: 8, apiRateLimitWindowSeconds: 60 },
  });
});
afterAll(() => api.close());

const get = (url: string, remoteAddress: string, token?: string) =>
  api.app.inject({
    method: 'GET',
    url,
    remoteAddress,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe('API rate limits', () => {
  it('per token: the sixth call in the window is 429 with Retry-After, from any address', async () => {
    const token = api.operator.token;
    for (let i = 0; i < 5; i++)
      expect((await get('/v1/auth/session', `10.60.0.${i + 1}`, token)).statusCode).toBe(200);
    const over = await get('/v1/auth/session', '10.60.1.1', token);
    expect(over.statusCode).toBe(429);
    expect(over.json().code).toBe('ERR_RATE_LIMITED');
    const wait = Number(over.headers['retry-after']);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    // Another token is not affected.
    const other = await api.newOperator();
    expect((await get('/v1/auth/session', '10.60.2.1', other.token)).statusCode).toBe(200);
  });

  it('per address: with or without credentials, public routes included; /health stays open', async () => {
    const address = '10.61.0.1';
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await get('/v1/sims', address)).statusCode);
    expect(statuses.slice(0, 8).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(8)).toEqual([429, 429]);
    const login = await api.app.inject({
      method: 'POST',
      url: '/v1/auth',
      remoteAddress: address,
      payload: { email: api.operator.email, password: api.operator.password },
    });
    expect(login.statusCode).toBe(429);
    expect(login.headers['retry-after']).toBeDefined();
    expect((await get('/health', address)).statusCode).toBe(200);
    expect((await get('/v1/sims', '10.61.0.2')).statusCode).toBe(401);
  });
});

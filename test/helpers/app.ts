// An API under test: a fresh database (SQLite or PostgreSQL per SIMTRUST_TEST_DATABASE), the
// platform with a random master key, the Fastify app driven through inject(), and a logged-in
// operator.

import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type Config, SETTINGS } from '../../src/config/defaults.js';
import type { Clock } from '../../src/lib/clock.js';
import { createOperator } from '../../src/platform/iam/operators.js';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { buildApp } from '../../src/servers/http/app.js';
import { openTestDatabase, type TestDatabase } from './database.js';

export function testConfig(overrides: Partial<Config> = {}): Config {
  const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
  return Object.freeze({ ...defaults, demo: false, logLevel: 'silent', ...overrides }) as Config;
}

export interface TestApi {
  readonly db: TestDatabase;
  readonly platform: Platform;
  readonly app: FastifyInstance;
  readonly masterKey: Buffer;
  readonly operator: { operatorId: string; email: string; password: string; token: string; apiKey: string };
  /** inject() with the operator's token unless `token: null` (or another token) is given. */
  call(options: InjectOptions & { token?: string | null }): Promise<LightMyRequestResponse>;
  /** Logs in a further operator (for tenant-isolation tests). */
  newOperator(): Promise<{ operatorId: string; token: string; email: string; password: string }>;
  close(): Promise<void>;
}

export async function startTestApi(
  options: { config?: Partial<Config>; clock?: Clock; logger?: FastifyBaseLogger } = {},
): Promise<TestApi> {
  const db = await openTestDatabase();
  const masterKey = randomBytes(32);
  const config = testConfig({ databaseUrl: db.url, masterKey, ...options.config });
  const platform = await openPlatform(config, {
    masterKey,
    store: db.store,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const { app } = await buildApp({ platform, ...(options.logger ? { logger: options.logger } : {}) });

  const login = async (email: string, password: string) => {
    const res = await app.inject({ method: 'POST', url: '/v1/auth', payload: { email, password } });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`);
    return res.json() as { token: string; apiKey: string; operatorId: string };
  };
  const newOperator = async () => {
    const email = `op-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await createOperator(db.store, platform.clock, { email, password });
    const session = await login(email, password);
    return { ...session, email, password };
  };
  const operator = await newOperator();

  return {
    db,
    platform,
    app,
    masterKey,
    operator,
    newOperator,
    call({ token, headers, ...rest }) {
      const bearer = token === undefined ? operator.token : token;
      return app.inject({
        ...rest,
        headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), ...headers },
      });
    },
    async close() {
      await app.close();
      await db.cleanup();
    },
  };
}

/** A syntactically valid vendor CSV line set (Luhn-correct ICCIDs, random Ki/OPc). */
export function vendorCsv(
  count: number,
  options: { start?: number; extraHeader?: string } = {},
): {
  csv: string;
  rows: Array<{ iccid: string; imsi: string; ki: string; opc: string }>;
} {
  const rows: Array<{ iccid: string; imsi: string; ki: string; opc: string }> = [];
  const start = options.start ?? 0;
  for (let i = start; i < start + count; i++) {
    const body = `894400000${String(i).padStart(10, '0')}`;
    rows.push({
      iccid: body + luhn(body),
      imsi: `44010${String(i).padStart(10, '0')}`,
      ki: randomBytes(16).toString('hex'),
      opc: randomBytes(16).toString('hex'),
    });
  }
  const csv = `iccid,imsi,msisdn,ki,opc\n${rows.map((r, i) => `${r.iccid},${r.imsi},8190${String(start + i).padStart(8, '0')},${r.ki},${r.opc}`).join('\n')}\n`;
  return { csv, rows };
}

function luhn(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

// Every store test runs on the database chosen by SIMTRUST_TEST_DATABASE: the embedded SQLite
// (default, `npm test`) or PostgreSQL (`npm run test:pg`, .ci/run). Each test store gets its own
// SQLite file or its own PostgreSQL schema, dropped afterwards, so runs never collide.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, parsePostgresUrl, type Store } from '../../src/platform/store/database.js';

export const testDialect = process.env.SIMTRUST_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';

const PG_BASE = process.env.SIMTRUST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** A URL other processes (CLI, server) can open to reach the same data. */
  readonly url: string;
  readonly store: Store;
  /** Closes the store and removes the file or schema. */
  cleanup(): Promise<void>;
}

/** A fresh, migrated, empty database URL (nothing opened yet), by default of the run's dialect. */
export function freshDatabaseUrl(dialect: 'sqlite' | 'postgres' = testDialect): {
  url: string;
  drop: () => Promise<void>;
} {
  if (dialect === 'postgres') {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    return {
      url: `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}schema=${schema}`,
      drop: async () => {
        const client = new pg.Client({ connectionString: parsePostgresUrl(PG_BASE).connectionString });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-test-'));
  return {
    url: `sqlite:${join(dir, 'test.db')}`,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function openTestDatabase(): Promise<TestDatabase> {
  const { url, drop } = freshDatabaseUrl();
  let store: Store;
  try {
    store = await openStore(url);
  } catch (e) {
    await drop().catch(() => undefined);
    throw new Error(
      `cannot open the ${testDialect} test database (${testDialect === 'postgres' ? PG_BASE : url}): ${(e as Error).message}`,
    );
  }
  return {
    url,
    store,
    async cleanup() {
      await store.close();
      await drop();
    },
  };
}

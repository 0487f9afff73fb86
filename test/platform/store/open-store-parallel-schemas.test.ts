// Regression: "database migration unknown failed: schema "t_…" does not exist" (task F2). Parallel
// test runs and benches share one PostgreSQL database, each in its own schema, created and dropped
// while the others open theirs. Kysely's introspection read every schema and looked each one up by
// name, so a schema dropped meanwhile failed the Migrator of an unrelated store — before any
// migration, hence "unknown". The store now introspects its own schema only, and an error before
// the first migration names the setup step and the database's cause.

import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, parsePostgresUrl } from '../../../src/platform/store/database.js';
import {
  freshDatabaseUrl,
  openTestDatabase,
  type TestDatabase,
  testDialect,
} from '../../helpers/database.js';

const PG_BASE = process.env.SIMTRUST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function pgClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: parsePostgresUrl(PG_BASE).connectionString });
  await client.connect();
  return client;
}

describe.skipIf(testDialect !== 'postgres')(
  'a store among other schemas of the same PostgreSQL database',
  () => {
    let t: TestDatabase;
    let admin: pg.Client;
    const other = `f2_other_${process.pid}`;

    beforeAll(async () => {
      admin = await pgClient();
      await admin.query(`drop schema if exists ${other} cascade; create schema ${other}`);
      await admin.query(
        `create table ${other}.kysely_migration (name varchar(255) primary key, timestamp varchar(255))`,
      );
      await admin.query(`create table ${other}.someone_elses (id serial primary key)`);
      t = await openTestDatabase();
    });
    afterAll(async () => {
      await t?.cleanup();
      await admin?.query(`drop schema if exists ${other} cascade`);
      await admin?.end();
    });

    it("introspection (the Migrator's) sees the store's own schema only", async () => {
      const tables = await t.store.db.introspection.getTables({ withInternalKyselyTables: true });
      expect(new Set(tables.map((x) => x.schema))).toEqual(new Set([t.store.schema]));
      const names = tables.map((x) => x.name);
      expect(names).toContain('kysely_migration');
      expect(names).toContain('sims');
      expect(names).not.toContain('someone_elses');
      const sims = tables.find((x) => x.name === 'sims');
      expect(sims?.columns.some((c) => c.name === 'sim_id')).toBe(true);
      expect(
        new Set((await t.store.db.introspection.getTables()).map((x) => x.name)).has('kysely_migration'),
      ).toBe(false);
    });

    it('opens and migrates while another connection keeps creating and dropping schemas', async () => {
      const churn = await pgClient();
      let stop = false;
      let dropped = 0;
      const churning = (async () => {
        for (let i = 0; !stop; i++) {
          const s = `f2_churn_${process.pid}_${i}`;
          await churn.query(
            `create schema ${s}; create table ${s}.a (id serial primary key, x text); create table ${s}.b (id serial primary key)`,
          );
          await churn.query(`drop schema ${s} cascade`);
          dropped++;
        }
      })();
      try {
        for (let i = 0; i < 4; i++) {
          const { url, drop } = freshDatabaseUrl();
          try {
            const store = await openStore(url);
            await store.close();
          } finally {
            await drop();
          }
        }
      } finally {
        stop = true;
        await churning;
        await churn.end();
      }
      expect(dropped).toBeGreaterThan(0);
    }, 300_000);
  },
);

describe(`a migration setup error on ${testDialect}`, () => {
  it('names the setup step and the cause, not "unknown"', async () => {
    const { url, drop } = freshDatabaseUrl();
    // A lock table of the wrong shape (no is_locked column): the Migrator fails inserting its row.
    const lockTable = 'create table kysely_migration_lock (id varchar(255) primary key)';
    if (testDialect === 'postgres') {
      const schema = parsePostgresUrl(url).schema as string;
      const admin = await pgClient();
      try {
        await admin.query(`create schema ${schema}; set search_path = ${schema}; ${lockTable}`);
      } finally {
        await admin.end();
      }
    } else {
      const file = new BetterSqlite3(url.slice('sqlite:'.length));
      file.exec(lockTable);
      file.close();
    }
    try {
      const opening = openStore(url);
      await expect(opening).rejects.toThrow(/database migration setup \(kysely_migration tables and lock/);
      await expect(opening).rejects.toThrow(/failed: .*is_locked/);
      await expect(opening).rejects.not.toThrow(/unknown/);
    } finally {
      await drop();
    }
  });
});

// Opens the store: Kysely over better-sqlite3 (embedded default, WAL) or pg (PostgreSQL, the system
// of record for several instances). Migrations run at open. Callers get one interface for both.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { SimtrustError } from '../../lib/errors.js';
import { ensurePrivateFile, PRIVATE_DIR_MODE, tightenIfPresent } from '../private-files.js';
import { migrationProvider } from './migrations.js';
import { OwnSchemaPostgresDialect } from './own-schema-introspector.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** Anything queries can run on: the database or an open transaction. */
export type Executor = Kysely<Database>;

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The PostgreSQL schema the store lives in, when the URL names one (`?schema=`). */
  readonly schema?: string | undefined;
  /**
   * Runs `fn` in one transaction. On SQLite the transaction starts with BEGIN IMMEDIATE so
   * concurrent writers (other processes on the same file) queue on busy_timeout instead of failing
   * when a read lock would have to be upgraded.
   */
  transaction<T>(fn: (trx: Executor) => Promise<T>): Promise<T>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  /**
   * Refreshes the planner statistics of `tables` (after a bulk load, so the next queries pick the
   * right indexes instead of waiting for autovacuum / never on SQLite).
   */
  analyze(tables: readonly (keyof Database)[]): Promise<void>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  readonly poolSize?: number;
  /** Run pending migrations (default true). */
  readonly migrate?: boolean;
}

// PostgreSQL int8 (bigint, bigserial, count(*)) arrives as a string; every value we store fits in
// 2^53 (ms timestamps, 48-bit SQN, byte counters), so parse it to a number once, here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function dialectOf(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new SimtrustError('ERR_DATABASE_URL', `unsupported database URL scheme in "${url.split(':')[0]}:…"`);
}

/** Splits our `schema` query parameter off a PostgreSQL URL (it becomes the search_path). */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new SimtrustError('ERR_DATABASE_URL', 'schema must be a lower-case SQL identifier');
  }
  return { connectionString: parsed.toString(), schema };
}

function openSqlite(url: string): Kysely<Database> {
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') privateDatabaseFiles(path);
  const database = new BetterSqlite3(path);
  database.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before it is acknowledged (accounting and imports rely on it).
  database.pragma('synchronous = FULL');
  database.pragma('busy_timeout = 10000');
  database.pragma('foreign_keys = ON');
  cacheStatements(database);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
}

/**
 * The database file is created 0600 before SQLite opens it: SQLite creates the -wal and -shm files
 * with the database file's own mode, so they are 0600 too whatever the umask. A missing directory
 * is created 0700; files an earlier version left world-readable are tightened.
 */
function privateDatabaseFiles(path: string): void {
  if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  ensurePrivateFile(path);
  for (const suffix of ['-wal', '-shm', '-journal']) tightenIfPresent(`${path}${suffix}`);
}

/** Statements kept per connection (by SQL text); the hot paths use a handful. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query anew, and preparing (parsing, planning) costs more
 * than running a short indexed query — it was the largest cost of the token endpoint's request.
 * Statements are reused by SQL text (LRU); one still being iterated (`busy`) is never handed out
 * again, a fresh one is prepared instead. SQLite re-prepares a cached statement itself after a
 * schema change.
 */
function cacheStatements(database: BetterSqlite3.Database): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, BetterSqlite3.Statement>();
  const cached = (source: string): BetterSqlite3.Statement => {
    const hit = cache.get(source);
    if (hit !== undefined && !hit.busy) {
      cache.delete(source);
      cache.set(source, hit);
      return hit;
    }
    const statement = prepare(source);
    if (hit === undefined) {
      cache.set(source, statement);
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    }
    return statement;
  };
  database.prepare = cached as typeof database.prepare;
}

async function openPostgres(url: string, poolSize: number, migrate: boolean): Promise<Kysely<Database>> {
  const { connectionString, schema } = parsePostgresUrl(url);
  if (schema !== undefined && migrate) {
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  return new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }, schema) });
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const dialect = dialectOf(url);
  const migrate = options.migrate ?? true;
  const db =
    dialect === 'sqlite' ? openSqlite(url) : await openPostgres(url, options.poolSize ?? 10, migrate);
  const store: Store = {
    schema: dialect === 'postgres' ? parsePostgresUrl(url).schema : undefined,
    db,
    dialect,
    transaction:
      dialect === 'sqlite'
        ? (fn) =>
            db.connection().execute(async (conn) => {
              await sql`begin immediate`.execute(conn);
              try {
                const result = await fn(conn);
                await sql`commit`.execute(conn);
                return result;
              } catch (e) {
                await sql`rollback`.execute(conn);
                throw e;
              }
            })
        : (fn) => db.transaction().execute(fn),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async analyze(tables) {
      for (const table of tables) await sql`analyze ${sql.table(table)}`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
  if (migrate) await migrateToLatest(store);
  return store;
}

/**
 * Runs `fn` with commits that do not wait for the disk: for counters that a power cut may lose
 * without harm (the shared API rate limit), never for anything a caller was promised. A crash of
 * the process loses nothing (the operating system has the write); only a crash of the machine can
 * lose the last such commits.
 * - PostgreSQL: `fn` runs in one transaction with `SET LOCAL synchronous_commit = off`.
 * - SQLite (WAL): each statement of `fn` commits by itself under `synchronous = NORMAL` (written to
 *   the WAL, synced by the next checkpoint or the next FULL commit); the connection is back to FULL
 *   afterwards. No transaction spans two statements, so no lock is held across an await (another
 *   connection of this process would otherwise block the event loop on busy_timeout).
 */
export function withoutSync<T>(store: Store, fn: (db: Executor) => Promise<T>): Promise<T> {
  if (store.dialect === 'postgres') {
    return store.db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = off`.execute(trx);
      return fn(trx);
    });
  }
  return store.db.connection().execute(async (conn) => {
    await sql`pragma synchronous = NORMAL`.execute(conn);
    try {
      return await fn(conn);
    } finally {
      // openSqlite's setting: every other commit is on disk before it is acknowledged.
      await sql`pragma synchronous = FULL`.execute(conn);
    }
  });
}

export async function migrateToLatest(store: Store): Promise<void> {
  const migrator = new Migrator({
    db: store.db,
    provider: migrationProvider(store.dialect),
    // The migration tables live in the store's own schema; without this Kysely would find another
    // schema's tables in the same PostgreSQL database and skip creating its own.
    ...(store.schema ? { migrationTableSchema: store.schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    // No result names a migration when the Migrator failed before running one (creating or locking
    // its kysely_migration tables): say so rather than "unknown", with the database's own words.
    const failed =
      results?.find((r) => r.status === 'Error')?.migrationName ??
      `setup (kysely_migration tables and lock${store.schema ? ` in schema ${store.schema}` : ''}, before any migration)`;
    const code = (error as { code?: unknown }).code;
    const cause = `${error instanceof Error ? error.message : String(error)}${typeof code === 'string' ? ` (${code})` : ''}`;
    throw new SimtrustError('ERR_INTERNAL', `database migration ${failed} failed: ${cause}`, {
      cause: error,
    });
  }
}

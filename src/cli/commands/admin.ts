// `simtrust admin …`: operations on the configured database itself (no API, no token).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SETTINGS, type SettingName } from '../../config/defaults.js';
import { base64Key, flagName } from '../../config/setting.js';
import { systemClock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { generateMasterKey, KeyRing, masterKeyId, rotateMasterKey } from '../../platform/secrets/key-ring.js';
import { demoMasterKeyPath, resolveMasterKey } from '../../platform/secrets/master-key.js';
import { print } from '../context.js';
import { configFromFlags } from './serve.js';

/** Settings `admin purge` takes as flags. */
const RETENTION_SETTINGS = (Object.keys(SETTINGS) as SettingName[]).filter(
  (n) => n.startsWith('retention') && n !== 'retentionPurgeIntervalSeconds',
);

/** The store (Kysely and both drivers) loads only when an admin command runs. */
const openStore = async (...args: Parameters<typeof import('../../platform/store/database.js').openStore>) =>
  (await import('../../platform/store/database.js')).openStore(...args);

const withDatabase = (c: Command) =>
  c
    .option('--config <file>', 'JSON config file (default $SIMTRUST_CONFIG)')
    .option('--database-url <url>', 'database (default $SIMTRUST_DATABASE_URL or sqlite:./data/simtrust.db)')
    .option('--data-dir <dir>', 'data directory (default ./data)');

export function registerAdminCommand(program: Command): void {
  const admin = program
    .command('admin')
    .description('Administer the database directly (operators, keys, migrations)');

  const operators = admin.command('operators').description('Operators (tenants)');
  withDatabase(
    operators
      .command('create')
      .description('Create an operator with a root login')
      .requiredOption('--email <email>', 'login email')
      .requiredOption('--password <password>', 'password (8+ characters)')
      .addHelpText(
        'after',
        '\nExample:\n  $ simtrust admin operators create --email ops@example.com --password "correct horse battery"',
      ),
  ).action(async (o: Record<string, string>, command: Command) => {
    const config = configFromFlags(o, false);
    const store = await openStore(config.databaseUrl, { poolSize: 2 });
    try {
      const { createOperator } = await import('../../platform/iam/operators.js');
      const operator = await createOperator(store, systemClock, {
        email: o.email as string,
        password: o.password as string,
      });
      print(command, operator);
    } finally {
      await store.close();
    }
  });

  admin
    .command('generate-master-key')
    .description('Print a new random master key (base64 of 32 bytes) for SIMTRUST_MASTER_KEY')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust admin generate-master-key > master.key && chmod 600 master.key',
    )
    .action(() => {
      process.stdout.write(`${generateMasterKey()}\n`);
    });

  withDatabase(
    admin
      .command('rotate-master-key')
      .description(
        'Re-wrap every data key under a new master key (secrets stay as they are). The current key comes from SIMTRUST_MASTER_KEY (or the demo key file with --demo).',
      )
      .requiredOption(
        '--new-key-file <file>',
        'file with the new key (base64); created with a fresh key when absent',
      )
      .option('--demo', 'rotate the demo key in <dataDir>/master.key and write the new key there')
      .addHelpText(
        'after',
        '\nExample:\n  $ simtrust admin rotate-master-key --new-key-file ./new-master.key\n  then set SIMTRUST_MASTER_KEY to the content of ./new-master.key and restart',
      ),
  ).action(async (o: Record<string, string | boolean>, command: Command) => {
    const config = configFromFlags(o, o.demo === true);
    const current = resolveMasterKey(config).key;
    const file = o.newKeyFile as string;
    if (!existsSync(file)) writeFileSync(file, `${generateMasterKey()}\n`, { mode: 0o600, flag: 'wx' });
    let next: Buffer;
    try {
      next = base64Key(32)(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new SimtrustError('ERR_MASTER_KEY', `${file}: ${(e as Error).message}`);
    }
    const store = await openStore(config.databaseUrl, { poolSize: 2 });
    try {
      await KeyRing.open(store, current);
      const rewrapped = await rotateMasterKey(store, current, next);
      await KeyRing.open(store, next);
      if (o.demo === true)
        writeFileSync(demoMasterKeyPath(config), readFileSync(file, 'utf8'), { mode: 0o600 });
      print(command, { rewrapped, previousKeyId: masterKeyId(current), newKeyId: masterKeyId(next) });
    } finally {
      await store.close();
    }
  });

  withDatabase(
    admin
      .command('migrate')
      .description('Run pending database migrations')
      .addHelpText(
        'after',
        '\nExample:\n  $ SIMTRUST_DATABASE_URL=postgres://simtrust@db/simtrust simtrust admin migrate',
      ),
  ).action(async (o: Record<string, string>, command: Command) => {
    const config = configFromFlags(o, false);
    const store = await openStore(config.databaseUrl, { poolSize: 2 });
    await store.close();
    print(command, { migrated: true, database: config.databaseUrl.replace(/\/\/[^@]*@/, '//***@') });
  });

  // Retention by hand (docs/operations.md): what the background purge of `serve` does, now, with
  // progress on stderr. Flags override the retention settings for this run only.
  const purgeCommand = withDatabase(
    admin
      .command('purge')
      .description(
        'Delete now what retention and expiry allow (ended sessions, old usage, refusals, audit records and SMS records past their retention; expired tokens, counters and one-time values), in batches, with progress',
      )
      .addHelpText(
        'after',
        '\nExample:\n  $ simtrust admin purge --retention-audit-log-days 730 --output table',
      ),
  );
  for (const name of RETENTION_SETTINGS)
    purgeCommand.option(`${flagName(name)} <value>`, SETTINGS[name].doc.split('. ')[0] ?? SETTINGS[name].doc);
  purgeCommand.action(async (o: Record<string, string>, command: Command) => {
    const config = configFromFlags(o, false);
    const store = await openStore(config.databaseUrl, { poolSize: 2 });
    try {
      const { purge } = await import('../../platform/retention.js');
      let shown = 0;
      const results = await purge(store, systemClock, config, {
        onProgress: (p) => {
          // One line per kind when it ends, and at most one a second while a large kind runs.
          if (!p.done && Date.now() - shown < 1000) return;
          shown = Date.now();
          process.stderr.write(`${p.kind}: ${p.deleted} rows deleted${p.done ? '' : ' so far…'}\n`);
        },
      });
      print(command, results, [
        ['kind', (r) => r.kind],
        ['table', (r) => r.table],
        ['olderThan', (r) => (r.cutoff === undefined ? 'kept' : new Date(r.cutoff).toISOString())],
        ['deleted', (r) => r.deleted],
      ]);
    } finally {
      await store.close();
    }
  });

  // Login attempts that named no existing operator are audited under a platform scope no tenant
  // can read through the API (docs/access-management.md); this is how the platform reads them.
  withDatabase(
    admin
      .command('audit-logs')
      .description("Read the audit log directly: the platform's own records (--platform) or an operator's")
      .option(
        '--platform',
        'login attempts that named no existing operator (unknown email, operator id or key)',
      )
      .option('--operator-id <id>', "an operator's records")
      .option('--source-ip <ip>', 'only attempts from this address')
      .option('--limit <n>', 'how many, newest first', '100')
      .addHelpText('after', '\nExample:\n  $ simtrust admin audit-logs --platform --output table'),
  ).action(async (o: Record<string, string | boolean>, command: Command) => {
    if ((o.platform === true) === (typeof o.operatorId === 'string')) {
      throw new SimtrustError('ERR_CLI_USAGE', 'give --platform or --operator-id');
    }
    const config = configFromFlags(o as Record<string, string>, false);
    const store = await openStore(config.databaseUrl, { poolSize: 2 });
    try {
      const { listAudit } = await import('../../platform/audit/audit-log.js');
      const { PLATFORM_AUDIT_OPERATOR } = await import('../../platform/iam/principal.js');
      const page = await listAudit(
        store.db,
        o.platform === true ? PLATFORM_AUDIT_OPERATOR : (o.operatorId as string),
        {
          sourceIp: typeof o.sourceIp === 'string' ? o.sourceIp : undefined,
          limit: Math.min(Math.max(Number(o.limit) || 100, 1), 10_000),
        },
      );
      print(command, page.records, [
        ['time', (r) => new Date(r.time).toISOString()],
        ['actor', (r) => `${r.actor.kind}:${r.actor.id}`],
        ['operation', (r) => r.operationId],
        ['result', (r) => r.result],
        ['sourceIp', (r) => r.sourceIp],
        ['detail', (r) => r.detail],
      ]);
    } finally {
      await store.close();
    }
  });
}

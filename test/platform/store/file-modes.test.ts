// The threat: another local account reading the platform's state — the SQLite database (sealed
// secrets, phone numbers, audit records), its WAL, the demo master key, the logs. Issue 11: they
// were created world-readable (0644) under a usual umask; now files are 0600 and directories 0700
// whatever the umask, and files an earlier version left open are tightened when opened again.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, ensurePrivateFile } from '../../../src/platform/private-files.js';
import { resolveMasterKey } from '../../../src/platform/secrets/master-key.js';
import { openStore } from '../../../src/platform/store/database.js';

const mode = (path: string) => statSync(path).mode & 0o777;

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'simtrust-modes-'));
  // The usual umask that made every file 0644 and every directory 0755.
  umask = process.umask(0o022);
});
afterEach(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

describe('private data files (issue 11)', () => {
  it('a new SQLite store: directory 0700; database, -wal and -shm 0600', async () => {
    const path = join(dir, 'data', 'nested', 'simtrust.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      await store.db
        .insertInto('counters')
        .values({ scope: 's', key: 'k', value: 1, window_start: 0, expires_at: 1 })
        .execute();
      expect(mode(join(dir, 'data'))).toBe(0o700);
      expect(mode(join(dir, 'data', 'nested'))).toBe(0o700);
      for (const suffix of ['', '-wal', '-shm']) {
        expect(existsSync(`${path}${suffix}`), suffix).toBe(true);
        expect(mode(`${path}${suffix}`), suffix).toBe(0o600);
      }
    } finally {
      await store.close();
    }
  });

  it('a store an earlier version created 0644 is tightened when opened', async () => {
    const path = join(dir, 'simtrust.db');
    const first = await openStore(`sqlite:${path}`);
    await first.db
      .insertInto('counters')
      .values({ scope: 's', key: 'k', value: 1, window_start: 0, expires_at: 1 })
      .execute();
    // Leave -wal and -shm behind as a crashed process would, then open them up as before issue 11.
    for (const suffix of ['', '-wal', '-shm'])
      if (existsSync(`${path}${suffix}`)) chmodSync(`${path}${suffix}`, 0o644);
    const second = await openStore(`sqlite:${path}`);
    try {
      expect(await second.db.selectFrom('counters').select('value').executeTakeFirst()).toEqual({ value: 1 });
      for (const suffix of ['', '-wal', '-shm'])
        if (existsSync(`${path}${suffix}`)) expect(mode(`${path}${suffix}`), suffix).toBe(0o600);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('the demo master key: data directory 0700, key file 0600, an old 0644 key tightened', () => {
    const dataDir = join(dir, 'data');
    const first = resolveMasterKey({ masterKey: undefined, demo: true, dataDir });
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'master.key'))).toBe(0o600);
    chmodSync(join(dataDir, 'master.key'), 0o644);
    chmodSync(dataDir, 0o755);
    const again = resolveMasterKey({ masterKey: undefined, demo: true, dataDir });
    expect(Buffer.compare(again.key, first.key)).toBe(0);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'master.key'))).toBe(0o600);
  });

  it('ensurePrivateFile keeps the content and never widens; ensurePrivateDir tightens', () => {
    const file = join(dir, 'simtrust.log');
    writeFileSync(file, 'line\n', { mode: 0o644 });
    ensurePrivateFile(file);
    expect(mode(file)).toBe(0o600);
    expect(statSync(file).size).toBe(5);
    const sub = join(dir, 'open');
    mkdirSync(sub, { mode: 0o777 });
    chmodSync(sub, 0o777);
    ensurePrivateDir(sub);
    expect(mode(sub)).toBe(0o700);
  });
});

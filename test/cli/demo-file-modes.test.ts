// The threat: another local account on the machine reading what `simtrust up --demo` leaves in
// ./data — the database with sealed SIM keys, the demo master key that unseals them, the demo fleet's
// card keys and the logs. Issue 11: all of it was world-readable (0644, directory 0755); now every
// file is 0600 and every directory 0700, whatever umask the user's shell has.

import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDemo } from '../helpers/cli.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every path under `dir` (the directory itself included). */
function walk(dir: string): string[] {
  const out = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

describe('simtrust up --demo: private data directory (issue 11)', () => {
  it('creates ./data 0700 and every file in it 0600 under umask 022', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-modes-'));
    const previous = process.umask(0o022); // the child inherits it
    let demo: Awaited<ReturnType<typeof startDemo>>;
    try {
      demo = await startDemo(cwd);
    } finally {
      process.umask(previous);
    }
    try {
      const data = join(cwd, 'data');
      for (const name of ['simtrust.db', 'simtrust.db-wal', 'simtrust.db-shm', 'master.key', 'simtrust.log'])
        expect(existsSync(join(data, name)), name).toBe(true);
      expect(existsSync(join(data, 'demo-fleet', 'cards.csv'))).toBe(true);
      for (const path of walk(data)) {
        const expected = statSync(path).isDirectory() ? 0o700 : 0o600;
        expect(mode(path).toString(8), path).toBe(expected.toString(8));
      }
    } finally {
      expect((await demo.stop()).code).toBe(0);
    }
  });
});

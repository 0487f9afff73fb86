// issue 11: `simtrust … --help | head` crashed with an unhandled EPIPE stack trace. Every command
// must end quietly when the reader of its output goes away: the help of every command, and a server
// whose log lines go to the closed pipe (it stops as on SIGTERM).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempHome } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

/** Runs the CLI with a stdout whose reader is gone before the CLI writes; resolves to code + stderr. */
function withClosedStdout(args: string[], env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: tempHome(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  child.stdout?.destroy();
  return new Promise<{ code: number | null; stderr: string }>((done) =>
    child.once('close', (code) => done({ code, stderr })),
  );
}

describe(`issue 11: a closed output pipe (${testDialect})`, () => {
  it('every command prints its help into a closed pipe and exits 0 without a word', async () => {
    const help = await runCli(['--help']);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
      .map((m) => m[1] ?? '')
      .filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['serve', 'sims', 'endorse', 'gateway']));
    const results: Record<string, unknown> = {};
    // Two at a time: the machine's cores are shared.
    const queue = [[], ...commands.map((c) => [c])].map((c) => [...c, '--help']);
    await Promise.all(
      [0, 1].map(async () => {
        for (let args = queue.shift(); args !== undefined; args = queue.shift()) {
          results[args.join(' ')] = await withClosedStdout(args);
        }
      }),
    );
    expect(Object.keys(results)).toHaveLength(commands.length + 1);
    for (const [args, result] of Object.entries(results)) {
      expect(result, args).toEqual({ code: 0, stderr: '' });
    }
  });

  it('a server whose log pipe closes stops quietly, as on SIGTERM', async () => {
    const db = freshDatabaseUrl();
    try {
      const served = await withClosedStdout(['serve', '--http-port', '0'], {
        SIMTRUST_DATABASE_URL: db.url,
        SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
        SIMTRUST_LOG_LEVEL: 'info',
        SIMTRUST_DEVICE_HTTP_PORT: '0',
        SIMTRUST_RADIUS_AUTH_PORT: '0',
        SIMTRUST_RADIUS_ACCT_PORT: '0',
      });
      expect(served).toEqual({ code: 0, stderr: '' });
    } finally {
      await db.drop();
    }
  });
});

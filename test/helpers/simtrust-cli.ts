// The `aka` and `card` commands on a program of their own, handled the way src/cli/main.ts handles
// errors (usage errors exit 2). Used in-process by tests (runCli) and as a script by interop tests
// that need a real process: `node --import tsx test/helpers/simtrust-cli.ts card serve card.json`.

import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerAkaCommand } from '../../src/cli/commands/aka.js';
import { registerCardCommand } from '../../src/cli/commands/card.js';
import { SimtrustError } from '../../src/lib/errors.js';

export const CLI_SCRIPT = fileURLToPath(import.meta.url);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function buildProgram(out: (s: string) => void, err: (s: string) => void): Command {
  const program = new Command('simtrust').exitOverride().configureOutput({ writeOut: out, writeErr: err });
  registerAkaCommand(program);
  registerCardCommand(program);
  return program;
}

async function run(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram(out, err).parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    const error = e as Error & { exitCode?: number; code?: string };
    if (error.code?.startsWith('commander.')) return error.exitCode === 0 ? 0 : 2;
    if (e instanceof SimtrustError) {
      err(`error: ${e.message} (${e.code})\n`);
      return e.code === 'ERR_CLI_USAGE' ? 2 : 1;
    }
    err(`error: ${error.message}\n`);
    return 1;
  } finally {
    process.exitCode = saved;
  }
}

/** Run `simtrust <argv…>` in this process and capture its output. */
export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(
    argv,
    (s) => {
      stdout += s;
    },
    (s) => {
      stderr += s;
    },
  );
  return { code, stdout, stderr };
}

if (process.argv[1] === CLI_SCRIPT) {
  process.exitCode = await run(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}

// The `simtrust` command.

import { Command, Option } from 'commander';
import { ERROR_CODES, SimtrustError } from '../lib/errors.js';
import { SimtrustApiError } from '../sdk/client.js';
import { registerAdminCommand } from './commands/admin.js';
import { registerAkaCommand } from './commands/aka.js';
import { registerAntiTheftCommand } from './commands/anti-theft.js';
import { registerAuditLogsCommand } from './commands/audit-logs.js';
import { registerAuthKeysCommand } from './commands/auth-keys.js';
import { registerCardCommand } from './commands/card.js';
import { registerCredentialsCommand } from './commands/credentials.js';
import { registerDirectoriesCommand } from './commands/directories.js';
import { registerEndorseCommand } from './commands/endorse.js';
import { registerEsimCommand } from './commands/esim.js';
import { registerEventHandlersCommand } from './commands/event-handlers.js';
import { registerGatewayCommand } from './commands/gateway.js';
import { registerGroupsCommand } from './commands/groups.js';
import { registerLoginCommand } from './commands/login.js';
import { registerMfaCommand } from './commands/mfa.js';
import { registerRadiusClientsCommand } from './commands/radius-clients.js';
import { registerRolesCommand } from './commands/roles.js';
import { registerServeCommands } from './commands/serve.js';
import { registerSimsCommand } from './commands/sims.js';
import { registerSimulateCommand } from './commands/simulate.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerUsersCommand } from './commands/users.js';
import { registerVpgCommand } from './commands/vpg.js';
import { OUTPUT_FORMATS } from './output.js';

export function buildProgram(): Command {
  const program = new Command('simtrust')
    .description('simtrust: the SIM as the root of trust for IoT fleets')
    .version('0.1.0')
    .option('--profile <name>', 'CLI profile (default $SIMTRUST_PROFILE or "default")')
    .option('--endpoint <url>', 'API endpoint (overrides the profile and $SIMTRUST_ENDPOINT)')
    .addOption(new Option('--output <format>', 'output format').choices(OUTPUT_FORMATS).default('json'))
    .showHelpAfterError()
    // Before the subcommands are added, so they inherit it: usage errors throw instead of exiting.
    .exitOverride()
    .addHelpText(
      'after',
      '\nExamples:\n  $ simtrust up --demo\n  $ simtrust login --endpoint http://127.0.0.1:8080 --email demo@simtrust.local --password simtrust-demo-password\n  $ simtrust sims list --output table',
    );
  registerServeCommands(program);
  registerLoginCommand(program);
  registerSimsCommand(program);
  registerGroupsCommand(program);
  registerEventHandlersCommand(program);
  registerRadiusClientsCommand(program);
  registerCredentialsCommand(program);
  registerVpgCommand(program);
  registerStatsCommand(program);
  registerAuditLogsCommand(program);
  registerAntiTheftCommand(program);
  registerUsersCommand(program);
  registerRolesCommand(program);
  registerAuthKeysCommand(program);
  registerMfaCommand(program);
  registerAdminCommand(program);
  registerAkaCommand(program);
  registerCardCommand(program);
  registerSimulateCommand(program);
  registerEndorseCommand(program);
  registerGatewayCommand(program);
  registerDirectoriesCommand(program);
  registerEsimCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { exitCode?: number; code?: string };
    if (err.code?.startsWith('commander.')) {
      // Help and version exit 0; usage errors exit 2 (commander already printed the message).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof SimtrustApiError) {
      process.stderr.write(`error: ${e.message} (${e.code}${e.status ? `, HTTP ${e.status}` : ''})\n`);
      process.exitCode = 1;
      return;
    }
    if (e instanceof SimtrustError) {
      process.stderr.write(`error: ${e.expose ? e.message : ERROR_CODES[e.code].description} (${e.code})\n`);
      process.exitCode = e.code === 'ERR_CLI_USAGE' ? 2 : 1;
      return;
    }
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 1;
  }
}

/**
 * `simtrust … | head` closes the pipe once the reader has enough; the next write then fails with
 * EPIPE. That is the reader's choice, not an error of the command, so it ends the command without a
 * word or a stack trace (issue 11): a server (`serve`, `up`, `gateway`: they wait for SIGTERM)
 * stops as on SIGTERM, draining its connections; any other command exits at once with the exit
 * code it had so far.
 */
export function exitQuietlyOnClosedPipe(streams: readonly NodeJS.WriteStream[]): void {
  let closed = false;
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (closed) return;
      closed = true;
      if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
      else process.exit();
    });
  }
}

exitQuietlyOnClosedPipe([process.stdout, process.stderr]);
await main(process.argv);

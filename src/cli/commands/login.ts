// `simtrust login`: exchanges email + password for a token and stores it in a profile.

import type { Command } from 'commander';
import { SimtrustClient } from '../../sdk/client.js';
import { globalOptions, print } from '../context.js';
import { writeProfile } from '../profiles.js';

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('Log in and store the token in a profile (~/.simtrust/profiles/<profile>.json)')
    .option('--email <email>', 'operator email (default $SIMTRUST_EMAIL)')
    .option('--password <password>', 'password (default $SIMTRUST_PASSWORD)')
    .option('--token-timeout <seconds>', 'token lifetime in seconds (180-172800)')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust login --endpoint http://127.0.0.1:8080 --email demo@simtrust.local --password simtrust-demo-password',
    )
    .action(async (o: { email?: string; password?: string; tokenTimeout?: string }, command: Command) => {
      const g = globalOptions(command);
      const endpoint = g.endpoint ?? process.env.SIMTRUST_ENDPOINT ?? 'http://127.0.0.1:8080';
      const email = o.email ?? process.env.SIMTRUST_EMAIL;
      const password = o.password ?? process.env.SIMTRUST_PASSWORD;
      if (!email || !password) {
        command.error('login needs --email and --password (or SIMTRUST_EMAIL and SIMTRUST_PASSWORD)', {
          exitCode: 2,
        });
      }
      const timeout = o.tokenTimeout === undefined ? undefined : Number(o.tokenTimeout);
      const session = await new SimtrustClient({ endpoint }).auth(
        email as string,
        password as string,
        timeout,
      );
      const name = g.profile ?? process.env.SIMTRUST_PROFILE ?? 'default';
      const path = writeProfile(name, {
        endpoint,
        token: session.token,
        apiKey: session.apiKey,
        operatorId: session.operatorId,
        email: email as string,
        expiresAt: Date.now() + (timeout ?? 86_400) * 1000,
      });
      print(command, { profile: name, path, endpoint, operatorId: session.operatorId });
    });
}

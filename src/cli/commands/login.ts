// `simtrust login` / `simtrust logout`: exchange credentials (root email + password, a user's
// operator id + name + password, or an auth key) for a token stored in a profile. When the account
// has MFA active and no --mfa-code was given, the code is asked for on the terminal.

import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import { type AuthRequest, type AuthResult, SimtrustApiError, SimtrustClient } from '../../sdk/client.js';
import { globalOptions, print } from '../context.js';
import { profilePath, readProfile, writeProfile } from '../profiles.js';

interface LoginOptions {
  email?: string;
  password?: string;
  operatorId?: string;
  userName?: string;
  authKeyId?: string;
  authKey?: string;
  mfaCode?: string;
  tokenTimeout?: string;
}

/** Reads one line from stdin after printing `question` on stderr (stdout stays machine-readable). */
export function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({
      input: process.stdin,
      output: process.stderr,
      terminal: process.stdin.isTTY,
    });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer.trim());
    });
    rl.on('close', () => {
      if (!answered) reject(new SimtrustError('ERR_CLI_USAGE', 'no MFA code was entered (pass --mfa-code)'));
    });
  });
}

function credentials(o: LoginOptions): AuthRequest {
  const env = process.env;
  const authKeyId = o.authKeyId ?? env.SIMTRUST_AUTH_KEY_ID;
  const authKey = o.authKey ?? env.SIMTRUST_AUTH_KEY;
  const password = o.password ?? env.SIMTRUST_PASSWORD;
  const userName = o.userName ?? env.SIMTRUST_USER_NAME;
  const operatorId = o.operatorId ?? env.SIMTRUST_OPERATOR_ID;
  const email = o.email ?? env.SIMTRUST_EMAIL;
  if (authKeyId && authKey) return { authKeyId, authKey };
  if (userName && operatorId && password) return { operatorId, userName, password };
  if (email && password) return { email, password };
  throw new SimtrustError(
    'ERR_CLI_USAGE',
    'login needs --email and --password (root), --operator-id, --user-name and --password (a user), or --auth-key-id and --auth-key',
  );
}

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('Log in and store the token in a profile (~/.simtrust/profiles/<profile>.json)')
    .option('--email <email>', 'root login: operator email (default $SIMTRUST_EMAIL)')
    .option('--password <password>', 'password (default $SIMTRUST_PASSWORD)')
    .option('--operator-id <id>', 'user login: the operator id (default $SIMTRUST_OPERATOR_ID)')
    .option('--user-name <name>', 'user login: the user name (default $SIMTRUST_USER_NAME)')
    .option('--auth-key-id <id>', 'auth-key login: key id (default $SIMTRUST_AUTH_KEY_ID)')
    .option('--auth-key <secret>', 'auth-key login: the secret (default $SIMTRUST_AUTH_KEY)')
    .option(
      '--mfa-code <code>',
      'TOTP or backup code; asked for on the terminal when MFA is active and this is absent',
    )
    .option('--token-timeout <seconds>', 'token lifetime in seconds (180-172800, default 86400)')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust login --endpoint http://127.0.0.1:8080 --email demo@simtrust.local --password simtrust-demo-password\n  $ simtrust login --operator-id OP0012345678 --user-name alice --password "…"      # prompts for the MFA code if needed',
    )
    .action(async (o: LoginOptions, command: Command) => {
      const g = globalOptions(command);
      const endpoint = g.endpoint ?? process.env.SIMTRUST_ENDPOINT ?? 'http://127.0.0.1:8080';
      const timeout = o.tokenTimeout === undefined ? undefined : Number(o.tokenTimeout);
      const request: AuthRequest = {
        ...credentials(o),
        ...(o.mfaCode ? { mfaOTPCode: o.mfaCode } : {}),
        ...(timeout === undefined ? {} : { tokenTimeoutSeconds: timeout }),
      };
      const client = new SimtrustClient({ endpoint });
      let session: AuthResult;
      try {
        session = await client.authenticate(request);
      } catch (e) {
        if (!(e instanceof SimtrustApiError) || e.code !== 'ERR_MFA_REQUIRED' || o.mfaCode) throw e;
        const code = await prompt('MFA code: ');
        session = await client.authenticate({ ...request, mfaOTPCode: code });
      }
      const name = g.profile ?? process.env.SIMTRUST_PROFILE ?? 'default';
      const path = writeProfile(name, {
        endpoint,
        token: session.token,
        apiKey: session.apiKey,
        operatorId: session.operatorId,
        ...('email' in request ? { email: request.email } : {}),
        ...(session.userName === undefined ? {} : { userName: session.userName }),
        ...('authKeyId' in request ? { authKeyId: request.authKeyId } : {}),
        expiresAt: Date.now() + (timeout ?? 86_400) * 1000,
      });
      print(command, {
        profile: name,
        path,
        endpoint,
        operatorId: session.operatorId,
        ...(session.userName === undefined ? {} : { userName: session.userName }),
      });
    });

  program
    .command('logout')
    .description('Revoke the token of the profile and forget it')
    .addHelpText('after', '\nExample:\n  $ simtrust --profile ops logout')
    .action(async (_o, command: Command) => {
      const g = globalOptions(command);
      const name = g.profile ?? process.env.SIMTRUST_PROFILE ?? 'default';
      const profile = readProfile(name);
      if (!profile) throw new SimtrustError('ERR_CLI_PROFILE', `no profile "${name}"`);
      const client = new SimtrustClient({ endpoint: g.endpoint ?? profile.endpoint, token: profile.token });
      try {
        await client.request('POST', '/v1/auth/logout');
      } catch (e) {
        // An expired or already revoked token is as logged out as it gets.
        if (!(e instanceof SimtrustApiError) || (e.status !== 401 && e.status !== 403)) throw e;
        if (e.status === 403) {
          process.stderr.write(
            'warning: your permissions do not include Auth:logout, so the token stays valid until it expires; the profile is removed\n',
          );
        }
      }
      rmSync(profilePath(name), { force: true });
      print(command, { profile: name, loggedOut: true });
    });
}

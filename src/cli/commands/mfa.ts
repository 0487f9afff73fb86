// `simtrust mfa …`: TOTP multi-factor authentication of the root account or of a user (--user).
// `enable` prints the otpauth URI as a QR code in the terminal for an authenticator app; `verify`
// activates MFA with a first code and prints the single-use backup codes (shown this once).

import type { Command } from 'commander';
import qrcode from 'qrcode-terminal';
import { apiClient, globalOptions, print } from '../context.js';
import { example, operatorPath } from './users.js';

const mfaPath = (o: { user?: string }) => (o.user ? `/users/${encodeURIComponent(o.user)}/mfa` : '/mfa');

/** The QR code of `text` as terminal art (half-height blocks). */
export function terminalQr(text: string): Promise<string> {
  return new Promise((resolve) => qrcode.generate(text, { small: true }, resolve));
}

export function registerMfaCommand(program: Command): void {
  const mfa = program
    .command('mfa')
    .description('TOTP multi-factor authentication (root, or a user with --user)');

  example(
    mfa.command('enable').description('Start enrolment: shows a QR code for the authenticator app'),
    'simtrust mfa enable',
    'simtrust mfa enable --user alice',
  )
    .option('--user <name>', 'enrol this user (default: the root account)')
    .action(async (o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      const r = await client.request<{ totpUri: string }>(
        'POST',
        await operatorPath(command, client, mfaPath(o)),
      );
      if (globalOptions(command).output === 'json') return print(command, r);
      process.stdout.write(
        `${await terminalQr(r.totpUri)}\nScan the code with an authenticator app, or enter this URI:\n${r.totpUri}\n\nThen confirm with: simtrust mfa verify <code>${o.user ? ` --user ${o.user}` : ''}\n`,
      );
    });

  example(
    mfa.command('verify').description('Activate MFA with a first code; prints the backup codes once'),
    'simtrust mfa verify 123456',
  )
    .argument('<code>', 'the 6-digit code the app shows')
    .option('--user <name>', 'the user being enrolled (default: the root account)')
    .action(async (code: string, o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      const r = await client.request<{ backupCodes: string[] }>(
        'POST',
        await operatorPath(command, client, `${mfaPath(o)}/verify`),
        {
          body: { mfaOTPCode: code },
        },
      );
      print(command, r, [['backupCode', (c: { backupCodes: string[] }) => c.backupCodes.join(' ')]]);
      process.stderr.write(
        'MFA is active. Keep the backup codes somewhere safe: each works once, and they are not shown again.\n',
      );
    });

  example(
    mfa.command('status').description('ACTIVE, INACTIVE or UNCONFIRMED'),
    'simtrust mfa status --user alice',
  )
    .option('--user <name>', 'this user (default: the root account)')
    .action(async (o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('GET', await operatorPath(command, client, mfaPath(o))));
    });

  example(
    mfa.command('revoke').description('Turn MFA off (needs your password)'),
    'simtrust mfa revoke --password "…"',
  )
    .option('--user <name>', 'this user (default: the root account)')
    .requiredOption('--password <password>', 'your own password')
    .action(async (o: { user?: string; password: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, mfaPath(o)), {
        body: { password: o.password },
      });
      print(command, { mfa: 'INACTIVE' });
    });
}

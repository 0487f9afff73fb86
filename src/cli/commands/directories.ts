// `simtrust directories …`: directories of application users for the MFA gateway, and
// `simtrust sms …`: the records of the OTP SMS the platform sent.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { DirectoryUserView, DirectoryView } from '../../platform/directories/directory-service.js';
import type { SmsRecord } from '../../platform/mfa/sms-providers/dispatcher.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';

const DIRECTORY_COLUMNS: ReadonlyArray<Column<DirectoryView>> = [
  ['directoryId', (d) => d.directoryId],
  ['name', (d) => d.name],
  ['createdTime', (d) => new Date(d.createdTime).toISOString()],
];

const USER_COLUMNS: ReadonlyArray<Column<DirectoryUserView>> = [
  ['userId', (u) => u.userId],
  ['phoneNumber', (u) => u.phoneNumber],
  ['verified', (u) => u.phoneVerified],
  ['totp', (u) => u.totpEnabled],
  ['simImsi', (u) => u.sim?.imsi],
  ['simImei', (u) => u.sim?.imei],
  ['groups', (u) => u.groups.join(';')],
  ['disabled', (u) => u.disabled],
];

const SMS_COLUMNS: ReadonlyArray<Column<SmsRecord>> = [
  ['messageId', (m) => m.messageId],
  ['time', (m) => new Date(m.createdTime).toISOString()],
  ['purpose', (m) => m.purpose],
  ['phoneNumber', (m) => m.phoneNumber],
  ['provider', (m) => m.provider],
  ['status', (m) => m.status],
  ['errorCode', (m) => m.errorCode],
];

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);
const enc = encodeURIComponent;

interface UserOptions {
  password?: string;
  passwordStdin?: boolean;
  displayName?: string;
  phone?: string;
  phoneVerified?: string | boolean;
  group?: string[];
  noGroups?: boolean;
  imsi?: string;
  imei?: string;
  noSim?: boolean;
  disable?: boolean;
  enable?: boolean;
}

function readPasswordFromStdin(): string {
  const text = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (text === '') throw new SimtrustError('ERR_CLI_USAGE', '--password-stdin: nothing on standard input');
  return text;
}

function userBody(o: UserOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.passwordStdin) body.password = readPasswordFromStdin();
  else if (o.password !== undefined) body.password = o.password;
  if (o.displayName !== undefined) body.displayName = o.displayName;
  if (o.phone !== undefined) body.phoneNumber = o.phone === '' ? null : o.phone;
  if (o.phoneVerified !== undefined)
    body.phoneVerified = o.phoneVerified === true || o.phoneVerified === 'true';
  if (o.group !== undefined) body.groups = o.group;
  if (o.noGroups) body.groups = [];
  if (o.imsi !== undefined) body.sim = { imsi: o.imsi, ...(o.imei !== undefined ? { imei: o.imei } : {}) };
  if (o.noSim) body.sim = null;
  if (o.disable) body.disabled = true;
  if (o.enable) body.disabled = false;
  return body;
}

function userOptions(c: Command): Command {
  return c
    .option('--password <password>', 'the password (prefer --password-stdin: flags show in ps)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--display-name <name>', 'a name to show')
    .option('--phone <e164>', 'phone number for SMS codes, E.164 (+819012345678)')
    .option('--phone-verified [bool]', 'vouch for the number (otherwise: verify-phone)')
    .option('--group <name...>', 'groups (the gateway policies match on them)')
    .option('--imsi <imsi>', 'registered SIM for the sim-token factor')
    .option('--imei <imei>', 'with --imsi: the registered device');
}

export function registerDirectoriesCommand(program: Command): void {
  const dirs = program
    .command('directories')
    .description('Directories of application users for the MFA gateway');

  example(
    dirs.command('list').description('List directories'),
    'simtrust directories list --output table',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    print(command, await client.request<DirectoryView[]>('GET', '/v1/directories'), DIRECTORY_COLUMNS);
  });

  example(
    dirs.command('create').description('Create a directory'),
    'simtrust directories create --name staff',
  )
    .requiredOption('--name <name>', 'directory name')
    .action(async (o: { name: string }, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<DirectoryView>('POST', '/v1/directories', { body: { name: o.name } }),
        DIRECTORY_COLUMNS,
      );
    });

  example(
    dirs.command('get').description('Show a directory'),
    'simtrust directories get dir-0123456789abcdef',
  )
    .argument('<directoryId>')
    .action(async (directoryId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<DirectoryView>('GET', `/v1/directories/${enc(directoryId)}`),
        DIRECTORY_COLUMNS,
      );
    });

  example(
    dirs.command('delete').description('Delete a directory, its users and their sessions'),
    'simtrust directories delete dir-0123456789abcdef',
  )
    .argument('<directoryId>')
    .action(async (directoryId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', `/v1/directories/${enc(directoryId)}`);
    });

  const users = dirs.command('users').description('Users of a directory');
  const userPath = (d: string, u?: string) =>
    `/v1/directories/${enc(d)}/users${u === undefined ? '' : `/${enc(u)}`}`;

  example(
    users.command('list').description('List users'),
    'simtrust directories users list dir-0123456789abcdef --output table',
  )
    .argument('<directoryId>')
    .option('--group <name>', 'only users in this group')
    .option('--fetch-all', 'follow every page')
    .action(async (directoryId: string, o: { group?: string; fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const all: DirectoryUserView[] = [];
      for await (const page of client.pages<DirectoryUserView>(userPath(directoryId), { group: o.group })) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all, USER_COLUMNS);
    });

  example(
    userOptions(users.command('create').description('Add a user')),
    'echo "$PASSWORD" | simtrust directories users create dir-0123456789abcdef alice --password-stdin --phone +819012345678 --group staff',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, o: UserOptions, command: Command) => {
      const client = await apiClient(command);
      const body = { userId, ...userBody(o) };
      print(
        command,
        await client.request<DirectoryUserView>('POST', userPath(directoryId), { body }),
        USER_COLUMNS,
      );
    });

  example(
    users.command('get').description('Show a user'),
    'simtrust directories users get dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<DirectoryUserView>('GET', userPath(directoryId, userId)),
        USER_COLUMNS,
      );
    });

  example(
    userOptions(users.command('update').description('Change a user'))
      .option('--no-groups', 'remove every group')
      .option('--no-sim', 'remove the registered SIM')
      .option('--disable', 'disable the account (ends its sessions)')
      .option('--enable', 'enable the account'),
    'simtrust directories users update dir-0123456789abcdef alice --imsi 001010000000001 --imei 490154203237518',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(
      async (
        directoryId: string,
        userId: string,
        o: UserOptions & { groups?: boolean; sim?: boolean },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const body = userBody({ ...o, noGroups: o.groups === false, noSim: o.sim === false });
        if (Object.keys(body).length === 0) throw new SimtrustError('ERR_CLI_USAGE', 'nothing to change');
        print(
          command,
          await client.request<DirectoryUserView>('PUT', userPath(directoryId, userId), { body }),
          USER_COLUMNS,
        );
      },
    );

  example(
    users.command('delete').description('Delete a user (ends their sessions)'),
    'simtrust directories users delete dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', userPath(directoryId, userId));
    });

  example(
    users.command('import').description('Create or update users from a CSV file'),
    'simtrust directories users import dir-0123456789abcdef staff.csv',
  )
    .argument('<directoryId>')
    .argument('<file>', 'CSV: user_id,password,phone_number,phone_verified,groups,sim_imsi,sim_imei,…')
    .action(async (directoryId: string, file: string, _o, command: Command) => {
      const client = await apiClient(command);
      const summary = await client.request('POST', `${userPath(directoryId)}/import`, {
        raw: { data: readFileSync(file), contentType: 'text/csv' },
      });
      print(command, summary);
    });

  example(
    users.command('enable-totp').description('Give the user a new TOTP secret (shown once)'),
    'simtrust directories users enable-totp dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('POST', `${userPath(directoryId, userId)}/totp`));
    });

  example(
    users.command('disable-totp').description("Remove the user's TOTP secret"),
    'simtrust directories users disable-totp dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', `${userPath(directoryId, userId)}/totp`);
    });

  example(
    users.command('verify-phone').description("Send a code to the user's phone number"),
    'simtrust directories users verify-phone dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('POST', `${userPath(directoryId, userId)}/phone_verification`));
    });

  example(
    users.command('confirm-phone').description('Confirm the phone number with the code it received'),
    'simtrust directories users confirm-phone dir-0123456789abcdef alice --verification-id … --code 123456',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .requiredOption('--verification-id <id>', 'from verify-phone')
    .requiredOption('--code <code>', 'the code from the SMS')
    .action(
      async (
        directoryId: string,
        userId: string,
        o: { verificationId: string; code: string },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const body = { verificationId: o.verificationId, code: o.code };
        print(
          command,
          await client.request<DirectoryUserView>(
            'POST',
            `${userPath(directoryId, userId)}/phone_verification/confirm`,
            { body },
          ),
          USER_COLUMNS,
        );
      },
    );

  example(
    users.command('sessions').description("The user's live gateway sessions"),
    'simtrust directories users sessions dir-0123456789abcdef alice --output table',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('GET', `${userPath(directoryId, userId)}/sessions`));
    });

  example(
    users.command('revoke-sessions').description('End every gateway session of the user'),
    'simtrust directories users revoke-sessions dir-0123456789abcdef alice',
  )
    .argument('<directoryId>')
    .argument('<userId>')
    .action(async (directoryId: string, userId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('DELETE', `${userPath(directoryId, userId)}/sessions`));
    });

  const sms = program.command('sms').description('Records of the one-time-code SMS the platform sent');

  example(
    sms.command('list').description('List SMS records, newest first'),
    'simtrust sms list --output table',
  )
    .option('--phone <e164>', 'only this phone number')
    .option('--fetch-all', 'follow every page')
    .action(async (o: { phone?: string; fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const all: SmsRecord[] = [];
      for await (const page of client.pages<SmsRecord>('/v1/sms_messages', { phone_number: o.phone })) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all, SMS_COLUMNS);
    });

  example(
    sms.command('get').description('One SMS record (asks the provider for news first)'),
    'simtrust sms get sms-00000000-0000-0000-0000-000000000000',
  )
    .argument('<messageId>')
    .action(async (messageId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SmsRecord>('GET', `/v1/sms_messages/${enc(messageId)}`),
        SMS_COLUMNS,
      );
    });
}

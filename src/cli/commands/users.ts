// `simtrust users …`: SAM users of the operator — create, passwords, console login, direct
// permission, default permissions, token revocation, and `users can NAME Tag:operationId`, which
// explains what the permission engine would decide.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { SimtrustClient } from '../../sdk/client.js';
import { apiClient, globalOptions, print } from '../context.js';
import type { Column } from '../output.js';
import { readProfile } from '../profiles.js';

interface UserView {
  userName: string;
  description: string;
  hasPassword: boolean;
  consoleLogin: boolean;
  permission: string | null;
  roleList: Array<{ roleId: string }>;
  authKeyList: Array<{ authKeyId: string }>;
  mfaStatus: string;
}

const USER_COLUMNS: ReadonlyArray<Column<UserView>> = [
  ['userName', (u) => u.userName],
  ['description', (u) => u.description],
  ['password', (u) => u.hasPassword],
  ['consoleLogin', (u) => u.consoleLogin],
  ['roles', (u) => u.roleList.map((r) => r.roleId).join(',')],
  ['authKeys', (u) => u.authKeyList.length],
  ['mfa', (u) => u.mfaStatus],
];

export const example = (c: Command, ...lines: string[]) =>
  c.addHelpText('after', `\nExample:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);

/** The caller's operator: $SIMTRUST_OPERATOR_ID, the profile, or the session of the token. */
export async function operatorId(command: Command, client: SimtrustClient): Promise<string> {
  if (process.env.SIMTRUST_OPERATOR_ID) return process.env.SIMTRUST_OPERATOR_ID;
  if (!process.env.SIMTRUST_TOKEN && !process.env.SIMTRUST_AUTH_KEY_ID && !process.env.SIMTRUST_EMAIL) {
    const name = globalOptions(command).profile ?? process.env.SIMTRUST_PROFILE ?? 'default';
    const fromProfile = readProfile(name)?.operatorId;
    if (fromProfile) return fromProfile;
  }
  return (await client.request<{ operatorId: string }>('GET', '/v1/auth/session')).operatorId;
}

/** `/v1/operators/<id>/…` for the caller. */
export async function operatorPath(command: Command, client: SimtrustClient, rest = ''): Promise<string> {
  return `/v1/operators/${encodeURIComponent(await operatorId(command, client))}${rest}`;
}

/** A permission document from --file or --json, checked to be JSON here (the API checks the rest). */
export function permissionText(o: { file?: string; json?: string }): string {
  const text = o.file !== undefined ? readFileSync(o.file, 'utf8') : o.json;
  if (text === undefined)
    throw new SimtrustError('ERR_CLI_USAGE', 'give the permission with --file FILE or --json TEXT');
  return text.trim();
}

const user = (name: string) => `/users/${encodeURIComponent(name)}`;

export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description('Manage SAM users: passwords, permissions, MFA, keys');

  example(users.command('list').description('List users'), 'simtrust users list --output table')
    .option('--fetch-all', 'follow every page')
    .action(async (o: { fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const all: UserView[] = [];
      for await (const page of client.pages<UserView>(await operatorPath(command, client, '/users'))) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all, USER_COLUMNS);
    });

  example(users.command('get').description('Show a user'), 'simtrust users get alice')
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<UserView>('GET', await operatorPath(command, client, user(name))),
        USER_COLUMNS,
      );
    });

  example(
    users
      .command('create')
      .description('Create a user (it can do nothing until granted a permission or role)'),
    'simtrust users create alice --description "field engineer" --password "…"',
  )
    .argument('<name>')
    .option('--description <text>', 'what the user is for')
    .option('--password <password>', 'also set a password (8+ characters)')
    .option('--no-console-login', 'the user may not log in with a password (keys only)')
    .action(
      async (
        name: string,
        o: { description?: string; password?: string; consoleLogin: boolean },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const path = await operatorPath(command, client, user(name));
        const body = {
          ...(o.description ? { description: o.description } : {}),
          consoleLogin: o.consoleLogin,
        };
        let created = await client.request<UserView>('POST', path, { body });
        if (o.password) {
          await client.request('POST', `${path}/password`, { body: { password: o.password } });
          created = await client.request<UserView>('GET', path);
        }
        print(command, created, USER_COLUMNS);
      },
    );

  example(
    users.command('update').description('Change description or console login'),
    'simtrust users update alice --console-login false',
  )
    .argument('<name>')
    .option('--description <text>', 'new description')
    .option('--console-login <bool>', 'true or false')
    .action(async (name: string, o: { description?: string; consoleLogin?: string }, command: Command) => {
      const client = await apiClient(command);
      if (o.consoleLogin !== undefined && !['true', 'false'].includes(o.consoleLogin)) {
        throw new SimtrustError('ERR_CLI_USAGE', '--console-login is true or false');
      }
      const body = {
        ...(o.description === undefined ? {} : { description: o.description }),
        ...(o.consoleLogin === undefined ? {} : { consoleLogin: o.consoleLogin === 'true' }),
      };
      print(
        command,
        await client.request<UserView>('PUT', await operatorPath(command, client, user(name)), { body }),
        USER_COLUMNS,
      );
    });

  example(
    users.command('delete').description('Delete a user with its keys, roles, MFA and tokens'),
    'simtrust users delete alice',
  )
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, user(name)));
      print(command, { deleted: name });
    });

  example(
    users.command('revoke-tokens').description('Revoke every token of the user'),
    'simtrust users revoke-tokens alice',
  )
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, `${user(name)}/tokens`));
      print(command, { userName: name, tokensRevoked: true });
    });

  const password = users.command('password').description('User passwords');
  example(
    password.command('set').description('Give a user without a password one'),
    'simtrust users password set alice --password "…"',
  )
    .argument('<name>')
    .requiredOption('--password <password>', 'the new password (8+ characters)')
    .action(async (name: string, o: { password: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request('POST', await operatorPath(command, client, `${user(name)}/password`), {
        body: { password: o.password },
      });
      print(command, { userName: name, hasPassword: true });
    });
  example(
    password
      .command('change')
      .description("Change a password knowing the current one (revokes the user's tokens)"),
    'simtrust users password change alice --current "…" --new "…"',
  )
    .argument('<name>')
    .requiredOption('--current <password>', 'the current password')
    .requiredOption('--new <password>', 'the new password')
    .action(async (name: string, o: { current: string; new: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request('PUT', await operatorPath(command, client, `${user(name)}/password`), {
        body: { currentPassword: o.current, newPassword: o.new },
      });
      print(command, { userName: name, passwordChanged: true });
    });
  example(
    password.command('delete').description("Remove a user's password"),
    'simtrust users password delete alice',
  )
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, `${user(name)}/password`));
      print(command, { userName: name, hasPassword: false });
    });

  const permission = users.command('permission').description("A user's direct permission");
  example(
    permission.command('get').description('Show the permission document'),
    'simtrust users permission get alice',
  )
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request('GET', await operatorPath(command, client, `${user(name)}/permission`)),
      );
    });
  example(
    permission
      .command('set')
      .description('Set the permission document (refused with the position of any error)'),
    `simtrust users permission set alice --json '{"statements":[{"effect":"allow","api":["Sim:get*","Sim:list*"]}]}'`,
    'simtrust users permission set alice --file developer.json',
  )
    .argument('<name>')
    .option('--file <file>', 'read the document from a file')
    .option('--json <text>', 'the document itself')
    .action(async (name: string, o: { file?: string; json?: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request('PUT', await operatorPath(command, client, `${user(name)}/permission`), {
        body: { permission: permissionText(o) },
      });
      print(command, { userName: name, permission: 'saved' });
    });
  example(
    permission.command('delete').description('Remove the direct permission'),
    'simtrust users permission delete alice',
  )
    .argument('<name>')
    .action(async (name: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, `${user(name)}/permission`));
      print(command, { userName: name, permission: null });
    });

  const defaults = users.command('default-permissions').description('Permissions every user has');
  example(
    defaults.command('get').description('Show the default permissions'),
    'simtrust users default-permissions get',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    print(
      command,
      await client.request('GET', await operatorPath(command, client, '/users/default_permissions')),
    );
  });
  example(
    defaults.command('set').description('Set the default permissions'),
    `simtrust users default-permissions set --json '{"statements":[{"effect":"allow","api":["Auth:*"]}]}'`,
  )
    .option('--file <file>', 'read the document from a file')
    .option('--json <text>', 'the document itself')
    .action(async (o: { file?: string; json?: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request('PUT', await operatorPath(command, client, '/users/default_permissions'), {
        body: { permissions: permissionText(o) },
      });
      print(command, { defaultPermissions: 'saved' });
    });
  example(
    defaults.command('delete').description('Remove the default permissions'),
    'simtrust users default-permissions delete',
  ).action(async (_o, command: Command) => {
    const client = await apiClient(command);
    await client.request('DELETE', await operatorPath(command, client, '/users/default_permissions'));
    print(command, { defaultPermissions: null });
  });

  example(
    users
      .command('can')
      .description(
        'Would the user be allowed to call API (Tag:operationId)? Prints the decision and every statement looked at; exit code 0 allowed, 3 denied',
      ),
    'simtrust users can alice Sim:suspendSim --path-var sim_id=8942310000000000001 --output table',
  )
    .argument('<name>')
    .argument('<api>', 'Tag:operationId, e.g. Sim:suspendSim')
    .option('--source-ip <ip>', 'the caller address to assume (default: yours)')
    .option('--method <method>', 'the HTTP method to assume')
    .option('--path-var <pair...>', 'path variables, name=value')
    .option('--time <iso>', 'the time to assume (ISO 8601; default now)')
    .action(
      async (
        name: string,
        api: string,
        o: { sourceIp?: string; method?: string; pathVar?: string[]; time?: string },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const path = await operatorPath(command, client, `${user(name)}/permission/simulate`);
        const query = new URLSearchParams({ api });
        if (o.sourceIp) query.set('source_ip', o.sourceIp);
        if (o.method) query.set('http_method', o.method);
        if (o.time) {
          const t = Date.parse(o.time);
          if (Number.isNaN(t))
            throw new SimtrustError('ERR_CLI_USAGE', '--time must be an ISO 8601 date-time');
          query.set('time', String(t));
        }
        for (const pair of o.pathVar ?? []) query.append('path_variable', pair);
        const r = await client.request<{
          decision: string;
          reason: string;
          statement: { source: string; index: number } | null;
          evaluated: Array<{
            source: string;
            index: number;
            effect: string;
            apiMatched: boolean;
            conditionMet: boolean | null;
            statement: unknown;
          }>;
        }>('GET', `${path}?${query}`);
        if (globalOptions(command).output === 'json') print(command, r);
        else {
          process.stdout.write(
            `${r.decision === 'allow' ? 'ALLOWED' : 'DENIED'}: ${name} → ${api} (${r.reason}${r.statement ? `, ${r.statement.source} statement ${r.statement.index}` : ''})\n`,
          );
          print(command, r.evaluated, [
            ['source', (e) => e.source],
            ['#', (e) => e.index],
            ['effect', (e) => e.effect],
            ['apiMatched', (e) => e.apiMatched],
            ['condition', (e) => (e.conditionMet === null ? '-' : e.conditionMet)],
            ['statement', (e) => e.statement],
          ]);
        }
        if (r.decision !== 'allow') process.exitCode = 3;
      },
    );
}

// `simtrust roles …`: named permission documents, and attaching them to users.

import type { Command } from 'commander';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';
import { example, operatorPath, permissionText } from './users.js';

interface RoleView {
  roleId: string;
  description: string;
  permission: string;
}

const ROLE_COLUMNS: ReadonlyArray<Column<RoleView>> = [
  ['roleId', (r) => r.roleId],
  ['description', (r) => r.description],
  ['permission', (r) => r.permission],
];

const role = (id: string) => `/roles/${encodeURIComponent(id)}`;

export function registerRolesCommand(program: Command): void {
  const roles = program
    .command('roles')
    .description('Manage roles (named permissions) and attach them to users');

  example(roles.command('list').description('List roles'), 'simtrust roles list --output table')
    .option('--fetch-all', 'follow every page')
    .action(async (o: { fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const all: RoleView[] = [];
      for await (const page of client.pages<RoleView>(await operatorPath(command, client, '/roles'))) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all, ROLE_COLUMNS);
    });

  example(roles.command('get').description('Show a role'), 'simtrust roles get read-only')
    .argument('<roleId>')
    .action(async (id: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<RoleView>('GET', await operatorPath(command, client, role(id))),
        ROLE_COLUMNS,
      );
    });

  example(
    roles
      .command('create')
      .description('Create a role (its permission is refused with the position of any error)'),
    `simtrust roles create read-only --json '{"statements":[{"effect":"allow","api":["Sim:get*","Sim:list*"]}]}'`,
  )
    .argument('<roleId>')
    .option('--file <file>', 'read the permission from a file')
    .option('--json <text>', 'the permission itself')
    .option('--description <text>', 'what the role is for')
    .action(
      async (id: string, o: { file?: string; json?: string; description?: string }, command: Command) => {
        const client = await apiClient(command);
        const body = {
          permission: permissionText(o),
          ...(o.description ? { description: o.description } : {}),
        };
        print(
          command,
          await client.request<RoleView>('POST', await operatorPath(command, client, role(id)), { body }),
          ROLE_COLUMNS,
        );
      },
    );

  example(
    roles.command('update').description('Change the permission or description'),
    'simtrust roles update read-only --file read-only.json',
  )
    .argument('<roleId>')
    .option('--file <file>', 'read the permission from a file')
    .option('--json <text>', 'the permission itself')
    .option('--description <text>', 'new description')
    .action(
      async (id: string, o: { file?: string; json?: string; description?: string }, command: Command) => {
        const client = await apiClient(command);
        const body = {
          ...(o.file !== undefined || o.json !== undefined ? { permission: permissionText(o) } : {}),
          ...(o.description === undefined ? {} : { description: o.description }),
        };
        print(
          command,
          await client.request<RoleView>('PUT', await operatorPath(command, client, role(id)), { body }),
          ROLE_COLUMNS,
        );
      },
    );

  example(
    roles.command('delete').description('Delete a role no user has attached'),
    'simtrust roles delete read-only',
  )
    .argument('<roleId>')
    .action(async (id: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', await operatorPath(command, client, role(id)));
      print(command, { deleted: id });
    });

  example(roles.command('users').description('Users that have the role'), 'simtrust roles users read-only')
    .argument('<roleId>')
    .action(async (id: string, _o, command: Command) => {
      const client = await apiClient(command);
      const users = await client.request<Array<{ userName: string; attachedTime: number }>>(
        'GET',
        await operatorPath(command, client, `${role(id)}/users`),
      );
      print(command, users, [
        ['userName', (u) => u.userName],
        ['attached', (u) => new Date(u.attachedTime).toISOString()],
      ]);
    });

  example(
    roles.command('attach').description('Attach a role to a user'),
    'simtrust roles attach alice read-only',
  )
    .argument('<userName>')
    .argument('<roleId>')
    .action(async (userName: string, id: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request(
        'POST',
        await operatorPath(command, client, `/users/${encodeURIComponent(userName)}/roles`),
        {
          body: { roleId: id },
        },
      );
      print(command, { userName, roleId: id, attached: true });
    });

  example(
    roles.command('detach').description('Detach a role from a user'),
    'simtrust roles detach alice read-only',
  )
    .argument('<userName>')
    .argument('<roleId>')
    .action(async (userName: string, id: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request(
        'DELETE',
        await operatorPath(
          command,
          client,
          `/users/${encodeURIComponent(userName)}/roles/${encodeURIComponent(id)}`,
        ),
      );
      print(command, { userName, roleId: id, attached: false });
    });
}

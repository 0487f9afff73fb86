// `simtrust auth-keys …`: auth keys of the root account or of a user (--user). The secret is printed
// once, when the key is created; it is stored hashed and cannot be shown again.

import type { Command } from 'commander';
import { apiClient, print } from '../context.js';
import { example, operatorPath } from './users.js';

interface KeyView {
  authKeyId: string;
  createdTime: number;
  lastUsedTime: number | null;
}

const owner = (o: { user?: string }) =>
  o.user ? `/users/${encodeURIComponent(o.user)}/auth_keys` : '/auth_keys';
const when = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());

export function registerAuthKeysCommand(program: Command): void {
  const keys = program
    .command('auth-keys')
    .description('Manage auth keys (root keys, or a user’s with --user)');

  example(
    keys.command('create').description('Create an auth key; the secret is shown this once'),
    'simtrust auth-keys create --user monitor',
  )
    .option('--user <name>', 'a key of this user (default: a root key)')
    .action(async (o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request('POST', await operatorPath(command, client, owner(o))));
      process.stderr.write('Store the authKey now: it is not shown again.\n');
    });

  example(
    keys.command('list').description('List auth keys (never the secrets)'),
    'simtrust auth-keys list --user monitor --output table',
  )
    .option('--user <name>', 'keys of this user (default: root keys)')
    .action(async (o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request<KeyView[]>('GET', await operatorPath(command, client, owner(o))), [
        ['authKeyId', (k) => k.authKeyId],
        ['created', (k) => when(k.createdTime)],
        ['lastUsed', (k) => when(k.lastUsedTime)],
      ]);
    });

  example(
    keys.command('delete').description('Delete an auth key and revoke its tokens'),
    'simtrust auth-keys delete keyId-0123… --user monitor',
  )
    .argument('<authKeyId>')
    .option('--user <name>', 'a key of this user (default: a root key)')
    .action(async (id: string, o: { user?: string }, command: Command) => {
      const client = await apiClient(command);
      await client.request(
        'DELETE',
        await operatorPath(command, client, `${owner(o)}/${encodeURIComponent(id)}`),
      );
      print(command, { deleted: id });
    });
}

// `simtrust groups …`: groups of SIMs and their configuration.

import type { Command } from 'commander';
import type { GroupView } from '../../platform/sims/groups.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';
import { parsePairs } from './sims.js';

const GROUP_COLUMNS: ReadonlyArray<Column<GroupView>> = [
  ['groupId', (g) => g.groupId],
  ['name', (g) => g.tags.name],
  [
    'tags',
    (g) =>
      Object.entries(g.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(';'),
  ],
  ['configuration', (g) => Object.keys(g.configuration).join(',')],
];

/** A configuration value: JSON when it parses (true, 600, {"a":1}), otherwise the text. */
function configValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);

export function registerGroupsCommand(program: Command): void {
  const groups = program.command('groups').description('Manage groups of SIMs and their configuration');

  example(groups.command('list').description('List groups'), 'simtrust groups list --output table')
    .option('--tag-name <name>', 'only groups with this tag')
    .option('--tag-value <value>', 'with --tag-name: the value')
    .option('--fetch-all', 'follow every page')
    .action(async (o: { tagName?: string; tagValue?: string; fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const query = { tag_name: o.tagName, tag_value: o.tagValue };
      const all: GroupView[] = [];
      for await (const page of client.pages<GroupView>('/v1/groups', query)) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all, GROUP_COLUMNS);
    });

  example(groups.command('get').description('Show a group'), 'simtrust groups get <groupId>')
    .argument('<groupId>')
    .action(async (groupId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<GroupView>('GET', `/v1/groups/${encodeURIComponent(groupId)}`),
        GROUP_COLUMNS,
      );
    });

  example(
    groups.command('create').description('Create a group'),
    'simtrust groups create --name sensors --tag site=tokyo',
  )
    .option('--name <name>', 'the group name (stored as the `name` tag)')
    .option('--tag <pair...>', 'more tags, name=value')
    .action(async (o: { name?: string; tag?: string[] }, command: Command) => {
      const client = await apiClient(command);
      const tags = Object.fromEntries(parsePairs(o.tag ?? []));
      if (o.name) tags.name = o.name;
      print(
        command,
        await client.request<GroupView>('POST', '/v1/groups', { body: { tags } }),
        GROUP_COLUMNS,
      );
    });

  example(groups.command('delete').description('Delete an empty group'), 'simtrust groups delete <groupId>')
    .argument('<groupId>')
    .action(async (groupId: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', `/v1/groups/${encodeURIComponent(groupId)}`);
      print(command, { deleted: groupId });
    });

  example(
    groups
      .command('configure')
      .description('Set configuration parameters of a namespace (values parsed as JSON when they are JSON)'),
    'simtrust groups configure <groupId> Endorse enabled=true tokenTimeoutSeconds=600',
  )
    .argument('<groupId>')
    .argument('<namespace>')
    .argument('<pairs...>', 'key=value')
    .action(async (groupId: string, namespace: string, pairs: string[], _o, command: Command) => {
      const client = await apiClient(command);
      const body = parsePairs(pairs).map(([key, value]) => ({ key, value: configValue(value) }));
      const path = `/v1/groups/${encodeURIComponent(groupId)}/configuration/${encodeURIComponent(namespace)}`;
      print(command, await client.request<GroupView>('PUT', path, { body }), GROUP_COLUMNS);
    });

  example(
    groups.command('unconfigure').description('Delete a configuration namespace'),
    'simtrust groups unconfigure <groupId> Endorse',
  )
    .argument('<groupId>')
    .argument('<namespace>')
    .action(async (groupId: string, namespace: string, _o, command: Command) => {
      const client = await apiClient(command);
      const path = `/v1/groups/${encodeURIComponent(groupId)}/configuration/${encodeURIComponent(namespace)}`;
      print(command, await client.request<GroupView>('DELETE', path), GROUP_COLUMNS);
    });

  const tags = groups.command('tags').description('Group tags');
  example(
    tags.command('put').description('Add or update group tags'),
    'simtrust groups tags put <groupId> site=tokyo',
  )
    .argument('<groupId>')
    .argument('<pairs...>', 'name=value')
    .action(async (groupId: string, pairs: string[], _o, command: Command) => {
      const client = await apiClient(command);
      const body = parsePairs(pairs).map(([tagName, tagValue]) => ({ tagName, tagValue }));
      print(
        command,
        await client.request<GroupView>('PUT', `/v1/groups/${encodeURIComponent(groupId)}/tags`, { body }),
        GROUP_COLUMNS,
      );
    });
  example(
    tags.command('delete').description('Delete a group tag'),
    'simtrust groups tags delete <groupId> site',
  )
    .argument('<groupId>')
    .argument('<name>')
    .action(async (groupId: string, name: string, _o, command: Command) => {
      const client = await apiClient(command);
      const path = `/v1/groups/${encodeURIComponent(groupId)}/tags/${encodeURIComponent(name)}`;
      print(command, await client.request<GroupView>('DELETE', path), GROUP_COLUMNS);
    });
}

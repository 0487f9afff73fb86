// `simtrust event-handlers …`: rules on usage, state and security events and their actions
// (docs/event-handlers.md). Bodies are SORACOM's CreateEventHandlerRequest as JSON, given inline
// (--body) or from a file (--body-file, `-` for standard input), as soracom-cli takes them.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { EventHandlerView } from '../../platform/events/event-handlers.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';

const COLUMNS: ReadonlyArray<Column<EventHandlerView>> = [
  ['handlerId', (h) => h.handlerId],
  ['name', (h) => h.name],
  ['status', (h) => h.status],
  [
    'target',
    (h) =>
      h.targetImsi !== undefined
        ? `imsi:${h.targetImsi}`
        : h.targetSimId !== undefined
          ? `sim:${h.targetSimId}`
          : h.targetGroupId !== undefined
            ? `group:${h.targetGroupId}`
            : `operator:${h.targetOperatorId ?? ''}`,
  ],
  ['rule', (h) => h.ruleConfig.type],
  ['actions', (h) => h.actionConfigList.map((a) => a.type).join(',')],
];

const EXAMPLE_BODY = JSON.stringify({
  name: 'slow heavy SIMs',
  status: 'active',
  targetGroupId: '<groupId>',
  ruleConfig: {
    type: 'SubscriberDailyTrafficRule',
    properties: { limitTotalTrafficMegaByte: '100', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
  },
  actionConfigList: [
    {
      type: 'ChangeSpeedClassAction',
      properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
    },
  ],
});

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);

function readBody(o: { body?: string; bodyFile?: string }): unknown {
  if ((o.body === undefined) === (o.bodyFile === undefined)) {
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      'give the handler as --body JSON or --body-file FILE (one of them)',
    );
  }
  const text = o.body ?? readFileSync(o.bodyFile === '-' ? 0 : (o.bodyFile as string), 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SimtrustError('ERR_CLI_USAGE', `the handler body is not JSON: ${(e as Error).message}`);
  }
}

/** `--imsi X` or `--sim-id X`, exactly one, as the path segment of the ignore routes. */
function subject(o: { imsi?: string; simId?: string }): string {
  if ((o.imsi === undefined) === (o.simId === undefined)) {
    throw new SimtrustError('ERR_CLI_USAGE', 'give --imsi IMSI or --sim-id SIM_ID (one of them)');
  }
  return o.imsi !== undefined
    ? `subscribers/${encodeURIComponent(o.imsi)}`
    : `sims/${encodeURIComponent(o.simId as string)}`;
}

const handlerPath = (id: string) => `/v1/event_handlers/${encodeURIComponent(id)}`;

export function registerEventHandlersCommand(program: Command): void {
  const eh = program
    .command('event-handlers')
    .description(
      'Manage event handlers: a rule on usage, status, sessions or IMEI refusals, and its actions',
    );

  example(
    eh
      .command('list')
      .description('List event handlers (all, of a target kind, or applying to one IMSI or SIM)'),
    'simtrust event-handlers list --target group --output table',
  )
    .option('--target <kind>', 'operator, imsi, sim or group')
    .option('--imsi <imsi>', 'handlers that apply to this subscriber')
    .option('--sim-id <simId>', 'handlers that apply to this SIM')
    .option('--fetch-all', 'follow every page')
    .action(
      async (o: { target?: string; imsi?: string; simId?: string; fetchAll?: boolean }, command: Command) => {
        const client = await apiClient(command);
        if (o.imsi !== undefined || o.simId !== undefined) {
          const path = `/v1/event_handlers/${subject(o)}`;
          print(command, await client.request<EventHandlerView[]>('GET', path), COLUMNS);
          return;
        }
        const all: EventHandlerView[] = [];
        for await (const page of client.pages<EventHandlerView>('/v1/event_handlers', { target: o.target })) {
          all.push(...page);
          if (!o.fetchAll) break;
        }
        print(command, all, COLUMNS);
      },
    );

  example(eh.command('get').description('Show an event handler'), 'simtrust event-handlers get <handlerId>')
    .argument('<handlerId>')
    .action(async (id: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(command, await client.request<EventHandlerView>('GET', handlerPath(id)), COLUMNS);
    });

  example(
    eh
      .command('create')
      .description('Create an event handler from a JSON body (SORACOM CreateEventHandlerRequest)'),
    `simtrust event-handlers create --body '${EXAMPLE_BODY}'`,
  )
    .option('--body <json>', 'the handler as JSON')
    .option('--body-file <path>', 'a file with the handler as JSON (- for standard input)')
    .action(async (o: { body?: string; bodyFile?: string }, command: Command) => {
      const body = readBody(o);
      const client = await apiClient(command);
      print(command, await client.request<EventHandlerView>('POST', '/v1/event_handlers', { body }), COLUMNS);
    });

  example(
    eh.command('update').description('Replace an event handler (the whole body, as for create)'),
    'simtrust event-handlers update <handlerId> --body-file handler.json',
  )
    .argument('<handlerId>')
    .option('--body <json>', 'the handler as JSON')
    .option('--body-file <path>', 'a file with the handler as JSON (- for standard input)')
    .action(async (id: string, o: { body?: string; bodyFile?: string }, command: Command) => {
      const body = readBody(o);
      const client = await apiClient(command);
      print(command, await client.request<EventHandlerView>('PUT', handlerPath(id), { body }), COLUMNS);
    });

  example(
    eh
      .command('executions')
      .description('History of a handler: each firing with its action runs and their outcome'),
    'simtrust event-handlers executions <handlerId> --sim-id 8944000000000000001',
  )
    .argument('<handlerId>')
    .option('--sim-id <simId>', 'only firings for this SIM')
    .option('--fetch-all', 'follow every page')
    .action(async (id: string, o: { simId?: string; fetchAll?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const all: unknown[] = [];
      for await (const page of client.pages<unknown>(`${handlerPath(id)}/executions`, { sim_id: o.simId })) {
        all.push(...page);
        if (!o.fetchAll) break;
      }
      print(command, all);
    });

  example(
    eh
      .command('retry')
      .description(
        'Run a dead or failed action run again (back to pending, attempts reset; simtrust extension)',
      ),
    'simtrust event-handlers retry <handlerId> 42 0',
  )
    .argument('<handlerId>')
    .argument('<executionId>', 'executionId, as `event-handlers executions` shows it')
    .argument('<actionIndex>', 'actionIndex within the execution (0–4)')
    .action(async (id: string, executionId: string, actionIndex: string, _o, command: Command) => {
      for (const [name, value] of [
        ['executionId', executionId],
        ['actionIndex', actionIndex],
      ] as const) {
        if (!/^\d{1,16}$/.test(value))
          throw new SimtrustError('ERR_CLI_USAGE', `${name} must be a non-negative integer, got "${value}"`);
      }
      const client = await apiClient(command);
      print(
        command,
        await client.request(
          'POST',
          `${handlerPath(id)}/executions/${executionId}/actions/${actionIndex}/retry`,
        ),
      );
    });

  example(
    eh.command('delete').description('Delete an event handler'),
    'simtrust event-handlers delete <handlerId>',
  )
    .argument('<handlerId>')
    .action(async (id: string, _o, command: Command) => {
      const client = await apiClient(command);
      await client.request('DELETE', handlerPath(id));
      print(command, { deleted: id });
    });

  example(
    eh.command('ignore').description('Exempt a subscriber (--imsi) or a SIM (--sim-id) from a handler'),
    'simtrust event-handlers ignore <handlerId> --imsi 440100000000001',
  )
    .argument('<handlerId>')
    .option('--imsi <imsi>', 'the subscriber to exempt')
    .option('--sim-id <simId>', 'the SIM to exempt')
    .action(async (id: string, o: { imsi?: string; simId?: string }, command: Command) => {
      const path = `${handlerPath(id)}/${subject(o)}/ignore`;
      const client = await apiClient(command);
      await client.request('POST', path);
      print(command, { handlerId: id, ignored: o.imsi ?? o.simId });
    });

  example(
    eh.command('unignore').description('Remove the exemption of a subscriber (--imsi) or a SIM (--sim-id)'),
    'simtrust event-handlers unignore <handlerId> --sim-id 8944000000000000001',
  )
    .argument('<handlerId>')
    .option('--imsi <imsi>', 'the subscriber')
    .option('--sim-id <simId>', 'the SIM')
    .action(async (id: string, o: { imsi?: string; simId?: string }, command: Command) => {
      const path = `${handlerPath(id)}/${subject(o)}/ignore`;
      const client = await apiClient(command);
      await client.request('DELETE', path);
      print(command, { handlerId: id, unignored: o.imsi ?? o.simId });
    });
}

// `simtrust sims …`: the SIM inventory from the command line.

import { createReadStream, statSync } from 'node:fs';
import { Presets, SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import { LIFECYCLE, LIFECYCLE_ACTIONS } from '../../platform/sims/lifecycle.js';
import { EXPIRY_ACTIONS, type SimView } from '../../platform/sims/model.js';
import { apiClient, globalOptions, print } from '../context.js';
import type { Column } from '../output.js';
import { registerSimSwitchCommand } from './esim-switch.js';

export const SIM_COLUMNS: ReadonlyArray<Column<SimView>> = [
  ['simId', (s) => s.simId],
  ['status', (s) => s.status],
  ['imsi', (s) => (s.activeProfileId ? s.profiles[s.activeProfileId]?.primaryImsi : '')],
  [
    'msisdn',
    (s) => {
      const p = s.activeProfileId ? s.profiles[s.activeProfileId] : undefined;
      return p ? p.subscribers[p.primaryImsi]?.msisdn : '';
    },
  ],
  ['speedClass', (s) => s.speedClass],
  ['groupId', (s) => s.groupId],
  [
    'imeiLock',
    (s) => (s.imeiLock ? `${s.imeiLock.imei}${s.imeiLock.allowAnonymous ? '|ANONYMOUS' : ''}` : ''),
  ],
  [
    'tags',
    (s) =>
      Object.entries(s.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(';'),
  ],
];

/** The SIM columns with its expiry (set-expiry, unset-expiry). */
const SIM_EXPIRY_COLUMNS: ReadonlyArray<Column<SimView>> = [
  ...SIM_COLUMNS.slice(0, 2),
  ['expiryTime', (s) => (s.expiryTime === null ? '' : new Date(s.expiryTime).toISOString())],
  ['expiryAction', (s) => s.expiryAction ?? ''],
];

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * `--at` of set-expiry: Unix ms, or an ISO 8601 time that names its zone (a date alone is 00:00 UTC,
 * as Date.parse reads it). A time without a zone is refused rather than read in this machine's zone.
 */
export function parseExpiryAt(text: string): number {
  const t = text.trim();
  const ms = /^\d{1,16}$/.test(t) ? Number(t) : ISO_WITH_ZONE.test(t) ? Date.parse(t) : Number.NaN;
  if (!Number.isSafeInteger(ms))
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      `--at must be Unix milliseconds or an ISO 8601 time with its zone (2026-12-31T23:59:59Z, 2027-01-01T08:00+09:00), got "${text}"`,
    );
  return ms;
}

const simCommand = (parent: Command, name: string, description: string, example: string) =>
  parent.command(name).description(description).addHelpText('after', `\nExample:\n  $ ${example}`);

/** name=value pairs (tags, filters) from the command line. */
export function parsePairs(pairs: string[]): Array<[string, string]> {
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new SimtrustError('ERR_CLI_USAGE', `expected name=value, got "${pair}"`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
}

async function countDataLines(path: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const byte of chunk) if (byte === 10) lines++;
    last = chunk.at(-1) ?? last;
  }
  return Math.max(0, lines + (last === 10 ? 0 : 1) - 1);
}

interface ImportLine {
  type: 'progress' | 'summary' | 'error';
  rows?: number;
  created?: number;
  unchanged?: number;
  rejected?: number;
  errors?: Array<{ line: number; code: string; reason: string; iccid?: string }>;
  code?: string;
  message?: string;
}

async function importFile(command: Command, file: string): Promise<void> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new SimtrustError('ERR_CLI_USAGE', `cannot read ${file}`);
  }
  const client = await apiClient(command);
  const total = await countDataLines(file);
  const bar = process.stderr.isTTY
    ? new SingleBar(
        {
          format: 'importing [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left',
          stream: process.stderr,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0);
  const res = await client.send('POST', '/v1/sims/import', {
    raw: {
      data: createReadStream(file) as unknown as NonNullable<RequestInit['body']>,
      contentType: 'text/csv',
    },
    headers: { accept: 'application/x-ndjson', 'content-length': String(size) },
  });
  let summary: ImportLine | undefined;
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as ImportLine;
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      if (line.type === 'progress') bar?.update(line.rows ?? 0);
      else summary = line;
    }
  }
  bar?.update(summary?.rows ?? total);
  bar?.stop();
  if (summary === undefined)
    throw new SimtrustError('ERR_API', 'the import ended without a summary; run it again');
  if (summary.type === 'error') {
    throw new SimtrustError(
      'ERR_API',
      `${summary.message} (${summary.code}); rows before the failure are stored, re-run to finish`,
    );
  }
  const { type: _type, ...result } = summary;
  if (globalOptions(command).output === 'json') print(command, result);
  else {
    process.stdout.write(
      `rows ${result.rows}, created ${result.created}, unchanged ${result.unchanged}, rejected ${result.rejected}\n`,
    );
    for (const e of result.errors ?? []) process.stdout.write(`line ${e.line}: ${e.reason} (${e.code})\n`);
  }
  if ((result.rejected ?? 0) > 0) process.exitCode = 1;
}

/**
 * An MSISDN prefix as an operator reads it out ("+81 90-1234-5678"): the separators go, a leading
 * "+" may stay (the API drops it); anything else is left for the API to refuse with its own message.
 */
export const msisdnPrefix = (text: string | undefined): string | undefined =>
  text === undefined ? undefined : text.replace(/[\s\-.()]/g, '');

export function registerSimsCommand(program: Command): void {
  const sims = program.command('sims').description('Manage the SIM inventory');
  registerSimSwitchCommand(sims);

  simCommand(
    sims,
    'list',
    'List SIMs (one page, or every page with --fetch-all)',
    'simtrust sims list --status active --output table',
  )
    .option(
      '--status <statuses>',
      'status filter, "|"-separated (ready|active|inactive|standby|suspended|terminated)',
    )
    .option('--speed-class <classes>', 'speed class filter, "|"-separated')
    .option('--group-id <id>', 'only SIMs in this group')
    .option('--tag-name <name>', 'only SIMs with this tag')
    .option('--tag-value <value>', 'with --tag-name: the tag value')
    .addOption(new Option('--tag-value-match-mode <mode>', 'exact or prefix').choices(['exact', 'prefix']))
    .option('--imsi-prefix <digits>', 'IMSI starts with')
    .option('--iccid-prefix <digits>', 'ICCID starts with')
    .option(
      '--msisdn-prefix <digits>',
      'MSISDN starts with (as read out: "+81 90-1234" is 819012; spaces, dashes, dots and brackets are dropped)',
    )
    .option('--limit <n>', 'page size (1-100)', '100')
    .option('--last-evaluated-key <key>', 'start after this SIM id')
    .option('--fetch-all', 'follow every page')
    .action(async (o: Record<string, string | boolean | undefined>, command: Command) => {
      const client = await apiClient(command);
      const query = {
        status_filter: o.status as string | undefined,
        speed_class_filter: o.speedClass as string | undefined,
        group_id: o.groupId as string | undefined,
        tag_name: o.tagName as string | undefined,
        tag_value: o.tagValue as string | undefined,
        tag_value_match_mode: o.tagValueMatchMode as string | undefined,
        imsi_prefix: o.imsiPrefix as string | undefined,
        iccid_prefix: o.iccidPrefix as string | undefined,
        msisdn_prefix: msisdnPrefix(o.msisdnPrefix as string | undefined),
        limit: o.limit as string,
        last_evaluated_key: o.lastEvaluatedKey as string | undefined,
      };
      if (!o.fetchAll) {
        print(command, await client.request<SimView[]>('GET', '/v1/sims', { query }), SIM_COLUMNS);
        return;
      }
      const all: SimView[] = [];
      for await (const page of client.pages<SimView>('/v1/sims', query)) all.push(...page);
      print(command, all, SIM_COLUMNS);
    });

  simCommand(sims, 'get', 'Show one SIM', 'simtrust sims get 8999901000000000018')
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('GET', `/v1/sims/${encodeURIComponent(simId)}`),
        SIM_COLUMNS,
      );
    });

  simCommand(
    sims,
    'create',
    'Register one SIM',
    'simtrust sims create --imsi 001010000000001 --ki <32 hex> --opc <32 hex>',
  )
    .requiredOption('--imsi <imsi>', 'IMSI (6-15 digits)')
    .requiredOption('--ki <hex>', 'Ki, 32 hex digits (stored encrypted, never shown again)')
    .option('--opc <hex>', 'OPc, 32 hex digits')
    .option('--op <hex>', 'OP, 32 hex digits (OPc is derived and stored instead)')
    .option('--iccid <iccid>', 'ICCID (generated when absent)')
    .option('--msisdn <msisdn>', 'MSISDN')
    .option('--amf <hex>', 'AMF, 4 hex digits (default 8000)')
    .option('--group-id <id>', 'group')
    .option('--serial-number <text>', 'serial number')
    .action(async (o: Record<string, string | undefined>, command: Command) => {
      const client = await apiClient(command);
      const body = Object.fromEntries(
        Object.entries({
          imsi: o.imsi,
          ki: o.ki,
          opc: o.opc,
          op: o.op,
          iccid: o.iccid,
          msisdn: o.msisdn,
          amf: o.amf,
          groupId: o.groupId,
          serialNumber: o.serialNumber,
        }).filter(([, v]) => v !== undefined),
      );
      print(command, await client.request<SimView>('POST', '/v1/sims', { body }), SIM_COLUMNS);
    });

  for (const verb of [...LIFECYCLE_ACTIONS, 'enable_termination', 'disable_termination'] as const) {
    const name = verb.replaceAll('_', '-');
    const summary =
      verb in LIFECYCLE
        ? LIFECYCLE[verb as keyof typeof LIFECYCLE].summary
        : verb === 'enable_termination'
          ? 'Remove termination protection'
          : 'Restore termination protection';
    simCommand(sims, name, summary, `simtrust sims ${name} 8999901000000000018`)
      .argument('<simId>')
      .action(async (simId: string, _o, command: Command) => {
        const client = await apiClient(command);
        print(
          command,
          await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/${verb}`),
          SIM_COLUMNS,
        );
      });
  }

  simCommand(
    sims,
    'update-speed-class',
    'Change the speed class',
    'simtrust sims update-speed-class 8999901000000000018 --speed-class s1.fast',
  )
    .argument('<simId>')
    .requiredOption('--speed-class <class>', 'e.g. s1.minimum, s1.slow, s1.standard, s1.fast, s1.4xfast')
    .action(async (simId: string, o: { speedClass: string }, command: Command) => {
      const client = await apiClient(command);
      const body = { speedClass: o.speedClass };
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/update_speed_class`, {
          body,
        }),
        SIM_COLUMNS,
      );
    });

  const tags = sims.command('tags').description('SIM tags');
  simCommand(
    tags,
    'put',
    'Add or update tags',
    'simtrust sims tags put 8999901000000000018 site=tokyo floor=3',
  )
    .argument('<simId>')
    .argument('<pairs...>', 'name=value')
    .action(async (simId: string, pairs: string[], _o, command: Command) => {
      const client = await apiClient(command);
      const body = parsePairs(pairs).map(([tagName, tagValue]) => ({ tagName, tagValue }));
      print(
        command,
        await client.request<SimView>('PUT', `/v1/sims/${encodeURIComponent(simId)}/tags`, { body }),
        SIM_COLUMNS,
      );
    });
  simCommand(tags, 'delete', 'Delete a tag', 'simtrust sims tags delete 8999901000000000018 site')
    .argument('<simId>')
    .argument('<name>')
    .action(async (simId: string, name: string, _o, command: Command) => {
      const client = await apiClient(command);
      const path = `/v1/sims/${encodeURIComponent(simId)}/tags/${encodeURIComponent(name)}`;
      print(command, await client.request<SimView>('DELETE', path), SIM_COLUMNS);
    });

  simCommand(
    sims,
    'set-group',
    'Put the SIM in a group',
    'simtrust sims set-group 8999901000000000018 --group-id <groupId>',
  )
    .argument('<simId>')
    .requiredOption('--group-id <id>', 'group id')
    .action(async (simId: string, o: { groupId: string }, command: Command) => {
      const client = await apiClient(command);
      const body = { groupId: o.groupId };
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/set_group`, { body }),
        SIM_COLUMNS,
      );
    });
  simCommand(
    sims,
    'unset-group',
    'Take the SIM out of its group',
    'simtrust sims unset-group 8999901000000000018',
  )
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/unset_group`),
        SIM_COLUMNS,
      );
    });

  simCommand(
    sims,
    'set-imei-lock',
    'Lock the SIM to an IMEI',
    'simtrust sims set-imei-lock 8999901000000000018 --imei 490154203237518 --allow-anonymous',
  )
    .argument('<simId>')
    .option('--imei <imei>', 'IMEI (14 or 15 digits); omit to lock to the IMEI of the current session', '')
    .option('--allow-anonymous', 'also admit sessions that report no IMEI')
    .action(async (simId: string, o: { imei: string; allowAnonymous?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const body = { imei: `${o.imei}${o.allowAnonymous ? '|ANONYMOUS' : ''}` };
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/set_imei_lock`, {
          body,
        }),
        SIM_COLUMNS,
      );
    });
  simCommand(
    sims,
    'unset-imei-lock',
    'Remove the IMEI lock',
    'simtrust sims unset-imei-lock 8999901000000000018',
  )
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/unset_imei_lock`),
        SIM_COLUMNS,
      );
    });

  simCommand(
    sims,
    'set-expiry',
    `Set when the SIM expires and what then happens to it (${EXPIRY_ACTIONS.join(', ')})`,
    'simtrust sims set-expiry 8999901000000000018 --at 2026-12-31T23:59:59Z --action suspend',
  )
    .argument('<simId>')
    .requiredOption(
      '--at <time>',
      'ISO 8601 time with its zone (…Z or …+09:00; a date alone is 00:00 UTC), or Unix ms',
    )
    .addOption(
      new Option('--action <action>', 'what happens at that time (default: doNothing)').choices([
        ...EXPIRY_ACTIONS,
      ]),
    )
    .action(async (simId: string, o: { at: string; action?: string }, command: Command) => {
      const body = { expiryTime: parseExpiryAt(o.at), ...(o.action ? { expiryAction: o.action } : {}) };
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/set_expiry_time`, {
          body,
        }),
        SIM_EXPIRY_COLUMNS,
      );
    });
  simCommand(
    sims,
    'unset-expiry',
    'Remove the SIM’s expiry',
    'simtrust sims unset-expiry 8999901000000000018',
  )
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/unset_expiry_time`),
        SIM_EXPIRY_COLUMNS,
      );
    });

  simCommand(
    sims,
    'report-local-info',
    'Ask the SIM over OTA to report its IMEI and location now (anti-theft applet); the verified report shows in `simtrust anti-theft show` and `anti-theft events`',
    'simtrust sims report-local-info 8999901000000000018',
  )
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<SimView>('POST', `/v1/sims/${encodeURIComponent(simId)}/report_local_info`),
        SIM_COLUMNS,
      );
    });

  simCommand(
    sims,
    'history',
    'Status history of a SIM',
    'simtrust sims history 8999901000000000018 --output table',
  )
    .argument('<simId>')
    .action(async (simId: string, _o, command: Command) => {
      const client = await apiClient(command);
      type Entry = {
        status: string;
        previousStatus: string | null;
        operation: string;
        actor: string;
        time: number;
      };
      const rows = await client.request<Entry[]>(
        'GET',
        `/v1/sims/${encodeURIComponent(simId)}/statuses/history`,
      );
      print(command, rows, [
        ['time', (r) => new Date(r.time).toISOString()],
        ['previousStatus', (r) => r.previousStatus],
        ['status', (r) => r.status],
        ['operation', (r) => r.operation],
        ['actor', (r) => r.actor],
      ]);
    });

  simCommand(
    sims,
    'import',
    'Import a card vendor CSV (iccid,imsi,msisdn,ki,opc[,op,amf,serial_number,type,group,tags,kic,kid,kvn,quarantine_imsi]); idempotent',
    'simtrust sims import vendor-delivery.csv',
  )
    .argument('<file>')
    .action(async (file: string, _o, command: Command) => importFile(command, file));
}

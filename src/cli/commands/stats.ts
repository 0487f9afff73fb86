// `simtrust stats beam|funnel|funk get|export` and `simtrust files get-exported` (soracom-cli's
// `stats beam get`, `stats beam export`, `files get-exported`): Beam, Funnel and Funk usage of a
// subscriber, the operator's CSV export, and its download. Times are Unix seconds or ISO 8601.

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { SimtrustClient } from '../../sdk/client.js';
import { apiClient, print } from '../context.js';
import type { Column } from '../output.js';
import { operatorId } from './users.js';

const SERVICES = ['beam', 'funnel', 'funk'] as const;
type Service = (typeof SERVICES)[number];

interface StatsEntry {
  date?: string;
  unixtime: number;
  [map: string]: unknown;
}

interface Row {
  readonly time: string;
  readonly type: string;
  readonly count: number;
  readonly up?: number;
  readonly down?: number;
  readonly refused?: number;
  readonly failed?: number;
}

const COLUMNS: ReadonlyArray<Column<Row>> = [
  ['time', (r) => r.time],
  ['type', (r) => r.type],
  ['count', (r) => r.count],
  ['bytesUp', (r) => r.up ?? ''],
  ['bytesDown', (r) => r.down ?? ''],
  ['refused', (r) => r.refused ?? ''],
  ['failed', (r) => r.failed ?? ''],
];

const example = (c: Command, ...lines: string[]) =>
  c.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);

/** Unix seconds from `12345`, `2026-03-01` or `2026-03-01T12:00:00Z`. */
export function parseTime(option: string, text: string): number {
  if (/^[0-9]{1,12}$/.test(text)) return Number(text);
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(text)) {
    const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
    if (Number.isFinite(ms) && ms >= 0) return Math.floor(ms / 1000);
  }
  throw new SimtrustError(
    'ERR_CLI_USAGE',
    `${option} takes Unix seconds or an ISO 8601 date/time (2026-03-01, 2026-03-01T12:00:00Z); got ${JSON.stringify(text.slice(0, 40))}`,
  );
}

function flatten(service: Service, entries: StatsEntry[]): Row[] {
  const rows: Row[] = [];
  for (const e of entries) {
    const time = e.date ?? new Date(e.unixtime * 1000).toISOString();
    const map = (e[`${service}StatsMap`] ?? {}) as Record<
      string,
      {
        count: number;
        uploadByteSizeTotal?: number;
        downloadByteSizeTotal?: number;
        refusedCount?: number;
        failedCount?: number;
      }
    >;
    for (const [type, v] of Object.entries(map)) {
      rows.push({
        time,
        type,
        count: v.count,
        ...(v.uploadByteSizeTotal === undefined ? {} : { up: v.uploadByteSizeTotal }),
        ...(v.downloadByteSizeTotal === undefined ? {} : { down: v.downloadByteSizeTotal }),
        ...(v.refusedCount === undefined ? {} : { refused: v.refusedCount }),
        ...(v.failedCount === undefined ? {} : { failed: v.failedCount }),
      });
    }
  }
  return rows;
}

/** Downloads an export's URL through the client's own endpoint (the URL needs no credentials). */
async function download(client: SimtrustClient, url: string, out: string): Promise<void> {
  const { pathname, search } = new URL(url);
  if (!/^\/v1\/files\/exported\/ef-[0-9a-f]{24}\/download$/.test(pathname))
    throw new SimtrustError('ERR_CLI_USAGE', `unexpected download URL ${pathname}`);
  const res = await client.send('GET', `${pathname}${search}`, { headers: { accept: 'text/csv' } });
  if (res.body === null) throw new SimtrustError('ERR_CLI_USAGE', 'the download had no body');
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
    out === '-' ? process.stdout : createWriteStream(out, { mode: 0o600 }),
  );
}

export function registerStatsCommand(program: Command): void {
  const stats = program
    .command('stats')
    .description('Usage of Beam, Funnel and Funk per subscriber, and CSV exports of the whole operator');
  for (const service of SERVICES) {
    const name = service.charAt(0).toUpperCase() + service.slice(1);
    const s = stats.command(service).description(`${name} usage`);
    example(
      s
        .command('get')
        .description(`${name} usage of one subscriber (IMSI) per hour, day or month`)
        .requiredOption('--imsi <imsi>', 'the subscriber')
        .requiredOption('--from <time>', 'start: Unix seconds or ISO 8601')
        .requiredOption('--to <time>', 'end: Unix seconds or ISO 8601')
        .option('--period <period>', 'minutes | hour | day | month', 'day'),
      `simtrust stats ${service} get --imsi 001010000000001 --from 2026-03-01 --to 2026-03-31 --period day --output table`,
    ).action(async (o: { imsi: string; from: string; to: string; period: string }, command: Command) => {
      const client = await apiClient(command);
      const entries = await client.request<StatsEntry[]>(
        'GET',
        `/v1/stats/${service}/subscribers/${encodeURIComponent(o.imsi)}`,
        { query: { from: parseTime('--from', o.from), to: parseTime('--to', o.to), period: o.period } },
      );
      const format = command.optsWithGlobals<{ output: string }>().output;
      if (format === 'json') print(command, entries);
      else print(command, flatten(service, entries), COLUMNS);
    });
    example(
      s
        .command('export')
        .description(`Export the ${name} usage of every subscriber as CSV (rows per day or month)`)
        .requiredOption('--from <time>', 'start: Unix seconds or ISO 8601')
        .requiredOption('--to <time>', 'end: Unix seconds or ISO 8601')
        .option('--period <period>', 'day | month', 'day')
        .option('--async', 'answer at once with exportedFileId (then: simtrust files get-exported <id>)')
        .option('--out <file>', 'download the CSV to this file (- for standard output)'),
      `simtrust stats ${service} export --from 2026-03-01 --to 2026-03-31 --period day --out ${service}.csv`,
      `simtrust stats ${service} export --from 2026-01-01 --to 2026-03-31 --period month --async`,
    ).action(
      async (
        o: { from: string; to: string; period: string; async?: boolean; out?: string },
        command: Command,
      ) => {
        if (o.async === true && o.out !== undefined)
          throw new SimtrustError(
            'ERR_CLI_USAGE',
            '--out downloads a sync export; with --async use `simtrust files get-exported <id> --out FILE`',
          );
        const client = await apiClient(command);
        const operator = await operatorId(command, client);
        const answer = await client.request<{
          url?: string;
          exportedFileId?: string;
          exportedFilePath?: string;
        }>('POST', `/v1/stats/${service}/operators/${encodeURIComponent(operator)}/export`, {
          query: { export_mode: o.async === true ? 'async' : 'sync' },
          body: { from: parseTime('--from', o.from), to: parseTime('--to', o.to), period: o.period },
        });
        if (o.out !== undefined && answer.url !== undefined) await download(client, answer.url, o.out);
        else print(command, answer);
      },
    );
  }

  const files = program.command('files').description('Files the platform exported (stats exports)');
  example(
    files
      .command('get-exported')
      .description('The state of an export and, once written, its download URL (or the file with --out)')
      .argument('<exportedFileId>')
      .option('--out <file>', 'download the CSV to this file (- for standard output) once it is written'),
    'simtrust files get-exported ef-0123456789abcdef01234567 --out beam.csv',
  ).action(async (id: string, o: { out?: string }, command: Command) => {
    const client = await apiClient(command);
    const state = await client.request<{ status: string; url?: string; message?: string }>(
      'GET',
      `/v1/files/exported/${encodeURIComponent(id)}`,
    );
    if (o.out === undefined) {
      print(command, state);
      return;
    }
    if (state.status !== 'exported' || state.url === undefined)
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        state.status === 'failed'
          ? `the export failed: ${state.message ?? 'no reason given'}; export again`
          : 'the export is still being written; run the command again shortly',
      );
    await download(client, state.url, o.out);
  });
}

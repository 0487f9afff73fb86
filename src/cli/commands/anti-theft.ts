// `simtrust anti-theft show|events|configure|unblock <sim_id>`: a SIM's anti-theft applet as the
// platform knows it (docs/anti-theft.md, "Platform side"), its events (verified alerts, confirmed
// unblocks), and changing it over OTA (the answer is the pending command; its PoR settles it).

import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { AntiTheftEventView, AntiTheftView, OtaCommandView } from '../../platform/ota/ota-service.js';
import { apiClient, print } from '../context.js';

const path = (simId: string, rest: string) => `/v1/sims/${encodeURIComponent(simId)}/${rest}`;

export function registerAntiTheftCommand(program: Command): void {
  const antiTheft = program
    .command('anti-theft')
    .description("A SIM's anti-theft applet: reported state, alerts, OTA commands");
  antiTheft
    .command('show <sim_id>')
    .description('Registered IMEIs and cells, mode, last alert, last PoR and pending OTA commands')
    .addHelpText('after', '\nExample:\n  $ simtrust anti-theft show 8981100000000000017 --output table')
    .action(async (simId: string, _o: unknown, command: Command) => {
      const client = await apiClient(command);
      const view = await client.request<AntiTheftView>('GET', path(simId, 'anti_theft'));
      print(command, view, [
        ['simId', (v) => v.simId],
        ['mode', (v) => v.reported?.mode ?? '(not reported yet)'],
        ['imeis', (v) => (v.reported?.imeis ?? []).join(' ')],
        ['cells', (v) => String(v.reported?.cells.length ?? 0)],
        ['lastAlert', (v) => v.lastAlert?.event ?? ''],
        ['lastPor', (v) => v.lastPor?.status ?? ''],
        ['pending', (v) => String(v.pendingCommands.length)],
        ['quarantineImsi', (v) => v.quarantineImsi],
        ['localImei', (v) => v.localInfo?.imei ?? ''],
        ['localCell', (v) => (v.localInfo?.cell ? cellText(v.localInfo.cell) : '')],
      ]);
    });
  antiTheft
    .command('events <sim_id>')
    .description('Anti-theft events of the SIM, newest first')
    .option('--limit <n>', 'how many (1-100)', '100')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust anti-theft events 8981100000000000017 --limit 10 --output table',
    )
    .action(async (simId: string, o: { limit: string }, command: Command) => {
      const client = await apiClient(command);
      const events = await client.request<AntiTheftEventView[]>('GET', path(simId, 'events/anti_theft'), {
        query: { limit: o.limit },
      });
      print(command, events, [
        ['time', (e) => new Date(e.time).toISOString()],
        ['event', (e) => e.event],
        ['reason', (e) => e.reason],
        ['imei', (e) => e.imei ?? ''],
      ]);
    });
  antiTheft
    .command('configure <sim_id>')
    .description('Desired IMEIs, cells, tolerance and alert destination, sent to the card over OTA')
    .option('--imei <imei...>', 'registered IMEIs (15 digits), replacing the reported ones')
    .option(
      '--cell <mcc,mnc,area,cellid...>',
      'registered cells, e.g. 440,10,6699,0000009F (area decimal, cell id hex)',
    )
    .option('--strikes <n>', 'consecutive unregistered cells that block (with --window)')
    .option('--window <seconds>', 'seconds after the first unregistered cell that block (0: off)', '0')
    .option('--alert-destination <number>', 'international number the alerts go to')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust anti-theft configure 8981100000000000017 --cell 440,10,6699,0000009F 440,10,6699,000000AF',
    )
    .action(
      async (
        simId: string,
        o: { imei?: string[]; cell?: string[]; strikes?: string; window: string; alertDestination?: string },
        command: Command,
      ) => {
        const body: Record<string, unknown> = {};
        if (o.imei) body.imeis = o.imei;
        if (o.cell) body.cells = o.cell.map(parseCell);
        if (o.strikes !== undefined)
          body.tolerance = { strikes: Number(o.strikes), windowSeconds: Number(o.window) };
        if (o.alertDestination !== undefined) body.alertDestination = o.alertDestination.replace(/^\+/, '');
        const client = await apiClient(command);
        const accepted = await client.request<{ command: OtaCommandView }>('PUT', path(simId, 'anti_theft'), {
          body,
        });
        print(command, accepted.command, COMMAND_COLUMNS);
      },
    );
  antiTheft
    .command('unblock <sim_id>')
    .description('Unblock the SIM over OTA (the PoR adds ANTITHEFT_UNBLOCKED to its events)')
    .addHelpText('after', '\nExample:\n  $ simtrust anti-theft unblock 8981100000000000017')
    .action(async (simId: string, _o: unknown, command: Command) => {
      const client = await apiClient(command);
      print(
        command,
        await client.request<OtaCommandView>('POST', path(simId, 'anti_theft/unblock')),
        COMMAND_COLUMNS,
      );
    });
}

/** A reported cell in one line: mcc-mnc, then TAC/ECI or LAC/CI. */
const cellText = (c: NonNullable<NonNullable<AntiTheftView['localInfo']>['cell']>): string =>
  [`${c.mcc ?? ''}-${c.mnc ?? ''}`, c.tac ?? c.lac, c.eci ?? c.ci].filter((x) => x !== undefined).join(' ');

const COMMAND_COLUMNS: ReadonlyArray<readonly [string, (c: OtaCommandView) => unknown]> = [
  ['id', (c) => c.id],
  ['status', (c) => c.status],
  ['commands', (c) => c.commands.map((x) => x.op).join(' ')],
];

/** `mcc,mnc,area,cellid`: area decimal (LAC/TAC), cell id hex as the card codes it. */
function parseCell(text: string): { mcc: string; mnc: string; areaCode: number; cellIdentity: string } {
  const [mcc, mnc, area, cellIdentity] = text.split(',').map((p) => p.trim());
  if (
    mcc === undefined ||
    mnc === undefined ||
    area === undefined ||
    cellIdentity === undefined ||
    !/^\d+$/.test(area)
  )
    throw new SimtrustError(
      'ERR_VALIDATION',
      `--cell ${text}: expected mcc,mnc,area,cellid such as 440,10,6699,0000009F`,
    );
  return { mcc, mnc, areaCode: Number(area), cellIdentity: cellIdentity.toUpperCase() };
}

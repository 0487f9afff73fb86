// `simtrust anti-theft show|events <sim_id>`: a SIM's anti-theft applet as the platform knows it
// (docs/anti-theft.md, "Platform side") and its events (verified alerts, confirmed unblocks).

import type { Command } from 'commander';
import type { AntiTheftEventView, AntiTheftView } from '../../platform/ota/ota-service.js';
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
      ]);
    });
  antiTheft
    .command('events <sim_id>')
    .description('Anti-theft events of the SIM, newest first')
    .option('--limit <n>', 'how many (1-100)', '100')
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
}

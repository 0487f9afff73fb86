// `simtrust esim euiccs|profiles|operations …`: the operator's eSIM API (docs/esim.md, "Profiles and
// operations") — register an eUICC from its EIS, download / enable / disable / delete a profile, audit
// the eUICC, and follow the operation. With --wait the command polls the operation until it ends,
// drawing its steps as a progress bar on a terminal (stderr), and exits non-zero when it failed.

import { readFileSync } from 'node:fs';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import type { EsimOperationView } from '../../platform/esim/operations/operations-service.js';
import type { SimView } from '../../platform/sims/model.js';
import type { SimtrustClient } from '../../sdk/client.js';
import { apiClient, globalOptions, print } from '../context.js';
import type { Column } from '../output.js';

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);
const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);
const path = (s: string) => encodeURIComponent(s);
/** Between two reads of a running operation. */
const POLL_MS = 500;

const OPERATION_COLUMNS: ReadonlyArray<Column<EsimOperationView>> = [
  ['operationId', (o) => o.operationId],
  ['kind', (o) => o.kind],
  ['simId', (o) => o.simId],
  ['iccid', (o) => o.iccid],
  ['status', (o) => o.status],
  ['result', (o) => resultText(o)],
  ['steps', (o) => o.steps.map((s) => `${s.name}:${s.state}`).join(' ')],
];

const EUICC_COLUMNS: ReadonlyArray<Column<SimView>> = [
  ['simId', (s) => s.simId],
  ['eid', (s) => s.eid ?? ''],
  ['type', (s) => s.type],
  ['status', (s) => s.status],
  ['activeProfileId', (s) => s.activeProfileId ?? ''],
  [
    'profiles',
    (s) =>
      Object.values(s.profiles)
        .map((p) => `${p.iccid}:${p.state ?? '?'}`)
        .join(' '),
  ],
];

function resultText(o: EsimOperationView): string {
  const r = o.result;
  if (r === null) return '';
  const codes = r.subject === undefined ? '' : ` ${r.subject}/${r.reason ?? ''}`;
  return `${r.status}${codes}${r.message === undefined ? '' : ` ${r.message}`}`;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Steps a switch has at least (prepare, SM-SR change, download, enable): the bar's first total. */
const SWITCH_STEPS = 4;

/** Polls until the operation ends; a bar of the steps reported so far on a terminal. */
async function waitFor(client: SimtrustClient, first: EsimOperationView): Promise<EsimOperationView> {
  const what = first.target === null ? `${first.kind} ${first.iccid}` : `switch to ${first.target.smsrId}`;
  const least = first.kind === 'switch' ? SWITCH_STEPS : 1;
  const bar = process.stderr.isTTY
    ? new SingleBar(
        {
          format: `${what} [{bar}] {value}/{total} steps | {step}`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  const done = (o: EsimOperationView) => o.steps.filter((s) => s.state !== 'running').length;
  const current = (o: EsimOperationView) =>
    o.steps.findLast((s) => s.state === 'running')?.name ?? o.steps.at(-1)?.name ?? '';
  bar?.start(Math.max(first.steps.length, least), done(first), { step: current(first) });
  let op = first;
  while (op.status === 'running') {
    await new Promise((r) => setTimeout(r, POLL_MS));
    op = await client.request<EsimOperationView>('GET', `/v1/esim/operations/${path(op.operationId)}`);
    bar?.setTotal(Math.max(op.steps.length, least));
    bar?.update(done(op), { step: current(op) });
  }
  bar?.stop();
  return op;
}

/** Prints the operation (after --wait, its end) and fails the command when it failed. */
export async function showEsimOperation(
  command: Command,
  op: EsimOperationView,
  wait: boolean,
): Promise<void> {
  const client = wait ? await apiClient(command) : undefined;
  const last = client === undefined ? op : await waitFor(client, op);
  print(command, last, OPERATION_COLUMNS);
  if (wait && last.status === 'failed')
    throw new SimtrustError(
      'ERR_ESIM_OPERATION_FAILED',
      `operation ${last.operationId} failed: ${resultText(last)}`,
    );
}

export function registerEsimProfileCommands(esim: Command): void {
  const euiccs = esim.command('euiccs').description('eUICC SIMs of the inventory');
  example(
    euiccs
      .command('register')
      .description(
        'Register an eUICC: its EIS goes to the SM-SR (ES1 RegisterEIS) and the SIM (type euicc, simId = EID) is created',
      )
      .requiredOption('--eis-request <file>', 'the ES1-RegisterEISRequest SOAP envelope the EUM signed')
      .requiredOption('--eum-certificate <file>', 'the EUM certificate (PEM) that signed the EIS'),
    'simtrust esim euiccs register --eis-request eis.xml --eum-certificate eum.pem --output table',
  ).action(async (o: { eisRequest: string; eumCertificate: string }, command: Command) => {
    const body = {
      registerEisRequest: readText(o.eisRequest, 'the EIS request'),
      eumCertificate: readText(o.eumCertificate, 'the EUM certificate'),
    };
    const client = await apiClient(command);
    print(command, await client.request<SimView>('POST', '/v1/esim/euiccs', { body }), EUICC_COLUMNS);
  });

  const profiles = esim
    .command('profiles')
    .description('Profiles on an eUICC SIM (each call is an operation)');
  example(
    profiles
      .command('download')
      .description(
        'Download a profile of your inventory to the eUICC through the SM-DP (ES2 DownloadProfile)',
      )
      .argument('<simId>')
      .requiredOption('--iccid <iccid>', 'the inventory profile to download')
      .requiredOption('--profile-type <type>', 'SM-DP profile type, e.g. simtrust-usim or ts48-generic')
      .option('--enable', 'enable the profile once installed')
      .option('--wait', 'follow the operation to its end (progress bar on a terminal)'),
    'simtrust esim profiles download 89049032123451234512345678901235 --iccid 8944000000000000028 --profile-type simtrust-usim --enable --wait',
  ).action(
    async (
      simId: string,
      o: { iccid: string; profileType: string; enable?: boolean; wait?: boolean },
      command: Command,
    ) => {
      const client = await apiClient(command);
      const op = await client.request<EsimOperationView>('POST', `/v1/sims/${path(simId)}/profiles`, {
        body: { iccid: o.iccid, profileType: o.profileType, enable: o.enable === true },
      });
      await showEsimOperation(command, op, o.wait === true);
    },
  );

  for (const [verb, method, suffix, text] of [
    ['enable', 'POST', '/enable', 'Enable the profile (ES4 EnableProfile at the SM-SR)'],
    [
      'disable',
      'POST',
      '/disable',
      'Disable the profile (ES4 DisableProfile; the fallback profile is enabled)',
    ],
    ['delete', 'DELETE', '', 'Delete the profile from the eUICC (ES4 DeleteProfile)'],
  ] as const) {
    example(
      profiles
        .command(verb)
        .description(text)
        .argument('<simId>')
        .argument('<iccid>')
        .option('--wait', 'follow the operation to its end (progress bar on a terminal)'),
      `simtrust esim profiles ${verb} 89049032123451234512345678901235 8944000000000000028 --wait`,
    ).action(async (simId: string, iccid: string, o: { wait?: boolean }, command: Command) => {
      const client = await apiClient(command);
      const op = await client.request<EsimOperationView>(
        method,
        `/v1/sims/${path(simId)}/profiles/${path(iccid)}${suffix}`,
      );
      await showEsimOperation(command, op, o.wait === true);
    });
  }

  example(
    profiles
      .command('audit')
      .description(
        "Audit the eUICC (ES4 AuditEIS: the SM-SR reads the card, the EIS and the SIM's profiles follow)",
      )
      .argument('<simId>')
      .option('--wait', 'follow the operation to its end (progress bar on a terminal)'),
    'simtrust esim profiles audit 89049032123451234512345678901235 --wait --output table',
  ).action(async (simId: string, o: { wait?: boolean }, command: Command) => {
    const client = await apiClient(command);
    const op = await client.request<EsimOperationView>('POST', `/v1/sims/${path(simId)}/profiles/audit`);
    await showEsimOperation(command, op, o.wait === true);
  });

  const operations = esim.command('operations').description('eSIM operations and their steps');
  example(
    operations
      .command('get')
      .description('An operation with its steps; --wait follows it to its end')
      .argument('<operationId>')
      .option('--wait', 'follow the operation to its end (progress bar on a terminal)'),
    'simtrust esim operations get esop-0f8c… --wait',
  ).action(async (id: string, o: { wait?: boolean }, command: Command) => {
    const client = await apiClient(command);
    const op = await client.request<EsimOperationView>('GET', `/v1/esim/operations/${path(id)}`);
    await showEsimOperation(command, op, o.wait === true);
  });
  example(
    operations.command('list').description("An eUICC SIM's operations, newest first").argument('<simId>'),
    'simtrust esim operations list 89049032123451234512345678901235 --output table',
  ).action(async (simId: string, _o: unknown, command: Command) => {
    const client = await apiClient(command);
    const list = await client.request<EsimOperationView[]>('GET', `/v1/sims/${path(simId)}/esim/operations`);
    if (globalOptions(command).output === 'json') print(command, list);
    else print(command, list, OPERATION_COLUMNS);
  });
}

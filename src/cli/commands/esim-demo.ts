// `simtrust esim demo` (docs/esim.md §Demo): the command; the demo itself is src/cli/esim-demo.ts,
// loaded only when the command runs.

import type { Command } from 'commander';
import { globalOptions } from '../context.js';

/** `simtrust esim demo`: registered by commands/esim.ts. */
export function registerEsimDemoCommand(esim: Command): void {
  esim
    .command('demo')
    .description(
      'Figure 5 on one machine: an eUICC running profile A, the operator orders profile B (download + enable), the device ends attached as B; a temporary in-process platform (docs/esim.md §Demo)',
    )
    .option(
      '--switch',
      "the seed's whole story instead: two operators' deployments in this process, a roaming device with operator 1's profile, switched to operator 2 from operator 1's API — SM-SR change (Figure 4, ①–⑥), then download and enable at operator 2 (Figure 5, i–ix), with timings (docs/esim-switch.md)",
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust esim demo\n  $ simtrust esim demo --switch\n  $ simtrust --output json esim demo',
    )
    .action(async (o: { switch?: boolean }, command: Command) => {
      // Steps as they happen unless --output json is asked for (the CLI's default format is JSON,
      // the demo's default is the narrated steps).
      let root: Command = command;
      while (root.parent) root = root.parent;
      const json =
        root.getOptionValueSource('output') !== 'default' && globalOptions(command).output === 'json';
      if (o.switch === true) return switchDemo(json);
      const { runEsimDemo } = await import('../esim-demo.js');
      const result = await runEsimDemo({
        onStep: json
          ? undefined
          : (s) =>
              process.stdout.write(
                `${String(s.n).padStart(2)}. [${s.actor}] ${s.step}${s.detail ? ` — ${s.detail}` : ''}\n`,
              ),
      });
      if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else
        process.stdout.write(
          `\nThe device is attached as IMSI ${result.attachedImsi} (profile B ${result.profileB.iccid}); DownloadProfile: ${result.downloadStatus}\n`,
        );
      if (result.attachedImsi !== result.profileB.imsi || result.downloadStatus !== 'EXECUTED_SUCCESS') {
        process.stderr.write('the device did not end attached as profile B\n');
        process.exitCode = 1;
      }
    });
}

/** `esim demo --switch`: the steps as they are seen, each with its time since the switch was asked for. */
async function switchDemo(json: boolean): Promise<void> {
  const { runEsimSwitchDemo } = await import('../esim-demo-switch.js');
  const seconds = (ms: number) => `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(2)} s`;
  const result = await runEsimSwitchDemo({
    onStep: json
      ? undefined
      : (s) =>
          process.stdout.write(
            `[${seconds(s.atMs).padStart(9)}] ${s.mark.padEnd(4)} [${s.actor}] ${s.step}${s.detail ? ` — ${s.detail}` : ''}\n`,
          ),
  });
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else
    process.stdout.write(
      `\nThe switch ${result.operation.status}; the eUICC is managed by ${result.managedBy ?? '(no SM-SR)'}; the device is attached as IMSI ${result.attachedImsi}${result.roaming ? ' (roaming)' : ' (at home)'}\n`,
    );
  if (result.operation.status !== 'succeeded' || result.attachedImsi !== result.profileB.imsi) {
    process.stderr.write("the device did not end attached with operator 2's profile\n");
    process.exitCode = 1;
  }
}

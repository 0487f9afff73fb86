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
    .addHelpText('after', '\nExample:\n  $ simtrust esim demo\n  $ simtrust --output json esim demo')
    .action(async (_o: unknown, command: Command) => {
      // Steps as they happen unless --output json is asked for (the CLI's default format is JSON,
      // the demo's default is the narrated steps).
      let root: Command = command;
      while (root.parent) root = root.parent;
      const json =
        root.getOptionValueSource('output') !== 'default' && globalOptions(command).output === 'json';
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

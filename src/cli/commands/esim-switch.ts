// `simtrust sims switch-operator <simId> …` (issue 16, docs/esim-switch.md): switch an eUICC SIM to
// another operator's deployment — SM-SR change to its SM-SR, then its SM-DP downloads and enables the
// profile — as one operation; --wait follows it with a progress bar of its steps (stderr, on a
// terminal) and exits non-zero when it failed, like `esim profiles …`.

import type { Command } from 'commander';
import type { EsimOperationView } from '../../platform/esim/operations/operations-service.js';
import { apiClient } from '../context.js';
import { showEsimOperation } from './esim-profiles.js';

export function registerSimSwitchCommand(sims: Command): void {
  sims
    .command('switch-operator')
    .description(
      "Switch an eUICC SIM to another operator's deployment: SM-SR change to its SM-SR, then its SM-DP downloads and enables the profile (one operation)",
    )
    .argument('<simId>', 'the eUICC SIM (its EID)')
    .requiredOption('--target-smsr <entityId>', "the target operator's SM-SR (a partner SM-SR of yours)")
    .requiredOption('--target-smdp <entityId>', "the target operator's SM-DP (a partner SM-DP of yours)")
    .requiredOption('--profile-type <type>', "the target SM-DP's profile type, e.g. simtrust-usim")
    .option('--iccid <iccid>', "the target operator's profile as agreed with it (default: its SM-DP chooses)")
    .option('--wait', 'follow the operation to its end (progress bar on a terminal)')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust sims switch-operator 89049032123451234512345678901235 --target-smsr 1.3.6.1.4.1.99999.1.3 --target-smdp 1.3.6.1.4.1.99999.1.4 --profile-type simtrust-usim --wait',
    )
    .action(
      async (
        simId: string,
        o: { targetSmsr: string; targetSmdp: string; profileType: string; iccid?: string; wait?: boolean },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const op = await client.request<EsimOperationView>(
          'POST',
          `/v1/sims/${encodeURIComponent(simId)}/switch_operator`,
          {
            body: {
              targetSmsrId: o.targetSmsr,
              targetSmdpId: o.targetSmdp,
              profileType: o.profileType,
              ...(o.iccid === undefined ? {} : { iccid: o.iccid }),
            },
          },
        );
        await showEsimOperation(command, op, o.wait === true);
      },
    );
}

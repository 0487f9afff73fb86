// The SM-DP's read of the SIM inventory (src/platform/sims): one profile row of the operator, its
// Ki/OPc and AKA algorithm opened with the key ring the way the AuC opens them (sims/model.ts
// packSecrets/unpackSecrets, context `sim-profile:<iccid>`). The clear keys go straight into the
// profile package being prepared and nowhere else.

import type { KeyRing } from '../../secrets/key-ring.js';
import { profileSecretContext, unpackSecrets } from '../../sims/model.js';
import type { Executor } from '../../store/database.js';
import type { InventorySim } from './profile-types.js';

export async function readInventorySim(
  db: Executor,
  keyRing: KeyRing,
  operatorId: string,
  iccid: string,
): Promise<InventorySim | undefined> {
  const row = await db
    .selectFrom('sim_profiles')
    .select(['iccid', 'imsi', 'msisdn', 'secrets'])
    .where('iccid', '=', iccid)
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const { ki, opc, algorithm } = unpackSecrets(keyRing.open(row.secrets, profileSecretContext(row.iccid)));
  return {
    iccid: row.iccid,
    imsi: row.imsi,
    msisdn: row.msisdn ?? undefined,
    ki: new Uint8Array(ki),
    opc: new Uint8Array(opc),
    algorithm,
  };
}

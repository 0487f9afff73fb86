// What the SM-SR change (SGP.02 §3.8) writes besides the part-1 EIS store (sm-sr/eis-store.ts): the
// current SM-SR forgetting an eUICC it handed over (step 29), and the new SM-SR adding a key set it
// created on the ISD-R after taking the eUICC over (step 26, the SCP81 PSK). The procedure rows and
// their one-per-eUICC lock are the part-1 ones (esim_sr_procedures): no table of its own.

import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor } from '../../store/database.js';
import type { Keyset, SecurityDomain } from '../es-soap/sgp-02-xml-types.js';
import { fromJson, keysetContext, toJson } from '../sm-sr/eis-store.js';

/**
 * Step 29: SM-SR1 deletes its EIS of `eid` — the row, its profiles, its ISD-R key sets (the keys
 * are gone from the card already, FinaliseISDRhandover), its audit trail and its notification
 * de-duplication rows. The procedure row that did it stays as the record of the handover.
 */
export async function deleteEis(db: Executor, eid: string): Promise<void> {
  await db.deleteFrom('esim_sr_keysets').where('eid', '=', eid).execute();
  await db.deleteFrom('esim_sr_profiles').where('eid', '=', eid).execute();
  await db.deleteFrom('esim_sr_audit').where('eid', '=', eid).execute();
  await db.deleteFrom('esim_sr_notifications').where('eid', '=', eid).execute();
  await db.deleteFrom('esim_sr_eis').where('eid', '=', eid).execute();
}

/** Adds an ISD-R key set (sealed) and lists it, without key values, in the EIS's ISD-R. */
export async function addIsdrKeyset(
  db: Executor,
  keyRing: KeyRing,
  eid: string,
  keyset: Keyset & { readonly type: 'SCP80' | 'SCP81' },
  now: number,
): Promise<void> {
  // A resumed phase 5 may make the key set again: the new one replaces it, as on the card.
  await db.deleteFrom('esim_sr_keysets').where('eid', '=', eid).where('kvn', '=', keyset.version).execute();
  await db
    .insertInto('esim_sr_keysets')
    .values({
      eid,
      kvn: keyset.version,
      type: keyset.type,
      secrets: keyRing.seal(
        Buffer.from(toJson(keyset.keys.map((k) => ({ index: k.index, components: k.components })))),
        keysetContext(eid, keyset.version),
      ),
      counter: keyset.cntr ?? 0,
      created_at: now,
    })
    .execute();
  const row = await db.selectFrom('esim_sr_eis').select('isdr').where('eid', '=', eid).executeTakeFirst();
  if (row === undefined) return;
  const isdr = fromJson<SecurityDomain>(row.isdr);
  const listed: Keyset = { ...keyset, keys: [] };
  await db
    .updateTable('esim_sr_eis')
    .set({
      isdr: toJson({
        ...isdr,
        keysets: [...isdr.keysets.filter((k) => k.version !== keyset.version), listed],
      }),
      updated_at: now,
    })
    .where('eid', '=', eid)
    .execute();
}

/** The latest procedure row of `fn` on `eid` (running or ended). */
export const lastProcedureOf = (db: Executor, eid: string, fn: string) =>
  db
    .selectFrom('esim_sr_procedures')
    .selectAll()
    .where('eid', '=', eid)
    .where('function', '=', fn)
    .orderBy('created_at', 'desc')
    .orderBy('updated_at', 'desc')
    .executeTakeFirst();

/** The new validity period of a running procedure (the take-over adopts HandoverEUICC's). */
export async function setDeadline(db: Executor, procedureId: string, deadline: number): Promise<void> {
  await db
    .updateTable('esim_sr_procedures')
    .set({ deadline })
    .where('procedure_id', '=', procedureId)
    .where('active_eid', 'is not', null)
    .execute();
}

/** Running rows of `fn` still at step `prepared` whose deadline is not after `now`. */
export const expiredPrepares = (db: Executor, fn: string, now: number) =>
  db
    .selectFrom('esim_sr_procedures')
    .select(['procedure_id', 'eid'])
    .where('active_eid', 'is not', null)
    .where('function', '=', fn)
    .where('step', '=', 'prepared')
    .where('deadline', '<=', now)
    .execute();

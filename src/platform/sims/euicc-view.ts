// eUICC SIMs in the SIM view (issue 15): a SIM of type `euicc` carries its EID and shows the profiles
// on the card (esim_profiles, kept by platform/esim/operations) keyed by ICCID in SORACOM's
// `profiles` shape, extended with each profile's state, MNO id and profile type. The enabled one is
// the active profile. A profile's IMSI comes from its subscription address (EIS) or, for a profile
// downloaded from the operator's inventory, from that inventory row; Ki/OPc are never read here.

import type { Executor } from '../store/database.js';
import type { SimsTable } from '../store/schema.js';
import type { ProfileView, SimView } from './model.js';

export async function withEuiccParts(
  db: Executor,
  sims: readonly SimsTable[],
  views: readonly SimView[],
): Promise<SimView[]> {
  const ids = sims.filter((s) => s.type === 'euicc').map((s) => s.sim_id);
  if (ids.length === 0) return [...views];
  const [euiccs, profiles] = await Promise.all([
    db
      .selectFrom('esim_euiccs')
      .select(['sim_id', 'eid', 'handed_over_to', 'handed_over_at'])
      .where('sim_id', 'in', ids)
      .execute(),
    db.selectFrom('esim_profiles').selectAll().where('sim_id', 'in', ids).orderBy('iccid').execute(),
  ]);
  const missing = profiles.filter((p) => p.imsi === null).map((p) => p.iccid);
  const inventory =
    missing.length === 0
      ? []
      : await db
          .selectFrom('sim_profiles')
          .select(['iccid', 'imsi', 'msisdn', 'operator_id'])
          .where('iccid', 'in', missing)
          .execute();
  const inventoryOf = new Map(inventory.map((i) => [`${i.operator_id}:${i.iccid}`, i]));
  const eidOf = new Map(euiccs.map((e) => [e.sim_id, e.eid]));
  const handedOverOf = new Map(
    euiccs.map((e) => [
      e.sim_id,
      e.handed_over_to === null ? null : { smsrId: e.handed_over_to, time: Number(e.handed_over_at) },
    ]),
  );
  const bySim = new Map<string, Array<[string, ProfileView]>>();
  const activeOf = new Map<string, string>();
  for (const p of profiles) {
    const inv = inventoryOf.get(`${p.operator_id}:${p.iccid}`);
    const imsi = p.imsi ?? inv?.imsi ?? null;
    const msisdn = p.imsi === null ? (inv?.msisdn ?? null) : p.msisdn;
    const view: ProfileView = {
      iccid: p.iccid,
      primaryImsi: imsi ?? '',
      subscribers: imsi === null ? {} : { [imsi]: { imsi, msisdn } },
      state: p.state,
      mnoId: p.mno_id,
      profileType: p.profile_type,
    };
    const list = bySim.get(p.sim_id) ?? [];
    list.push([p.iccid, view]);
    bySim.set(p.sim_id, list);
    if (p.state === 'Enabled') activeOf.set(p.sim_id, p.iccid);
  }
  return views.map((v) => {
    const eid = eidOf.get(v.simId);
    if (eid === undefined) return v;
    return {
      ...v,
      eid,
      handedOver: handedOverOf.get(v.simId) ?? null,
      // Object.fromEntries: an ICCID key can never become a prototype change.
      profiles: Object.fromEntries(bySim.get(v.simId) ?? []),
      activeProfileId: activeOf.get(v.simId) ?? null,
    };
  });
}

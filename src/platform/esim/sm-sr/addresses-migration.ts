// Migration 0023-esim-sr-addresses (issue 15). Registered in store/migrations.ts.
//
//   esim_sr_profiles_msisdn, esim_sr_profiles_imsi   the eUICC an MO SMS comes from, by a profile's
//                              MSISDN or IMSI (Es5Sms.eidOfSender: every secured packet OtaInbound
//                              hands to the SM-SR — PoRs, default notifications — and every one it
//                              offers before the anti-theft path). Without them each look-up read
//                              every profile of every eUICC.

import type { Kysely } from 'kysely';

export async function esimSrAddressesMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('esim_sr_profiles_msisdn').on('esim_sr_profiles').column('msisdn').execute();
  await db.schema.createIndex('esim_sr_profiles_imsi').on('esim_sr_profiles').column('imsi').execute();
}

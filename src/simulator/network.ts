// The core network's part of an attach, in outline (TS 33.102 §6.3, TS 23.060 §6.5): the SGSN/MME
// fetches a vector from the HLR/AuC over GSUP, runs AUTHENTICATE on the device's card, compares RES
// with XRES, and on a synchronisation failure sends the card's AUTS with the RAND back to the HLR
// for a fresh vector (TS 33.102 §6.3.5); then it registers the subscriber with UpdateLocation.

import { constantTimeEqual } from '../crypto/constant-time.js';
import { CN_DOMAIN, GMM_CAUSE } from '../lib/gsup/gsup.js';
import { err, ok, type Result } from '../lib/result.js';
import type { SimulatedCard } from './cards.js';
import type { GsupClient } from './gsup-client.js';

const CAUSE_NAMES = new Map<number, string>(Object.entries(GMM_CAUSE).map(([name, code]) => [code, name]));
const cause = (c: number | undefined) =>
  c === undefined ? 'no answer' : (CAUSE_NAMES.get(c) ?? `cause ${c}`);

export interface NetworkAuthentication {
  /** How many AUTS resynchronisations it took (0 normally). */
  readonly resyncs: number;
}

/** `imsi`: what the device read from EF.IMSI (a toolkit applet may have changed it); default the card's. */
export async function authenticateCard(
  gsup: GsupClient,
  card: SimulatedCard,
  imsi: string = card.file.imsi,
): Promise<Result<NetworkAuthentication, string>> {
  const selected = card.terminal.selectUsim();
  if (!selected.ok) return err(`card: ${selected.error.message}`);
  let resync: { auts: Uint8Array; rand: Uint8Array } | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const tuples = await gsup.sendAuthInfo(imsi, { numVectors: 1, ...(resync ? { resync } : {}) });
    if (!tuples.ok) return err(`SendAuthInfo refused: ${cause(tuples.error.cause)}`);
    const t = tuples.value[0];
    if (t?.rand === undefined || t.autn === undefined || t.res === undefined)
      return err('SendAuthInfo without a UMTS tuple');
    const answer = card.terminal.authenticateUmts(t.rand, t.autn);
    if (!answer.ok) return err(`card: ${answer.error.message}`);
    const r = answer.value;
    if (r.kind === 'mac_failure') return err('the card refused the network (MAC failure)');
    if (r.kind === 'sync_failure') {
      resync = { auts: r.auts, rand: t.rand };
      continue;
    }
    if (!constantTimeEqual(r.res, t.res))
      return err('RES does not match XRES: the card is not the subscriber');
    return ok({ resyncs: attempt });
  }
  return err('the card stayed out of synchronisation after AUTS');
}

/** UpdateLocation in the PS domain; the HLR refuses SIMs that may not attach. */
export async function registerLocation(gsup: GsupClient, imsi: string): Promise<Result<true, string>> {
  const r = await gsup.updateLocation(imsi, CN_DOMAIN.PS);
  return r.ok ? ok(true) : err(`UpdateLocation refused: ${cause(r.error.cause)}`);
}

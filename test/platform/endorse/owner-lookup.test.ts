// The token endpoint resolves "which SIM owns this address" in its own one-statement query (its hot
// path); this keeps it in step with the AAA's `findOnlineSessionByAddress`, the definition of an
// online session: same answer for a live session, a re-attached device, an ended session, and an
// address nobody owns.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimtrustError } from '../../../src/lib/errors.js';
import { findOnlineSessionByAddress } from '../../../src/platform/aaa/sessions.js';
import {
  attach,
  createCardSim,
  createEndorseGroup,
  detach,
  type EndorseWorld,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';
import { decode } from '../../sdk/forge.js';

let world: EndorseWorld;

/** What each side says owns `address`: [simId, imei] or undefined. */
async function both(address: string) {
  const aaa = await findOnlineSessionByAddress(world.platform.store.db, address);
  let ours: [string, string | undefined] | undefined;
  try {
    const { token } = await world.platform.endorse.tokenForAddress(address, { parameters: {} });
    const claim = decode(token).payload['simtrust-endorse-claim'] as { simId: string; imei?: string };
    ours = [claim.simId, claim.imei];
  } catch (e) {
    if (!(e instanceof SimtrustError && e.code === 'ERR_ENDORSE_NO_SESSION')) throw e;
  }
  return { aaa: aaa && [aaa.simId, aaa.imei ?? undefined], ours };
}

beforeAll(async () => {
  world = await startEndorseWorld();
});
afterAll(() => world.close());

describe('owner of an address', () => {
  it('agrees with the AAA for live, re-attached, ended and unknown sessions', async () => {
    const groupId = await createEndorseGroup(world, {
      enabled: true,
      parametersToEndorse: { simId: true, imei: true },
    });
    const a = await createCardSim(world, { groupId });
    const b = await createCardSim(world, { groupId });
    const sa = await attach(world, a, '490154203237518');
    const sb = await attach(world, b, '356938035643809');
    const again = await attach(world, a, '490154203237518');
    await detach(world, b, '356938035643809', sb);
    for (const address of [sa.address, sb.address, again.address, '127.0.0.1', '127.64.255.254']) {
      const { aaa, ours } = await both(address);
      expect(ours, address).toEqual(aaa);
    }
    expect((await both(sa.address)).ours?.[0]).toBe(a.simId);
    expect((await both(sb.address)).ours).toBeUndefined();
  });
});

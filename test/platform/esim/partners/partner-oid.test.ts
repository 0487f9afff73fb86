// Issue 16 regression: the partners registry took only OID arcs of up to 9 digits, so an operator's
// MNO id — `2.999.15.4.<the 10 digits of its operator id>` (mnoIdOf) — could not be registered as a
// partner of role operator at the other deployment, and the switch could never be asked for (found
// by `simtrust esim demo --switch`). Property: every operator id's MNO id names a partner; what is not
// an OID still does not.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partnerName, peerOfName } from '../../../../src/platform/esim/partners/partners-registry.js';
import { mnoIdOf } from '../../../../src/servers/esim/esim-runtime.js';

describe('partner entity ids', () => {
  it("every operator's MNO id is an entity id a partner may have", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{10}$/), (digits) => {
        const mnoId = mnoIdOf(`OP${digits}`);
        expect(peerOfName(partnerName('operator', mnoId))).toEqual({ role: 'operator', entityId: mnoId });
      }),
      { numRuns: 2_000 },
    );
    expect(peerOfName(partnerName('operator', '2.999.15.4.5667194275'))?.entityId).toBe(
      '2.999.15.4.5667194275',
    );
  });

  it('what is not an OID is refused', () => {
    for (const bad of ['', '3.1', '1', '1.2.', '1..2', '1.02', '1.2a', ' 1.2', '1.2\n'])
      expect(peerOfName(partnerName('operator', bad)), JSON.stringify(bad)).toBeUndefined();
  });
});

// Hostile input to the partners registry's checks (what the CLI and a future API hand it) and to the
// partner-name parser the listener's dispatch relies on: always a value or ERR_ESIM_PARTNER_INVALID,
// never another exception; names round-trip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/lib/clock.js';
import { SimtrustError } from '../../../../src/lib/errors.js';
import {
  EsimPartners,
  PARTNER_ROLES,
  partnerName,
  peerOfName,
} from '../../../../src/platform/esim/partners/partners-registry.js';
import type { Store } from '../../../../src/platform/store/database.js';

// check() does not touch the store.
const registry = new EsimPartners({} as Store, new ManualClock(Date.now()));
const oid = fc
  .array(fc.nat({ max: 99999 }), { minLength: 1, maxLength: 10 })
  .chain((rest) => fc.constantFrom('0', '1', '2').map((first) => [first, ...rest].join('.')));

describe('partners input', () => {
  it('check() gives facts or ERR_ESIM_PARTNER_INVALID for any input', () => {
    const pemLike = fc.oneof(
      fc.string(),
      fc
        .uint8Array({ maxLength: 300 })
        .map(
          (b) =>
            `-----BEGIN CERTIFICATE-----\n${Buffer.from(b).toString('base64')}\n-----END CERTIFICATE-----\n`,
        ),
    );
    fc.assert(
      fc.property(
        fc.oneof(oid, fc.string()),
        fc.oneof(fc.constantFrom(...PARTNER_ROLES), fc.string()),
        fc.oneof(fc.webUrl(), fc.string()),
        pemLike,
        (entityId, role, endpoint, certificatePem) => {
          try {
            registry.check({ entityId, role, endpoint, certificatePem });
            throw new Error('accepted a random certificate');
          } catch (e) {
            expect(e).toBeInstanceOf(SimtrustError);
            expect((e as SimtrustError).code).toBe('ERR_ESIM_PARTNER_INVALID');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('partner names round-trip; any other text is no partner', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PARTNER_ROLES), oid, (role, entityId) => {
        expect(peerOfName(partnerName(role, entityId))).toEqual({ role, entityId });
      }),
    );
    fc.assert(
      fc.property(fc.string(), (name) => {
        const peer = peerOfName(name);
        if (peer !== undefined) expect(partnerName(peer.role, peer.entityId)).toBe(name);
      }),
      { numRuns: 5000 },
    );
  });
});

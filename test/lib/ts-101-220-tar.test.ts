// TAR allocation (ETSI TS 101 220 §6, Annex D): an applet of ours must not take a TAR the issuer
// security domain or ETSI/3GPP (remote file management, …) answers at — a command for RFM would reach
// the applet, or the applet's commands would reach RFM. The card file refuses both.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANTI_THEFT_TAR } from '../../src/card/applets/anti-theft/applet.js';
import { parseCardFile } from '../../src/card/card-file.js';
import { isApplicationTar, isRfmTar, tarAllocation } from '../../src/lib/ts-101-220-tar.js';
import { DEFAULT_ANTI_THEFT_TAR } from '../../src/platform/ota/ota-service.js';
import { antiTheftCardFile } from '../card/toolkit/fixture.js';

describe('TS 101 220 TAR allocation', () => {
  it('classifies the block bounds', () => {
    expect(tarAllocation('000000')).toBe('issuer_security_domain');
    expect(tarAllocation('000001')).toBe('application');
    expect(tarAllocation('AFFFFF')).toBe('application');
    expect(tarAllocation('B00000')).toBe('etsi_3gpp');
    expect(tarAllocation('b00011')).toBe('etsi_3gpp');
    expect(tarAllocation('BFFFFF')).toBe('etsi_3gpp');
    expect(tarAllocation('C00000')).toBe('application');
    expect(tarAllocation('B0000')).toBeUndefined();
    expect(tarAllocation('GGGGGG')).toBeUndefined();
    expect(isRfmTar('B00000')).toBe(true);
    expect(isRfmTar('B0FFFF')).toBe(true);
    expect(isRfmTar('B10000')).toBe(false);
  });

  it("the anti-theft applet's TAR is an application TAR, on the card and on the platform", () => {
    expect(ANTI_THEFT_TAR).toBe(DEFAULT_ANTI_THEFT_TAR);
    expect(isApplicationTar(ANTI_THEFT_TAR)).toBe(true);
    expect(isRfmTar(ANTI_THEFT_TAR)).toBe(false);
  });

  it('property: exactly one of application, issuer security domain, ETSI/3GPP for any 3 octets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), (n) => {
        const tar = n.toString(16).padStart(6, '0');
        const use = tarAllocation(tar);
        expect(use).toBe(
          n === 0 ? 'issuer_security_domain' : n >= 0xb00000 && n <= 0xbfffff ? 'etsi_3gpp' : 'application',
        );
        expect(isApplicationTar(tar)).toBe(use === 'application');
      }),
    );
  });

  it('the card file refuses an applet at a reserved TAR and an RFM TAR outside the RFM block', () => {
    const good = JSON.parse(JSON.stringify(antiTheftCardFile()));
    expect(parseCardFile(good).ok).toBe(true);
    for (const tar of ['000000', 'B00000', 'B00011', 'BFFFFF']) {
      const r = parseCardFile({ ...good, applets: [{ ...good.applets[0], tar }] });
      expect(r.ok, tar).toBe(false);
      if (!r.ok) expect(r.error.message).toContain('applets[0].tar');
    }
    const r = parseCardFile({ ...good, ota: { ...good.ota, rfmTar: 'C0A7C0' } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('ota.rfmTar');
  });
});

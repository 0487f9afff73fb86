// The card's SCP80 steps (src/card/ota/ts-102-225-card.ts) on their own: the counter's compare-and-set,
// key set selection, and PoR / report building.

import { describe, expect, it } from 'vitest';
import { kvnOf, openCommand, porUserData, secureReport } from '../../../src/card/ota/ts-102-225-card.js';
import type { OtaKeySet } from '../../../src/crypto/ts-102-225-scp80.js';
import { decodeUserData } from '../../../src/lib/ts-23-040-sms-tpdu.js';
import {
  DEFAULT_MINIMUM_SECURITY,
  ResponseStatus,
  secureCommandPacket,
} from '../../../src/lib/ts-102-225-secured-packet.js';
import { KEYS, openSecured, SPI_SUBMIT, TAR } from './fixture.js';

const keysets = new Map<number, OtaKeySet>([[1, KEYS]]);

function packet(counter: number, o: { kic?: number; kid?: number } = {}) {
  const p = secureCommandPacket({
    spi: SPI_SUBMIT,
    kic: o.kic ?? 0x12,
    kid: o.kid ?? 0x12,
    tar: TAR,
    counter,
    keys: KEYS,
    data: Uint8Array.of(0x80, 0x00),
  });
  if (!p.ok) throw new Error(p.error.message);
  return p.value;
}

const options = (counters: Map<number, number>, onChange: () => void = () => {}) => ({
  keysets,
  counters,
  isKnownTar: () => true,
  minimumSecurity: () => DEFAULT_MINIMUM_SECURITY,
  changed: onChange,
});

describe('card-side SCP80 steps', () => {
  it('stores the counter once, and only when it moved', () => {
    const counters = new Map<number, number>();
    let writes = 0;
    expect(
      openCommand(
        packet(3),
        options(counters, () => writes++),
      ),
    ).toMatchObject({ ok: true, counter: 3 });
    expect(counters.get(1)).toBe(3);
    expect(writes).toBe(1);
    expect(
      openCommand(
        packet(3),
        options(counters, () => writes++),
      ),
    ).toMatchObject({
      ok: false,
      status: ResponseStatus.COUNTER_LOW,
    });
    expect(writes).toBe(1);
  });

  // Threat: two copies of one packet processed concurrently must not both be accepted.
  it('loses the compare-and-set when the counter moved between the check and the store: CNTR low', () => {
    const counters = new Map<number, number>([[1, 1]]);
    let reads = 0;
    const racing = new Proxy(counters, {
      get(target, prop) {
        if (prop === 'get')
          return (k: number) => {
            reads++;
            // The second read (the compare-and-set) sees another packet's counter.
            return reads >= 2 ? 7 : target.get(k);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = openCommand(packet(5), options(racing));
    expect(r).toMatchObject({ ok: false, status: ResponseStatus.COUNTER_LOW, code: 'SCP80_COUNTER_LOW' });
    expect(counters.get(1)).toBe(1);
  });

  it('refuses a packet whose KIc and KID name different key sets (06)', () => {
    const both = new Map<number, OtaKeySet>([
      [1, KEYS],
      [2, KEYS],
    ]);
    const r = openCommand(packet(1, { kic: 0x22, kid: 0x12 }), { ...options(new Map()), keysets: both });
    expect(r).toMatchObject({ ok: false, status: ResponseStatus.UNIDENTIFIED_SECURITY_ERROR });
  });

  it('builds the PoR as SMS user data with UDH 02 71 00, opened by the platform helpers', () => {
    const header = { spi: SPI_SUBMIT, kic: 0x12, kid: 0x12, tar: TAR };
    expect(kvnOf(header)).toBe(1);
    const [ud] = porUserData(header, 0, 9, Uint8Array.of(1, 2, 3), keysets) ?? [];
    const decoded = decodeUserData(ud as Uint8Array, true);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(openSecured(decoded.value.body)).toMatchObject({
      counter: 9,
      status: 0,
      data: Uint8Array.of(1, 2, 3),
    });
  });

  it('a report without its key set is not built', () => {
    expect(secureReport(TAR, 3, keysets, 1, Uint8Array.of(0))).toBeUndefined();
    expect(secureReport(TAR, 1, keysets, 1, Uint8Array.of(0))).toHaveLength(1);
  });
});

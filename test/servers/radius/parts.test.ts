// The RADIUS server's pure parts: the duplicate cache (RFC 5080 §2.2.2), the TS 29.061 cell
// mapping, and reading an Accounting-Request (RFC 2866, RFC 2869 Gigawords and Event-Timestamp).

import { describe, expect, it } from 'vitest';
import { encodeRequest } from '../../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { DuplicateCache } from '../../../src/servers/radius/duplicate-cache.js';
import { parseAccountingRequest } from '../../../src/servers/radius/rfc-2866-accounting.js';
import { cellOf } from '../../../src/servers/radius/ts-29-061.js';

const auth = (n: number) => new Uint8Array(16).fill(n);

describe('duplicate cache', () => {
  it('tells retransmissions (same source, port, Identifier, Authenticator) from new requests', () => {
    const cache = new DuplicateCache(1000, 10);
    const key = DuplicateCache.key('10.0.0.1', 1000, 7, auth(1));
    expect(cache.get(key, 0)).toBeUndefined();
    cache.begin(key, 0);
    expect(cache.get(key, 10)).toEqual({ state: 'pending' });
    cache.answer(key, Uint8Array.of(2, 7));
    expect(cache.get(key, 20)).toEqual({ state: 'answered', response: Uint8Array.of(2, 7) });
    // Any difference makes it another request.
    expect(cache.get(DuplicateCache.key('10.0.0.1', 1001, 7, auth(1)), 20)).toBeUndefined();
    expect(cache.get(DuplicateCache.key('10.0.0.1', 1000, 8, auth(1)), 20)).toBeUndefined();
    expect(cache.get(DuplicateCache.key('10.0.0.1', 1000, 7, auth(2)), 20)).toBeUndefined();
    // Expired after the window; forgotten after a failure.
    expect(cache.get(key, 1000)).toBeUndefined();
    cache.begin(key, 2000);
    cache.forget(key);
    expect(cache.get(key, 2001)).toBeUndefined();
  });

  it('is bounded: the oldest entry goes first when full', () => {
    const cache = new DuplicateCache(60_000, 3);
    const keys = [1, 2, 3, 4].map((n) => DuplicateCache.key('10.0.0.1', n, 0, auth(0)));
    for (const k of keys) cache.begin(k, 0);
    expect(cache.size).toBe(3);
    expect(cache.get(keys[0] as string, 1)).toBeUndefined();
    expect(cache.get(keys[3] as string, 1)).toEqual({ state: 'pending' });
  });
});

describe('TS 29.061 location', () => {
  it('maps every User-Location-Info type to the API cell, radio type from 3GPP-RAT-Type first', () => {
    expect(cellOf({ type: 'TAI+ECGI', mcc: '001', mnc: '01', tac: 1, eci: 2 }, undefined)).toEqual({
      radioType: 'eutran',
      mcc: '001',
      mnc: '01',
      tac: 1,
      eci: 2,
    });
    expect(cellOf({ type: 'ECGI', mcc: '001', mnc: '01', eci: 9 }, 8)).toMatchObject({
      radioType: 'nb-iot',
      eci: 9,
    });
    expect(cellOf({ type: 'CGI', mcc: '001', mnc: '01', lac: 3, ci: 4 }, undefined)).toEqual({
      radioType: 'geran',
      mcc: '001',
      mnc: '01',
      lac: 3,
      ci: 4,
    });
    expect(cellOf({ type: 'SAI', mcc: '001', mnc: '01', lac: 3, sac: 5 }, 1)).toMatchObject({
      radioType: 'utran',
      sac: 5,
    });
    expect(
      cellOf({ type: 'unknown', geographicLocationType: 135, data: new Uint8Array(3) }, 6),
    ).toBeUndefined();
  });
});

describe('Accounting-Request', () => {
  const nas = { address: '10.0.0.1', operatorId: 'OP1' };
  const packet = (attributes: Parameters<typeof encodeRequest>[0]['attributes']) => {
    const bytes = encodeRequest(
      { code: RADIUS_CODES['Accounting-Request'], identifier: 1, attributes },
      's3cret-value',
    );
    if (!bytes.ok) throw new Error(bytes.error.message);
    const decoded = decodePacket(bytes.value);
    if (!decoded.ok) throw new Error(decoded.error.message);
    return decoded.value;
  };

  it('reads counters with Gigawords, identity, device, address, cell and time', () => {
    const parsed = parseAccountingRequest(
      packet([
        ['Acct-Status-Type', 3],
        ['Acct-Session-Id', 'abc'],
        ['User-Name', '001010000000001'],
        ['3GPP-IMEISV', '3534321910800007'],
        ['Framed-IP-Address', '127.64.0.2'],
        ['Called-Station-Id', 'IoT.Example'],
        ['Acct-Input-Octets', 5],
        ['Acct-Input-Gigawords', 2],
        ['Acct-Output-Octets', 6],
        ['Acct-Input-Packets', 7],
        ['Event-Timestamp', 1_800_000_000],
        ['3GPP-User-Location-Info', { type: 'TAI', mcc: '001', mnc: '01', tac: 5 }],
      ]),
      nas,
      0,
    );
    expect(parsed).toEqual({
      ok: true,
      record: expect.objectContaining({
        kind: 'interim',
        acctSessionId: 'abc',
        imsi: '001010000000001',
        imei: '353432191080009',
        ueIp: '127.64.0.2',
        apn: 'iot.example',
        inputOctets: 2 * 2 ** 32 + 5,
        outputOctets: 6,
        inputPackets: 7,
        time: 1_800_000_000_000,
        cell: { radioType: 'eutran', mcc: '001', mnc: '01', tac: 5 },
        nasAddress: '10.0.0.1',
        operatorId: 'OP1',
      }),
    });
  });

  it('refuses what it cannot record, naming why', () => {
    expect(parseAccountingRequest(packet([['Acct-Session-Id', 'x']]), nas, 0)).toEqual({
      ok: false,
      reason: 'no valid Acct-Status-Type',
    });
    expect(parseAccountingRequest(packet([['Acct-Status-Type', 1]]), nas, 0)).toEqual({
      ok: false,
      reason: 'no Acct-Session-Id',
    });
    const delayed = parseAccountingRequest(
      packet([
        ['Acct-Status-Type', 2],
        ['Acct-Session-Id', 'x'],
        ['Acct-Delay-Time', 30],
        ['Acct-Terminate-Cause', 4],
      ]),
      nas,
      100_000,
    );
    expect(delayed.ok && delayed.record).toMatchObject({
      kind: 'stop',
      time: 70_000,
      terminateCause: 'Idle-Timeout',
    });
    expect(parseAccountingRequest(packet([['Acct-Status-Type', 7]]), nas, 0)).toMatchObject({
      ok: true,
      record: { kind: 'accounting-on' },
    });
  });
});

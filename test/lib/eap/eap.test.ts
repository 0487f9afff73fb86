import { describe, expect, it } from 'vitest';
import {
  decodeEap,
  EAP_CODES,
  EAP_TYPES,
  eapFailure,
  eapSuccess,
  encodeEap,
  identityRequest,
  identityResponse,
  nakDesiredTypes,
  nakResponse,
  notificationRequest,
} from '../../../src/lib/eap/rfc-3748-eap.js';
import { decodeSimAka } from '../../../src/lib/eap/rfc-4187-messages.js';
import {
  identityPrefix,
  parseEapIdentity,
  permanentIdentity,
  wlanRealm,
} from '../../../src/lib/eap/ts-23-003-nai.js';
import { hex, toHex } from '../../../src/lib/hex.js';

const enc = (p: Parameters<typeof encodeEap>[0]) => {
  const r = encodeEap(p);
  if (!r.ok) throw new Error(r.error.message);
  return toHex(r.value);
};

describe('EAP packets (RFC 3748)', () => {
  it('encodes and decodes Identity, Notification, Nak, Success and Failure', () => {
    expect(enc(identityRequest(1))).toBe('0101000501');
    const id = '0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org';
    expect(enc(identityResponse(1, id))).toBe(`0201003801${Buffer.from(id).toString('hex')}`);
    expect(enc(notificationRequest(7, 'hi'))).toBe('01070007026869');
    expect(enc(nakResponse(2, [23, 50]))).toBe('02020007031732');
    expect(enc(nakResponse(2, []))).toBe('020200060300');
    expect(enc(eapSuccess(3))).toBe('03030004');
    expect(enc(eapFailure(4))).toBe('04040004');
    expect(decodeEap(hex('0101000501ffff'))).toEqual({
      ok: true,
      value: { code: 1, identifier: 1, type: 1, data: new Uint8Array(0) },
    });
  });

  it('reads the desired types of a Nak', () => {
    const nak = decodeEap(hex('02020007031732'));
    expect(nak.ok && nakDesiredTypes(nak.value)).toEqual({ ok: true, value: [23, 50] });
    const none = decodeEap(hex('020200060300'));
    expect(none.ok && nakDesiredTypes(none.value)).toEqual({ ok: true, value: [] });
  });

  it('refuses short, overlong, code-less and type-less packets', () => {
    const code = (h: string) => {
      const r = decodeEap(hex(h));
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code('0101')).toBe('EAP_TRUNCATED');
    expect(code('0101000901')).toBe('EAP_TRUNCATED');
    expect(code('01010003')).toBe('EAP_LENGTH');
    expect(code('03010005aa')).toBe('EAP_LENGTH');
    expect(code('01010004')).toBe('EAP_LENGTH');
    expect(code('05010004')).toBe('EAP_CODE');
    expect(encodeEap({ code: EAP_CODES.Request, identifier: 1, data: new Uint8Array() }).ok).toBe(false);
  });

  it('decodes an EAP-AKA Identity request and refuses non-SIM/AKA types', () => {
    expect(decodeSimAka(hex('0105000c170500000d010000'))).toEqual({
      ok: true,
      value: {
        code: 1,
        identifier: 5,
        method: 'aka',
        subtype: 5,
        attributes: [{ name: 'AT_ANY_ID_REQ', value: true }],
      },
    });
    expect(decodeSimAka(hex('0101000501'))).toMatchObject({ ok: false, error: { code: 'EAP_SIM_AKA_TYPE' } });
    expect(decodeSimAka(hex('03010004'))).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_CODE' },
    });
    expect(decodeSimAka(hex('010500061705'))).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_TRUNCATED' },
    });
    expect(EAP_TYPES["EAP-AKA'"]).toBe(50);
  });
});

describe('identities (TS 23.003 §19.3, hostapd prefixes)', () => {
  it('parses permanent identities with the 3GPP realm', () => {
    expect(parseEapIdentity('0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org')).toEqual({
      ok: true,
      value: {
        kind: 'permanent',
        method: 'aka',
        username: '232010000000000',
        imsi: '232010000000000',
        realm: 'wlan.mnc001.mcc232.3gppnetwork.org',
        realmPlmn: { mcc: '232', mnc3: '001' },
      },
    });
    const prime = parseEapIdentity(
      new TextEncoder().encode('6555444333222111@wlan.mnc044.mcc555.3gppnetwork.org'),
    );
    expect(prime.ok && [prime.value.method, prime.value.imsi]).toEqual(['akaPrime', '555444333222111']);
    const sim = parseEapIdentity('1244070100000001@eapsim.foo');
    expect(sim.ok && [sim.value.method, sim.value.realm, sim.value.realmPlmn]).toEqual([
      'sim',
      'eapsim.foo',
      undefined,
    ]);
  });

  it('recognises pseudonyms (2/3/7) and re-auth ids (4/5/8), with or without realm', () => {
    const cases: [string, string, string][] = [
      ['24dbcae56ea8ed8a14ddd@wlan.mnc001.mcc232.3gppnetwork.org', 'pseudonym', 'aka'],
      ['3abc', 'pseudonym', 'sim'],
      ['7abc', 'pseudonym', 'akaPrime'],
      ['499db4d5a3d42260ca101', 'reauth', 'aka'],
      ['5abc', 'reauth', 'sim'],
      ['8abc', 'reauth', 'akaPrime'],
    ];
    for (const [id, kind, method] of cases) {
      const r = parseEapIdentity(id);
      expect(r.ok && [r.value.kind, r.value.method, r.value.imsi]).toEqual([kind, method, undefined]);
    }
    expect(identityPrefix('reauth', 'akaPrime')).toBe('8');
  });

  it('refuses unknown prefixes, empty users, bad IMSIs and invalid UTF-8', () => {
    const code = (i: string | Uint8Array) => {
      const r = parseEapIdentity(i);
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code('9232010000000000@x')).toBe('EAP_IDENTITY_PREFIX');
    expect(code('0@x')).toBe('EAP_IDENTITY_EMPTY');
    expect(code('023201abc@x')).toBe('EAP_IDENTITY_IMSI');
    expect(code('02320100000000001@x')).toBe('EAP_IDENTITY_IMSI');
    expect(code(hex('30ff'))).toBe('EAP_IDENTITY_UTF8');
  });

  it('builds permanent identities and realms with a three-digit MNC', () => {
    expect(permanentIdentity('aka', '232010000000000', 2)).toEqual({
      ok: true,
      value: '0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org',
    });
    expect(permanentIdentity('sim', '310170000000001', 3)).toEqual({
      ok: true,
      value: '1310170000000001@wlan.mnc170.mcc310.3gppnetwork.org',
    });
    expect(wlanRealm('44', '10').ok).toBe(false);
    expect(permanentIdentity('aka', '12a', 2).ok).toBe(false);
  });
});

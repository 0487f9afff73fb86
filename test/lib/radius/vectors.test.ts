// Published and captured RADIUS vectors: RFC 2865 §7.1, RFC 5997 §6, the hostapd Access-Accept MPPE
// keys of reference/cellular.md §2.7, and a packet gateway's Access-Request with 3GPP VSAs.

import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../../src/lib/hex.js';
import { getAttribute } from '../../../src/lib/radius/attributes.js';
import { decryptMppeKey, encryptMppeKey, mppeKeyAttributes } from '../../../src/lib/radius/rfc-2548-mppe.js';
import {
  encodeRequest,
  encodeResponse,
  hideUserPassword,
  messageAuthenticator,
  recoverUserPassword,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from '../../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { eapMessageAttributes } from '../../../src/lib/radius/rfc-3579-eap-message.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('RFC 2865 §7.1 User Telnet to Specified Host (secret "xyzzy5461")', () => {
  const secret = 'xyzzy5461';
  const requestAuthenticator = hex('0f403f9473978057bd83d5cb98f4227a');
  const request =
    '010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003';
  const accept = '0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103';

  it('hides "arctangent" as the RFC shows, and recovers it', () => {
    const hidden = hideUserPassword('arctangent', secret, requestAuthenticator);
    expect(hidden.ok && toHex(hidden.value)).toBe('0dbe708d93d413ce3196e43f782a0aee');
    const recovered = recoverUserPassword(
      hex('0dbe708d93d413ce3196e43f782a0aee'),
      secret,
      requestAuthenticator,
    );
    expect(recovered.ok && new TextDecoder().decode(recovered.value)).toBe('arctangent');
  });

  it('encodes the Access-Request byte for byte', () => {
    const hidden = hideUserPassword('arctangent', secret, requestAuthenticator);
    if (!hidden.ok) throw new Error('hide failed');
    const bytes = encodeRequest(
      {
        code: RADIUS_CODES['Access-Request'],
        identifier: 0,
        attributes: [
          ['User-Name', 'nemo'],
          ['User-Password', hidden.value],
          ['NAS-IP-Address', '192.168.1.16'],
          ['NAS-Port', 3],
        ],
      },
      secret,
      requestAuthenticator,
    );
    expect(bytes.ok && toHex(bytes.value)).toBe(request);
  });

  it('encodes the Access-Accept with its Response Authenticator 86fe220e…', () => {
    const bytes = encodeResponse(
      {
        code: RADIUS_CODES['Access-Accept'],
        identifier: 0,
        attributes: [
          ['Service-Type', 1],
          ['Login-Service', 0],
          ['Login-IP-Host', '192.168.1.3'],
        ],
      },
      requestAuthenticator,
      secret,
    );
    expect(bytes.ok && toHex(bytes.value)).toBe(accept);
  });

  it('verifies the Response Authenticator, and refuses a wrong secret or request', () => {
    expect(verifyResponseAuthenticator(hex(accept), requestAuthenticator, secret)).toBe(true);
    expect(verifyResponseAuthenticator(hex(accept), requestAuthenticator, 'xyzzy5462')).toBe(false);
    expect(verifyResponseAuthenticator(hex(accept), new Uint8Array(16), secret)).toBe(false);
  });
});

describe('RFC 5997 §6 Status-Server examples (secret "xyzzy5461")', () => {
  const authRequest = '0cda00268a54f4686fb394c52866e302185d062350125a665e2e1e8411f3e243822097c84fa3';
  const authResponse = '02da0014ef0d552a4bf2d693ec2b6fe8b5411d66';
  const acctRequest = '0cb30026925f6b66dd5fed571fcb1db7ad3882605012e8d6eabda910875cd91fdade26367858';
  // The RFC prints Code 2 for this answer to the accounting port; an Accounting-Response (5) is meant
  // (the Response Authenticator only verifies with 5).
  const acctResponse = '05b300140f6f92145f107e2f504e860a4860669c';

  it('verifies the Message-Authenticator of both Status-Server requests', () => {
    expect(verifyMessageAuthenticator(hex(authRequest), 'xyzzy5461')).toBe('valid');
    expect(verifyMessageAuthenticator(hex(acctRequest), 'xyzzy5461')).toBe('valid');
    expect(verifyMessageAuthenticator(hex(authRequest), 'xyzzy5462')).toBe('invalid');
  });

  it('re-creates the Status-Server request from its authenticator', () => {
    const bytes = encodeRequest(
      { code: RADIUS_CODES['Status-Server'], identifier: 0xda, attributes: [messageAuthenticator()] },
      'xyzzy5461',
      hex('8a54f4686fb394c52866e302185d0623'),
    );
    expect(bytes.ok && toHex(bytes.value)).toBe(authRequest);
  });

  it('produces and verifies the Access-Accept and Accounting-Response answers', () => {
    const a = encodeResponse(
      { code: RADIUS_CODES['Access-Accept'], identifier: 0xda, attributes: [] },
      hex('8a54f4686fb394c52866e302185d0623'),
      'xyzzy5461',
    );
    expect(a.ok && toHex(a.value)).toBe(authResponse);
    expect(
      verifyResponseAuthenticator(hex(acctResponse), hex('925f6b66dd5fed571fcb1db7ad388260'), 'xyzzy5461'),
    ).toBe(true);
  });
});

describe('Accounting and Disconnect Request Authenticators (RFC 2866 §3, RFC 5176 §2.3)', () => {
  // An Accounting-Request (User-Name nemo, Acct-Status-Type Start, Acct-Session-Id "20024") and a
  // Disconnect-Request (Acct-Session-Id "09042AF8") from the Flexinets.Radius test suite, secret xyzzy5461.
  const accounting = '0404002711019c27d4e00cbc523b3e2fc834baf401066e656d6f2806000000012c073230303234';
  const disconnect = '2801001e2ec8a0da729620319be0140bc28e92682c0a3039303432414638';

  it('verifies a received Accounting-Request and rejects a wrong secret', () => {
    expect(verifyRequestAuthenticator(hex(accounting), 'xyzzy5461')).toBe(true);
    expect(verifyRequestAuthenticator(hex(accounting), 'foo')).toBe(false);
  });

  it('computes the Disconnect-Request authenticator byte for byte', () => {
    const bytes = encodeRequest(
      {
        code: RADIUS_CODES['Disconnect-Request'],
        identifier: 1,
        attributes: [['Acct-Session-Id', '09042AF8']],
      },
      'xyzzy5461',
    );
    expect(bytes.ok && toHex(bytes.value)).toBe(disconnect);
    expect(verifyRequestAuthenticator(hex(disconnect), 'xyzzy5461')).toBe(true);
  });

  it('signs a CoA-Request carrying a Message-Authenticator so that it verifies (zeroed authenticator rule)', () => {
    const bytes = encodeRequest(
      {
        code: RADIUS_CODES['CoA-Request'],
        identifier: 9,
        attributes: [
          messageAuthenticator(),
          ['Acct-Session-Id', 's1'],
          ['WISPr-Bandwidth-Max-Down', 1_000_000],
        ],
      },
      's3cret',
    );
    if (!bytes.ok) throw new Error(bytes.error.message);
    expect(verifyRequestAuthenticator(bytes.value, 's3cret')).toBe(true);
    expect(verifyMessageAuthenticator(bytes.value, 's3cret')).toBe('valid');
    const tampered = bytes.value.slice();
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    expect(verifyMessageAuthenticator(tampered, 's3cret')).toBe('invalid');
    expect(verifyRequestAuthenticator(tampered, 's3cret')).toBe(false);
  });
});

describe('MS-MPPE keys of a captured hostapd Access-Accept (cellular.md §2.7, secret "testsecret")', () => {
  const requestAuthenticator = hex('25a2d39a23cec9cbaef29e3ae1256fa1');
  const sendKeyValue =
    '86b748fd9cc1cbb8acbf1bb92c4717a93964d841ccb98d6dfdbb2b81f178adc6cdef8f4ea191d0ccc2e14bc6909cbe609b81';
  const recvKeyValue =
    '86b61f297c077285a8b65dadac2f8b0c0ce8623fb85df6972749012eac957e8304cb81af5bb01f74f0a0130b5d6a047a2851';
  const sendKey = '63c4d74afd1824698cd4410f934e07d466be61150911e6c27efae218b4de9034';
  const recvKey = '536cee98d0ea8afa55bf84d144a64fb9abce5fc6fbd393569037f288c07df86c';

  it('decrypts MS-MPPE-Send-Key and MS-MPPE-Recv-Key (Recv = MSK[0..31])', () => {
    const send = decryptMppeKey(hex(sendKeyValue), 'testsecret', requestAuthenticator);
    const recv = decryptMppeKey(hex(recvKeyValue), 'testsecret', requestAuthenticator);
    expect(send.ok && toHex(send.value)).toBe(sendKey);
    expect(recv.ok && toHex(recv.value)).toBe(recvKey);
  });

  it('re-encrypts each key to the captured bytes with the captured salt', () => {
    const send = encryptMppeKey(hex(sendKey), 'testsecret', requestAuthenticator, hex('86b7'));
    expect(send.ok && toHex(send.value)).toBe(sendKeyValue);
    const recv = encryptMppeKey(hex(recvKey), 'testsecret', requestAuthenticator, hex('86b6'));
    expect(recv.ok && toHex(recv.value)).toBe(recvKeyValue);
  });

  it('a wrong secret is detected or yields another key, never the real one', () => {
    const r = decryptMppeKey(hex(recvKeyValue), 'wrong', requestAuthenticator);
    expect(r.ok && toHex(r.value) === recvKey).toBe(false);
  });

  it('builds a hostapd-shaped Access-Accept whose authenticators and keys verify', () => {
    const msk = hex(recvKey + sendKey);
    const keys = mppeKeyAttributes(msk, 'testsecret', requestAuthenticator);
    if (!keys.ok) throw new Error(keys.error.message);
    const [recvAttr, sendAttr] = keys.value;
    expect(recvAttr.value[0] ?? 0).toBeGreaterThanOrEqual(0x80);
    expect(toHex(recvAttr.value.subarray(0, 2))).not.toBe(toHex(sendAttr.value.subarray(0, 2)));
    const bytes = encodeResponse(
      {
        code: RADIUS_CODES['Access-Accept'],
        identifier: 3,
        attributes: [
          ...eapMessageAttributes(hex('03030004')),
          sendAttr,
          recvAttr,
          ['EAP-Key-Name', hex('17')],
          messageAuthenticator(),
        ],
      },
      requestAuthenticator,
      'testsecret',
    );
    if (!bytes.ok) throw new Error(bytes.error.message);
    expect(verifyResponseAuthenticator(bytes.value, requestAuthenticator, 'testsecret')).toBe(true);
    expect(verifyMessageAuthenticator(bytes.value, 'testsecret', requestAuthenticator)).toBe('valid');
    expect(verifyMessageAuthenticator(bytes.value, 'testsecret')).toBe('invalid');
    const packet = decodePacket(bytes.value);
    if (!packet.ok) throw new Error(packet.error.message);
    const recv = getAttribute(packet.value, 'MS-MPPE-Recv-Key');
    const decrypted = recv?.ok ? decryptMppeKey(recv.value, 'testsecret', requestAuthenticator) : undefined;
    expect(decrypted?.ok && toHex(decrypted.value)).toBe(recvKey);
  });
});

describe('a packet gateway Access-Request with 3GPP VSAs (LTE, Flexinets.Radius test data)', () => {
  const request =
    '017301cea4571e304078c73bbb4367ca5fcede3e1f103433363838383735303636393736011b32333230313038353030373639373640666c6578696e65747304060af7e0611a1600001fe40120001031352e3020283537393333291e0b666c6578696e6574730606000000020706000000073d06000000121a0e00001fe4003e0008000000021a17000028af01113233323031303835303037363937361a0d000028af080732333230311a09000028af0a03351a0c000028af020605654e411a0c000028af0d06303830301a0c000028af0606c23084e01a0c000028af0706c23084da1a09000028af1503061a18000028af1412383632383238303231323838323230301a15000028af160f8232f210426d32f21000013e021a0d000028af120732333230311a0d000028af090732333230311a09000028af0c03301a0a000028af170480011a1f000028af051930382d34433038303030343933453030303034393345301a0c000028af0306000000001a09000028af1a03001a0e00001fe4001800080000000f050600012d2202121e205a653bc6cad430e70a585ab0271f1a0c0000159f5806000000031a1100000009170b464c4558494e4554532104393521043935210439352105323136';
  const decoded = decodePacket(hex(request));
  if (!decoded.ok) throw new Error(decoded.error.message);
  const packet = decoded.value;

  it('decodes the subscriber, device and serving cell', () => {
    expect(getAttribute(packet, '3GPP-IMSI')).toEqual({ ok: true, value: '232010850076976' });
    expect(getAttribute(packet, '3GPP-IMEISV')).toEqual({ ok: true, value: '8628280212882200' });
    expect(getAttribute(packet, '3GPP-RAT-Type')).toEqual({ ok: true, value: 6 });
    expect(getAttribute(packet, '3GPP-User-Location-Info')).toEqual({
      ok: true,
      value: { type: 'TAI+ECGI', mcc: '232', mnc: '01', tac: 0x426d, eci: 0x13e02 },
    });
    expect(getAttribute(packet, '3GPP-MS-TimeZone')).toEqual({
      ok: true,
      value: { offsetMinutes: 120, dstHours: 1 },
    });
    expect(getAttribute(packet, 'Called-Station-Id')).toEqual({ ok: true, value: 'flexinets' });
    expect(getAttribute(packet, 'Framed-Protocol')).toEqual({ ok: true, value: 7 });
  });

  it('keeps the VSAs of vendors it does not know as raw Vendor-Specific attributes', () => {
    const raw = packet.attributes.filter((a) => a.type === 26 && a.vendorId === undefined);
    expect(raw.map((a) => toHex(a.value.subarray(0, 4)))).toEqual([
      '00001fe4',
      '00001fe4',
      '00001fe4',
      '0000159f',
      '00000009',
    ]);
  });

  it('keeps unnamed standard attributes (Proxy-State here) and packet order', () => {
    expect(packet.attributes.at(-1)).toEqual({ type: 33, value: utf8('216') });
  });
});

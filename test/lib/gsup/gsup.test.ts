// GSUP/IPA: one generic test over the IE registry (STYLE.md #1), the wire examples of
// reference/cellular.md §4.2, message round trips and the decoding rules.

import { describe, expect, it } from 'vitest';
import {
  decodeGsup,
  decodeGsupIe,
  encodeGsup,
  GMM_CAUSE,
  GSUP_IES,
  GSUP_MESSAGE_TYPE,
  type GsupIeName,
  type GsupMessage,
  gsupErrorType,
  gsupResultType,
  sendAuthInfoRequest,
} from '../../../src/lib/gsup/gsup.js';
import {
  CCM_MESSAGE,
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IpaDeframer,
} from '../../../src/lib/gsup/ipa.js';
import { hex, toHex } from '../../../src/lib/hex.js';

const IMSI = '232010000000000';
const entries = Object.entries(GSUP_IES) as [GsupIeName, (typeof GSUP_IES)[GsupIeName]][];

describe('GSUP IE registry', () => {
  it.each(entries)('%s: example decodes and encodes inside a message', (name, spec) => {
    const [value, bytes] = spec.example;
    const raw = hex(bytes);
    expect(raw[0]).toBe(spec.tag);
    expect(raw[1]).toBe(raw.length - 2);
    expect(decodeGsupIe(name, raw.subarray(2))).toEqual({ ok: true, value });
    if (name === 'imsi') return;
    const message = { type: 0x10, imsi: IMSI, [name]: 'repeated' in spec ? [value] : value } as GsupMessage;
    const encoded = encodeGsup(message);
    expect(encoded.ok && toHex(encoded.value)).toBe(`10${GSUP_IES.imsi.example[1]}${bytes}`);
    expect(encoded.ok && decodeGsup(encoded.value)).toEqual({ ok: true, value: message });
  });

  it('has unique tags', () => {
    expect(new Set(entries.map(([, s]) => s.tag)).size).toBe(entries.length);
  });
});

describe('GSUP messages (libosmocore gsup.h)', () => {
  it('encodes the SendAuthInfo-Request of the osmo-hlr lab run byte for byte (IPA framed)', () => {
    const gsup = encodeGsup(sendAuthInfoRequest(IMSI));
    const frame = gsup.ok ? gsupFrame(gsup.value) : gsup;
    expect(frame.ok && toHex(frame.value)).toBe('000cee0508010832020100000000f0');
  });

  it('carries AUTS and RAND for resynchronisation', () => {
    const m = sendAuthInfoRequest(IMSI, {
      resync: { auts: hex('4f2039392ddd4bb4316ed4a14688'), rand: hex('9fddc72092c6ad036b6e464789315b78') },
      numVectors: 1,
      cnDomain: 1,
    });
    const bytes = encodeGsup(m);
    expect(bytes.ok && toHex(bytes.value)).toBe(
      '08010832020100000000f0260e4f2039392ddd4bb4316ed4a1468820109fddc72092c6ad036b6e464789315b78280101520101',
    );
    expect(bytes.ok && decodeGsup(bytes.value)).toEqual({ ok: true, value: m });
  });

  it('round-trips a SendAuthInfo-Result with several GSM+UMTS tuples, an Error with Cause, and the other procedures', () => {
    const tuple = {
      rand: hex('3ae22306ee1d5c39c62b7b3d4b0bb12e'),
      sres: hex('2f6f4143'),
      kc: hex('e0faa38bb3de4d07'),
      ik: new Uint8Array(16).fill(1),
      ck: new Uint8Array(16).fill(2),
      autn: hex('d7c95621d5920000fe4970c9f38cd6b3'),
      res: hex('5c58c1ba733780f9'),
    };
    const messages: GsupMessage[] = [
      {
        type: GSUP_MESSAGE_TYPE['SendAuthInfo-Result'],
        imsi: IMSI,
        authTuple: [tuple, { ...tuple, rand: new Uint8Array(16) }],
      },
      {
        type: gsupErrorType(GSUP_MESSAGE_TYPE['SendAuthInfo-Request']),
        imsi: IMSI,
        cause: GMM_CAUSE['IMSI-Unknown-In-HLR'],
      },
      { type: GSUP_MESSAGE_TYPE['UpdateLocation-Request'], imsi: IMSI, cnDomain: 1 },
      { type: gsupResultType(GSUP_MESSAGE_TYPE['UpdateLocation-Request']), imsi: IMSI },
      {
        type: GSUP_MESSAGE_TYPE['UpdateLocation-Error'],
        imsi: IMSI,
        cause: GMM_CAUSE['Roaming-Not-Allowed'],
      },
      {
        type: GSUP_MESSAGE_TYPE['InsertSubscriberData-Request'],
        imsi: IMSI,
        msisdn: '1000',
        cnDomain: 1,
        pdpInfo: [{ contextId: 1, pdpType: 0x121, apn: 'iot.example' }],
      },
      { type: GSUP_MESSAGE_TYPE['InsertSubscriberData-Result'], imsi: IMSI },
      { type: GSUP_MESSAGE_TYPE['PurgeMS-Request'], imsi: IMSI, cnDomain: 2 },
      { type: GSUP_MESSAGE_TYPE['PurgeMS-Result'], imsi: IMSI, freezePtmsi: true },
      { type: GSUP_MESSAGE_TYPE['PurgeMS-Error'], imsi: IMSI, cause: GMM_CAUSE['Network-Failure'] },
    ];
    for (const m of messages) {
      const bytes = encodeGsup(m);
      expect(bytes.ok && decodeGsup(bytes.value)).toEqual({ ok: true, value: m });
    }
    expect(gsupErrorType(0x08)).toBe(0x09);
    expect(gsupResultType(0x08)).toBe(0x0a);
  });

  it('keeps unknown IEs and skips unknown IEs inside tuples, as libosmocore does', () => {
    const m = decodeGsup(hex('0a 010832020100000000f0 7f020102 0304 7e020000'));
    expect(m).toEqual({
      ok: true,
      value: { type: 0x0a, imsi: IMSI, authTuple: [{}], unknownIes: [{ tag: 0x7f, value: hex('0102') }] },
    });
  });

  it('refuses a missing or misplaced IMSI, overruns, bad sizes and duplicates', () => {
    const code = (h: string) => {
      const r = decodeGsup(hex(h));
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code('')).toBe('GSUP_EMPTY');
    expect(code('08')).toBe('GSUP_NO_IMSI');
    expect(code('08280101010832020100000000f0')).toBe('GSUP_NO_IMSI');
    expect(code('0801083202')).toBe('GSUP_IE_OVERRUN');
    expect(code('0801')).toBe('GSUP_TRUNCATED');
    expect(code('0801023a02')).toBe('GSUP_IE_VALUE'); // TBCD with a non-decimal nibble
    expect(code('08010832020100000000f02603000000')).toBe('GSUP_IE_VALUE'); // AUTS of 3 octets
    expect(code('08010832020100000000f0280101280102')).toBe('GSUP_DUPLICATE_IE');
    expect(code('08010832020100000000f0030420020000')).toBe('GSUP_IE_VALUE'); // RAND of 2 octets in a tuple
    expect(code('08010832020100000000f0050412020161')).toBe('GSUP_IE_VALUE'); // PDP info without context id
  });

  it('refuses to encode out-of-range values', () => {
    expect(encodeGsup({ type: 8, imsi: '23201000000000012' }).ok).toBe(false);
    expect(encodeGsup({ type: 8, imsi: IMSI, cause: 300 }).ok).toBe(false);
    expect(encodeGsup({ type: 8, imsi: IMSI, rand: new Uint8Array(15) }).ok).toBe(false);
    expect(encodeGsup({ type: 8, imsi: IMSI, pdpInfo: [{ contextId: 1, apn: 'a..b' }] }).ok).toBe(false);
  });
});

describe('IPA framing and CCM (libosmocore ipa.c)', () => {
  it('encodes ID_RESP with serial number and unit id as in the osmo-hlr lab run', () => {
    const frame = encodeCcm({
      type: 'ID_RESP',
      identity: new Map([
        [IPA_ID_TAG.serialNumber, 'TEST-CLIENT'],
        [IPA_ID_TAG.unitId, 'TEST-CLIENT'],
      ]),
    });
    const name = Buffer.from('TEST-CLIENT\0').toString('hex');
    expect(frame.ok && toHex(frame.value)).toBe(`001ffe05000d00${name}000d08${name}`);
  });

  it('decodes the standard ID_GET, PING/PONG/ID_ACK and ID_RESP', () => {
    expect(decodeCcm(hex('0401080107010201030104010501010100'))).toEqual({
      ok: true,
      value: { type: 'ID_GET', tags: [8, 7, 2, 3, 4, 5, 1, 0] },
    });
    expect(decodeCcm(Uint8Array.of(CCM_MESSAGE.PING))).toEqual({ ok: true, value: { type: 'PING' } });
    const pong = encodeCcm({ type: 'PONG' });
    expect(pong.ok && toHex(pong.value)).toBe('0001fe01');
    const ack = encodeCcm({ type: 'ID_ACK' });
    expect(ack.ok && toHex(ack.value)).toBe('0001fe06');
    const resp = decodeCcm(hex(`05000d00${Buffer.from('TEST-CLIENT\0').toString('hex')}`));
    expect(resp.ok && resp.value.type === 'ID_RESP' && resp.value.identity.get(0)).toBe('TEST-CLIENT');
    expect(decodeCcm(hex('0400'))).toMatchObject({ ok: false, error: { code: 'IPA_CCM_ITEM' } });
    expect(decodeCcm(hex('0500'))).toMatchObject({ ok: false, error: { code: 'IPA_CCM_ITEM' } });
    expect(decodeCcm(hex('09'))).toMatchObject({ ok: false, error: { code: 'IPA_CCM_TYPE' } });
    expect(decodeCcm(new Uint8Array())).toMatchObject({ ok: false, error: { code: 'IPA_CCM_EMPTY' } });
  });

  it('reassembles frames from any chunking of the stream', () => {
    const stream = hex('0001fe00' + '000cee0508010832020100000000f0' + '0001fe06');
    for (let step = 1; step <= stream.length; step++) {
      const deframer = new IpaDeframer();
      const frames = [];
      for (let i = 0; i < stream.length; i += step)
        frames.push(...deframer.push(stream.subarray(i, i + step)));
      expect(frames.map((f) => f.proto)).toEqual([0xfe, 0xee, 0xfe]);
      expect(deframer.pending).toBe(0);
      const gsup = frames[1] && gsupPayload(frames[1]);
      expect(gsup && decodeGsup(gsup)).toEqual({ ok: true, value: { type: 8, imsi: IMSI } });
    }
    expect(gsupPayload({ proto: 0xfe, payload: hex('05') })).toBeUndefined();
  });
});

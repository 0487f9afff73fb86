// The TCA eUICC Profile Package codec against real input nobody in this project wrote: the GSMA TS.48
// generic test profiles (as published with osmocom pySim). Every PE of both files decodes with its
// declared schema (none left generic, no unknown component), re-encodes byte for byte, and the
// fields the eUICC installs are read and checked one by one. Then the builder's packages round-trip
// and the EUICCResponse codec is pinned to hand-encoded DER.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateTestVector, verifyTestAutn } from '../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../src/lib/identities.js';
import {
  answerProfilePackage,
  buildProfileElements,
  buildProfilePackage,
  checkProfileElement,
  decodeEuiccResponse,
  decodeHeaderIccid,
  decodePol1,
  decodeProfileElement,
  decodeProfilePackage,
  decodeProfilePackageLocated,
  encodeEuiccResponse,
  encodeHeaderIccid,
  encodeMsisdnRecord,
  encodePol1,
  encodeProfileElement,
  encodeProfilePackage,
  type FileItem,
  fileContent,
  PE_STATUS,
  type ProfileElement,
  readProfile,
} from '../../src/lib/saip-profile-package.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/vectors/saip/${name}`, import.meta.url)));
const V1 = fixture('TS48V1-A-UNIQUE.der');
const V2 = fixture('TS48V2-SAIP2-3-BERTLV-UNIQUE.der');

const V1_TYPES =
  'header mf pukCodes pinCodes telecom pinCodes genericFileManagement usim opt-usim pinCodes akaParameter gsm-access csim opt-csim pinCodes cdmaParameter isim opt-isim pinCodes akaParameter genericFileManagement genericFileManagement securityDomain rfm rfm rfm rfm end';
const V2_TYPES =
  'header mf pukCodes pinCodes telecom pinCodes genericFileManagement usim opt-usim pinCodes akaParameter gsm-access df-5gs df-saip csim opt-csim pinCodes cdmaParameter isim opt-isim pinCodes akaParameter genericFileManagement genericFileManagement securityDomain rfm rfm rfm rfm end';

function decoded(bytes: Uint8Array): ProfileElement[] {
  const r = decodeProfilePackage(bytes);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message} at ${r.error.offset}`);
  return r.value;
}

/** Any `$ext` (a component the schema did not know) anywhere in a decoded value. */
function hasExtension(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.some(hasExtension);
  return Object.entries(v).some(([k, x]) => k === '$ext' || hasExtension(x));
}

for (const [name, bytes, types, sizes] of [
  ['TS48V1-A-UNIQUE', V1, V1_TYPES, 11768],
  ['TS48V2-SAIP2-3-BERTLV-UNIQUE', V2, V2_TYPES, 12309],
] as const) {
  describe(`${name}.der`, () => {
    const pes = decoded(bytes);

    it('decodes every PE with its schema, in order, nothing left generic or unknown', () => {
      expect(bytes.length).toBe(sizes);
      expect(pes.map((p) => p.type).join(' ')).toBe(types);
      expect(pes.some((p) => p.type === 'unknown')).toBe(false);
      expect(pes.some((p) => hasExtension(p.value))).toBe(false);
    });

    it('re-encodes byte-identically, as a whole and PE by PE', () => {
      expect(toHex(encodeProfilePackage(pes))).toBe(toHex(bytes));
      const located = decodeProfilePackageLocated(bytes);
      expect(located.ok).toBe(true);
      if (!located.ok) return;
      for (const l of located.value) expect(toHex(encodeProfileElement(l.element))).toBe(toHex(l.raw));
      expect(located.value.map((l) => l.offset)[0]).toBe(0);
    });

    it('every PE but the header opens with a PEHeader; identifications are unique', () => {
      const ids = pes.slice(1).map((p) => {
        const first = Object.values(p.value)[0] as { identification: number };
        return first.identification;
      });
      expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('the eUICC answers every PE ok', () => {
      const { response, elements } = answerProfilePackage(bytes);
      expect(elements.length).toBe(pes.length);
      expect(response.profileInstallationAborted).toBeUndefined();
      expect(response.peStatus.map((s) => s.status)).toEqual(pes.map(() => PE_STATUS.ok));
      const again = decodeEuiccResponse(encodeEuiccResponse(response));
      expect(again.ok && again.value).toEqual(response);
    });
  });
}

describe('what the eUICC installs from the TS.48 profiles', () => {
  const v1 = readProfile(decoded(V1));
  const v2 = readProfile(decoded(V2));
  if (!v1.ok || !v2.ok) throw new Error('readProfile failed');
  const a = v1.value;
  const b = v2.value;

  it('header: version, profile type, ICCID 8949449999999990…, mandatory services and templates', () => {
    expect(a.version).toEqual({ major: 2, minor: 1 });
    expect(b.version).toEqual({ major: 2, minor: 3 });
    expect(a.profileType).toBe('GSMA Generic eUICC Test Profile');
    expect(a.iccid).toBe('8949449999999990023');
    expect(b.iccid).toBe('8949449999999990056');
    expect(a.iccid.startsWith('8949449999999990')).toBe(true);
    expect(a.mandatoryServices).toEqual(['usim', 'isim', 'csim', 'javacard', 'usim-test-algorithm']);
    expect(b.mandatoryServices).toEqual([
      'usim',
      'isim',
      'csim',
      'usim-test-algorithm',
      'ber-tlv',
      'get-identity',
      'profile-a-x25519',
      'profile-b-p256',
    ]);
    expect(a.mandatoryGfste[0]).toBe('2.23.143.1.2.1');
    expect(b.mandatoryGfste).toHaveLength(11);
    expect(a.complete && b.complete).toBe(true);
  });

  it('MF: EF.ICCID holds the header ICCID (swapped BCD)', () => {
    expect(a.efIccid).toBe(a.iccid);
    expect(b.efIccid).toBe(b.iccid);
  });

  it('USIM: ADF name, EF.IMSI, EF.UST, EF.AD', () => {
    expect(toHex(b.usimAid as Uint8Array)).toBe('a0000000871002ff49ff0589');
    expect(b.imsi).toBe('001010123456063');
    expect(toHex(b.efUst as Uint8Array)).toBe('9effbf1dff3e0083410310010400406e09');
    // TS 31.102 §4.2.18: UE operation mode '80' (type approval), MNC length 2
    expect(toHex(b.efAd as Uint8Array)).toBe('80000002');
    expect(a.imsi).toBe('001010123456063');
    expect(toHex(a.efUst as Uint8Array)).toBe('9effbf1dff3e008341031001040000');
  });

  it('akaParameter: the USIM and the ISIM use the TS 34.108 test algorithm with K = 000102…0f', () => {
    for (const p of [a, b]) {
      expect(p.aka.map((x) => x.naa)).toEqual(['usim', 'isim']);
      for (const aka of p.aka) {
        expect(aka.algorithm).toBe('test');
        expect(aka.algorithmOptions).toBe(0x02);
        expect(toHex(aka.k)).toBe('000102030405060708090a0b0c0d0e0f');
        expect(toHex(aka.opc)).toBe('00000000000000000000000000000000');
      }
    }
  });

  it('PINs and PUKs: PIN1 0000 with PUK1, ADM1/ADM2, local PIN2 per NAA', () => {
    const global = b.pins.filter((p) => p.context === 'mf');
    expect(global.map((p) => p.keyReference)).toEqual([1, 10, 11]);
    const pin1 = global[0];
    expect(toHex(pin1?.value as Uint8Array)).toBe('30303030ffffffff');
    expect(pin1?.unblockingReference).toBe(1);
    expect(pin1?.attributes).toBe(6);
    expect([pin1?.maxAttempts, pin1?.retriesLeft]).toEqual([3, 3]); // DEFAULT 51 = 0x33
    expect(global[1]?.maxAttempts).toBe(10);
    expect(b.pins.filter((p) => p.context === 'usim').map((p) => p.keyReference)).toEqual([129]);
    expect(b.puks.map((p) => [p.keyReference, toHex(p.value)])).toEqual([
      [1, '3131313131313131'],
      [129, '3232323232323232'],
    ]);
    expect(b.puks[0]?.maxAttempts).toBe(10); // DEFAULT 170 = 0xAA
  });

  it('security domain keys and RFM instances', () => {
    expect(b.securityDomainKeys).toHaveLength(6);
    const first = b.securityDomainKeys[0];
    expect(toHex(first?.usageQualifier as Uint8Array)).toBe('18');
    expect([first?.identifier, first?.version]).toEqual([1, 1]);
    expect(toHex(first?.components[0]?.data as Uint8Array)).toBe('66778899aabbccdd1122334455eeff10');
    expect(b.rfm.map((r) => toHex(r.instanceAid))).toEqual([
      'a00000055910100001',
      'a00000055910100002',
      'a00000055910100003',
      'a00000055910100004',
    ]);
    expect(b.rfm.map((r) => r.tars.map(toHex))).toEqual([['b00120'], ['b00140'], ['b00141'], ['b00142']]);
  });

  it('the profile authenticates with the test algorithm: AuC vector → USIM check', () => {
    const k = b.aka[0]?.k as Uint8Array;
    const rand = hex('00112233445566778899aabbccddeeff');
    const v = generateTestVector(k, rand, hex('000000000021'), hex('8000'));
    const card = verifyTestAutn(k, rand, v.autn);
    expect(card.ok && toHex(card.value.res)).toBe('00102030405060708090a0b0c0d0e0f0');
  });
});

describe('fileContent (SAIP fill semantics)', () => {
  it('writes contents at the running position and skips offsets with FF', () => {
    const c = fileContent([
      { fillFileContent: hex('0102') },
      { fillFileOffset: 2 },
      { fillFileContent: hex('03') },
    ]);
    expect(toHex(c as Uint8Array)).toBe('0102ffff03');
    expect(fileContent([])).toBeUndefined();
    expect(fileContent(undefined)).toBeUndefined();
  });
});

describe('header ICCID coding', () => {
  it('BCD in reading order, F-padded', () => {
    expect(toHex(encodeHeaderIccid('8949449999999990023'))).toBe('8949449999999990023f');
    const d = decodeHeaderIccid(hex('8949449999999990023f'));
    expect(d.ok && d.value).toBe('8949449999999990023');
    expect(decodeHeaderIccid(hex('89494499a9999990023f')).ok).toBe(false);
    expect(decodeHeaderIccid(hex('8949')).ok).toBe(false);
  });
});

describe('EUICCResponse', () => {
  it('encodes as hand-written DER (EUICCResponse SEQUENCE, peStatus [0], PEStatus fields [0]..[3])', () => {
    expect(toHex(encodeEuiccResponse({ peStatus: [{ status: 0, identification: 1 }] }))).toBe(
      '300aa0083006800100810101',
    );
    const aborted = encodeEuiccResponse({
      peStatus: [{ status: 3, identification: 10, additionalInformation: 1, offset: 300 }],
      profileInstallationAborted: true,
      statusMessage: 'ok?',
    });
    // PEStatus 80 status, 81 identification, 82 additional-information, 83 offset (300 = 012c);
    // profileInstallationAborted [1] NULL; statusMessage [2] UTF8String
    expect(toHex(aborted)).toBe('3018a00f300d80010381010a82010183020' + '12c81008203' + '6f6b3f');
    const back = decodeEuiccResponse(aborted);
    expect(back.ok && back.value).toEqual({
      peStatus: [{ status: 3, identification: 10, additionalInformation: 1, offset: 300 }],
      profileInstallationAborted: true,
      statusMessage: 'ok?',
    });
  });

  it('refuses what is not an EUICCResponse', () => {
    expect(decodeEuiccResponse(hex('300aa0083006800100810101ff')).ok).toBe(false);
    expect(decodeEuiccResponse(hex('310aa0083006800100810101')).ok).toBe(false);
    expect(decodeEuiccResponse(hex('3000')).ok).toBe(false); // peStatus is mandatory
  });
});

describe('buildProfilePackage (SM-DP preparation from inventory data)', () => {
  const input = {
    iccid: '8988211000000467285',
    imsi: '440103213100174',
    msisdn: '819012345678',
    ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
    opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
    mncLength: 2 as const,
  };

  it('builds a package the eUICC accepts and reads back the same identities and keys', () => {
    const bytes = buildProfilePackage(input);
    const { response, elements } = answerProfilePackage(bytes);
    expect(response.profileInstallationAborted).toBeUndefined();
    expect(response.peStatus.every((s) => s.status === PE_STATUS.ok)).toBe(true);
    expect(elements.map((p) => p.type)).toEqual([
      'header',
      'mf',
      'pukCodes',
      'pinCodes',
      'usim',
      'opt-usim',
      'akaParameter',
      'end',
    ]);
    const p = readProfile(elements);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value.iccid).toBe(input.iccid);
    expect(p.value.efIccid).toBe(input.iccid);
    expect(p.value.imsi).toBe(input.imsi);
    expect(toHex(p.value.efAd as Uint8Array)).toBe('00000002');
    expect(p.value.mandatoryServices).toEqual(['usim', 'milenage']);
    expect(p.value.aka).toHaveLength(1);
    expect(p.value.aka[0]?.algorithm).toBe('milenage');
    expect(toHex(p.value.aka[0]?.k as Uint8Array)).toBe('465b5ce8b199b49faa5f0a2ee238a6bc');
    expect(toHex(p.value.aka[0]?.opc as Uint8Array)).toBe('cd63cb71954a9f4e48a5994e37a02baf');
    expect(p.value.pins.map((x) => [x.context, x.keyReference])).toEqual([
      ['mf', 1],
      ['mf', 10],
    ]);
    // re-encoding what was decoded gives the same bytes
    expect(toHex(encodeProfilePackage(elements))).toBe(toHex(bytes));
    expect(toHex(encodeProfilePackage(buildProfileElements(input)))).toBe(toHex(bytes));
  });

  it('writes EF.MSISDN after a 14-byte alpha identifier: length, TON/NPI 91, swapped BCD', () => {
    expect(toHex(encodeMsisdnRecord('819012345678'))).toBe('0791180921436587ffffffffffff');
    expect(toHex(encodeMsisdnRecord('12345'))).toBe('04912143f5ffffffffffffffffff');
    const pes = decoded(buildProfilePackage(input));
    const opt = pes.find((p) => p.type === 'opt-usim');
    if (!opt || opt.type === 'unknown') throw new Error('no opt-usim PE');
    const record = fileContent(opt.value['ef-msisdn'] as FileItem[]);
    expect(toHex(record as Uint8Array)).toBe(`${'ff'.repeat(14)}${toHex(encodeMsisdnRecord(input.msisdn))}`);
  });

  it('builds a test-algorithm profile without OPc, and leaves opt-usim out without an MSISDN', () => {
    const { msisdn: _m, opc: _o, ...rest } = input;
    const pes = decoded(buildProfilePackage({ ...rest, algorithm: 'test' }));
    expect(pes.map((p) => p.type)).not.toContain('opt-usim');
    const p = readProfile(pes);
    expect(p.ok && p.value.aka[0]?.algorithm).toBe('test');
    expect(p.ok && p.value.mandatoryServices).toEqual(['usim', 'usim-test-algorithm']);
  });

  it('POL1 rides in the header and comes back; a bad POL1 byte is bad-values', () => {
    const rules = { disableNotAllowed: true, deleteNotAllowed: false, deleteWhenDisabled: true };
    expect(toHex(encodePol1(rules))).toBe('05');
    const pes = decoded(buildProfilePackage({ ...input, pol1: rules }));
    const p = readProfile(pes);
    expect(p.ok && p.value.pol1).toEqual(rules);
    expect(decodePol1(hex('08')).ok).toBe(false);
    expect(decodePol1(hex('0101')).ok).toBe(false);
    const h = pes[0] as ProfileElement & { type: 'header' };
    const bad: ProfileElement = { type: 'header', value: { ...h.value, pol: hex('80') } };
    expect(checkProfileElement(bad, 0).status).toBe(PE_STATUS['bad-values']);
  });

  it('property: any valid inventory data builds a package that reads back the same', () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const key = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(
        digits(16, 17),
        digits(6, 15),
        fc.option(digits(1, 20), { nil: undefined }),
        key,
        key,
        fc.constantFrom('milenage' as const, 'test' as const),
        fc.constantFrom(2 as const, 3 as const),
        (body, imsi, msisdn, ki, opc, algorithm, mncLength) => {
          const iccid = iccidWithCheckDigit(`89${body}`); // 19 or 20 digits
          const bytes = buildProfilePackage({
            iccid,
            imsi,
            ki,
            opc,
            algorithm,
            mncLength,
            ...(msisdn ? { msisdn } : {}),
          });
          const { response, elements } = answerProfilePackage(bytes);
          expect(response.profileInstallationAborted).toBeUndefined();
          expect(toHex(encodeProfilePackage(elements))).toBe(toHex(bytes));
          const p = readProfile(elements);
          if (!p.ok) throw new Error(p.error.message);
          expect([p.value.iccid, p.value.efIccid, p.value.imsi]).toEqual([iccid, iccid, imsi]);
          expect(p.value.efAd?.[3]).toBe(mncLength);
          expect(p.value.aka[0]?.algorithm).toBe(algorithm);
          expect(toHex(p.value.aka[0]?.k as Uint8Array)).toBe(toHex(ki));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses unusable inventory data', () => {
    expect(() => buildProfilePackage({ ...input, iccid: '8988211000000467284' })).toThrow(RangeError);
    expect(() => buildProfilePackage({ ...input, imsi: '44010' })).toThrow(RangeError);
    expect(() => buildProfilePackage({ ...input, ki: new Uint8Array(15) })).toThrow(RangeError);
    expect(() => buildProfilePackage({ ...input, opc: undefined as unknown as Uint8Array })).toThrow(
      RangeError,
    );
    expect(() => buildProfilePackage({ ...input, pin1: '12a4' })).toThrow(RangeError);
  });
});

describe('the eUICC refuses what it cannot install, with the PEStatus of SAIP', () => {
  const base = buildProfileElements({
    iccid: '8988211000000467285',
    imsi: '440103213100174',
    ki: new Uint8Array(16),
    opc: new Uint8Array(16),
  });
  const withPe = (index: number, pe: ProfileElement) => base.map((p, i) => (i === index ? pe : p));
  const aka = base.findIndex((p) => p.type === 'akaParameter');
  const akaValue = base[aka]?.value as Record<string, unknown>;
  const algo = (over: Record<string, unknown>): ProfileElement =>
    ({
      type: 'akaParameter',
      value: {
        ...akaValue,
        algoConfiguration: {
          algoParameter: {
            ...(akaValue.algoConfiguration as { algoParameter: object }).algoParameter,
            ...over,
          },
        },
      },
    }) as ProfileElement;

  const answer = (pes: ProfileElement[]) => answerProfilePackage(encodeProfilePackage(pes)).response;

  it('TUAK (algorithmID 2) and unknown algorithms: feature-not-supported, installation aborted', () => {
    for (const id of [2, 9]) {
      const r = answer(withPe(aka, algo({ algorithmID: id })));
      expect(r.profileInstallationAborted).toBe(true);
      expect(r.peStatus.at(-1)).toEqual({ status: PE_STATUS['feature-not-supported'], identification: 5 });
      expect(r.peStatus).toHaveLength(aka + 1);
    }
  });

  it('Milenage with non-default rotation or XOR constants: feature-not-supported; the defaults written out: ok', () => {
    const rotations = answer(withPe(aka, algo({ rotationConstants: hex('4100204060') })));
    expect(rotations.peStatus.at(-1)?.status).toBe(PE_STATUS['feature-not-supported']);
    // all-zero c1..c5: c2..c5 differ from TS 35.206's 1, 2, 4, 8
    const xorings = answer(withPe(aka, algo({ xoringConstants: new Uint8Array(80) })));
    expect(xorings.peStatus.at(-1)?.status).toBe(PE_STATUS['feature-not-supported']);
    const defaults = hex(
      '00000000000000000000000000000000' +
        '00000000000000000000000000000001' +
        '00000000000000000000000000000002' +
        '00000000000000000000000000000004' +
        '00000000000000000000000000000008',
    );
    const explicit = answer(
      withPe(aka, algo({ rotationConstants: hex('4000204060'), xoringConstants: defaults })),
    );
    expect(explicit.profileInstallationAborted).toBeUndefined();
  });

  it('a 15-byte K: bad-values', () => {
    const r = answer(withPe(aka, algo({ key: new Uint8Array(15) })));
    expect(r.peStatus.at(-1)?.status).toBe(PE_STATUS['bad-values']);
  });

  it('an unsupported major version: unsupported-profile-version', () => {
    const h = base[0] as ProfileElement & { type: 'header' };
    const r = answer(withPe(0, { type: 'header', value: { ...h.value, 'major-version': 9 } }));
    expect(r.peStatus).toEqual([{ status: PE_STATUS['unsupported-profile-version'] }]);
  });

  it('a header anywhere but first, or no end: invalid-request-format', () => {
    const swapped = [base[1], base[0], ...base.slice(2)] as ProfileElement[];
    expect(answer(swapped).peStatus.at(-1)?.status).toBe(PE_STATUS['invalid-request-format']);
    const noEnd = answer(base.slice(0, -1));
    expect(noEnd.profileInstallationAborted).toBe(true);
    expect(noEnd.peStatus.at(-1)?.status).toBe(PE_STATUS['invalid-request-format']);
  });

  it('an undecodable PE: invalid-request-format with the offset inside it', () => {
    const bytes = encodeProfilePackage(base);
    const located = decodeProfilePackageLocated(bytes);
    if (!located.ok) throw new Error('fixture');
    const mf = located.value[1] as { offset: number; raw: Uint8Array };
    expect(mf.raw[1]).toBeLessThan(0x80); // a short mf PE: 2 header bytes
    const broken = bytes.slice();
    // The mf-header's tag 'A0', first inside the mf PE, becomes '9F': a two-byte tag '9F05', so the
    // next byte, '80' (mandated), is read as its length — indefinite, refused at PE offset 2 + 2.
    broken[mf.offset + 2] = 0x9f;
    const r = answerProfilePackage(broken).response;
    expect(r.profileInstallationAborted).toBe(true);
    expect(r.peStatus).toEqual([
      { status: PE_STATUS.ok },
      { status: PE_STATUS['invalid-request-format'], offset: 4 },
    ]);
  });

  it('an unknown PE type: pe-not-supported', () => {
    const unknown = decodeProfileElement(hex('bf3f03800100'));
    expect(unknown.ok && unknown.value.type).toBe('unknown');
    if (!unknown.ok) return;
    expect(checkProfileElement(unknown.value, 3).status).toBe(PE_STATUS['pe-not-supported']);
    expect(toHex(encodeProfileElement(unknown.value))).toBe('bf3f03800100');
  });
});

// Shared fixtures for the SGP.02 SOAP tests: example values per schema type (derived generically
// from the type tables, so every message of the table gets a value without one per message), a
// full EIS, and fast-check arbitraries of valid values.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { signEis } from '../../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import type { MessageSpec } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  type Eis,
  type FieldSpec,
  isXmlText,
  SCHEMA_COMPLEX_TYPES,
  type SecurityDomain,
  type TypeName,
} from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';

export const EUM_KEYS: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

export const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
export const ECASD_AID = 'A0000005591010FFFFFFFF8900000200';
export const EID = '89049032123451234512345678901235';

export const ECASD: SecurityDomain = {
  aid: ECASD_AID,
  tars: [],
  sin: bytes('9F7F'),
  sdin: bytes('0102030405060708'),
  role: 'ECASD',
  keysets: [
    {
      version: 0x73,
      type: 'CA',
      keys: [],
      certificates: [{ index: 1, caId: '1.3.6.1.4.1.31746.1.1', value: bytes('7F2181D093') }],
    },
  ],
};

export const ISD_R: SecurityDomain = {
  aid: ISD_R_AID,
  tars: ['000001'],
  sin: bytes('9F7F'),
  sdin: bytes('0A0B0C'),
  role: 'ISD-R',
  keysets: [
    {
      version: 1,
      type: 'SCP80',
      cntr: 0,
      keys: [
        {
          index: 1,
          kcv: bytes('C35280'),
          components: [{ type: 0x88, value: bytes('000102030405060708090a0b0c0d0e0f') }],
        },
        {
          index: 2,
          kcv: bytes('013808'),
          components: [{ type: 0x88, value: bytes('101112131415161718191a1b1c1d1e1f') }],
        },
      ],
      certificates: [],
    },
    {
      version: 0x40,
      type: 'SCP81',
      keys: [
        {
          index: 1,
          kcv: bytes('840DE5'),
          components: [{ type: 0x88, value: bytes('202122232425262728292a2b2c2d2e2f') }],
        },
      ],
      certificates: [],
    },
  ],
};

export function sampleEis(privateKey: KeyObject = EUM_KEYS.privateKey): Eis {
  return signEis(
    {
      eumSignedInfo: {
        eid: EID,
        eumId: '1.3.6.1.4.1.31746.9',
        productionDate: new Date('2026-01-02T03:04:05.000Z'),
        platformType: 'simtrust-euicc',
        platformVersion: '1.0.0',
        isdPLoadFileAid: 'A0000005591010FFFFFFFF8900000D00',
        isdPModuleAid: 'A0000005591010FFFFFFFF8900000E00',
        ecasd: ECASD,
        euiccCapabilities: {
          cattpSupport: false,
          httpSupport: true,
          httpVersion: '1.1.0',
          securePacketVersion: '9.2.0',
          remoteProvisioningVersion: '3.1.0',
        },
      },
      remainingMemory: 512_000,
      availableMemoryForProfiles: 600_000,
      lastAuditDate: new Date('2026-06-01T00:00:00.000Z'),
      smsrId: '1.3.6.1.4.1.31746.2',
      profiles: [
        {
          iccid: '8988211000000467285',
          isdPAid: 'A0000005591010FFFFFFFF8900001000',
          mnoId: '1.3.6.1.4.1.31746.3',
          fallbackAttribute: true,
          subscriptionAddress: { imsi: '001010000000001', msisdn: '818012345678' },
          state: 'Enabled',
          smdpId: '1.3.6.1.4.1.31746.4',
          profileType: 'TS48-generic',
          allocatedMemory: 88_000,
          freeMemory: 1_000,
          pol2: { rules: [{ subject: 'PROFILE', action: 'DELETE', qualification: 'Not-Allowed' }] },
        },
      ],
      isdR: ISD_R,
      auditTrail: {
        records: [
          {
            eid: EID,
            smsrId: '1.3.6.1.4.1.31746.2',
            operationDate: new Date('2026-06-01T00:00:00.000Z'),
            operationType: '0100',
            requesterId: '1.3.6.1.4.1.31746.4',
            operationExecutionStatus: { status: 'EXECUTED_SUCCESS' },
            isdPAid: 'A0000005591010FFFFFFFF8900001000',
            iccid: '8988211000000467285',
          },
        ],
      },
      additionalProperties: { properties: [{ key: 'vendor', value: 'simtrust & co <test>' }] },
    },
    privateKey,
  );
}

/** One example value per schema type; complex types are built from their fields. */
export function sampleValue(type: TypeName): unknown {
  switch (type) {
    case 'eid':
      return EID;
    case 'iccid':
      return '8988211000000467285';
    case 'aid':
      return ISD_R_AID;
    case 'tar':
      return 'B00011';
    case 'opType':
      return '0200';
    case 'oid':
      return '1.3.6.1.4.1.31746.7';
    case 'hex':
      return bytes('80E2880003');
    case 'hex16':
      return bytes('0102');
    case 'byte':
      return 0x0e;
    case 'boolean':
      return true;
    case 'integer':
      return 4096;
    case 'kvn':
      return 0x30;
    case 'keyIndex':
      return 1;
    case 'dateTime':
      return new Date('2026-12-07T10:00:00.000Z');
    case 'string':
    case 'nonEmptyString':
    case 'string100':
      return 'a & b < c';
    case 'version':
      return '3.1.0';
    case 'imsi':
      return '001010123456789';
    case 'msisdn':
      return '818012345678';
    case 'status':
      return 'EXECUTED_SUCCESS';
    case 'profileState':
      return 'Disabled';
    case 'sdRole':
      return 'ISD-R';
    case 'keysetType':
      return 'SCP80';
    case 'pol2Subject':
      return 'PROFILE';
    case 'pol2Action':
      return 'DISABLE';
    case 'pol2Qualification':
      return 'Auto-Delete';
    case 'eccKeyLength':
      return 'ECC-256';
    case 'eis':
      return sampleEis();
    case 'eumSignature':
      return sampleEis().eumSignature;
    default:
      return sampleFields((SCHEMA_COMPLEX_TYPES as Record<string, readonly FieldSpec[]>)[type] ?? []);
  }
}

export function sampleFields(fields: readonly FieldSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = sampleValue(f.type as TypeName);
    out[f.key] = f.occurs === 'many' || f.occurs === 'some' ? [v, v] : v;
  }
  return out;
}

/** An example body for a message row: every field, optional ones included. */
export function sampleBody(spec: MessageSpec): Record<string, unknown> {
  const body = sampleFields(spec.fields);
  if (spec.kind === 'request') body.functionCallIdentifier = `call-${spec.function}`;
  if (spec.kind === 'response') {
    body.functionExecutionStatus = {
      status: 'EXECUTED_WITHWARNING',
      statusCodeData: { subject: '8.1.1', reason: '4.2', subjectIdentifier: EID, message: 'Execution error' },
    };
  }
  return body;
}

/** Arbitrary valid values for the simple types that carry free text or bytes. */
export const arbitraryText = fc.string({ maxLength: 40 });
export const arbitraryBytes = fc.uint8Array({ maxLength: 64 });

// ---------------------------------------------------------------------------------------------
// fast-check arbitraries of valid values, derived from the same type tables.

const hexChars = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: min, maxLength: max });
const evenHex = (minBytes: number, maxBytes: number) =>
  fc.integer({ min: minBytes, max: maxBytes }).chain((n) => hexChars(n * 2, n * 2));
const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const xmlText = (maxLength: number) =>
  fc.string({ maxLength, unit: 'grapheme' }).filter((s) => s.length <= maxLength && isXmlText(s));

const SIMPLE_ARBITRARIES: Record<string, fc.Arbitrary<unknown>> = {
  eid: hexChars(32, 32),
  iccid: fc
    .tuple(fc.string({ unit: fc.constantFrom(...'0123456789fF'), minLength: 4, maxLength: 18 }))
    .map(([d]) => `89${d}`),
  aid: evenHex(5, 16),
  tar: hexChars(6, 6),
  opType: hexChars(4, 4),
  oid: fc.array(fc.nat(99_999), { minLength: 1, maxLength: 8 }).map((a) => a.join('.')),
  hex: fc.uint8Array({ maxLength: 48 }),
  hex16: fc.uint8Array({ maxLength: 16 }),
  byte: fc.integer({ min: 0, max: 255 }),
  boolean: fc.boolean(),
  integer: fc.maxSafeNat(),
  kvn: fc.integer({ min: 1, max: 127 }),
  keyIndex: fc.integer({ min: 0, max: 127 }),
  dateTime: fc.date({
    min: new Date('0001-01-01T00:00:00.000Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  }),
  string: xmlText(40),
  nonEmptyString: xmlText(20).filter((s) => s.length > 0),
  string100: xmlText(100),
  version: fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999)).map((v) => v.join('.')),
  imsi: digits(0, 15),
  msisdn: digits(3, 15),
  status: fc.constantFrom('EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING', 'FAILED', 'EXPIRED'),
  profileState: fc.constantFrom('Created', 'Disabled', 'Enabled'),
  sdRole: fc.constantFrom('ISD-R', 'ECASD'),
  keysetType: fc.constantFrom('SCP03', 'SCP80', 'SCP81', 'TokenGeneration', 'ReceiptVerification', 'CA'),
  pol2Subject: fc.constant('PROFILE'),
  pol2Action: fc.constantFrom('ENABLE', 'DISABLE', 'DELETE'),
  pol2Qualification: fc.constantFrom('Not-Allowed', 'Auto-Delete'),
  eccKeyLength: fc.constantFrom('ECC-256', 'ECC-384', 'ECC-512', 'ECC-521'),
  eumSignature: fc.record({
    digestValue: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    signatureValue: fc.uint8Array({ maxLength: 72 }),
  }),
};

export function arbitraryOf(type: TypeName): fc.Arbitrary<unknown> {
  const simple = SIMPLE_ARBITRARIES[type];
  if (simple !== undefined) return simple;
  const fields = (SCHEMA_COMPLEX_TYPES as Record<string, readonly FieldSpec[]>)[type];
  if (fields === undefined) throw new Error(`no arbitrary for ${type}`);
  return arbitraryFields(fields);
}

export function arbitraryFields(fields: readonly FieldSpec[]): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const optional: string[] = [];
  for (const f of fields) {
    const item = arbitraryOf(f.type as TypeName);
    if (f.occurs === 'many' || f.occurs === 'some') {
      parts[f.key] = fc.array(item, { minLength: f.occurs === 'some' ? 1 : 0, maxLength: 2 });
    } else {
      parts[f.key] = item;
      if (f.occurs === 'optional') optional.push(f.key);
    }
  }
  return fc.record(parts, { requiredKeys: Object.keys(parts).filter((k) => !optional.includes(k)) });
}

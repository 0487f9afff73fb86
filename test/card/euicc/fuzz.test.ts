// Hostile input into the eUICC: tens of thousands of mutated ES5 APDUs into the ISD-R (as the SCP80
// path hands them over, in a TS 102 226 script), mutated terminal APDUs while the ECASD or ISD-R is
// selected, a few thousand through the whole SMS path, mutated EstablishISDRKeySet key agreements
// after a real SM-SR certificate, and every ES5 decoder of src/lib/sgp-02-es5.ts.
// Every answer must be a status word (never a thrown exception, never the card's own fault '6F00'),
// and the eUICC must stay coherent: exactly one profile enabled, its USIM the live one, at most one
// fall-back profile, notifications only about ISD-Ps that exist, and an ISD-R that can still be
// reached (an SCP80 key set left, KVNs in their SGP.02 ranges).

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { cardFromFile, parseCardFile, withState } from '../../../src/card/card-file.js';
import { LIFE_CYCLE } from '../../../src/card/euicc/euicc-state.js';
import { runIsdrScript } from '../../../src/card/euicc/isd-r-ota.js';
import { newEcasdKeyPair } from '../../../src/card/euicc/issue.js';
import {
  ECASD_AID,
  ISD_P_LOAD_FILE_AID,
  ISD_P_MODULE_AID,
  ISD_R_AID,
  isdpAid,
} from '../../../src/card/euicc/sgp-02-annex-h.js';
import type { Uicc } from '../../../src/card/uicc.js';
import {
  buildKeyEstablishmentRequest,
  generateEcKeyPair,
  isdrKeysetParameters,
} from '../../../src/crypto/sgp-02-key-establishment.js';
import { Scp03tHost } from '../../../src/crypto/sgp-02-scp03t.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import {
  createIsdpApdu,
  decodeAidTlv,
  decodeConfirmation,
  decodeConfirmationResponse,
  decodeDgi,
  decodeIsdpStatusList,
  decodeKeysetDeletion,
  decodeNotification,
  decodeRandomChallenge,
  decodeSmsrAddressing,
  deleteProfileApdu,
  disableProfileApdu,
  enableProfileApdu,
  establishIsdrKeySetApdu,
  establishIsdrKeySetCertificateApdu,
  finaliseIsdrHandoverApdu,
  getCardResourcesApdu,
  getEcasdCertificateApdu,
  getStatusApdu,
  isdrKeysetReference,
  notificationConfirmationApdu,
  setFallbackAttributeApdu,
  updateSmsrAddressingApdu,
} from '../../../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../../../src/lib/ts-102-226-remote-command.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../helpers/esim-pki.js';
import {
  booted,
  es5,
  euiccFile,
  euiccOf,
  newEuicc,
  pkiEuiccFile,
  SECOND,
  SECOND_PROFILE,
  THIRD,
  THIRD_PROFILE,
} from './fixture.js';

/** An ISD-P the fuzz may create and personalize. */
const PERSO = isdpAid(0x30);

const VALID: readonly Uint8Array[] = [
  createIsdpApdu({
    loadFileAid: ISD_P_LOAD_FILE_AID,
    moduleAid: ISD_P_MODULE_AID,
    isdpAid: SECOND,
    memory: 4096,
  }),
  enableProfileApdu(SECOND),
  enableProfileApdu(THIRD),
  disableProfileApdu(SECOND),
  deleteProfileApdu(THIRD),
  setFallbackAttributeApdu(SECOND),
  getEcasdCertificateApdu(),
  getCardResourcesApdu(),
  getStatusApdu(),
  getStatusApdu(SECOND),
  notificationConfirmationApdu(1),
  updateSmsrAddressingApdu({ destination: '4912345678', smsc: '4900' }),
  // ES8 through the ISD-R: INSTALL [for personalization], STORE DATA 3A01 (a certificate-shaped body), 3A02.
  createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: PERSO }),
  hex(`80E6200016000010${PERSO}000000`),
  hex('80E209000F3A010C7F21099301014201015F2000'),
  hex('80E2890110 3A0203A60190 7F490400000000'.replace(/ /g, '')),
  // The SM-SR change on the ISD-R itself: 3A01 (certificate-shaped), a well-formed 3A02 signed by a
  // key no certificate names, FinaliseISDRhandover of SM-SR1's sets and of an unknown one.
  establishIsdrKeySetCertificateApdu(hex('7F21099301014201015F2000')),
  establishIsdrKeySetApdu(
    buildKeyEstablishmentRequest({
      curve: 'P-256',
      parameters: isdrKeysetParameters({ kind: 'scp80', kvn: 2, initialCounter: 5 }),
      signingKey: generateEcKeyPair('P-256').privateKey,
      randomChallenge: new Uint8Array(16),
    }).storeData,
  ),
  finaliseIsdrHandoverApdu([isdrKeysetReference(1), isdrKeysetReference(0x40)]),
  finaliseIsdrHandoverApdu([isdrKeysetReference(2)]),
];

/** A valid APDU with random byte changes, truncation or extension. */
const mutatedApdu = fc
  .tuple(
    fc.constantFrom(...VALID),
    fc.array(fc.tuple(fc.nat(300), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.option(fc.nat(300), { nil: undefined }),
    fc.uint8Array({ maxLength: 6 }),
  )
  .map(([base, changes, cut, tail]) => {
    const bytes = Uint8Array.from(base);
    for (const [at, value] of changes) if (bytes.length > 0) bytes[at % bytes.length] = value;
    const kept = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
    return Uint8Array.from([...kept, ...tail]);
  });

const anyApdu = fc.oneof(mutatedApdu, fc.uint8Array({ maxLength: 40 }));

function cardWithProfiles(): Uicc {
  // With a PK.CI, so that mutated 3A01 certificates reach the verifier.
  const file = euiccFile();
  const e0 = file.euicc;
  if (e0 === undefined) throw new Error('no euicc');
  const ci = { keyId: '0102030405', publicKey: toHex(newEcasdKeyPair().publicKey) };
  const card = newEuicc({ ...file, euicc: { ...e0, ecasd: { ...e0.ecasd, ci } } });
  const e = euiccOf(card);
  const host = runIsdrScript(
    e,
    commandScript([
      createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND }),
      createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: THIRD }),
    ]),
  );
  expect(toHex(host.response)).toContain('9000');
  expect(e.installProfile(SECOND, SECOND_PROFILE).ok).toBe(true);
  expect(e.installProfile(THIRD, THIRD_PROFILE).ok).toBe(true);
  return card;
}

/** The invariants of a coherent eUICC. */
function coherent(card: Uicc): void {
  const s = euiccOf(card).snapshot();
  const enabled = s.isdps.filter((i) => i.state === LIFE_CYCLE.ENABLED);
  expect(enabled.length).toBe(1);
  expect(enabled[0]?.profile?.stored).toBeUndefined();
  expect(s.isdps.filter((i) => i.fallback).length).toBeLessThanOrEqual(1);
  for (const i of s.isdps) {
    if (i.state === LIFE_CYCLE.DISABLED) expect(i.profile?.stored).toBeDefined();
    if (i.fallback) expect(i.profile).toBeDefined();
  }
  const aids = new Set(s.isdps.map((i) => i.aid));
  for (const n of s.notifications) expect(aids.has(n.aid)).toBe(true);
  // The ISD-R stays reachable: an SCP80 key set at least, KVNs in their ranges, each once.
  const scp80 = s.scp80.map((k) => k.kvn);
  const scp81 = s.scp81.map((k) => k.kvn);
  expect(scp80.length).toBeGreaterThan(0);
  for (const kvn of scp80) expect(kvn >= 0x01 && kvn <= 0x0f).toBe(true);
  for (const kvn of scp81) expect(kvn >= 0x40 && kvn <= 0x4f).toBe(true);
  expect(new Set([...scp80, ...scp81]).size).toBe(scp80.length + scp81.length);
  // The live EF.IMSI is the enabled profile's.
  const imsi = enabled[0]?.profile?.identity.imsi;
  const saved = withState(euiccFile(), card);
  expect(saved.imsi).toBe(imsi);
}

describe('ISD-R fuzz (mutated ES5 APDUs in a script, as SCP80 delivers them)', () => {
  it('100,000 mutated APDUs (50,000 scripts of 1–3): every one answered by a status word, the eUICC stays coherent', () => {
    const card = cardWithProfiles();
    const e = euiccOf(card);
    let checked = 0;
    fc.assert(
      fc.property(fc.array(anyApdu, { minLength: 1, maxLength: 3 }), (apdus) => {
        const { response } = runIsdrScript(e, commandScript(apdus));
        const script = decodeResponseScript(response);
        expect(script.ok).toBe(true);
        if (script.ok)
          for (const item of script.value.items)
            if (item.type === 'r-apdu') {
              expect(item.statusWord.length).toBe(2);
              expect(toHex(item.statusWord)).not.toBe('6f00');
            }
        if (++checked % 50 === 0) coherent(card);
      }),
      { numRuns: 50_000 },
    );
    coherent(card);
    expect(card.toolkitFaults).toBe(0);
  });

  it('scripts that do not parse give a bad-format answer, never an exception', () => {
    const card = cardWithProfiles();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const { response } = runIsdrScript(euiccOf(card), bytes);
        expect(decodeResponseScript(response).ok).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('terminal fuzz (the ECASD and ISD-R selected)', () => {
  it('100,000 mutated APDUs from the terminal: always a status word, never 6F00, nothing managed', () => {
    const card = cardWithProfiles();
    const before = JSON.stringify(euiccOf(card).snapshot(), (_k, v) =>
      v instanceof Uint8Array ? toHex(v) : v,
    );
    const selects = [`00A4040010${ECASD_AID}`, `00A4040C10${ISD_R_AID}`, '00A4040C05A000000559'].map(hex);
    fc.assert(
      fc.property(fc.constantFrom(...selects), anyApdu, (select, apdu) => {
        card.transmit(select);
        const r = card.transmit(apdu);
        expect(r.length).toBeGreaterThanOrEqual(2);
        expect(toHex(r.subarray(r.length - 2))).not.toBe('6f00');
      }),
      { numRuns: 100_000 },
    );
    // Only SCP80/SCP81 manage the eUICC: the terminal changed nothing.
    expect(
      JSON.stringify(euiccOf(card).snapshot(), (_k, v) => (v instanceof Uint8Array ? toHex(v) : v)),
    ).toBe(before);
  });
});

describe('through the whole SMS path', () => {
  it('50,000 mutated APDUs secured with SCP80: a verified PoR every time, counters move, the card stays coherent', () => {
    const d = booted(cardWithProfiles());
    let counter = 1;
    fc.assert(
      fc.property(anyApdu, (apdu) => {
        const r = es5(d, [apdu], counter++);
        expect(r.por.status).toBe(0);
        for (const a of r.answers) expect(a.sw).not.toBe('6F00');
      }),
      { numRuns: 50_000 },
    );
    coherent(d.card);
    expect(d.card.toolkitFaults).toBe(0);
    // Each input is a whole SCP80 round (secure, deliver, PoR): ~8 s on a quiet machine, more in CI.
  }, 240_000);
});

describe('ES8 fuzz (SCP03t data into a personalized ISD-P)', () => {
  it('5,000 random and mutated SCP03t inputs: always an answer, never an exception, nothing installed', () => {
    const file = euiccFile();
    const e0 = file.euicc;
    if (e0 === undefined) throw new Error('no euicc');
    const key = '000102030405060708090a0b0c0d0e0f';
    const card = cardFromFile({
      ...file,
      euicc: {
        ...e0,
        isdps: [
          ...e0.isdps,
          {
            aid: SECOND,
            state: LIFE_CYCLE.PERSONALIZED,
            fallback: false,
            memory: 0,
            pol1: { disableNotAllowed: false, deleteNotAllowed: false, deleteWhenDisabled: false },
            keyset: { kvn: 0x30, kid: 1, keys: [key], counter: 0 },
          },
        ],
      },
    });
    const e = euiccOf(card);
    const host = new Scp03tHost({ keys: { enc: hex(key), mac: hex(key), dek: hex(key) }, kvn: 0x30 });
    const iu = host.initializeUpdate();
    const valid = [
      iu,
      Uint8Array.of(0x85, 0x11, 0x33, ...new Uint8Array(16)),
      Uint8Array.of(0x86, 0x18, ...new Uint8Array(24)),
    ];
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.constantFrom(...valid), fc.nat(40), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
        const m = b.slice();
        m[at % m.length] = v;
        return m;
      }),
    );
    fc.assert(
      fc.property(fc.array(input, { minLength: 1, maxLength: 4 }), (chunks) => {
        for (const c of chunks) expect(e.processIsdpData(SECOND, c)).toBeInstanceOf(Uint8Array);
      }),
      { numRuns: 5_000 },
    );
    expect(e.snapshot().isdps.find((i) => i.aid === SECOND)?.profile).toBeUndefined();
  });
});

describe('EstablishISDRKeySet fuzz (a real SM-SR certificate, then mutated key agreements)', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('2,000 mutated 3A02 after a valid 3A01: a key set only for the bytes SM-SR2 signed, every refusal a status word', () => {
    const card = cardFromFile(pkiEuiccFile(pki).file, { clock: new ManualClock(PKI_NOW) });
    const e = euiccOf(card);
    const sws = (apdus: Uint8Array[]) => {
      const r = decodeResponseScript(runIsdrScript(e, commandScript(apdus), { kvn: 1 }).response);
      return r.ok ? r.value.items.flatMap((i) => (i.type === 'r-apdu' ? [i] : [])) : [];
    };
    let created = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 3 }),
        fc.option(fc.nat(200), { nil: undefined }),
        (changes, cut) => {
          const [rcApdu] = sws([establishIsdrKeySetCertificateApdu(pki.smsr.certificate)]);
          const rc = decodeRandomChallenge(rcApdu?.data ?? new Uint8Array(0));
          if (!rc.ok) throw new Error(rc.error.message);
          const kvn = 2 + (created % 13);
          const signed = buildKeyEstablishmentRequest({
            curve: 'P-256',
            parameters: isdrKeysetParameters({ kind: 'scp80', kvn, deleteExistingKeys: true }),
            signingKey: pki.smsr.privateKey,
            randomChallenge: rc.value,
          }).storeData;
          const bytes = signed.slice();
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          const data = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          const before = e.persistentState().scp80.length;
          const [answer] = sws([establishIsdrKeySetApdu(data)]);
          const sw = toHex(answer?.statusWord ?? new Uint8Array(0));
          const intact = data.length === signed.length && data.every((b, i) => b === signed[i]);
          expect(sw === '9000').toBe(intact);
          if (intact) created++;
          else expect(e.persistentState().scp80.length).toBe(before);
          expect(sw).not.toBe('6f00');
        },
      ),
      { numRuns: 2_000 },
    );
    expect(created).toBeGreaterThan(0);
    coherent(card);
  }, 120_000);
});

describe('ES5 decoders are total', () => {
  const decoders: [string, (b: Uint8Array) => { ok: boolean }][] = [
    ['decodeDgi', decodeDgi],
    ['decodeRandomChallenge', decodeRandomChallenge],
    ['decodeKeysetDeletion', decodeKeysetDeletion],
    ['decodeAidTlv', decodeAidTlv],
    ['decodeNotification', decodeNotification],
    ['decodeConfirmation', decodeConfirmation],
    ['decodeConfirmationResponse', decodeConfirmationResponse],
    ['decodeIsdpStatusList', decodeIsdpStatusList],
    ['decodeSmsrAddressing', decodeSmsrAddressing],
  ];
  it.each(decoders)('%s: any bytes give a value or a typed error', (_name, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const r = decode(bytes) as { ok: boolean; error?: { code: string } };
        if (!r.ok) expect(r.error?.code).toMatch(/^[A-Z0-9_]+$/);
      }),
      { numRuns: 5_000 },
    );
  });

  it('the card file euicc section: mutated JSON gives a card file or a CARD_FILE error', () => {
    const file = JSON.parse(JSON.stringify(euiccFile()));
    const paths = ['eid', 'ecasd', 'isdr', 'memory', 'isdps', 'notifications', 'attached'];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (key, value) => {
        const r = parseCardFile({ ...file, euicc: { ...file.euicc, [key]: value } });
        if (!r.ok) expect(r.error.code).toBe('CARD_FILE');
      }),
      { numRuns: 2_000 },
    );
  });
});

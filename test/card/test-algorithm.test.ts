// A software USIM whose profile runs the TS 34.108 §8.1.2 test algorithm (as the GSMA TS.48 test
// profiles ask, SAIP algorithmID 3): AUTHENTICATE answers with XDOUT-derived RES/CK/IK, refuses a
// Milenage AUTN, sends a test-algorithm AUTS on a stale SQN, and the card file keeps the choice.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cardFromFile, keysOf, newCardFile, parseCardFile } from '../../src/card/card-file.js';
import { Terminal } from '../../src/card/terminal.js';
import { generateVector, sqnFromNumber, sqnToNumber } from '../../src/crypto/milenage.js';
import {
  generateTestVector,
  gsmTestAlgorithm,
  recoverSqnFromTestAuts,
} from '../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { decodeProfilePackage, readProfile } from '../../src/lib/saip-profile-package.js';
import { fixtureOptions } from './fixture.js';

// The TS.48 profiles' K; OPc is ignored by the test algorithm.
const K = hex('000102030405060708090a0b0c0d0e0f');
const RAND = hex('00112233445566778899aabbccddeeff');
const AMF = hex('8000');

const testCard = (acceptedSqn?: Uint8Array) =>
  newCardFile({
    ...fixtureOptions,
    ki: K,
    algorithm: 'test',
    pin1Enabled: false,
    ...(acceptedSqn ? { acceptedSqn } : {}),
  });

function terminalFor(file: ReturnType<typeof testCard>): Terminal {
  const card = cardFromFile(file);
  const t = new Terminal((a) => card.transmit(a));
  expect(t.selectUsim().ok).toBe(true);
  return t;
}

describe('USIM with the TS 34.108 test algorithm', () => {
  it('answers a test-algorithm challenge with RES = XDOUT, CK and IK rotated', () => {
    const t = terminalFor(testCard());
    const v = generateTestVector(K, RAND, sqnFromNumber(0x21), AMF);
    const r = t.authenticateUmts(v.rand, v.autn);
    if (!r.ok || r.value.kind !== 'success') throw new Error('expected success');
    expect(toHex(r.value.res)).toBe('00102030405060708090a0b0c0d0e0f0');
    expect(toHex(r.value.ck)).toBe('102030405060708090a0b0c0d0e0f000');
    expect(toHex(r.value.ik)).toBe('2030405060708090a0b0c0d0e0f00010');
  });

  it('refuses a Milenage AUTN for the same K with a MAC failure', () => {
    const t = terminalFor(testCard());
    const v = generateVector(K, fixtureOptions.opc, RAND, sqnFromNumber(0x21), AMF);
    const r = t.authenticateUmts(v.rand, v.autn);
    expect(r.ok && r.value.kind).toBe('mac_failure');
  });

  it('a card ahead of the AuC answers with a test-algorithm AUTS carrying its SQN', () => {
    const t = terminalFor(testCard(sqnFromNumber(0xa0000)));
    const stale = generateTestVector(K, RAND, sqnFromNumber(0x21), AMF);
    const r = t.authenticateUmts(stale.rand, stale.autn);
    if (!r.ok || r.value.kind !== 'sync_failure') throw new Error('expected AUTS');
    const sqnMs = recoverSqnFromTestAuts(K, RAND, r.value.auts);
    expect(sqnMs.ok && sqnToNumber(sqnMs.value)).toBe(0xa0000);
  });

  it('GSM context: SRES and Kc by c2/c3 of the test algorithm', () => {
    const t = terminalFor(testCard());
    const r = t.authenticateGsm(RAND);
    if (!r.ok) throw new Error(r.error.message);
    const expected = gsmTestAlgorithm(K, RAND);
    expect(toHex(r.value.sres)).toBe(toHex(expected.sres));
    expect(toHex(r.value.kc)).toBe(toHex(expected.kc));
  });

  it('the card file records the algorithm and refuses unknown ones; Milenage cards omit it', () => {
    const file = testCard();
    expect(file.algorithm).toBe('test');
    expect(keysOf(file).algorithm).toBe('test');
    const parsed = parseCardFile(JSON.parse(JSON.stringify(file)));
    expect(parsed.ok && parsed.value.algorithm).toBe('test');
    const bad = parseCardFile({ ...JSON.parse(JSON.stringify(file)), algorithm: 'tuak' });
    expect(bad.ok).toBe(false);
    expect(newCardFile({ ...fixtureOptions }).algorithm).toBeUndefined();
  });
});

describe('a USIM made from the GSMA TS.48 test profile', () => {
  it('takes ICCID, IMSI, K and the algorithm from the package and authenticates with the test algorithm', () => {
    const bytes = new Uint8Array(
      readFileSync(new URL('../fixtures/vectors/saip/TS48V2-SAIP2-3-BERTLV-UNIQUE.der', import.meta.url)),
    );
    const pes = decodeProfilePackage(bytes);
    if (!pes.ok) throw new Error(pes.error.message);
    const profile = readProfile(pes.value);
    if (!profile.ok) throw new Error(profile.error.message);
    const usim = profile.value.aka.find((a) => a.naa === 'usim');
    if (usim?.algorithm !== 'test') throw new Error('the TS.48 USIM uses the test algorithm');
    const file = newCardFile({
      iccid: profile.value.iccid,
      imsi: profile.value.imsi as string,
      ki: usim.k,
      opc: usim.opc,
      algorithm: usim.algorithm,
      pin1Enabled: false,
    });
    const card = cardFromFile(file);
    const t = new Terminal((a) => card.transmit(a));
    expect(t.selectUsim().ok).toBe(true);
    const imsi = t.readImsi();
    expect(imsi.ok && imsi.value).toBe('001010123456063');
    const v = generateTestVector(usim.k, RAND, sqnFromNumber(0x41), AMF);
    const r = t.authenticateUmts(v.rand, v.autn);
    expect(r.ok && r.value.kind === 'success' && toHex(r.value.res)).toBe(toHex(v.res));
  });
});

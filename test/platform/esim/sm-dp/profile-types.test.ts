// SM-DP profile preparation: each profile type makes a package that reads back as the inventory SIM
// (or refuses it with its code), the embedded TS.48 package is byte for byte the published vector,
// and the failure codes are documented. Threat: a fixed package (TS.48, whose K is public) handed
// out for a SIM whose keys are something else, or a test-algorithm SIM given a Milenage profile.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import { decodeProfilePackage, readProfile } from '../../../../src/lib/saip-profile-package.js';
import { SMDP_FAILURES } from '../../../../src/platform/esim/sm-dp/failure-codes.js';
import {
  type InventorySim,
  PROFILE_TYPES,
  ts48GenericPackage,
} from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { TS48_V1_A_SHA256 } from '../../../../src/platform/esim/sm-dp/ts48-generic-profile.js';

const SIM: InventorySim = {
  iccid: iccidWithCheckDigit('894400000000000123'),
  imsi: '001010000000123',
  msisdn: '817000000123',
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
  algorithm: 'milenage',
};

const type = (name: string) => {
  const t = PROFILE_TYPES.get(name);
  if (t === undefined) throw new Error(name);
  return t;
};

function contents(upp: Uint8Array) {
  const pes = decodeProfilePackage(upp);
  if (!pes.ok) throw new Error(pes.error.message);
  const p = readProfile(pes.value);
  if (!p.ok) throw new Error(p.error.message);
  return p.value;
}

describe('profile types', () => {
  it('simtrust-usim: the package carries the inventory ICCID, IMSI, Ki/OPc (Milenage) and its type', () => {
    const r = type('simtrust-usim').prepare(SIM);
    if (!r.ok) throw new Error(r.error.message);
    const p = contents(r.value);
    expect(p).toMatchObject({ iccid: SIM.iccid, imsi: SIM.imsi, profileType: 'simtrust-usim' });
    expect(p.aka[0]).toMatchObject({ algorithm: 'milenage', k: SIM.ki, opc: SIM.opc });
  });

  it('simtrust-usim refuses a SIM sealed for the test algorithm, and values a profile cannot carry', () => {
    const test = type('simtrust-usim').prepare({ ...SIM, algorithm: 'test' });
    expect(!test.ok && test.error.code).toBe('SMDP_PROFILE_ALGORITHM');
    const bad = type('simtrust-usim').prepare({ ...SIM, imsi: 'not digits' });
    expect(!bad.ok && bad.error.code).toBe('SMDP_PROFILE_BUILD');
    expect(!bad.ok && bad.error.message).not.toContain('465b5ce8');
  });

  it('ts48-generic is the published package, byte for byte', () => {
    const published = readFileSync('/work/shared/vectors/esim/TS48V1-A-UNIQUE.der');
    const ours = ts48GenericPackage();
    expect(ours.length).toBe(11_768);
    expect(createHash('sha256').update(ours).digest('hex')).toBe(TS48_V1_A_SHA256);
    expect(Buffer.from(ours).equals(published)).toBe(true);
  });

  it('ts48-generic only for the inventory SIM that is that profile (ICCID, IMSI, K, test algorithm)', () => {
    const p = contents(ts48GenericPackage());
    const aka = p.aka[0];
    if (aka === undefined || p.imsi === undefined) throw new Error('no USIM');
    expect(aka.algorithm).toBe('test');
    const sim: InventorySim = {
      iccid: p.iccid,
      imsi: p.imsi,
      ki: aka.k,
      opc: new Uint8Array(16),
      algorithm: 'test',
    };
    const ok = type('ts48-generic').prepare(sim);
    expect(ok.ok && Buffer.from(ok.value).equals(Buffer.from(ts48GenericPackage()))).toBe(true);
    for (const other of [
      { ...sim, algorithm: 'milenage' as const },
      { ...sim, iccid: SIM.iccid },
      { ...sim, imsi: SIM.imsi },
      { ...sim, ki: SIM.ki },
    ]) {
      const r = type('ts48-generic').prepare(other);
      expect(!r.ok && r.error.code).toBe('SMDP_PROFILE_MISMATCH');
    }
  });
});

describe('failure codes', () => {
  it('docs/esim.md lists every SMDP_* failure code with its meaning, and only those', () => {
    const doc = readFileSync('docs/esim.md', 'utf8');
    const listed = [...doc.matchAll(/^\| `(SMDP_[A-Z0-9_]+)` \| ([^|]+) \|$/gm)].map((m) => [
      m[1],
      m[2]?.trim(),
    ]);
    expect(listed).toEqual(Object.entries(SMDP_FAILURES));
  });
});

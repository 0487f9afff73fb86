// The AuC for SIMs whose profile runs the TS 34.108 test algorithm (the GSMA TS.48 test profiles:
// SAIP algorithmID 3) instead of Milenage. Threat: the test algorithm's AUTN carries K ⊕ RAND in
// clear, so the choice must not be switchable by a database write — it is sealed with Ki/OPc
// (sims/model.ts packSecrets) — and a Milenage SIM must never get test-algorithm vectors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuts, sqnFromNumber, verifyAutn } from '../../../src/crypto/milenage.js';
import {
  buildTestAuts,
  gsmTestAlgorithm,
  verifyTestAutn,
} from '../../../src/crypto/ts-34-108-test-algorithm.js';
import { packSecrets, profileSecretContext, unpackSecrets } from '../../../src/platform/sims/model.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from './fixture.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

/** A SIM re-sealed as a test-algorithm profile, as the SM-DP does for a TS.48 package. */
async function testAlgorithmSim(): Promise<TestSim> {
  const sim = await createSim(api);
  const secrets = api.platform.keyRing.seal(
    packSecrets(sim.ki, sim.opc, 'test'),
    profileSecretContext(sim.iccid),
  );
  await api.db.store.db.updateTable('sim_profiles').set({ secrets }).where('iccid', '=', sim.iccid).execute();
  return sim;
}

describe(`AuC with the TS 34.108 test algorithm on ${testDialect}`, () => {
  it('the algorithm byte is part of the sealed secrets; old 32-byte secrets stay Milenage', () => {
    const ki = new Uint8Array(16).fill(1);
    const opc = new Uint8Array(16).fill(2);
    expect(packSecrets(ki, opc)).toHaveLength(32);
    expect(unpackSecrets(packSecrets(ki, opc)).algorithm).toBe('milenage');
    const test = unpackSecrets(packSecrets(ki, opc, 'test'));
    expect(test.algorithm).toBe('test');
    expect(Buffer.from(test.ki).equals(Buffer.from(ki))).toBe(true);
    expect(Buffer.from(test.opc).equals(Buffer.from(opc))).toBe(true);
  });

  it('hands out test-algorithm vectors the test USIM accepts (RES = XDOUT, 128 bits); Milenage rejects them', async () => {
    const sim = await testAlgorithmSim();
    const r = await api.platform.auc.vectors(sim.imsi, { count: 3 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (const v of r.value) {
      const card = verifyTestAutn(sim.ki, v.rand, v.autn);
      expect(card.ok).toBe(true);
      if (!card.ok) continue;
      expect(Buffer.from(v.xres).equals(Buffer.from(card.value.res))).toBe(true);
      expect(v.xres).toHaveLength(16);
      expect(Buffer.from(card.value.sqn).equals(Buffer.from(sqnFromNumber(v.sqn)))).toBe(true);
      expect(verifyAutn(sim.ki, sim.opc, v.rand, v.autn).ok).toBe(false);
    }
  });

  it('a Milenage SIM still gets Milenage vectors', async () => {
    const sim = await createSim(api);
    const r = await api.platform.auc.vectors(sim.imsi);
    expect(
      r.ok && verifyAutn(sim.ki, sim.opc, r.value[0]?.rand as Uint8Array, r.value[0]?.autn as Uint8Array).ok,
    ).toBe(true);
    expect(
      r.ok && verifyTestAutn(sim.ki, r.value[0]?.rand as Uint8Array, r.value[0]?.autn as Uint8Array).ok,
    ).toBe(false);
  });

  it('resynchronises from a test-algorithm AUTS and refuses a Milenage one', async () => {
    const sim = await testAlgorithmSim();
    const initial = await api.platform.auc.vectors(sim.imsi);
    if (!initial.ok) throw new Error(initial.error);
    const first = initial.value[0];
    const rand = first?.rand as Uint8Array;
    const sqnMs = 5000 * 32;
    const auts = buildTestAuts(sim.ki, rand, sqnFromNumber(sqnMs));
    const resynced = await api.platform.auc.vectors(sim.imsi, { resync: { rand, auts } });
    expect(resynced.ok).toBe(true);
    if (!resynced.ok) return;
    const v = resynced.value[0];
    expect(v && Math.floor(v.sqn / 32)).toBe(5001);
    expect(verifyTestAutn(sim.ki, v?.rand as Uint8Array, v?.autn as Uint8Array).ok).toBe(true);

    const milenageAuts = buildAuts(sim.ki, sim.opc, rand, sqnFromNumber(9000 * 32));
    const refused = await api.platform.auc.vectors(sim.imsi, { resync: { rand, auts: milenageAuts } });
    expect(!refused.ok && refused.error).toBe('RESYNC_FAILED');
  });

  it('GSM triplets use c2/c3 of the test algorithm', async () => {
    const sim = await testAlgorithmSim();
    const r = await api.platform.auc.triplets(sim.imsi, 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (const t of r.value) {
      const expected = gsmTestAlgorithm(sim.ki, t.rand);
      expect(Buffer.from(t.sres).toString('hex')).toBe(Buffer.from(expected.sres).toString('hex'));
      expect(Buffer.from(t.kc).toString('hex')).toBe(Buffer.from(expected.kc).toString('hex'));
    }
  });
});

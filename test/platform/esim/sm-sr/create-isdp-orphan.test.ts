// Issue 15, "never a profile half registered": the card's answer to CreateISDP is garbled after the
// card ran the INSTALL (the ISD-P exists). The SM-SR must not drop its EIS entry and leave the ISD-P
// on the card, unknown and holding memory: it deletes the AID it asked for first (6A88 = not there is
// fine), and when the card does not confirm that either, the entry stays In-Creation for AuditEIS
// (which the test runs) to settle from the card. Runs on SQLite and PostgreSQL (the suite's database).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Es5Outcome, Es5Transport } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import { euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { type Bench, bench, type CardTransport, EID, ICCID, MNO_ID, SMDP_ID } from './fixture.js';

const SECOND_ICCID = SECOND_PROFILE.identity.iccid;
const MEMORY = 32_000;
type Garble = (o: Es5Outcome) => Es5Outcome;

/** The real card behind a transport that garbles the answers to the commands `pick` names. */
class GarblingTransport implements Es5Transport {
  /** INS bytes (0xE6 INSTALL, 0xE4 DELETE) whose next answer is garbled, once each. */
  readonly garble = new Map<number, Garble>();
  readonly sent: number[] = [];
  constructor(readonly inner: CardTransport) {}
  async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const ins = commands[0]?.[1] ?? 0;
    this.sent.push(ins);
    const answer = await this.inner.send(eid, aid, commands);
    const g = this.garble.get(ins);
    this.garble.delete(ins);
    return g === undefined ? answer : g(answer);
  }
}

const GARBLED: Record<string, Garble> = {
  'a status word no card gives': (o) =>
    o.ok ? { ok: true, responses: [{ data: new Uint8Array(0), sw: 0x0000 }] } : o,
  'no R-APDU in the response script': (o) => (o.ok ? { ok: true, responses: [] } : o),
  '6F00 with junk data': (o) =>
    o.ok ? { ok: true, responses: [{ data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef), sw: 0x6f00 }] } : o,
  'a refusal the card did not send (6A84)': (o) =>
    o.ok ? { ok: true, responses: [{ data: new Uint8Array(0), sw: 0x6a84 }] } : o,
};

let b: Bench;
let t: GarblingTransport;
let n = 0;
const call = () => ({ functionCallIdentifier: `orphan-${++n}` });

beforeEach(async () => {
  b = await bench();
  t = new GarblingTransport(b.transport);
  b.smsr = b.restart(t);
});
afterEach(() => b.db.cleanup());

const cardAids = () =>
  euiccOf(b.card)
    .snapshot()
    .isdps.map((i) => i.aid.toUpperCase())
    .sort();
const eisRows = () =>
  b.db.store.db
    .selectFrom('esim_sr_profiles')
    .select(['isdp_aid', 'state', 'iccid'])
    .where('eid', '=', EID)
    .execute();
const remaining = async () =>
  Number(
    (
      await b.db.store.db
        .selectFrom('esim_sr_eis')
        .select('remaining_memory')
        .where('eid', '=', EID)
        .executeTakeFirstOrThrow()
    ).remaining_memory,
  );
const createIsdp = () =>
  b.smsr
    .es3For(SMDP_ID)
    .createISDP({ ...call(), eid: EID, iccid: SECOND_ICCID, mnoId: MNO_ID, requiredMemory: MEMORY });
const audit = () => b.smsr.es4For(MNO_ID).auditEIS({ ...call(), eid: EID, iccids: [] });

/** Every ISD-P on the card is in the EIS and every EIS entry on the card (the audit agrees). */
async function expectCardAndEisAgree(): Promise<void> {
  const rows = await eisRows();
  expect(rows.map((r) => r.isdp_aid.toUpperCase()).sort()).toEqual(cardAids());
  expect(rows.every((r) => r.state !== 'In-Creation')).toBe(true);
  const before = await remaining();
  const a = await audit();
  expect(a.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  expect(a.eis?.profiles.map((p) => p.isdPAid.toUpperCase()).sort()).toEqual(cardAids());
  expect(await remaining()).toBe(before);
}

describe('CreateISDP answered garbled after the card created the ISD-P', () => {
  for (const [name, garble] of Object.entries(GARBLED)) {
    it(`${name}: the SM-SR deletes the ISD-P it asked for, then drops the entry`, async () => {
      const memory = await remaining();
      const onCard = cardAids();
      t.garble.set(0xe6, garble);
      const r = await createIsdp();
      expect(r.functionExecutionStatus.status).toBe('FAILED');
      expect(r.functionExecutionStatus.statusCodeData?.subject).toBeDefined();
      // The INSTALL ran on the card, then the DELETE of the same AID removed it.
      expect(t.sent).toEqual([0xe6, 0xe4]);
      expect(cardAids()).toEqual(onCard);
      expect((await eisRows()).map((p) => p.iccid)).toEqual([ICCID]);
      expect(await remaining()).toBe(memory);
      await expectCardAndEisAgree();
      // The ICCID is free again: a retry creates the ISD-P, Created on both sides.
      const again = await createIsdp();
      expect(again.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(await remaining()).toBe(memory - MEMORY);
      await expectCardAndEisAgree();
    });
  }

  it('the DELETE answer garbled too: the entry stays In-Creation (unseen) and AuditEIS drops it, memory untouched', async () => {
    const memory = await remaining();
    t.garble.set(0xe6, GARBLED['a status word no card gives'] as Garble);
    t.garble.set(0xe4, GARBLED['no R-APDU in the response script'] as Garble);
    expect((await createIsdp()).functionExecutionStatus.status).toBe('FAILED');
    // The DELETE ran on the card: nothing there; the EIS keeps the invisible entry until an audit.
    expect((await eisRows()).find((p) => p.iccid === SECOND_ICCID)?.state).toBe('In-Creation');
    expect((await audit()).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect((await eisRows()).map((p) => p.iccid)).toEqual([ICCID]);
    expect(await remaining()).toBe(memory);
    await expectCardAndEisAgree();
  });

  it('the DELETE ran but its PoR was lost: the entry stays In-Creation, unseen, until AuditEIS drops it', async () => {
    const memory = await remaining();
    t.garble.set(0xe6, GARBLED['6F00 with junk data'] as Garble);
    t.garble.set(0xe4, () => ({ ok: false, code: 'ES5_TIMEOUT', message: 'no PoR' }));
    expect((await createIsdp()).functionExecutionStatus.status).toBe('FAILED');
    expect((await eisRows()).find((p) => p.iccid === SECOND_ICCID)?.state).toBe('In-Creation');
    expect((await b.smsr.es3For(SMDP_ID).getEIS({ ...call(), eid: EID })).eis?.profiles).toHaveLength(1);
    expect(cardAids()).toHaveLength(1);
    expect((await audit()).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect((await eisRows()).map((p) => p.iccid)).toEqual([ICCID]);
    expect(await remaining()).toBe(memory);
    await expectCardAndEisAgree();
  });

  it('the DELETE never reached the card: AuditEIS finds the ISD-P, the entry becomes Created with its memory', async () => {
    const memory = await remaining();
    t.garble.set(0xe6, GARBLED['a status word no card gives'] as Garble);
    const deleteLost: Es5Transport = {
      send: async (eid, aid, commands) =>
        commands[0]?.[1] === 0xe4
          ? { ok: false, code: 'ES5_TIMEOUT', message: 'no PoR' }
          : t.send(eid, aid, commands),
    };
    b.smsr = b.restart(deleteLost);
    expect((await createIsdp()).functionExecutionStatus.status).toBe('FAILED');
    expect(cardAids()).toHaveLength(2);
    expect((await eisRows()).find((p) => p.iccid === SECOND_ICCID)?.state).toBe('In-Creation');
    expect((await audit()).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(Object.fromEntries((await eisRows()).map((p) => [p.iccid, p.state]))).toEqual({
      [ICCID]: 'Enabled',
      [SECOND_ICCID]: 'Created',
    });
    expect(await remaining()).toBe(memory - MEMORY);
    await expectCardAndEisAgree();
    // The SM-DP's clean-up (§3.1.5) can delete it: the memory comes back.
    b.smsr = b.restart(t);
    const del = await b.smsr.es3For(SMDP_ID).deleteISDP({ ...call(), eid: EID, iccid: SECOND_ICCID });
    expect(del.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(cardAids()).toHaveLength(1);
    expect(await remaining()).toBe(memory);
  });
});

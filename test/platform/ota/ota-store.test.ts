// The receive path's one lookup (appletOfSender): the SIM an MO SMS comes from, found by MSISDN, else
// IMSI, else quarantine IMSI, with its applet in the same statement. SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { appletOfSender } from '../../../src/platform/ota/ota-store.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { insertOtaProfile, provisionAntiTheft } from '../../helpers/anti-theft.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let t: TestDatabase;
const OPERATOR = 'OP0000000001';
const WITH_APPLET = '8981000000088000001';
const WITHOUT_APPLET = '8981000000088000002';

beforeAll(async () => {
  t = await openTestDatabase();
  const ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), new ManualClock());
  await insertOtaProfile(t.store.db, OPERATOR, WITH_APPLET, {
    imsi: '001010000088001',
    msisdn: '819000088001',
  });
  await provisionAntiTheft(ota, t.store.db, OPERATOR, WITH_APPLET, '001019999088001');
  // Its MSISDN is the other SIM's IMSI: the MSISDN match comes first.
  await insertOtaProfile(t.store.db, OPERATOR, WITHOUT_APPLET, {
    imsi: '001010000088002',
    msisdn: '001010000088001',
  });
});
afterAll(() => t.cleanup());

const lookup = async (sender: string) => (await appletOfSender(t.store.db, { sender }))[0];

describe('appletOfSender', () => {
  it('finds the SIM by MSISDN, IMSI or quarantine IMSI, with its applet in the same row', async () => {
    for (const sender of ['819000088001', '001019999088001'])
      expect(await lookup(sender)).toMatchObject({
        sender_sim_id: WITH_APPLET,
        sim_id: WITH_APPLET,
        operator_id: OPERATOR,
        tar: 'C0A7C0',
        kvn: 1,
        report_kvn: 1,
      });
    // By IMSI: the SIM without an applet has no applet columns.
    expect(await lookup('001010000088002')).toMatchObject({ sender_sim_id: WITHOUT_APPLET, sim_id: null });
    // An MSISDN wins over an IMSI equal to it.
    expect(await lookup('001010000088001')).toMatchObject({ sender_sim_id: WITHOUT_APPLET, sim_id: null });
  });

  it('property: a sender that names no SIM finds nothing', async () => {
    const known = new Set(['819000088001', '001019999088001', '001010000088001', '001010000088002']);
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[0-9]{6,15}$/), async (sender) => {
        fc.pre(!known.has(sender));
        expect(await lookup(sender)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });
});

// The operator layer as the receiver of ES4 HandleSMSRChangeNotification (SGP.02 §3.8 step 31,
// issue 16): the inventory's SM-SR of the eUICC follows, with an audit record; on both databases,
// against the operator API's own store (test/platform/esim/operations/fixture.ts).
// Threats: an operator whose inventory keeps pointing at the SM-SR that handed the eUICC over; a
// notification about another MNO's eUICC, a repeat, or an unknown eUICC changing the inventory.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotificationOutbox } from '../../../../src/platform/esim/notifications/notification-outbox.js';
import { EID, MNO_ID, type OpsBench, opsBench } from '../operations/fixture.js';
import { SMSR_ID } from '../sm-sr/fixture.js';
import { SMSR2_ID } from './fixture.js';

let b: OpsBench;
beforeEach(async () => {
  b = await opsBench();
});
afterEach(() => b.close());

/** Each test starts the operator API and registers the eUICC through it. */
const TEST_MS = 120_000;

async function register() {
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/esim/euiccs',
    payload: { registerEisRequest: b.registerEisRequest(), eumCertificate: b.pki.eum.pem },
  });
  expect(res.statusCode, res.body).toBe(201);
}

const smsrOf = async (eid = EID) =>
  (
    await b.api.platform.store.db
      .selectFrom('esim_euiccs')
      .select('smsr_id')
      .where('eid', '=', eid)
      .executeTakeFirst()
  )?.smsr_id;
const records = () =>
  b.api.platform.store.db
    .selectFrom('audit_logs')
    .select(['operation_id', 'actor_kind', 'actor_id', 'detail'])
    .where('operation_id', '=', 'Esim:handleSMSRChangeNotification')
    .orderBy('id')
    .execute();

describe('the operator layer receives HandleSMSRChangeNotification', () => {
  it(
    "sets the inventory's SM-SR of the eUICC with an audit record; a repeat, another MNO or an unknown eUICC changes nothing",
    async () => {
      await register();
      expect(await smsrOf()).toBe(SMSR_ID);
      const at = new Date(Date.UTC(2026, 5, 1));
      const eis = { ...b.eis, smsrId: SMSR2_ID };
      const port = b.api.platform.esimOperations.es4Notifications(MNO_ID);
      await port.handleSMSRChangeNotification?.({ eis, completionTimestamp: at });
      expect(await smsrOf()).toBe(SMSR2_ID);
      const [record, ...more] = await records();
      expect(more).toEqual([]);
      expect(record).toMatchObject({ actor_kind: 'system', actor_id: 'sm-sr' });
      expect(JSON.parse(record?.detail ?? '{}')).toMatchObject({
        eid: EID,
        previousSmsrId: SMSR_ID,
        smsrId: SMSR2_ID,
        completionTimestamp: at.getTime(),
      });
      // The same notification again (the outbox sends at least once): nothing more.
      await port.handleSMSRChangeNotification?.({ eis, completionTimestamp: at });
      expect((await records()).length).toBe(1);
      // Another MNO, with no profile on the eUICC and not its operator: ignored.
      const other = b.api.platform.esimOperations.es4Notifications('1.3.6.1.4.1.99999.9.9');
      await other.handleSMSRChangeNotification?.({
        eis: { ...b.eis, smsrId: '1.3.6.1.4.1.99999.1.66' },
        completionTimestamp: at,
      });
      expect(await smsrOf()).toBe(SMSR2_ID);
      // An eUICC this inventory does not hold: acknowledged, nothing written.
      const unknown = '89049032000000000000000000000099';
      await port.handleSMSRChangeNotification?.({
        eis: { ...eis, eumSignedInfo: { ...b.eis.eumSignedInfo, eid: unknown } },
        completionTimestamp: at,
      });
      expect(await smsrOf(unknown)).toBeUndefined();
      expect((await records()).length).toBe(1);
    },
    TEST_MS,
  );

  it(
    "a row of SM-SR2's outbox (kind smsr-changed) reaches the operator layer and is delivered",
    async () => {
      await register();
      const ops = b.api.platform.esimOperations;
      const clock = { now: () => Date.UTC(2026, 5, 1) };
      const outbox = new NotificationOutbox({
        store: b.api.platform.store,
        clock,
        senderId: SMSR2_ID,
        receiver: (iface, id) => (iface === 'ES4' ? ops.es4Notifications(id) : undefined),
      });
      const { auditTrail: _trail, ...eis } = { ...b.eis, smsrId: SMSR2_ID };
      const ids = await b.api.platform.store.db.transaction().execute(async (tx) => [
        await outbox.enqueue(tx, {
          interface: 'ES4',
          receiverId: MNO_ID,
          kind: 'smsr-changed',
          body: { eid: EID, iccid: '', completionTimestamp: new Date(clock.now()), eis },
          idempotencyKey: 'smsr-change:test:ES4',
        }),
      ]);
      expect(await outbox.deliver(ids)).toEqual({ delivered: 1, retried: 0, dead: 0 });
      expect(await smsrOf()).toBe(SMSR2_ID);
      expect((await records()).length).toBe(1);
      await outbox.close();
    },
    TEST_MS,
  );
});

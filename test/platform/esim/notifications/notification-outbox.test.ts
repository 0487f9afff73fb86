// The SM-SR's ES3/ES4 and the SM-DP's ES2 profile notifications as durable rows (issue 15:
// "notifications to SM-DP and operator"), on both databases, with the real SM-SR in front of the
// software eUICC and the real SM-DP relaying to the operator. Threats and failures covered: a partner
// that is down when the profile changes (the notification was lost: it was sent once after the commit,
// fire and forget); a crash between the commit and the send; a crash while the send runs; a partner
// that never comes back (the row must end somewhere visible, not retry for ever); an acknowledgement
// lost after the SM-DP stored the relay (at least once must not make the operator see it twice); two
// instances draining one backlog (each row once, a queue in order).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import type { Es3NotificationPort, Es4NotificationPort } from '../../../../src/platform/esim/es-ports.js';
import {
  enqueueNotification,
  listNotifications,
  NotificationOutbox,
  type NotificationView,
  retryNotification,
} from '../../../../src/platform/esim/notifications/notification-outbox.js';
import { SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { SmSr, type SmSrOptions } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { GroupCommit } from '../../../../src/platform/store/group-commit.js';
import { euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { type Bench, bench, EID, ICCID, MNO_ID, SMDP_ID, SMSR_ID, settle } from '../sm-sr/fixture.js';

const SECOND = SECOND_PROFILE.identity.iccid;
let b: Bench;
let n = 0;
const fc_ = () => ({ functionCallIdentifier: `call-${++n}` });

/** A receiver that records what it got and can be down, lose its acknowledgement, or hang. */
class Receiver {
  mode: 'up' | 'down' | 'ack-lost' | 'hang' = 'up';
  readonly got: string[] = [];
  /** Called when a send starts hanging (mode 'hang'). */
  onHang: (() => void) | undefined;
  constructor(
    readonly name: string,
    readonly behind?: () => Es3NotificationPort,
  ) {}

  #handler(kind: string, method: Exclude<keyof Es3NotificationPort, 'handleSMSRChangeNotification'>) {
    return async (body: { iccid: string; eid: string; mnoId?: string; completionTimestamp: Date }) => {
      if (this.mode === 'down') throw new Error(`${this.name} is down (connection refused)`);
      if (this.mode === 'hang') {
        this.onHang?.();
        return new Promise<void>(() => undefined);
      }
      if (this.behind !== undefined) await this.behind()[method](body as never);
      this.got.push(`${kind} ${body.iccid}`);
      if (this.mode === 'ack-lost') throw new Error(`${this.name}: the acknowledgement was lost`);
    };
  }

  get port(): Es3NotificationPort & Es4NotificationPort {
    return {
      handleProfileEnabledNotification: this.#handler('enabled', 'handleProfileEnabledNotification'),
      handleProfileDisabledNotification: this.#handler('disabled', 'handleProfileDisabledNotification'),
      handleProfileDeletedNotification: this.#handler('deleted', 'handleProfileDeletedNotification'),
    };
  }
}

let es2: Receiver; // the operator, behind the SM-DP
let es4: Receiver; // the operator, from the SM-SR
let link: Receiver; // the SM-SR → SM-DP hop (the real SM-DP behind it)
let smdp: SmDp;

beforeEach(async () => {
  b = await bench();
  es2 = new Receiver('operator (ES2)');
  es4 = new Receiver('operator (ES4)');
  link = new Receiver('SM-DP', () => smdp.es3Notifications());
  smdp = new SmDp({
    store: b.db.store,
    keyRing: b.keyRing,
    clock: b.clock,
    smdpId: SMDP_ID,
    smsr: () => undefined,
    signer: async () => undefined,
    verify: async () => {
      throw new Error('no download in these tests');
    },
    eumCertificate: async () => undefined,
    operators: (id) => (id === MNO_ID ? es2.port : undefined),
  });
});
afterEach(async () => {
  await smdp.close();
  await b.db.cleanup();
});

/** An SM-SR over the bench's database and card whose partners are the receivers above. */
function smsr(outbox: SmSrOptions['notificationOutbox'] = {}): SmSr {
  return new SmSr({
    store: b.db.store,
    keyRing: b.keyRing,
    clock: b.clock,
    transport: b.transport,
    smsrId: SMSR_ID,
    chains: {
      verify: async (input) =>
        verifyCertificateChain({ ...input, trustedCis: [b.pki.ci.trusted], now: b.clock.now() }),
    },
    directory: {
      smdp: (id) => (id === SMDP_ID ? link.port : undefined),
      operator: (id) => (id === MNO_ID ? es4.port : undefined),
    },
    notificationOutbox: { retryBaseMs: 1_000, ...outbox },
  });
}

/** The second profile downloaded (ES3 CreateISDP, installed on the card, ProfileDownloadCompleted). */
async function download(sr: SmSr): Promise<void> {
  const es3 = sr.es3For(SMDP_ID);
  const created = await es3.createISDP({
    ...fc_(),
    eid: EID,
    iccid: SECOND,
    mnoId: MNO_ID,
    requiredMemory: 32_000,
  });
  expect(created.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  expect(euiccOf(b.card).installProfile(created.isdPAid, SECOND_PROFILE).ok).toBe(true);
  const done = await es3.profileDownloadCompleted({ ...fc_(), eid: EID, iccid: SECOND, pol2: { rules: [] } });
  expect(done.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
}

/** ES4 EnableProfile of the second profile to its end; `before` runs while the SM-SR waits for the card. */
async function enableSecond(sr: SmSr, before?: () => Promise<void>): Promise<void> {
  const call = sr.es4For(MNO_ID).enableProfile({ ...fc_(), eid: EID, iccid: SECOND });
  await settle(async () => {
    const row = await b.db.store.db
      .selectFrom('esim_sr_procedures')
      .select('step')
      .where('function', '=', 'EnableProfile')
      .where('active_eid', '=', EID)
      .executeTakeFirst();
    return row?.step === 'awaiting-notification';
  });
  await before?.();
  expect(await b.attach(sr)).toBe(1);
  // The profile change's outcome does not depend on the partners.
  expect((await call).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
}

const rows = async (senderId = SMSR_ID) =>
  (
    await b.db.store.db
      .selectFrom('esim_notification_outbox')
      .selectAll()
      .where('sender_id', '=', senderId)
      .orderBy('id')
      .execute()
  ).map((r) => ({
    to: `${r.interface} ${r.kind} ${r.iccid}`,
    state: r.state,
    attempts: Number(r.attempts),
    error: r.last_error,
  }));

describe(`notifications to the SM-DP and the operator`, () => {
  it('a receiver that is down gets them once it is back, in order; a lost acknowledgement is relayed once', async () => {
    const sr = smsr();
    await download(sr);
    link.mode = 'down';
    es4.mode = 'down';
    await enableSecond(sr);
    expect(link.got).toEqual([]);
    expect(es4.got).toEqual([]);
    // Written with the EIS change; one attempt each right after the commit. The ES4 Disabled waits
    // behind the ES4 Enabled of the same eUICC (a queue is delivered in order).
    expect(await rows()).toEqual([
      {
        to: `ES3 enabled ${SECOND}`,
        state: 'pending',
        attempts: 1,
        error: 'SM-DP is down (connection refused)',
      },
      {
        to: `ES4 enabled ${SECOND}`,
        state: 'pending',
        attempts: 1,
        error: 'operator (ES4) is down (connection refused)',
      },
      { to: `ES4 disabled ${ICCID}`, state: 'pending', attempts: 0, error: null },
    ]);
    // Not due before the backoff.
    expect(await sr.notifications.runDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    b.clock.advance(1_000);
    expect(await sr.notifications.runDue()).toEqual({ delivered: 0, retried: 2, dead: 0 });
    expect((await rows()).map((r) => r.attempts)).toEqual([2, 2, 0]);

    // Back: the SM-DP stores the relay and forwards it, but its acknowledgement is lost.
    link.mode = 'ack-lost';
    es4.mode = 'up';
    b.clock.advance(2_000);
    expect(await sr.notifications.runDue()).toEqual({ delivered: 2, retried: 1, dead: 0 });
    expect(es4.got).toEqual([`enabled ${SECOND}`, `disabled ${ICCID}`]);
    expect(link.got).toEqual([`enabled ${SECOND}`]);
    expect(es2.got).toEqual([`enabled ${SECOND}`]);
    // The SM-SR sends it again (at least once); the SM-DP recognises it and relays nothing new.
    link.mode = 'up';
    b.clock.advance(4_000);
    expect(await sr.notifications.runDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(link.got).toEqual([`enabled ${SECOND}`, `enabled ${SECOND}`]);
    expect(es2.got).toEqual([`enabled ${SECOND}`]);
    expect((await rows()).map((r) => r.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(await rows(SMDP_ID)).toEqual([
      { to: `ES2 enabled ${SECOND}`, state: 'delivered', attempts: 1, error: null },
    ]);
    // Nothing left to do.
    b.clock.advance(60_000);
    expect(await sr.notifications.runDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    expect(await smdp.notifications.runDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    await sr.close();
  });

  it('a crash after the commit and before the send: the next instance delivers them', async () => {
    const sr = smsr();
    await download(sr);
    // The process "dies" between the EIS commit and the send: its outbox stops.
    await enableSecond(sr, () => sr.close());
    expect(link.got).toEqual([]);
    expect(es4.got).toEqual([]);
    expect((await rows()).map((r) => [r.state, r.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ]);
    const restarted = smsr();
    await restarted.recover();
    expect(await restarted.notifications.runDue()).toEqual({ delivered: 3, retried: 0, dead: 0 });
    expect(link.got).toEqual([`enabled ${SECOND}`]);
    expect(es2.got).toEqual([`enabled ${SECOND}`]);
    expect(es4.got).toEqual([`enabled ${SECOND}`, `disabled ${ICCID}`]);
    await restarted.close();
  });

  it('a crash while the send runs: another instance sends it once the claim has lapsed', async () => {
    const sr = smsr({ leaseMs: 60_000 });
    await download(sr);
    await enableSecond(sr, async () => {
      link.mode = 'down';
      es4.mode = 'down';
    });
    // The first instance claims the ES3 row and its send never returns (the process is gone).
    link.mode = 'hang';
    const hanging = new Promise<void>((resolve) => {
      link.onHang = resolve;
    });
    b.clock.advance(1_000);
    void sr.notifications.deliver([
      (
        await b.db.store.db
          .selectFrom('esim_notification_outbox')
          .select('id')
          .orderBy('id')
          .executeTakeFirstOrThrow()
      ).id,
    ]);
    await hanging;
    expect((await rows())[0]).toMatchObject({ state: 'pending', attempts: 2 });
    link.mode = 'up';
    es4.mode = 'up';
    const other = smsr();
    // Claimed: not sent again while the claim holds (the ES4 queue goes on).
    expect(await other.notifications.runDue()).toEqual({ delivered: 2, retried: 0, dead: 0 });
    expect(link.got).toEqual([]);
    b.clock.advance(60_000);
    expect(await other.notifications.runDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(link.got).toEqual([`enabled ${SECOND}`]);
    expect(es2.got).toEqual([`enabled ${SECOND}`]);
    await other.close();
  });

  it('after maxAttempts failures a notification is dead, listed with its error, and can be retried', async () => {
    const dead: NotificationView[] = [];
    const sr = smsr({ maxAttempts: 3, onDead: (v) => dead.push(v) });
    await download(sr);
    link.mode = 'down';
    es4.mode = 'down';
    await enableSecond(sr);
    b.clock.advance(1_000);
    await sr.notifications.runDue();
    b.clock.advance(2_000);
    // Third failure: dead. The ES4 Disabled no longer waits behind a dead row and gets its first attempt.
    expect(await sr.notifications.runDue()).toEqual({ delivered: 0, retried: 1, dead: 2 });
    expect(dead.map((d) => `${d.interface} ${d.kind} ${d.iccid} ${d.attempts}`)).toEqual([
      `ES3 enabled ${SECOND} 3`,
      `ES4 enabled ${SECOND} 3`,
    ]);
    const listed = await listNotifications(b.db.store.db, { state: 'dead' });
    expect(listed).toMatchObject([
      { interface: 'ES3', receiverId: SMDP_ID, kind: 'enabled', eid: EID, iccid: SECOND, attempts: 3 },
      { interface: 'ES4', receiverId: MNO_ID, kind: 'enabled', eid: EID, iccid: SECOND, attempts: 3 },
    ]);
    expect(listed[0]?.lastError).toBe('SM-DP is down (connection refused)');
    // Dead rows are not tried again by the job.
    b.clock.advance(3_600_000);
    link.mode = 'up';
    es4.mode = 'up';
    expect(await sr.notifications.runDue()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(link.got).toEqual([]);
    expect(es4.got).toEqual([`disabled ${ICCID}`]);
    // Retried by hand: pending again with its attempts reset, then delivered.
    const [first, second] = listed;
    expect(await retryNotification(b.db.store.db, first?.id ?? 0, b.clock.now())).toBe(true);
    expect(await retryNotification(b.db.store.db, second?.id ?? 0, b.clock.now())).toBe(true);
    expect(await retryNotification(b.db.store.db, second?.id ?? 0, b.clock.now())).toBe(false);
    expect(await sr.notifications.runDue()).toEqual({ delivered: 2, retried: 0, dead: 0 });
    expect(link.got).toEqual([`enabled ${SECOND}`]);
    expect(es4.got).toEqual([`disabled ${ICCID}`, `enabled ${SECOND}`]);
    expect(await listNotifications(b.db.store.db, { state: 'dead' })).toEqual([]);
    await sr.close();
  });

  const drain = async (writer?: GroupCommit) => {
    const got: string[] = [];
    const port = {
      handleProfileEnabledNotification: async (x: { eid: string; iccid: string }) => {
        got.push(`${x.eid} ${x.iccid}`);
        await new Promise((r) => setImmediate(r));
      },
      handleProfileDisabledNotification: async () => undefined,
      handleProfileDeletedNotification: async () => undefined,
    };
    const eids = Array.from(
      { length: 10 },
      (_, i) => `89049032000000000000000000000${String(i).padStart(3, '0')}`,
    );
    await b.db.store.db.transaction().execute(async (tx) => {
      for (let k = 0; k < 8; k++)
        for (const eid of eids)
          await enqueueNotification(
            tx,
            {
              senderId: 'backlog-sender',
              interface: 'ES4',
              receiverId: MNO_ID,
              kind: 'enabled',
              body: { eid, iccid: `8981${k}`, completionTimestamp: new Date(b.clock.now()) },
            },
            b.clock.now(),
          );
    });
    const instance = () =>
      new NotificationOutbox({
        store: b.db.store,
        clock: b.clock,
        senderId: 'backlog-sender',
        receiver: () => port,
        ...(writer === undefined ? {} : { writer }),
      });
    const one = instance();
    const two = instance();
    // A queue waits while its older row is out, so a pass may leave rows for the next one.
    for (let pass = 0; pass < 20 && got.length < 80; pass++) await Promise.all([one.runDue(), two.runDue()]);
    expect(got).toHaveLength(80);
    expect(new Set(got).size).toBe(80);
    for (const eid of eids)
      expect(got.filter((g) => g.startsWith(eid)).map((g) => g.split(' ')[1])).toEqual(
        Array.from({ length: 8 }, (_, k) => `8981${k}`),
      );
    expect(await listNotifications(b.db.store.db, { state: 'pending', senderId: 'backlog-sender' })).toEqual(
      [],
    );
  };

  it('two instances drain one backlog: every row once, each queue in order', () => drain());

  it('the same through a group commit (claims and settles as its units): every row once, each queue in order', async () => {
    const writer = new GroupCommit(b.db.store, { maxBatch: 32, concurrency: 2 });
    await drain(writer);
    // 80 claims and 80 deliveries, each a unit of the writer, committed before the next step.
    expect(writer.stats.operations).toBeGreaterThanOrEqual(160);
    expect(writer.stats.failed).toBe(0);
  });
});

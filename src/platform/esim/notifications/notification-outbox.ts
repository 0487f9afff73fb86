// Durable SGP.02 profile notifications (issue 15: "notifications to SM-DP and operator"; SGP.02
// §5.3.8–10 ES2, §5.4.11–13 ES3, §5.5 ES4): HandleProfileEnabled/Disabled/DeletedNotification from
// the SM-SR to the SM-DP and the operator, and from the SM-DP on to the operator.
//
// A notification is a row (migration 0017), written in the transaction of the change it reports, so
// a crash or a partner that is down loses nothing. Delivery, the graphile-worker shape:
//   claim     one guarded UPDATE per row (pending, due, not leased, no older pending row of the same
//             queue = sender, interface, receiver, EID): several instances never send a row at once,
//             and a queue is delivered in order (Enabled before the Deleted that followed it)
//   send      the receiver's notification port, resolved at send time (a partner added later is
//             found, a partner removed fails the attempt)
//   settle    delivered; or pending again after an exponential backoff; or `dead` after maxAttempts —
//             listed (listNotifications, `simtrust esim notifications`) and retried by hand
// A row is sent at least once: a process that dies after the receiver got it and before `delivered`
// was written sends it again once its lease ends. The SM-DP stores what it relays under an
// idempotency key, so a repeat is relayed once; an operator receives the same notification at most
// once per SM-SR delivery.

import type { Selectable } from 'kysely';
import type { Clock } from '../../../lib/clock.js';
import type { Executor, Store } from '../../store/database.js';
import type { GroupCommit } from '../../store/group-commit.js';
import type { EsimNotificationOutboxTable } from '../../store/schema.js';
import type { Eis } from '../es-soap/sgp-02-xml-types.js';
import { fromJson, toJson } from '../sm-sr/eis-store.js';

/** Profile Enabled/Disabled/Deleted; `smsr-changed`: HandleSMSRChangeNotification (§3.8 steps 31–32). */
export const NOTIFICATION_KINDS = ['enabled', 'disabled', 'deleted', 'smsr-changed'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
/** ES2: SM-DP → operator; ES3: SM-SR → SM-DP; ES4: SM-SR → operator. */
export type NotificationInterface = 'ES2' | 'ES3' | 'ES4';
export type NotificationState = 'pending' | 'delivered' | 'dead';

/**
 * The body every profile notification carries (ES3 adds the MNO id). `smsr-changed` carries the EIS
 * as the new SM-SR holds it (no key values) and an empty ICCID; its receiver gets {eis, mnoId?,
 * completionTimestamp}, the body of ES3/ES4-HandleSMSRChangeNotification.
 */
export interface NotificationBody {
  readonly eid: string;
  readonly iccid: string;
  readonly mnoId?: string;
  readonly completionTimestamp: Date;
  readonly eis?: Eis;
}

type Handler = (body: never) => Promise<void>;
/** Any of the Es2/Es3/Es4 notification ports (their methods differ only in the body type). */
export interface NotificationPort {
  readonly handleProfileEnabledNotification: Handler;
  readonly handleProfileDisabledNotification: Handler;
  readonly handleProfileDeletedNotification: Handler;
  /** Only receivers of SM-SR changes have it; a row for one without it fails its attempts. */
  readonly handleSMSRChangeNotification?: Handler;
}

const METHOD = {
  enabled: 'handleProfileEnabledNotification',
  disabled: 'handleProfileDisabledNotification',
  deleted: 'handleProfileDeletedNotification',
  'smsr-changed': 'handleSMSRChangeNotification',
} as const satisfies Record<NotificationKind, keyof NotificationPort>;

export interface NewNotification {
  readonly senderId: string;
  readonly interface: NotificationInterface;
  readonly receiverId: string;
  readonly kind: NotificationKind;
  readonly body: NotificationBody;
  /** Set when the same notification may be written twice (a relay): the second write is skipped. */
  readonly idempotencyKey?: string;
}

/**
 * Writes a notification to deliver, in the caller's transaction. Returns its id, or undefined when a
 * row with the same idempotency key exists (stored once).
 */
export async function enqueueNotification(
  tx: Executor,
  n: NewNotification,
  now: number,
): Promise<number | undefined> {
  const row = await tx
    .insertInto('esim_notification_outbox')
    .values({
      sender_id: n.senderId,
      interface: n.interface,
      receiver_id: n.receiverId,
      kind: n.kind,
      eid: n.body.eid,
      iccid: n.body.iccid,
      // toJson: bytes of an EIS as {$hex}; a profile notification's text is what JSON.stringify gives.
      body: toJson({ ...n.body, completionTimestamp: n.body.completionTimestamp.getTime() }),
      idempotency_key: n.idempotencyKey ?? null,
      state: 'pending',
      attempts: 0,
      next_attempt_at: now,
      claimed_until: null,
      last_error: null,
      created_at: now,
      updated_at: now,
      delivered_at: null,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.id);
}

export interface NotificationView {
  readonly id: number;
  readonly senderId: string;
  readonly interface: NotificationInterface;
  readonly receiverId: string;
  readonly kind: NotificationKind;
  readonly eid: string;
  readonly iccid: string;
  readonly state: NotificationState;
  readonly attempts: number;
  readonly nextAttemptTime: number;
  /** Why the last attempt failed (the port's error message, no body). */
  readonly lastError: string | null;
  readonly createdTime: number;
  readonly deliveredTime: number | null;
}

const view = (r: Selectable<EsimNotificationOutboxTable>): NotificationView => ({
  id: Number(r.id),
  senderId: r.sender_id,
  interface: r.interface as NotificationInterface,
  receiverId: r.receiver_id,
  kind: r.kind as NotificationKind,
  eid: r.eid,
  iccid: r.iccid,
  state: r.state as NotificationState,
  attempts: Number(r.attempts),
  nextAttemptTime: Number(r.next_attempt_at),
  lastError: r.last_error,
  createdTime: Number(r.created_at),
  deliveredTime: r.delivered_at === null ? null : Number(r.delivered_at),
});

/** The notifications in a state (default: dead), oldest first. */
export async function listNotifications(
  db: Executor,
  o: { state?: NotificationState; senderId?: string; limit?: number } = {},
): Promise<NotificationView[]> {
  let q = db
    .selectFrom('esim_notification_outbox')
    .selectAll()
    .where('state', '=', o.state ?? 'dead')
    .orderBy('id')
    .limit(o.limit ?? 100);
  if (o.senderId !== undefined) q = q.where('sender_id', '=', o.senderId);
  return (await q.execute()).map(view);
}

/** A dead notification goes back to pending with its attempts reset; false when no dead row has the id. */
export async function retryNotification(db: Executor, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('esim_notification_outbox')
    .set({ state: 'pending', attempts: 0, next_attempt_at: now, claimed_until: null, updated_at: now })
    .where('id', '=', id)
    .where('state', '=', 'dead')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export interface NotificationOutboxOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** The sending role's entity id: this outbox delivers only its rows. */
  readonly senderId: string;
  /** The receiver's port at send time; undefined: not configured (the attempt fails). */
  readonly receiver: (iface: NotificationInterface, receiverId: string) => NotificationPort | undefined;
  /** Attempts before a row is dead; default 16 (with the defaults below, about two hours). */
  readonly maxAttempts?: number;
  /** Delay after the first failure, doubled after each (default 5 s), up to retryMaxMs (default 15 min). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** How long a claim holds before another instance may send the row again (default 60 s). */
  readonly leaseMs?: number;
  /** Period of the delivery job started by start() (default 5 s). */
  readonly intervalMs?: number;
  /** Delivered rows are deleted after this long (default 7 days). */
  readonly keepDeliveredMs?: number;
  /** An attempt failed (for the log); the row is retried or dead. */
  readonly onError?: (error: unknown, n: NotificationView) => void;
  /** A row became dead. */
  readonly onDead?: (n: NotificationView) => void;
  /**
   * The group commit a delivery's claim and settle join (the sending role's, store/group-commit.ts):
   * many rows' claims in one transaction and one fsync. Absent: each commits alone.
   */
  readonly writer?: GroupCommit;
}

export interface DeliveryCounts {
  delivered: number;
  retried: number;
  dead: number;
}

const ERROR_MAX = 500;
const BATCH = 100;
const DAY = 86_400_000;

export class NotificationOutbox {
  readonly #o: Required<Omit<NotificationOutboxOptions, 'onError' | 'onDead' | 'writer'>> &
    Pick<NotificationOutboxOptions, 'onError' | 'onDead' | 'writer'>;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #running: Promise<unknown> = Promise.resolve();

  constructor(options: NotificationOutboxOptions) {
    this.#o = {
      maxAttempts: 16,
      retryBaseMs: 5_000,
      retryMaxMs: 900_000,
      leaseMs: 60_000,
      intervalMs: 5_000,
      keepDeliveredMs: 7 * DAY,
      ...options,
    };
  }

  get senderId(): string {
    return this.#o.senderId;
  }

  /** Writes a notification of this sender in `tx` (see enqueueNotification). */
  enqueue(
    tx: Executor,
    n: Omit<NewNotification, 'senderId'>,
    now = this.#o.clock.now(),
  ): Promise<number | undefined> {
    return enqueueNotification(tx, { ...n, senderId: this.#o.senderId }, now);
  }

  /**
   * One attempt at each of these rows, in order, right after the transaction that wrote them
   * committed. Never rejects: a failure leaves the row to the job (retry, backoff, dead).
   */
  async deliver(ids: readonly (number | undefined)[]): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { delivered: 0, retried: 0, dead: 0 };
    for (const id of ids) {
      if (this.#closed) break;
      if (id === undefined) continue;
      try {
        const outcome = await this.#attempt(id);
        if (outcome !== undefined) counts[outcome]++;
      } catch (e) {
        // The database failed: the row stays pending (its lease ends) and the job sends it.
        this.#o.onError?.(e, { id } as NotificationView);
      }
    }
    return counts;
  }

  /** Every row of this sender that is due, oldest first; then the purge of old delivered rows. */
  async runDue(): Promise<DeliveryCounts> {
    const total: DeliveryCounts = { delivered: 0, retried: 0, dead: 0 };
    let after = -1;
    for (;;) {
      if (this.#closed) return total;
      const now = this.#o.clock.now();
      const ids = (
        await this.#o.store.db
          .selectFrom('esim_notification_outbox')
          .select('id')
          .where('sender_id', '=', this.#o.senderId)
          .where('state', '=', 'pending')
          .where('id', '>', after)
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
          .orderBy('id')
          .limit(BATCH)
          .execute()
      ).map((r) => Number(r.id));
      const c = await this.deliver(ids);
      total.delivered += c.delivered;
      total.retried += c.retried;
      total.dead += c.dead;
      if (ids.length < BATCH) break;
      after = ids[ids.length - 1] as number;
    }
    const old = this.#o.clock.now() - this.#o.keepDeliveredMs;
    await this.#o.store.db
      .deleteFrom('esim_notification_outbox')
      .where(
        'id',
        'in',
        this.#o.store.db
          .selectFrom('esim_notification_outbox')
          .select('id')
          .where('sender_id', '=', this.#o.senderId)
          .where('state', '=', 'delivered')
          .where('delivered_at', '<', old)
          .limit(1000),
      )
      .execute();
    return total;
  }

  /** Runs runDue every intervalMs until close() (serve; tests call runDue themselves). */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const tick = () => {
      this.#running = this.runDue()
        .catch((e: unknown) => this.#o.onError?.(e, { id: 0 } as NotificationView))
        .finally(() => {
          if (this.#closed) return;
          this.#timer = setTimeout(tick, this.#o.intervalMs);
          this.#timer.unref();
        });
    };
    this.#timer = setTimeout(tick, 0);
    this.#timer.unref();
  }

  /** Stops sending (rows stay pending for the next start); waits for a job pass that runs. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** A write of the delivery: through the writer when there is one (committed once resolved). */
  #write<T>(op: (db: Executor) => Promise<T>): Promise<T> {
    return this.#o.writer === undefined ? op(this.#o.store.db) : this.#o.writer.run(op);
  }

  async #attempt(id: number): Promise<keyof DeliveryCounts | undefined> {
    const now = this.#o.clock.now();
    const lease = now + this.#o.leaseMs;
    const claimed = await this.#write((db) =>
      db
        .updateTable('esim_notification_outbox as t')
        .set((eb) => ({ claimed_until: lease, attempts: eb('t.attempts', '+', 1), updated_at: now }))
        .where('t.id', '=', id)
        .where('t.sender_id', '=', this.#o.senderId)
        .where('t.state', '=', 'pending')
        .where('t.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('t.claimed_until', 'is', null), eb('t.claimed_until', '<=', now)]))
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('esim_notification_outbox as o')
                .select('o.id')
                .whereRef('o.sender_id', '=', 't.sender_id')
                .whereRef('o.interface', '=', 't.interface')
                .whereRef('o.receiver_id', '=', 't.receiver_id')
                .whereRef('o.eid', '=', 't.eid')
                .where('o.state', '=', 'pending')
                .whereRef('o.id', '<', 't.id'),
            ),
          ),
        )
        .returningAll()
        .executeTakeFirst(),
    );
    // Not claimed: delivered, dead, leased by another instance, not due, or behind an older row.
    if (claimed === undefined) return undefined;
    const row = claimed;
    const n = view(row);
    const stored = fromJson<Omit<NotificationBody, 'completionTimestamp'> & { completionTimestamp: number }>(
      row.body,
    );
    const completionTimestamp = new Date(stored.completionTimestamp);
    const body =
      n.kind === 'smsr-changed'
        ? {
            eis: stored.eis,
            ...(stored.mnoId === undefined ? {} : { mnoId: stored.mnoId }),
            completionTimestamp,
          }
        : { ...stored, completionTimestamp };
    try {
      const port = this.#o.receiver(n.interface, n.receiverId);
      if (port === undefined)
        throw new Error(`no ${n.interface} receiver ${n.receiverId} is configured (a partner removed?)`);
      const handler = port[METHOD[n.kind]] as ((b: typeof body) => Promise<void>) | undefined;
      if (handler === undefined)
        throw new Error(`the ${n.interface} receiver ${n.receiverId} does not take ${METHOD[n.kind]}`);
      await handler(body);
    } catch (e) {
      this.#o.onError?.(e, n);
      const at = this.#o.clock.now();
      const dead = n.attempts >= this.#o.maxAttempts;
      const delay = Math.min(this.#o.retryBaseMs * 2 ** (n.attempts - 1), this.#o.retryMaxMs);
      const message = e instanceof Error ? e.message : String(e);
      await this.#write((db) =>
        db
          .updateTable('esim_notification_outbox')
          .set({
            state: dead ? 'dead' : 'pending',
            next_attempt_at: at + delay,
            claimed_until: null,
            last_error: message.length > ERROR_MAX ? `${message.slice(0, ERROR_MAX - 1)}…` : message,
            updated_at: at,
          })
          .where('id', '=', id)
          .where('state', '=', 'pending')
          .execute(),
      );
      if (dead) this.#o.onDead?.({ ...n, state: 'dead', lastError: message });
      return dead ? 'dead' : 'retried';
    }
    const at = this.#o.clock.now();
    await this.#write((db) =>
      db
        .updateTable('esim_notification_outbox')
        .set({ state: 'delivered', delivered_at: at, claimed_until: null, last_error: null, updated_at: at })
        .where('id', '=', id)
        .execute(),
    );
    return 'delivered';
  }
}

// The SM-SR's side of RAM over HTTP (GP Amd B, SCP81; SGP.02 §2.4.4): scripts queued per eUICC wait
// until the card opens its PSK-TLS session (after the push SMS), then travel one per HTTP response —
// 200 + expanded remote command + X-Admin-Targeted-Application + X-Admin-Next-URI — and the card's next
// POST brings the expanded response (X-Admin-Script-Status). When nothing is left the SM-SR answers 204
// without X-Admin-Next-URI, which ends the session.
//
// Two kinds of job: a script (C-APDUs in a TS 102 226 expanded command script, for the ISD-R or RFM)
// and raw data (queueData: SCP03t TLVs 84/85/86 for an ISD-P, SGP.02 §4.1.3.3 — the body goes as it
// is, X-Admin-Targeted-Application = the ISD-P AID, and the card's POST carries the answer TLVs as
// they are). A job queued with `moreToDo` (ES3.SendData MoreToDo) keeps the session open: once its
// answer is posted and nothing else waits, the answer to that POST is held (respond()) until the next
// job arrives or `holdMs` passes — within the session time — so the SM-DP's back-to-back SendData
// ride one PSK-TLS session; when the hold ends empty-handed the session ends (204) and the next job
// needs a new push. A session also ends after `maxScriptsPerSession` jobs (the card's agent bounds
// its exchanges per session); jobs left waiting when a session closes are announced (onLeftWaiting)
// so the sender pushes again — and so are jobs still waiting `repushMs` after the last push (pushed())
// without a session: the push SMS was lost or the card out of reach; it goes again while jobs wait.
//
// Transport-free: the listener (src/servers/esim/scp81-listener.ts) authenticates the connection by its
// PSK identity (EID + keyset) and hands each request here. Each step of a request, as it is enforced:
//   protocol header → X-Admin-From names the EID of the PSK identity → URI is the one we gave →
//   script status of the script in flight → next script or the end

import { SimtrustError } from '../../../lib/errors.js';
import {
  ADMIN_HEADER,
  ADMIN_PROTOCOL,
  type AdminSessionTrigger,
  CONTENT_TYPE_COMMAND,
  encodePskIdentity,
  parseAdminFrom,
  SCRIPT_STATUS,
  type ScriptStatus,
  targetedApplication,
} from '../../../lib/gp-amd-b-ram-over-http.js';
import { commandScript, decodeResponseScript } from '../../../lib/ts-102-226-remote-command.js';

export interface RamResult {
  readonly scriptStatus: ScriptStatus;
  /** The R-APDUs of the commands the card executed, in order (status word as a number). */
  readonly responses: readonly { readonly data: Uint8Array; readonly sw: number }[];
  /** The expanded response as the card posted it. */
  readonly raw: Uint8Array;
}

/** What the card answered to a raw-data job: the body it posted, as posted. */
export interface RamDataResult {
  readonly scriptStatus: ScriptStatus;
  readonly raw: Uint8Array;
}

export interface RamJobOptions {
  /** More jobs follow at once (ES3.SendData MoreToDo): hold the session open after this one. */
  readonly moreToDo?: boolean;
}

export interface RamOverHttpOptions {
  /** The administration URI the push names; scripts follow at `<adminUri>/<session>/<n>`. */
  readonly adminUri?: string;
  /** A queued script not delivered within this time fails with ERR_ESIM_RAM_TIMEOUT (default 5 min). */
  readonly deliveryMs?: number;
  /** At most this many scripts wait per eUICC (default 32). */
  readonly maxQueuedPerEid?: number;
  /** After a `moreToDo` job, how long the session waits for the next one (default 15 s). */
  readonly holdMs?: number;
  /** The listener's session time (scp81-listener sessionMs, default 120 s): no hold goes past it. */
  readonly sessionMs?: number;
  /** Jobs one session carries before it ends (default 32; the card's agent allows 64 exchanges). */
  readonly maxScriptsPerSession?: number;
  /**
   * A push after which no session opened within this time is sent again while jobs wait (default
   * 60 s, as long as an SMS PoR is awaited): a lost push SMS no longer strands the eUICC's jobs
   * until their delivery time.
   */
  readonly repushMs?: number;
}

interface Job {
  readonly eid: string;
  readonly targetAid: string;
  /** 'script': an expanded command script; 'data': raw bytes for the target (SCP03t). */
  readonly kind: 'script' | 'data';
  readonly body: Uint8Array;
  readonly moreToDo: boolean;
  readonly resolve: (r: RamResult) => void;
  readonly reject: (e: SimtrustError) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Uint8Array;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const plain = (status: number): AdminResponse => ({ status, headers: {}, body: EMPTY });

export class RamOverHttpSessions {
  readonly #o: Required<RamOverHttpOptions>;
  readonly #queues = new Map<string, Job[]>();
  readonly #open = new Map<string, AdminSession>();
  /** A session holding its answer for the next job of this EID: wakes it. */
  readonly #holders = new Map<string, () => void>();
  readonly #leftWaiting = new Set<(eid: string) => void>();
  /** Per EID: the timer that announces its jobs again when the last push brought no session. */
  readonly #repush = new Map<string, NodeJS.Timeout>();
  #sessions = 0;

  constructor(options: RamOverHttpOptions = {}) {
    this.#o = {
      adminUri: options.adminUri ?? '/gp/ram',
      deliveryMs: options.deliveryMs ?? 300_000,
      maxQueuedPerEid: options.maxQueuedPerEid ?? 32,
      holdMs: options.holdMs ?? 15_000,
      sessionMs: options.sessionMs ?? 120_000,
      maxScriptsPerSession: options.maxScriptsPerSession ?? 32,
      repushMs: options.repushMs ?? 60_000,
    };
  }

  /**
   * The sender pushed for `eid` (sent or not): should no session open within repushMs while its jobs
   * wait, they are announced again (onLeftWaiting), so the sender pushes again.
   */
  pushed(eid: string): void {
    const key = eid.toUpperCase();
    clearTimeout(this.#repush.get(key));
    const timer = setTimeout(() => {
      this.#repush.delete(key);
      if (this.pending(key) > 0 && !this.#open.has(key)) for (const l of this.#leftWaiting) l(key);
    }, this.#o.repushMs);
    timer.unref();
    this.#repush.set(key, timer);
  }

  get adminUri(): string {
    return this.#o.adminUri;
  }

  /**
   * Queue C-APDUs for an application of the eUICC; resolves with its R-APDUs once the card has run them
   * in an SCP81 session (the caller sends the push SMS that makes it connect).
   */
  queue(
    eid: string,
    targetAid: string,
    commands: readonly Uint8Array[],
    options: RamJobOptions = {},
  ): Promise<RamResult> {
    return this.#enqueue(eid, targetAid, 'script', commandScript(commands), options);
  }

  /**
   * Queue raw data for an application (SCP03t TLVs for an ISD-P): the body goes unwrapped with
   * X-Admin-Targeted-Application = `targetAid`; resolves with the body the card posted back.
   */
  async queueData(
    eid: string,
    targetAid: string,
    data: Uint8Array,
    options: RamJobOptions = {},
  ): Promise<RamDataResult> {
    const r = await this.#enqueue(eid, targetAid, 'data', data.slice(), options);
    return { scriptStatus: r.scriptStatus, raw: r.raw };
  }

  /**
   * Whether a job queued now needs a push to be collected: false while a session of this eUICC is
   * running (it takes the job at the card's next POST, or wakes from its hold) or a push is already
   * out for jobs that wait.
   */
  needsPush(eid: string): boolean {
    const key = eid.toUpperCase();
    if (this.pending(key) > 0) return false;
    const session = this.#open.get(key);
    return session === undefined || !session.running;
  }

  /** A session closed while jobs of this EID still wait (its push was spent): push again. */
  onLeftWaiting(listener: (eid: string) => void): () => void {
    this.#leftWaiting.add(listener);
    return () => this.#leftWaiting.delete(listener);
  }

  #enqueue(
    eid: string,
    targetAid: string,
    kind: Job['kind'],
    body: Uint8Array,
    options: RamJobOptions,
  ): Promise<RamResult> {
    const key = eid.toUpperCase();
    const queue = this.#queues.get(key) ?? [];
    if (queue.length >= this.#o.maxQueuedPerEid)
      return Promise.reject(
        new SimtrustError('ERR_ESIM_RAM_TIMEOUT', 'too many scripts wait for this eUICC'),
      );
    return new Promise<RamResult>((resolve, reject) => {
      const job: Job = {
        eid: key,
        targetAid: targetAid.toUpperCase(),
        kind,
        body,
        moreToDo: options.moreToDo === true,
        resolve,
        reject,
        timer: undefined,
      };
      job.timer = setTimeout(() => {
        const q = this.#queues.get(key);
        const at = q?.indexOf(job) ?? -1;
        if (q !== undefined && at >= 0) q.splice(at, 1);
        reject(new SimtrustError('ERR_ESIM_RAM_TIMEOUT', 'the eUICC did not open an SCP81 session in time'));
      }, this.#o.deliveryMs);
      job.timer.unref();
      queue.push(job);
      this.#queues.set(key, queue);
      this.#holders.get(key)?.();
    });
  }

  /** Scripts waiting for this eUICC. */
  pending(eid: string): number {
    return this.#queues.get(eid.toUpperCase())?.length ?? 0;
  }

  /**
   * A connection authenticated as `eid` (by its PSK identity); undefined while that eUICC already has
   * a session open (GP Amd B / SGP.02 §2.4.4: no parallel sessions).
   */
  open(eid: string): AdminSession | undefined {
    const key = eid.toUpperCase();
    if (this.#open.has(key)) return undefined;
    this.#sessions++;
    const o = this.#o;
    // The push worked: no push again for it.
    clearTimeout(this.#repush.get(key));
    this.#repush.delete(key);
    const session = new AdminSession(key, `${o.adminUri}/${this.#sessions.toString(36)}`, o.adminUri, {
      take: () => this.#take(key),
      closed: () => {
        this.#open.delete(key);
        const wake = this.#holders.get(key);
        this.#holders.delete(key);
        wake?.();
        if (this.pending(key) > 0) for (const l of this.#leftWaiting) l(key);
      },
      hold: (wake) => {
        if (wake === undefined) this.#holders.delete(key);
        else this.#holders.set(key, wake);
      },
      holdMs: o.holdMs,
      sessionMs: o.sessionMs,
      maxJobs: o.maxScriptsPerSession,
    });
    this.#open.set(key, session);
    return session;
  }

  #take(eid: string): Job | undefined {
    const queue = this.#queues.get(eid);
    const job = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.#queues.delete(eid);
    if (job?.timer !== undefined) clearTimeout(job.timer);
    return job;
  }
}

/**
 * The push's triggering parameters for an eUICC (GP Amd B §3.7): where to connect, the keyset, and the
 * administration URI. The PSK identity is SGP.02 Table 4's, carried as its text octets.
 */
export function adminSessionTrigger(o: {
  eid: string;
  isdRAid: string;
  kvn: number;
  kid: number;
  address: string;
  port: number;
  adminUri: string;
  bufferSize?: number;
}): AdminSessionTrigger {
  const identity = encodePskIdentity({ eid: o.eid, aid: o.isdRAid, kvn: o.kvn, kid: o.kid });
  return {
    connection: {
      bearer: { bearerType: 0x03, parameters: '' },
      bufferSize: o.bufferSize ?? 1400,
      transport: { protocol: 0x02, port: o.port },
      address: o.address.includes(':')
        ? { type: 'ipv6', address: o.address }
        : { type: 'ipv4', address: o.address },
    },
    security: { pskIdentity: Buffer.from(identity, 'latin1').toString('hex'), kvn: o.kvn, kid: o.kid },
    http: { uri: o.adminUri },
  };
}

interface SessionHooks {
  readonly take: () => Job | undefined;
  readonly closed: () => void;
  /** Register (or with undefined, drop) the waker of a held answer. */
  readonly hold: (wake: (() => void) | undefined) => void;
  readonly holdMs: number;
  readonly sessionMs: number;
  readonly maxJobs: number;
}

/** What a hold leaves between its end and the listener's session limit (ms). */
const HOLD_MARGIN_MS = 5_000;

/** One PSK-TLS connection's exchange. */
export class AdminSession {
  readonly #eid: string;
  readonly #base: string;
  readonly #adminUri: string;
  readonly #h: SessionHooks;
  readonly #openedAt = Date.now();
  #inFlight: Job | undefined;
  /** The last job answered asked to keep the session open (MoreToDo). */
  #moreToDo = false;
  #expected: string | undefined;
  #n = 0;
  #ended = false;
  #closedOnce = false;

  constructor(eid: string, base: string, adminUri: string, hooks: SessionHooks) {
    this.#eid = eid;
    this.#base = base;
    this.#adminUri = adminUri;
    this.#h = hooks;
  }

  /** The session still hands out jobs (not ended, connection not closed). */
  get running(): boolean {
    return !this.#ended && !this.#closedOnce;
  }

  /**
   * The listener's entry: as handle(), but when nothing waits and the last job was sent with
   * MoreToDo, the answer waits for the next job (or for the hold time, then 204 ends the session).
   */
  async respond(req: AdminRequest): Promise<AdminResponse> {
    const first = this.#answer(req, true);
    if (first !== 'hold') return first;
    const wait = Math.min(this.#h.holdMs, this.#h.sessionMs - HOLD_MARGIN_MS - (Date.now() - this.#openedAt));
    if (wait > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        timer.unref();
        this.#h.hold(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    this.#h.hold(undefined);
    if (!this.running) return plain(400);
    return this.#next() ?? this.#end(204);
  }

  /** One request, answered at once: the next job, or 204 (end) when none waits. */
  handle(req: AdminRequest): AdminResponse {
    const r = this.#answer(req, false);
    return r === 'hold' ? this.#end(204) : r;
  }

  #answer(req: AdminRequest, mayHold: boolean): AdminResponse | 'hold' {
    if (this.#ended) return plain(400);
    if (req.method !== 'POST') return plain(405);
    if (req.headers[ADMIN_HEADER.PROTOCOL] !== ADMIN_PROTOCOL) return plain(400);
    const from = parseAdminFrom(req.headers[ADMIN_HEADER.FROM] ?? '');
    // The card speaks for the EID its key belongs to, and for no other.
    if (!from.ok || from.value.eid !== this.#eid) return plain(403);
    if (req.path !== (this.#expected ?? this.#adminUri)) return plain(404);
    const job = this.#inFlight;
    if (job !== undefined) {
      this.#inFlight = undefined;
      const status = req.headers[ADMIN_HEADER.SCRIPT_STATUS];
      if (status === undefined || !(SCRIPT_STATUS as readonly string[]).includes(status)) {
        job.reject(
          new SimtrustError('ERR_ESIM_RAM_SESSION_FAILED', 'the card answered without a script status'),
        );
        return this.#end(400);
      }
      this.#moreToDo = job.moreToDo;
      const decoded =
        job.kind === 'data' ? { ok: true as const, value: { items: [] } } : decodeResponseScript(req.body);
      if (status === 'ok' && !decoded.ok) {
        job.reject(
          new SimtrustError('ERR_ESIM_RAM_SESSION_FAILED', 'the card posted an unreadable response script'),
        );
      } else {
        const responses = decoded.ok
          ? decoded.value.items.flatMap((i) =>
              i.type === 'r-apdu'
                ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
                : [],
            )
          : [];
        job.resolve({ scriptStatus: status as ScriptStatus, responses, raw: req.body.slice() });
      }
    }
    const next = this.#next();
    if (next !== undefined) return next;
    return mayHold && this.#moreToDo && this.#n < this.#h.maxJobs ? 'hold' : this.#end(204);
  }

  /** The next job's response; undefined when none waits. */
  #next(): AdminResponse | undefined {
    // The card's agent bounds its exchanges per session: end this one, a new push carries the rest.
    if (this.#n >= this.#h.maxJobs) return this.#end(204);
    const next = this.#h.take();
    if (next === undefined) return undefined;
    this.#inFlight = next;
    this.#n++;
    this.#expected = `${this.#base}/${this.#n}`;
    return {
      status: 200,
      headers: {
        'Content-Type': CONTENT_TYPE_COMMAND,
        'X-Admin-Protocol': ADMIN_PROTOCOL,
        'X-Admin-Next-URI': this.#expected,
        'X-Admin-Targeted-Application': targetedApplication(next.targetAid),
      },
      body: next.body,
    };
  }

  /** The connection ended: a script in flight has no answer. */
  close(): void {
    if (this.#closedOnce) return;
    this.#closedOnce = true;
    this.#ended = true;
    this.#h.closed();
    const job = this.#inFlight;
    this.#inFlight = undefined;
    job?.reject(
      new SimtrustError('ERR_ESIM_RAM_SESSION_FAILED', 'the SCP81 session ended before the card answered'),
    );
  }

  #end(status: number): AdminResponse {
    this.#ended = true;
    return { status, headers: { 'X-Admin-Protocol': ADMIN_PROTOCOL }, body: EMPTY };
  }
}

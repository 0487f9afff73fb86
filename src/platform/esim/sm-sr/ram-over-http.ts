// The SM-SR's side of RAM over HTTP (GP Amd B, SCP81; SGP.02 §2.4.4): scripts queued per eUICC wait
// until the card opens its PSK-TLS session (after the push SMS), then travel one per HTTP response —
// 200 + expanded remote command + X-Admin-Targeted-Application + X-Admin-Next-URI — and the card's next
// POST brings the expanded response (X-Admin-Script-Status). When nothing is left the SM-SR answers 204
// without X-Admin-Next-URI, which ends the session.
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

export interface RamOverHttpOptions {
  /** The administration URI the push names; scripts follow at `<adminUri>/<session>/<n>`. */
  readonly adminUri?: string;
  /** A queued script not delivered within this time fails with ERR_ESIM_RAM_TIMEOUT (default 5 min). */
  readonly deliveryMs?: number;
  /** At most this many scripts wait per eUICC (default 32). */
  readonly maxQueuedPerEid?: number;
}

interface Job {
  readonly eid: string;
  readonly targetAid: string;
  readonly script: Uint8Array;
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
  readonly #open = new Set<string>();
  #sessions = 0;

  constructor(options: RamOverHttpOptions = {}) {
    this.#o = {
      adminUri: options.adminUri ?? '/gp/ram',
      deliveryMs: options.deliveryMs ?? 300_000,
      maxQueuedPerEid: options.maxQueuedPerEid ?? 32,
    };
  }

  get adminUri(): string {
    return this.#o.adminUri;
  }

  /**
   * Queue C-APDUs for an application of the eUICC; resolves with its R-APDUs once the card has run them
   * in an SCP81 session (the caller sends the push SMS that makes it connect).
   */
  queue(eid: string, targetAid: string, commands: readonly Uint8Array[]): Promise<RamResult> {
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
        script: commandScript(commands),
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
    this.#open.add(key);
    this.#sessions++;
    return new AdminSession(
      key,
      `${this.#o.adminUri}/${this.#sessions.toString(36)}`,
      this.#o.adminUri,
      () => this.#take(key),
      () => this.#open.delete(key),
    );
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

/** One PSK-TLS connection's exchange. */
export class AdminSession {
  readonly #eid: string;
  readonly #base: string;
  readonly #adminUri: string;
  readonly #take: () => Job | undefined;
  readonly #closed: () => void;
  #inFlight: Job | undefined;
  #expected: string | undefined;
  #n = 0;
  #ended = false;
  #closedOnce = false;

  constructor(eid: string, base: string, adminUri: string, take: () => Job | undefined, closed: () => void) {
    this.#closed = closed;
    this.#eid = eid;
    this.#base = base;
    this.#adminUri = adminUri;
    this.#take = take;
  }

  handle(req: AdminRequest): AdminResponse {
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
      const decoded = decodeResponseScript(req.body);
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
    const next = this.#take();
    if (next === undefined) return this.#end(204);
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
      body: next.script,
    };
  }

  /** The connection ended: a script in flight has no answer. */
  close(): void {
    if (this.#closedOnce) return;
    this.#closedOnce = true;
    this.#ended = true;
    this.#closed();
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

// The card's GP Amd B administration agent (SCP81, "RAM over HTTP", SGP.02 §2.4.4): the push SMS
// carries the administration session triggering parameters; the agent opens a BIP channel to the
// address in them, runs Node's PSK-TLS client over that channel, and plays the half-duplex HTTP
// exchange: POST (X-Admin-Protocol, X-Admin-From) → 200 with an expanded remote command for the
// application named by X-Admin-Targeted-Application → POST its expanded response with
// X-Admin-Script-Status → … → 204 without X-Admin-Next-URI ends the session, and the channel closes.
//
// It is a toolkit applet (TS 102 241 shape): events are the push (formatted SMS-PP at its TAR), Data
// available and Channel status (BIP event download), and the proactive handler becoming available —
// which is how bytes the TLS engine produced between commands are sent: the engine runs
// asynchronously, so the agent asks for the handler and the terminal's STATUS polling fetches the
// SEND DATA. The steps of one session:
//   trigger → decode '81' → keys (KVN 40–4F) → OPEN CHANNEL → TLS handshake → POST … → CLOSE CHANNEL

import { connect, type TLSSocket } from 'node:tls';
import {
  ADMIN_HEADER,
  ADMIN_PROTOCOL,
  type AdminSessionTrigger,
  adminFrom,
  CONTENT_TYPE_RESPONSE,
  decodeAdminSessionTrigger,
  encodePskIdentity,
  type HttpPostParameters,
  isScp81Kvn,
  PSK_TLS_CIPHERS,
  parseTargetedApplication,
  type RasConnection,
  type ScriptStatus,
} from '../../lib/gp-amd-b-ram-over-http.js';
import {
  BearerDescriptionTlv,
  CHANNEL_STATUS_INFO,
  ChannelStatusTlv,
  DEVICE_IDENTITY,
  OtherAddressTlv,
  TransportLevelTlv,
} from '../../lib/ts-102-223-tlv.js';
import { runRemoteFileScript } from '../ota/ts-102-226-rfm.js';
import { MAX_CHANNEL_DATA } from '../toolkit/ts-102-223-bip-terminal.js';
import {
  BIP_QUALIFIER,
  EVENT,
  isSuccessfulResult,
  PRO_CMD,
  type ToolkitEvent,
} from '../toolkit/ts-102-223-constants.js';
import type {
  FileView,
  ProactiveHandler,
  ToolkitApplet,
  ToolkitContext,
  ToolkitRegistry,
  ToolkitSession,
} from '../toolkit/ts-102-241-applet-api.js';
import { BipStream } from './scp81-bip-stream.js';
import { encodeRequest, type HttpResponse, ResponseReader } from './scp81-http-client.js';

/**
 * An application the SM-SR can address: expanded remote command in, expanded response out (TS 102 226
 * §5.2); `session.kvn` is the SCP81 key set (PSK) of the TLS session that carried it.
 */
export type RemoteAdminHandler = (
  expandedCommand: Uint8Array,
  session: { readonly kvn: number },
) => Uint8Array;

/**
 * The AID RAM over HTTP uses for remote file management: ETSI RID 'A000000009', TAR 'B00000' in octets
 * 13–15 as TS 101 220 §6 places a TAR in an AID. To verify against TS 101 220 Annex E / TS 102 226 §9.
 */
export const RFM_AID = 'A0000000090003FFFFFFFF89B0000000';

export interface Scp81AgentOptions {
  readonly eid: string;
  /** The security domain the agent belongs to (the ISD-R): X-Admin-From and the default target. */
  readonly isdRAid: string;
  /** The PSK of SCP81 keyset `kvn` (40–4F), key `kid`; undefined when the card has none. */
  readonly psk: (kvn: number, kid: number) => Uint8Array | undefined;
  /** Used for what the trigger leaves out ('81 00' = all of it). */
  readonly defaults?: {
    readonly connection?: RasConnection;
    readonly http?: HttpPostParameters;
    readonly keyset?: { readonly kvn: number; readonly kid: number };
  };
  /** The card gives a session up after this long (default 120 s). */
  readonly sessionMs?: number;
  /** Every session's end, for the owner's log and tests. */
  readonly onSessionEnd?: (outcome: SessionOutcome) => void;
}

export interface SessionOutcome {
  readonly ok: boolean;
  /** Why it failed (UPPER_SNAKE), absent on success. */
  readonly code?: string;
  /** Scripts executed (200 responses answered). */
  readonly scripts: number;
}

const MAX_EXCHANGES = 64;

/** What a push leads to: where to connect, the HTTP parameters, the PSK and its identity and KVN. */
interface Plan {
  readonly connection: RasConnection;
  readonly http: HttpPostParameters;
  readonly identity: string;
  readonly psk: Uint8Array;
  readonly kvn: number;
}

interface Session {
  readonly stream: BipStream;
  /** The SCP81 key set (KVN) of the PSK. */
  readonly kvn: number;
  readonly tls: TLSSocket;
  readonly reader: ResponseReader;
  readonly connection: RasConnection;
  readonly http: HttpPostParameters;
  /** Channel device identity: 0x21 + channel − 1. */
  readonly channelDevice: keyof typeof DEVICE_IDENTITY;
  waiting: ((r: HttpResponse | Error) => void) | undefined;
  closed: boolean;
  dropped: boolean;
  outcome: SessionOutcome | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class Scp81AdminAgent implements ToolkitApplet {
  readonly #o: Scp81AgentOptions;
  readonly #targets = new Map<string, RemoteAdminHandler>();
  #registry: ToolkitRegistry | undefined;
  #files: FileView | undefined;
  #session: Session | undefined;

  constructor(options: Scp81AgentOptions) {
    this.#o = options;
  }

  /** Make an application addressable by X-Admin-Targeted-Application (the eUICC registers the ISD-R). */
  register(aid: string, handler: RemoteAdminHandler): void {
    this.#targets.set(aid.toUpperCase(), handler);
  }

  /** A session is running (no parallel sessions: GP Amd B §3.2). */
  get busy(): boolean {
    return this.#session !== undefined;
  }

  install(registry: ToolkitRegistry): void {
    this.#registry = registry;
    registry.setEvent(EVENT.EVENT_FORMATTED_SMS_PP_ENV);
    registry.setEvent(EVENT.EVENT_EVENT_DOWNLOAD_DATA_AVAILABLE);
    registry.setEvent(EVENT.EVENT_EVENT_DOWNLOAD_CHANNEL_STATUS);
    registry.setEvent(EVENT.EVENT_PROFILE_DOWNLOAD);
  }

  *processToolkit(event: ToolkitEvent, ctx: ToolkitContext): ToolkitSession {
    switch (event) {
      case EVENT.EVENT_FORMATTED_SMS_PP_ENV: {
        const data = ctx.envelope?.getSecuredData();
        if (data !== undefined) yield* this.trigger(data, ctx);
        return;
      }
      case EVENT.EVENT_EVENT_DOWNLOAD_DATA_AVAILABLE:
        yield* this.#receive(ctx);
        return;
      case EVENT.EVENT_EVENT_DOWNLOAD_CHANNEL_STATUS: {
        const status = ctx.envelope?.findTlv(0x38);
        const decoded = status === undefined ? undefined : ChannelStatusTlv.codec.decode(status);
        const session = this.#session;
        if (decoded?.ok && decoded.value.info === CHANNEL_STATUS_INFO.LINK_DROPPED && session !== undefined) {
          session.dropped = true;
          session.stream.hangUp();
          this.#finish(session, { ok: false, code: 'SCP81_LINK_DROPPED', scripts: 0 });
          // The channel is still open on the terminal's side until the card closes it.
          this.#registry?.setEvent(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE);
        }
        return;
      }
      case EVENT.EVENT_PROFILE_DOWNLOAD: {
        // TERMINAL PROFILE: the terminal started afresh (a reset), so its channels are gone.
        const session = this.#session;
        if (session !== undefined) {
          this.#session = undefined;
          session.closed = true;
          this.#abort(session, 'SCP81_CARD_RESET');
        }
        return;
      }
      case EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE:
        yield* this.#flush(ctx.proactive);
        return;
      default:
        return;
    }
  }

  /**
   * The push: the '81' triggering parameters (the secured data of the SMS to the ISD-R TAR). An eUICC
   * whose ISD-R owns that TAR calls this for secured data starting with '81'.
   */
  *trigger(secured: Uint8Array, ctx: ToolkitContext): ToolkitSession {
    if (this.#session !== undefined) return;
    const trigger = decodeAdminSessionTrigger(secured);
    if (!trigger.ok) return this.#report({ ok: false, code: 'SCP81_BAD_TRIGGER', scripts: 0 });
    const plan = this.#plan(trigger.value);
    if (typeof plan === 'string') return this.#report({ ok: false, code: plan, scripts: 0 });
    const p = ctx.proactive;
    const c = plan.connection;
    // TS 102 223 §6.6.27 OPEN CHANNEL, UICC in TCP client mode: bearer, buffer, transport, destination.
    p.init(PRO_CMD.OPEN_CHANNEL, BIP_QUALIFIER.OPEN_IMMEDIATE, 'terminal');
    p.appendTlv(0xb5, BearerDescriptionTlv.codec.encode(c.bearer));
    p.appendTlv(0xb9, Uint8Array.of(c.bufferSize >> 8, c.bufferSize & 0xff));
    p.appendTlv(0xbc, TransportLevelTlv.codec.encode(c.transport));
    p.appendTlv(0xbe, OtherAddressTlv.codec.encode(c.address));
    const opened = yield* p.send();
    const status = opened.findTlv(0x38);
    const decoded = status === undefined ? undefined : ChannelStatusTlv.codec.decode(status);
    if (!isSuccessfulResult(opened.getGeneralResult()) || !decoded?.ok || decoded.value.channel === 0)
      return this.#report({ ok: false, code: 'SCP81_CHANNEL_NOT_OPENED', scripts: 0 });
    this.#files = ctx.files;
    this.#start(plan, decoded.value.channel);
  }

  #plan(t: AdminSessionTrigger): Plan | string {
    const d = this.#o.defaults;
    const connection = t.connection ?? d?.connection;
    const http = t.http ?? d?.http;
    if (connection === undefined || http === undefined) return 'SCP81_NO_CONNECTION_PARAMETERS';
    const keyset = t.security === undefined ? d?.keyset : { kvn: t.security.kvn, kid: t.security.kid };
    if (keyset === undefined || !isScp81Kvn(keyset.kvn)) return 'SCP81_NO_KEYSET';
    const psk = this.#o.psk(keyset.kvn, keyset.kid);
    if (psk === undefined || psk.length < 16) return 'SCP81_NO_KEYSET';
    // The identity the trigger gives (its octets are the psk_identity text), else SGP.02 Table 4's.
    const identity =
      t.security !== undefined && t.security.pskIdentity !== ''
        ? Buffer.from(t.security.pskIdentity, 'hex').toString('latin1')
        : encodePskIdentity({ eid: this.#o.eid, aid: this.#o.isdRAid, ...keyset });
    return { connection, http, identity, psk, kvn: keyset.kvn };
  }

  #start(plan: Plan, channel: number): void {
    const stream = new BipStream(() => this.#registry?.setEvent(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE));
    const psk = Buffer.from(plan.psk);
    const tls = connect({
      socket: stream,
      pskCallback: () => ({ psk, identity: plan.identity }),
      ciphers: PSK_TLS_CIPHERS,
      minVersion: 'TLSv1.2' as const,
      maxVersion: 'TLSv1.2' as const,
      // PSK suites authenticate the server by the key; there is no certificate to check.
      checkServerIdentity: () => undefined,
    });
    const session: Session = {
      stream,
      tls,
      reader: new ResponseReader(),
      kvn: plan.kvn,
      connection: plan.connection,
      http: plan.http,
      channelDevice: channelDevice(channel),
      waiting: undefined,
      closed: false,
      dropped: false,
      outcome: undefined,
      timer: undefined,
    };
    this.#session = session;
    session.timer = setTimeout(
      () => this.#abort(session, 'SCP81_SESSION_TIMEOUT'),
      this.#o.sessionMs ?? 120_000,
    );
    session.timer.unref();
    tls.on('data', (chunk: Buffer) => {
      session.reader.push(new Uint8Array(chunk));
      this.#deliverResponse(session);
    });
    tls.on('error', () => this.#abort(session, 'SCP81_TLS_FAILED'));
    tls.on('close', () => this.#abort(session, 'SCP81_TLS_CLOSED'));
    tls.once('secureConnect', () => {
      this.#exchange(session).then(
        (scripts) => {
          this.#finish(session, { ok: true, scripts });
          tls.end();
        },
        (e: unknown) => this.#abort(session, e instanceof AgentError ? e.code : 'SCP81_FAILED'),
      );
    });
  }

  /** The HTTP exchange (GP Amd B §3.3–§3.5); resolves with the number of scripts run. */
  async #exchange(session: Session): Promise<number> {
    const { tls, http } = session;
    const host = http.host ?? hostOf(session.connection);
    let uri = http.uri;
    let answer: { status: ScriptStatus; body: Uint8Array } | undefined;
    let scripts = 0;
    for (let i = 0; i < MAX_EXCHANGES; i++) {
      const headers: [string, string][] = [
        ['X-Admin-Protocol', ADMIN_PROTOCOL],
        ['X-Admin-From', adminFrom(this.#o.eid, this.#o.isdRAid)],
      ];
      if (answer !== undefined)
        headers.push(['Content-Type', CONTENT_TYPE_RESPONSE], ['X-Admin-Script-Status', answer.status]);
      tls.write(encodeRequest({ uri, host, headers, body: answer?.body ?? new Uint8Array(0) }));
      const response = await this.#nextResponse(session);
      const next = response.headers.get(ADMIN_HEADER.NEXT_URI);
      if (response.status === 204) {
        if (next === undefined || next === '') return scripts;
        uri = next;
        answer = undefined;
        continue;
      }
      if (response.status !== 200 || next === undefined || next === '')
        throw new AgentError('SCP81_HTTP_STATUS');
      const named = response.headers.get(ADMIN_HEADER.TARGETED_APPLICATION);
      const target =
        named === undefined
          ? { ok: true as const, value: this.#o.isdRAid.toUpperCase() }
          : parseTargetedApplication(named);
      const handler = target.ok ? this.#handlerFor(target.value) : undefined;
      answer =
        handler === undefined
          ? { status: 'unknown-application', body: new Uint8Array(0) }
          : { status: 'ok', body: handler(response.body, { kvn: session.kvn }) };
      scripts++;
      uri = next;
    }
    throw new AgentError('SCP81_TOO_MANY_EXCHANGES');
  }

  #handlerFor(aid: string): RemoteAdminHandler | undefined {
    const registered = this.#targets.get(aid);
    if (registered !== undefined) return registered;
    const files = this.#files;
    if (aid === RFM_AID && files !== undefined) return (command) => runRemoteFileScript(files, command);
    return undefined;
  }

  #nextResponse(session: Session): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      session.waiting = (r) => (r instanceof Error ? reject(r) : resolve(r));
      this.#deliverResponse(session);
    });
  }

  #deliverResponse(session: Session): void {
    const waiting = session.waiting;
    if (waiting === undefined) return;
    const r = session.reader.next();
    if (r.ok && r.value === undefined) return;
    session.waiting = undefined;
    waiting(r.ok ? (r.value as HttpResponse) : new AgentError(r.error.code));
  }

  /** SEND DATA what the TLS engine wrote; CLOSE CHANNEL once it is done and everything went out. */
  *#flush(p: ProactiveHandler): ToolkitSession {
    const session = this.#session;
    if (session === undefined || session.closed) return;
    const chunk = Math.max(1, Math.min(MAX_CHANNEL_DATA, session.connection.bufferSize));
    while (session.stream.pending > 0 && !session.dropped) {
      p.init(PRO_CMD.SEND_DATA, BIP_QUALIFIER.SEND_IMMEDIATE, session.channelDevice);
      p.appendTlv(0xb6, session.stream.takeOutgoing(chunk));
      const sent = yield* p.send();
      if (!isSuccessfulResult(sent.getGeneralResult())) {
        session.dropped = true;
        this.#abort(session, 'SCP81_SEND_FAILED');
      }
    }
    if (
      (session.stream.ended || session.outcome !== undefined) &&
      (session.stream.pending === 0 || session.dropped)
    ) {
      session.closed = true;
      if (this.#session === session) this.#session = undefined;
      p.init(PRO_CMD.CLOSE_CHANNEL, 0, session.channelDevice);
      yield* p.send();
    }
  }

  /** Data available: RECEIVE DATA until the terminal's buffer is empty, into the TLS engine. */
  *#receive(ctx: ToolkitContext): ToolkitSession {
    const session = this.#session;
    if (session === undefined) return;
    let available = ctx.envelope?.findTlv(0x37)?.[0] ?? 0;
    const p = ctx.proactive;
    for (let i = 0; available > 0 && i < 64; i++) {
      p.init(PRO_CMD.RECEIVE_DATA, 0, session.channelDevice);
      p.appendTlv(0xb7, Uint8Array.of(Math.min(available, MAX_CHANNEL_DATA)));
      const r = yield* p.send();
      const data = r.findTlv(0x36);
      if (data === undefined || !isSuccessfulResult(r.getGeneralResult())) break;
      session.stream.deliver(data);
      available = r.findTlv(0x37)?.[0] ?? 0;
    }
  }

  /** The session failed: stop TLS, and close the channel through the toolkit. */
  #abort(session: Session, code: string): void {
    this.#finish(session, { ok: false, code, scripts: 0 });
    const waiting = session.waiting;
    session.waiting = undefined;
    waiting?.(new AgentError(code));
    session.tls.destroy();
    this.#registry?.setEvent(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE);
  }

  #finish(session: Session, outcome: SessionOutcome): void {
    if (session.outcome !== undefined) return;
    session.outcome = outcome;
    if (session.timer !== undefined) clearTimeout(session.timer);
    this.#report(outcome);
  }

  #report(outcome: SessionOutcome): void {
    this.#o.onSessionEnd?.(outcome);
  }
}

class AgentError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

function channelDevice(channel: number): keyof typeof DEVICE_IDENTITY {
  const name = `channel${channel}`;
  return (name in DEVICE_IDENTITY ? name : 'channel1') as keyof typeof DEVICE_IDENTITY;
}

const hostOf = (c: RasConnection): string =>
  c.address.type === 'ipv4'
    ? `${c.address.address}:${c.transport.port}`
    : `[${c.address.address}]:${c.transport.port}`;

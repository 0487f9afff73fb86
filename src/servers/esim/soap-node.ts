// One SGP.02 off-card entity on the wire (SM-DP, SM-SR, EUM, operator): an HTTPS listener that
// requires a client certificate and an HTTPS client that presents one — SOAP 1.2 over mutual TLS
// (SGP.02 §2.3 / Annex B). SM-DP and SM-SR in one process are two nodes on two ports; in two
// processes of two operators they are the same two nodes: the code path does not change.
//
// Threats and what stops them:
// - an unknown party calls us: every request must come over TLS with a client certificate whose
//   SHA-256 fingerprint is one of the configured partners' certificates (pinned; TLS proves the
//   key), else 403 with the reason, before the body is read;
// - we talk to an impostor: the client checks the server certificate against the partner's pinned
//   certificate before a byte of the request leaves;
// - a partner redirects our responses elsewhere (SSRF): an asynchronous response goes only to the
//   ReplyTo equal to the partner's configured URL;
// - exhaustion: body size (413 as soon as it is known), connection count, header/request timeouts,
//   XML limits (safe-xml), bounded replay memory; a bad message never throws out of the listener.
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Clock, systemClock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type {
  EsInterface,
  MessageBodies,
  MessageElement,
} from '../../platform/esim/es-soap/sgp-02-messages.js';
import { MESSAGE_BY_ELEMENT } from '../../platform/esim/es-soap/sgp-02-messages.js';
import {
  failed,
  REASON_CODES,
  type ReasonCode,
  SUBJECT_CODES,
  type SubjectCode,
} from '../../platform/esim/es-soap/sgp-02-status-codes.js';
import {
  type NotificationElement,
  type RequestElement,
  type ResponseOf,
  SoapEndpoint,
  type SoapHandlers,
} from '../../platform/esim/es-soap/soap-endpoint.js';
import {
  type DecodedSoapMessage,
  decodeSoapFault,
  encodeSoapFault,
  encodeSoapMessage,
  newMessageId,
  type SoapFault,
  type SoapMessage,
} from '../../platform/esim/es-soap/soap-envelope.js';

export interface SoapPartner {
  /** Name used in logs and handler contexts (e.g. `sm-sr-operator-1`). */
  readonly name: string;
  /** The partner's listener URL: where we send, and the only ReplyTo it may give us. */
  readonly url: string;
  /** The partner's TLS certificate (PEM): pinned for its client and server side. */
  readonly certificatePem: string;
  /** Interfaces the partner may call here (default: all), e.g. `['ES1']` for an EUM. */
  readonly interfaces?: readonly EsInterface[];
}

export interface SoapNodeLimits {
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Simultaneous TLS connections to the listener. */
  readonly maxConnections: number;
  /** Whole request (headers and body) must arrive within this time. */
  readonly requestTimeoutMs: number;
  /** Sockets per partner for outgoing calls. */
  readonly maxSocketsPerPartner: number;
  /** How long `call` waits for the asynchronous `*Response`. */
  readonly responseTimeoutMs: number;
}

export const DEFAULT_SOAP_NODE_LIMITS: SoapNodeLimits = Object.freeze({
  maxBodyBytes: 1_048_576,
  maxConnections: 256,
  requestTimeoutMs: 30_000,
  maxSocketsPerPartner: 8,
  responseTimeoutMs: 300_000,
});

export interface SoapNodeLog {
  warn(object: Record<string, unknown>, message: string): void;
}

export interface SoapNodeOptions {
  readonly name: string;
  /** Our own TLS key and certificate (PEM), for the listener and as client certificate. */
  readonly tls: { readonly keyPem: string; readonly certificatePem: string };
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly path?: string;
  /** Our URL as partners know it (wsa:From / ReplyTo); default `https://<host>:<port><path>`. */
  readonly publicUrl?: string;
  readonly partners: readonly SoapPartner[];
  readonly handlers: SoapHandlers;
  readonly clock?: Clock;
  readonly limits?: Partial<SoapNodeLimits>;
  readonly log?: SoapNodeLog;
}

const CONTENT_TYPE = 'application/soap+xml; charset=utf-8';

interface Pending {
  readonly partner: string;
  readonly expected: MessageElement;
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

interface PinnedPartner extends SoapPartner {
  readonly fingerprint256: string;
  readonly certificate: X509Certificate;
  readonly agent: Agent;
}

export class SoapNode {
  readonly name: string;
  private readonly limits: SoapNodeLimits;
  private readonly clock: Clock;
  private readonly partnersByName = new Map<string, PinnedPartner>();
  private readonly partnersByFingerprint = new Map<string, PinnedPartner>();
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private endpoint!: SoapEndpoint;
  private server!: Server;
  private selfUrl = '';

  private constructor(private readonly options: SoapNodeOptions) {
    this.name = options.name;
    this.limits = { ...DEFAULT_SOAP_NODE_LIMITS, ...options.limits };
    this.clock = options.clock ?? systemClock;
    for (const partner of options.partners) this.addPartner(partner);
  }

  /**
   * Configure (or replace) a partner: its URL and pinned certificate. Connections already open to
   * a replaced partner are closed.
   */
  addPartner(partner: SoapPartner): void {
    const certificate = new X509Certificate(partner.certificatePem);
    const previous = this.partnersByName.get(partner.name);
    if (previous !== undefined) {
      previous.agent.destroy();
      this.partnersByFingerprint.delete(previous.fingerprint256);
    }
    const pinned: PinnedPartner = {
      ...partner,
      certificate,
      fingerprint256: certificate.fingerprint256,
      agent: new Agent({
        key: this.options.tls.keyPem,
        cert: this.options.tls.certificatePem,
        // Trust is the pinned fingerprint, checked in `post` before anything is written.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        keepAlive: true,
        maxSockets: this.limits.maxSocketsPerPartner,
        // No TLS session resumption: on a resumed session Node's getPeerCertificate() is empty, so
        // every connection after the first would fail the pin (the certificate must be seen).
        maxCachedSessions: 0,
      }),
    };
    this.partnersByName.set(partner.name, pinned);
    this.partnersByFingerprint.set(pinned.fingerprint256, pinned);
  }

  /**
   * Forget a partner (removed from the partners registry): its connections are closed, its
   * certificate no longer authenticates, calls to it fail. Unknown names are ignored.
   */
  removePartner(name: string): void {
    const previous = this.partnersByName.get(name);
    if (previous === undefined) return;
    previous.agent.destroy();
    this.partnersByName.delete(name);
    this.partnersByFingerprint.delete(previous.fingerprint256);
  }

  /** Start the listener. */
  static async start(options: SoapNodeOptions): Promise<SoapNode> {
    const node = new SoapNode(options);
    await node.listen();
    return node;
  }

  /** Our listener URL (what partners must configure as our `url`). */
  get url(): string {
    return this.selfUrl;
  }

  private async listen(): Promise<void> {
    const path = this.options.path ?? '/esim/soap';
    this.server = createServer(
      {
        key: this.options.tls.keyPem,
        cert: this.options.tls.certificatePem,
        requestCert: true,
        // The partner list, not a CA, decides (see `authenticate`); a missing or unknown
        // certificate gets a 403 that says why instead of a bare handshake alert.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        requestTimeout: this.limits.requestTimeoutMs,
        headersTimeout: Math.min(this.limits.requestTimeoutMs, 10_000),
      },
      (req, res) => this.onRequest(req, res, path),
    );
    this.server.maxConnections = this.limits.maxConnections;
    this.server.maxHeadersCount = 64;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.selfUrl = this.options.publicUrl ?? `https://${host}:${address.port}${path}`;
    this.endpoint = new SoapEndpoint({
      clock: this.clock,
      handlers: this.options.handlers,
      selfAddress: this.selfUrl,
      replyToAllowed: (peer, replyTo) => this.partnersByName.get(peer)?.url === replyTo,
      allowed: (peer, spec) => {
        const interfaces = this.partnersByName.get(peer)?.interfaces;
        return interfaces === undefined || interfaces.includes(spec.iface);
      },
      onResponse: (message, peer) => this.onResponse(message, peer),
      xmlLimits: { maxChars: this.limits.maxBodyBytes, maxElements: 20_000, maxDepth: 48 },
      onHandlerError: (error, element) =>
        this.options.log?.warn({ err: error, element, node: this.name }, 'SGP.02 handler failed'),
    });
  }

  /** Stop listening, fail pending calls, close partner connections. */
  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SimtrustError('ERR_ESIM_SOAP_TRANSPORT', `${this.name} closed before the response came`));
      this.pending.delete(id);
    }
    await Promise.allSettled([...this.inFlight]);
    for (const partner of this.partnersByName.values()) partner.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------------------------------
  // Outgoing

  /**
   * Call a function of a partner: send the request, wait for the synchronous acknowledgement, then
   * for the asynchronous `*Response` (RelatesTo = our MessageID). Resolves with the response body,
   * whatever its FunctionExecutionStatus; rejects when the partner refuses the message
   * (ERR_ESIM_SOAP_REJECTED) or cannot be reached / does not answer (ERR_ESIM_SOAP_TRANSPORT).
   */
  async call<R extends RequestElement>(
    partnerName: string,
    element: R,
    body: MessageBodies[R],
    options: { timeoutMs?: number } = {},
  ): Promise<MessageBodies[ResponseOf<R>]> {
    const partner = this.partner(partnerName);
    const spec = MESSAGE_BY_ELEMENT.get(element);
    const expected = `${element.slice(0, -'Request'.length)}Response` as MessageElement;
    if (spec === undefined)
      throw new SimtrustError('ERR_ESIM_SOAP_INVALID_MESSAGE', `unknown message ${element}`);
    const messageId = newMessageId();
    const xml = encodeSoapMessage({
      addressing: {
        action: spec.action,
        messageId,
        to: partner.url,
        from: this.selfUrl,
        replyTo: this.selfUrl,
      },
      message: { element, body } as SoapMessage['message'],
    });
    const response = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        reject(new SimtrustError('ERR_ESIM_SOAP_TRANSPORT', `no ${expected} from ${partner.name} in time`));
      }, options.timeoutMs ?? this.limits.responseTimeoutMs);
      timer.unref();
      this.pending.set(messageId, { partner: partner.name, expected, resolve, reject, timer });
    });
    // The wait may end (timeout, close) while the POST is still going: handled here, awaited below.
    response.catch(() => undefined);
    try {
      await this.post(partner, xml);
    } catch (e) {
      const p = this.pending.get(messageId);
      if (p !== undefined) {
        clearTimeout(p.timer);
        this.pending.delete(messageId);
      }
      response.catch(() => undefined);
      throw e;
    }
    return (await response) as MessageBodies[ResponseOf<R>];
  }

  /** Send a notification (no response function; the acknowledgement is the end). */
  async notify<N extends NotificationElement>(
    partnerName: string,
    element: N,
    body: MessageBodies[N],
  ): Promise<void> {
    const partner = this.partner(partnerName);
    const spec = MESSAGE_BY_ELEMENT.get(element);
    if (spec === undefined)
      throw new SimtrustError('ERR_ESIM_SOAP_INVALID_MESSAGE', `unknown message ${element}`);
    const xml = encodeSoapMessage({
      addressing: { action: spec.action, messageId: newMessageId(), to: partner.url, from: this.selfUrl },
      message: { element, body } as SoapMessage['message'],
    });
    await this.post(partner, xml);
  }

  /** POST a SOAP text to a partner over pinned mutual TLS; resolves on 200/202. */
  postRaw(partnerName: string, xml: string): Promise<void> {
    return this.post(this.partner(partnerName), xml);
  }

  private partner(name: string): PinnedPartner {
    const partner = this.partnersByName.get(name);
    if (partner === undefined)
      throw new SimtrustError('ERR_ESIM_SOAP_TRANSPORT', `no partner ${name} is configured`);
    return partner;
  }

  private post(partner: PinnedPartner, xml: string): Promise<void> {
    const payload = Buffer.from(xml, 'utf8');
    const url = new URL(partner.url);
    return new Promise<void>((resolve, reject) => {
      const req = httpsRequest({
        agent: partner.agent,
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { 'content-type': CONTENT_TYPE, 'content-length': payload.length },
        timeout: this.limits.requestTimeoutMs,
      });
      const transport = (message: string, cause?: unknown) =>
        new SimtrustError(
          'ERR_ESIM_SOAP_TRANSPORT',
          `${partner.name}: ${message}`,
          cause === undefined ? undefined : { cause },
        );
      req.on('error', (e) => reject(transport(e.message, e)));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('socket', (socket) => {
        const tls = socket as TLSSocket;
        const check = () => {
          // Pinning: the server must hold exactly the partner's certificate.
          const peer = tls.getPeerCertificate();
          if (peer?.fingerprint256 !== partner.fingerprint256) {
            req.destroy(new Error('the server certificate is not the pinned partner certificate'));
            return;
          }
          req.end(payload);
        };
        if (tls.encrypted && !tls.connecting && tls.getPeerCertificate()?.fingerprint256 !== undefined)
          check();
        else tls.once('secureConnect', check);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.limits.maxBodyBytes) res.destroy(new Error('answer too large'));
          else chunks.push(chunk);
        });
        res.on('error', (e) => reject(transport(e.message, e)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 200 || status === 202) return resolve();
          const fault = decodeSoapFault(Buffer.concat(chunks).toString('utf8'));
          reject(
            new SimtrustError(
              'ERR_ESIM_SOAP_REJECTED',
              `${partner.name} refused the message (HTTP ${status}${fault === undefined ? '' : `, ${fault.code}: ${fault.reason}`})`,
              {
                details: {
                  httpStatus: status,
                  ...(fault === undefined ? {} : { fault: fault.code, status: fault.status }),
                },
              },
            ),
          );
        });
      });
    });
  }

  private onResponse(message: DecodedSoapMessage, peer: string): void {
    const relatesTo = message.addressing.relatesTo;
    const pending = relatesTo === undefined ? undefined : this.pending.get(relatesTo);
    // Only the partner we called may answer, and only with the response of what we asked.
    if (pending === undefined || pending.partner !== peer || pending.expected !== message.message.element) {
      this.options.log?.warn(
        { node: this.name, peer, relatesTo, element: message.message.element },
        'unexpected SGP.02 response',
      );
      return;
    }
    clearTimeout(pending.timer);
    this.pending.delete(relatesTo as string);
    pending.resolve(message.message.body);
  }

  // ------------------------------------------------------------------------------------------
  // Incoming

  private onRequest(req: IncomingMessage, res: ServerResponse, path: string): undefined {
    const answerFault = (httpStatus: number, fault: SoapFault) => {
      const body = encodeSoapFault(fault);
      res.writeHead(httpStatus, {
        'content-type': CONTENT_TYPE,
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
    };
    const refuse = (
      httpStatus: number,
      code: string,
      reason: string,
      subject: SubjectCode = SUBJECT_CODES.FUNCTION_REQUESTER,
      why: ReasonCode = REASON_CODES.INVALID,
    ) => {
      answerFault(httpStatus, {
        side: 'Sender',
        code,
        reason,
        status: failed(subject, why, `${code}: ${reason}`),
      });
      req.resume();
      return undefined;
    };
    const peer = this.authenticate(req.socket as TLSSocket);
    if (!peer.ok) {
      return refuse(
        403,
        peer.code,
        peer.reason,
        SUBJECT_CODES.FUNCTION_REQUESTER,
        REASON_CODES.UNKNOWN_REQUESTER,
      );
    }
    if (req.method !== 'POST') return refuse(405, 'SOAP_METHOD_NOT_ALLOWED', 'SOAP 1.2 requests are POSTed');
    if ((req.url ?? '').split('?')[0] !== path)
      return refuse(404, 'SOAP_NO_ENDPOINT', `no endpoint at ${req.url}`);
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/soap+xml')) {
      return refuse(415, 'SOAP_MEDIA_TYPE', 'the Content-Type of SOAP 1.2 is application/soap+xml');
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > this.limits.maxBodyBytes) {
      return refuse(413, 'SOAP_BODY_TOO_LARGE', `the body is larger than ${this.limits.maxBodyBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > this.limits.maxBodyBytes) {
        tooLarge = true;
        refuse(413, 'SOAP_BODY_TOO_LARGE', `the body is larger than ${this.limits.maxBodyBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        return refuse(400, 'XML_MALFORMED', 'the body is not UTF-8');
      }
      let acceptance: ReturnType<SoapEndpoint['accept']>;
      try {
        acceptance = this.endpoint.accept(text, peer.partner.name);
      } catch (e) {
        // Nothing escapes the listener: a bug in a decoder becomes a Receiver fault and a log line.
        this.options.log?.warn({ err: e, node: this.name }, 'SGP.02 message could not be handled');
        return answerFault(500, {
          side: 'Receiver',
          code: 'SOAP_INTERNAL',
          reason: 'the message could not be handled',
          status: failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.EXECUTION_ERROR, 'Execution error'),
        });
      }
      if (acceptance.kind === 'refused') {
        return answerFault(acceptance.fault.code === 'SOAP_NOT_ALLOWED' ? 403 : 400, acceptance.fault);
      }
      res.writeHead(202, { 'content-length': 0 });
      res.end();
      this.track(this.deliver(acceptance.work, peer.partner));
    });
  }

  /** Send the asynchronous `*Response` produced by a handler to the partner's URL. */
  private async deliver(work: Promise<SoapMessage | undefined>, partner: PinnedPartner): Promise<void> {
    try {
      await this.deliverNow(work, partner);
    } catch (e) {
      this.options.log?.warn(
        { err: e, node: this.name, partner: partner.name },
        'SGP.02 response not delivered',
      );
    }
  }

  private async deliverNow(work: Promise<SoapMessage | undefined>, partner: PinnedPartner): Promise<void> {
    const response = await work;
    if (response === undefined) return;
    let xml: string;
    try {
      xml = encodeSoapMessage(response);
    } catch (e) {
      // The handler produced an output the schema refuses: the partner still gets a status.
      this.options.log?.warn(
        { err: e, node: this.name, element: response.message.element },
        'SGP.02 response not encodable',
      );
      xml = encodeSoapMessage({
        addressing: response.addressing,
        message: {
          element: response.message.element,
          body: {
            functionExecutionStatus: failed(
              SUBJECT_CODES.FUNCTION_PROVIDER,
              REASON_CODES.EXECUTION_ERROR,
              'Execution error',
            ),
          },
        } as SoapMessage['message'],
      });
    }
    await this.post(partner, xml);
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private authenticate(
    socket: TLSSocket,
  ): { ok: true; partner: PinnedPartner } | { ok: false; code: string; reason: string } {
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (cert === undefined || cert === null || cert.fingerprint256 === undefined) {
      return {
        ok: false,
        code: 'SOAP_PEER_CERTIFICATE_REQUIRED',
        reason: 'a client certificate is required (mutual TLS)',
      };
    }
    const partner = this.partnersByFingerprint.get(cert.fingerprint256);
    if (partner === undefined) {
      return {
        ok: false,
        code: 'SOAP_PEER_UNKNOWN',
        reason: `the client certificate (SHA-256 ${cert.fingerprint256}) is not among the configured partners`,
      };
    }
    const now = this.clock.now();
    if (now < Date.parse(partner.certificate.validFrom) || now > Date.parse(partner.certificate.validTo)) {
      return {
        ok: false,
        code: 'SOAP_PEER_CERTIFICATE_EXPIRED',
        reason: `the certificate of ${partner.name} is not valid now`,
      };
    }
    return { ok: true, partner };
  }
}

// The NAS side of RADIUS for the simulator's packet gateway and Wi-Fi access point: requests over
// UDP with the authenticators of RFC 2865 §3 / RFC 2866 §3 and a Message-Authenticator (RFC 3579
// §3.2, always sent — the BlastRADIUS advice), retransmitted unchanged on timeout (RFC 5080 §2.2.1:
// same Identifier and Authenticator), answers checked (Response Authenticator and, when present,
// Message-Authenticator) before they are believed. Up to 256 requests are outstanding per socket
// (the Identifier is one octet); more wait for a free one.
//
// Also the NAS's Dynamic Authorization Server (RFC 5176 §3): it receives Disconnect-Request and
// CoA-Request, checks their Request Authenticator and Message-Authenticator, and answers ACK or NAK
// as the handler decides.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { AttributeInput } from '../lib/radius/attributes.js';
import {
  encodeRequest,
  encodeResponse,
  messageAuthenticator,
  type Secret,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from '../lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES, type RadiusPacket } from '../lib/radius/rfc-2865-packet.js';

export interface RadiusClientOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: Secret;
  /** Local address to send from (the NAS address the server knows). */
  readonly bindAddress?: string;
  /** First timeout; doubles per retransmission (RFC 5080 §2.2.1). */
  readonly timeoutMs?: number;
  readonly retries?: number;
}

export interface RadiusAnswer {
  readonly packet: RadiusPacket;
  /** The request's authenticator (MPPE keys in the answer are encrypted with it). */
  readonly requestAuthenticator: Uint8Array;
}

interface Outstanding {
  readonly bytes: Uint8Array;
  readonly authenticator: Uint8Array;
  readonly resolve: (a: RadiusAnswer) => void;
  readonly reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  attempt: number;
}

export class RadiusClient {
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly waiting: Array<() => void> = [];
  private nextId = Math.floor(Math.random() * 256);
  private closed = false;
  /** Answers that failed their authenticator check (dropped, as RFC 2865 §3 says). */
  badAnswers = 0;
  retransmissions = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly o: RadiusClientOptions,
  ) {
    socket.on('message', (msg, rinfo) => this.onMessage(new Uint8Array(msg), rinfo));
    socket.on('error', () => undefined);
  }

  static async open(o: RadiusClientOptions): Promise<RadiusClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: o.bindAddress ?? '127.0.0.1', port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RadiusClient(socket, o);
  }

  get localAddress(): { address: string; port: number } {
    return this.socket.address();
  }

  private onMessage(raw: Uint8Array, rinfo: RemoteInfo): void {
    if (rinfo.port !== this.o.port) return;
    const id = raw[1];
    const pending = id === undefined ? undefined : this.outstanding.get(id);
    if (pending === undefined || id === undefined) return;
    const packet = decodePacket(raw);
    const valid =
      packet.ok &&
      verifyResponseAuthenticator(raw, pending.authenticator, this.o.secret) &&
      verifyMessageAuthenticator(raw, this.o.secret, pending.authenticator) !== 'invalid';
    if (!valid || !packet.ok) {
      this.badAnswers++;
      return;
    }
    clearTimeout(pending.timer);
    this.release(id);
    pending.resolve({ packet: packet.value, requestAuthenticator: pending.authenticator });
  }

  private release(id: number): void {
    this.outstanding.delete(id);
    this.waiting.shift()?.();
  }

  private async identifier(): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error('RADIUS client closed');
      if (this.outstanding.size < 256) {
        for (let i = 0; i < 256; i++) {
          const id = (this.nextId + i) & 0xff;
          if (!this.outstanding.has(id)) {
            this.nextId = (id + 1) & 0xff;
            return id;
          }
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** Send a request (Access-Request or Accounting-Request) and wait for its verified answer. */
  async request(code: number, attributes: readonly AttributeInput[]): Promise<RadiusAnswer> {
    const identifier = await this.identifier();
    const bytes = encodeRequest(
      { code, identifier, attributes: [messageAuthenticator(), ...attributes] },
      this.o.secret,
    );
    if (!bytes.ok) {
      this.release(identifier);
      throw new Error(`RADIUS encode: ${bytes.error.message}`);
    }
    const authenticator = bytes.value.slice(4, 20);
    return new Promise<RadiusAnswer>((resolve, reject) => {
      const first = this.o.timeoutMs ?? 1000;
      const pending: Outstanding = {
        bytes: bytes.value,
        authenticator,
        resolve,
        reject,
        attempt: 0,
        timer: setTimeout(() => undefined, 0),
      };
      const arm = () => {
        pending.timer = setTimeout(
          () => {
            if (pending.attempt >= (this.o.retries ?? 3)) {
              this.release(identifier);
              reject(
                new Error(
                  `no RADIUS answer from ${this.o.host}:${this.o.port} after ${pending.attempt + 1} tries`,
                ),
              );
              return;
            }
            pending.attempt++;
            this.retransmissions++;
            this.socket.send(pending.bytes, this.o.port, this.o.host);
            arm();
          },
          first * 2 ** pending.attempt,
        );
      };
      this.outstanding.set(identifier, pending);
      this.socket.send(bytes.value, this.o.port, this.o.host);
      arm();
    });
  }

  close(): void {
    this.closed = true;
    for (const [id, p] of this.outstanding) {
      clearTimeout(p.timer);
      p.reject(new Error('RADIUS client closed'));
      this.outstanding.delete(id);
    }
    for (const w of this.waiting.splice(0)) w();
    this.socket.close();
  }
}

export type DynamicRequestKind = 'disconnect' | 'coa';

/** What the NAS does with a Disconnect/CoA request: ACK, or NAK with an Error-Cause (RFC 5176 §3.5). */
export type DynamicAnswer = { readonly ack: true } | { readonly ack: false; readonly errorCause: number };

/** RFC 5176 §3.5 Error-Cause values the simulator's NAS uses. */
export const ERROR_CAUSE = { 'Session-Context-Not-Found': 503, 'Unsupported-Attribute': 401 } as const;

export class DynamicAuthorizationServer {
  /** Requests dropped for a bad authenticator or an unknown source. */
  dropped = 0;

  private constructor(private readonly socket: Socket) {}

  static async start(o: {
    bindAddress: string;
    port: number;
    secret: Secret;
    handle: (kind: DynamicRequestKind, packet: RadiusPacket) => DynamicAnswer | Promise<DynamicAnswer>;
  }): Promise<DynamicAuthorizationServer> {
    const socket = createSocket('udp4');
    const server = new DynamicAuthorizationServer(socket);
    socket.on('error', () => undefined);
    socket.on('message', (msg, rinfo) => {
      const raw = new Uint8Array(msg);
      const packet = decodePacket(raw);
      const code = raw[0];
      const kind: DynamicRequestKind | undefined =
        code === RADIUS_CODES['Disconnect-Request']
          ? 'disconnect'
          : code === RADIUS_CODES['CoA-Request']
            ? 'coa'
            : undefined;
      if (
        !packet.ok ||
        kind === undefined ||
        !verifyRequestAuthenticator(raw, o.secret) ||
        verifyMessageAuthenticator(raw, o.secret) === 'invalid'
      ) {
        server.dropped++;
        return;
      }
      void Promise.resolve(o.handle(kind, packet.value)).then((answer) => {
        const ackCode = kind === 'disconnect' ? RADIUS_CODES['Disconnect-ACK'] : RADIUS_CODES['CoA-ACK'];
        const nakCode = kind === 'disconnect' ? RADIUS_CODES['Disconnect-NAK'] : RADIUS_CODES['CoA-NAK'];
        const reply = encodeResponse(
          {
            code: answer.ack ? ackCode : nakCode,
            identifier: packet.value.identifier,
            attributes: answer.ack ? [] : [['Error-Cause', answer.errorCause]],
          },
          packet.value.authenticator,
          o.secret,
        );
        if (reply.ok) socket.send(reply.value, rinfo.port, rinfo.address);
      });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: o.bindAddress, port: o.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): void {
    this.socket.close();
  }
}

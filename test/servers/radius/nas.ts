// A test NAS built from the RADIUS codec: sends Access-/Accounting-Requests (signed, with
// Message-Authenticator) and checks the answers' Response Authenticator and Message-Authenticator;
// and a Dynamic Authorization Server listener (RFC 5176) that records Disconnect-/CoA-Requests and
// answers ACK, NAK or nothing.

import { createSocket, type Socket } from 'node:dgram';
import { type AttributeInput, getAttribute } from '../../../src/lib/radius/attributes.js';
import {
  encodeRequest,
  encodeResponse,
  messageAuthenticator,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from '../../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES, type RadiusPacket } from '../../../src/lib/radius/rfc-2865-packet.js';

export interface Answer {
  readonly packet: RadiusPacket;
  readonly raw: Uint8Array;
}

export class TestNas {
  private socket: Socket = createSocket('udp4');
  private nextId = 0;
  private readonly waiting = new Map<number, (raw: Uint8Array) => void>();

  constructor(
    readonly secret: string,
    private readonly host = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.socket.on('message', (msg) => {
      const resolve = this.waiting.get(msg[1] ?? -1);
      if (resolve) resolve(new Uint8Array(msg));
    });
    await new Promise<void>((resolve) => this.socket.bind(0, this.host, resolve));
    return this;
  }

  /** Sends prepared bytes; resolves with the verified answer, or undefined after `timeoutMs`. */
  send(port: number, bytes: Uint8Array, timeoutMs = 2000): Promise<Answer | undefined> {
    const identifier = bytes[1] ?? 0;
    const authenticator = bytes.slice(4, 20);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(identifier);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(identifier, (raw) => {
        clearTimeout(timer);
        this.waiting.delete(identifier);
        if (!verifyResponseAuthenticator(raw, authenticator, this.secret))
          return reject(new Error('bad Response Authenticator'));
        // Every Access-* answer carries a valid Message-Authenticator; Accounting-Response none.
        const ma = verifyMessageAuthenticator(raw, this.secret, authenticator);
        if (ma !== (raw[0] === RADIUS_CODES['Accounting-Response'] ? 'absent' : 'valid'))
          return reject(new Error(`Message-Authenticator ${ma}`));
        const packet = decodePacket(raw);
        if (!packet.ok) return reject(new Error(packet.error.message));
        resolve({ packet: packet.value, raw });
      });
      this.socket.send(bytes, port, '127.0.0.1');
    });
  }

  build(code: number, attributes: readonly AttributeInput[], withMessageAuthenticator = true): Uint8Array {
    const identifier = this.nextId++ % 256;
    const bytes = encodeRequest(
      {
        code,
        identifier,
        attributes: withMessageAuthenticator ? [messageAuthenticator(), ...attributes] : attributes,
      },
      this.secret,
    );
    if (!bytes.ok) throw new Error(bytes.error.message);
    return bytes.value;
  }

  access(port: number, attributes: readonly AttributeInput[]): Promise<Answer | undefined> {
    return this.send(port, this.build(RADIUS_CODES['Access-Request'], attributes));
  }

  accounting(port: number, attributes: readonly AttributeInput[]): Promise<Answer | undefined> {
    return this.send(port, this.build(RADIUS_CODES['Accounting-Request'], attributes, false));
  }

  close(): void {
    this.socket.close();
  }
}

export interface DynamicRequestSeen {
  readonly packet: RadiusPacket;
  readonly authentic: boolean;
}

/** The NAS side of RFC 5176: records requests, answers per `mode`. */
export class TestDynamicAuthorizationServer {
  readonly seen: DynamicRequestSeen[] = [];
  private socket: Socket = createSocket('udp4');
  mode: 'ack' | 'nak' | 'silent' = 'ack';

  constructor(private readonly secret: string) {}

  async start(): Promise<number> {
    this.socket.on('message', (msg, rinfo) => {
      const raw = new Uint8Array(msg);
      const decoded = decodePacket(raw);
      if (!decoded.ok) return;
      const packet = decoded.value;
      const authentic =
        verifyRequestAuthenticator(raw, this.secret) &&
        verifyMessageAuthenticator(raw, this.secret) === 'valid';
      this.seen.push({ packet, authentic });
      if (!authentic || this.mode === 'silent') return;
      const disconnect = packet.code === RADIUS_CODES['Disconnect-Request'];
      const code =
        this.mode === 'ack'
          ? disconnect
            ? RADIUS_CODES['Disconnect-ACK']
            : RADIUS_CODES['CoA-ACK']
          : disconnect
            ? RADIUS_CODES['Disconnect-NAK']
            : RADIUS_CODES['CoA-NAK'];
      const attributes: AttributeInput[] = [messageAuthenticator()];
      // RFC 5176 §3.6: 503 Session-Context-Not-Found.
      if (this.mode === 'nak') attributes.push(['Error-Cause', 503]);
      const answer = encodeResponse(
        { code, identifier: packet.identifier, attributes },
        packet.authenticator,
        this.secret,
      );
      if (answer.ok) this.socket.send(answer.value, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  sessionIds(code: number): string[] {
    return this.seen
      .filter((s) => s.packet.code === code)
      .map((s) => {
        const id = getAttribute(s.packet, 'Acct-Session-Id');
        return id?.ok ? id.value : '';
      });
  }

  close(): void {
    this.socket.close();
  }
}

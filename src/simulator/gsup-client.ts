// A GSUP client as a VLR/SGSN runs it (libosmocore gsup_client): IPA over TCP, answering the
// server's CCM ID_GET with our serial number, unit name and unit ID (osmo-hlr routes by the serial
// number, closes a link without unit ID and drops GSUP that arrives before the ID_RESP, so nothing
// is sent until it is out), PING with PONG,
// and InsertSubscriberData with its Result during an UpdateLocation. Requests are matched to
// answers by IMSI and message type, as GSUP has no transaction id; one request per IMSI and type
// is in flight at a time.

import { connect, type Socket } from 'node:net';
import {
  type AuthTuple,
  CN_DOMAIN,
  decodeGsup,
  encodeGsup,
  GSUP_MESSAGE_TYPE,
  type GsupMessage,
  gsupErrorType,
  gsupResultType,
  sendAuthInfoRequest,
} from '../lib/gsup/gsup.js';
import {
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IPA_PROTO,
  IpaDeframer,
} from '../lib/gsup/ipa.js';
import { err, ok, type Result } from '../lib/result.js';

export interface GsupClientOptions {
  readonly host: string;
  readonly port: number;
  /** Serial number and unit name sent in ID_RESP. */
  readonly name: string;
  readonly timeoutMs?: number;
  /** Local address to connect from (a loopback alias such as 127.0.0.2 stands for another host). */
  readonly localAddress?: string;
}

export interface GsupFailure {
  /** GMM cause from the Error message, or undefined for a timeout / closed connection. */
  readonly cause: number | undefined;
  readonly message: string;
}

interface Waiter {
  readonly types: readonly number[];
  readonly resolve: (m: GsupMessage) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class GsupClient {
  private readonly deframer = new IpaDeframer();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private closed = false;
  /** Insert-subscriber-data received (MSISDN etc.), by IMSI. */
  readonly inserted = new Map<string, GsupMessage>();
  private readonly identified: Promise<void>;
  private onIdentified: () => void = () => {};

  private constructor(
    private readonly socket: Socket,
    private readonly o: GsupClientOptions,
  ) {
    this.identified = new Promise((resolve) => {
      this.onIdentified = resolve;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.deframer.push(new Uint8Array(chunk))) this.onFrame(frame.proto, frame.payload);
    });
    socket.on('close', () => this.fail(new Error('GSUP connection closed')));
    socket.on('error', () => socket.destroy());
  }

  static open(o: GsupClientOptions): Promise<GsupClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: o.host,
        port: o.port,
        ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new Error(`GSUP server ${o.host}:${o.port} did not identify us within ${o.timeoutMs ?? 5000} ms`),
        );
      }, o.timeoutMs ?? 5000);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        const client = new GsupClient(socket, o);
        client.identified.then(() => {
          clearTimeout(timer);
          resolve(client);
        });
      });
    });
  }

  private onFrame(proto: number, payload: Uint8Array): void {
    if (proto === IPA_PROTO.CCM) {
      const ccm = decodeCcm(payload);
      if (!ccm.ok) return;
      if (ccm.value.type === 'ID_GET') {
        this.write(
          encodeCcm({
            type: 'ID_RESP',
            // osmo-hlr closes a link whose ID_RESP lacks the unit ID ("IPA CCM RESP without unit ID").
            identity: new Map([
              [IPA_ID_TAG.serialNumber, this.o.name],
              [IPA_ID_TAG.unitName, this.o.name],
              [IPA_ID_TAG.unitId, this.o.name],
            ]),
          }),
        );
        this.onIdentified();
      } else if (ccm.value.type === 'PING') this.write(encodeCcm({ type: 'PONG' }));
      return;
    }
    const bytes = gsupPayload({ proto, payload });
    if (bytes === undefined) return;
    const message = decodeGsup(bytes);
    if (!message.ok) return;
    const m = message.value;
    if (m.type === GSUP_MESSAGE_TYPE['InsertSubscriberData-Request']) {
      this.inserted.set(m.imsi, m);
      this.send({ type: gsupResultType(m.type), imsi: m.imsi });
      return;
    }
    const list = this.waiters.get(m.imsi);
    const index = list?.findIndex((w) => w.types.includes(m.type)) ?? -1;
    if (list === undefined || index < 0) return;
    const [waiter] = list.splice(index, 1);
    if (list.length === 0) this.waiters.delete(m.imsi);
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(m);
    }
  }

  private write(frame: Result<Uint8Array>): void {
    if (frame.ok && !this.socket.destroyed) this.socket.write(frame.value);
  }

  private send(message: GsupMessage): void {
    const bytes = encodeGsup(message);
    if (!bytes.ok) throw new Error(`GSUP encode: ${bytes.error.message}`);
    this.write(gsupFrame(bytes.value));
  }

  private fail(e: Error): void {
    this.closed = true;
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(e);
      }
    }
    this.waiters.clear();
  }

  /** Send a request and wait for its Result or Error (serialised per IMSI and type). */
  request(message: GsupMessage): Promise<GsupMessage> {
    const key = `${message.imsi}:${message.type}`;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(
        () =>
          new Promise<GsupMessage>((resolve, reject) => {
            if (this.closed) return reject(new Error('GSUP connection closed'));
            const timer = setTimeout(() => {
              const list = this.waiters.get(message.imsi);
              const i = list?.indexOf(waiter) ?? -1;
              if (list && i >= 0) list.splice(i, 1);
              reject(new Error(`no GSUP answer to message type ${message.type} for ${message.imsi}`));
            }, this.o.timeoutMs ?? 5000);
            const waiter: Waiter = {
              types: [gsupResultType(message.type), gsupErrorType(message.type)],
              resolve,
              reject,
              timer,
            };
            const list = this.waiters.get(message.imsi) ?? [];
            list.push(waiter);
            this.waiters.set(message.imsi, list);
            this.send(message);
          }),
      );
    this.chains.set(key, next);
    next
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  private async outcome<T>(
    message: GsupMessage,
    read: (m: GsupMessage) => T,
  ): Promise<Result<T, GsupFailure>> {
    try {
      const answer = await this.request(message);
      if (answer.type === gsupErrorType(message.type)) {
        return err({ cause: answer.cause, message: `GSUP error cause ${answer.cause ?? '(none)'}` });
      }
      return ok(read(answer));
    } catch (e) {
      return err({ cause: undefined, message: (e as Error).message });
    }
  }

  /** SendAuthInfo; with `resync`, AUTS and the RAND it answers (TS 33.102 §6.3.5). */
  sendAuthInfo(
    imsi: string,
    o: { numVectors?: number; resync?: { auts: Uint8Array; rand: Uint8Array } } = {},
  ): Promise<Result<AuthTuple[], GsupFailure>> {
    return this.outcome(
      sendAuthInfoRequest(imsi, {
        ...(o.numVectors === undefined ? {} : { numVectors: o.numVectors }),
        ...(o.resync === undefined ? {} : { resync: o.resync }),
      }),
      (m) => [...(m.authTuple ?? [])],
    );
  }

  /** UpdateLocation (the InsertSubscriberData in between is answered by itself). */
  updateLocation(
    imsi: string,
    cnDomain: number = CN_DOMAIN.PS,
  ): Promise<Result<GsupMessage | undefined, GsupFailure>> {
    return this.outcome({ type: GSUP_MESSAGE_TYPE['UpdateLocation-Request'], imsi, cnDomain }, () =>
      this.inserted.get(imsi),
    );
  }

  purgeMs(imsi: string, cnDomain: number = CN_DOMAIN.PS): Promise<Result<true, GsupFailure>> {
    return this.outcome({ type: GSUP_MESSAGE_TYPE['PurgeMS-Request'], imsi, cnDomain }, () => true as const);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** The link is gone (closed here, or by the server: an HLR that stopped). */
  get isClosed(): boolean {
    return this.closed;
  }
}

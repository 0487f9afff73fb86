// The byte pipe under the card's PSK-TLS client: a Duplex whose written bytes wait in an outbox until the
// toolkit carries them out with SEND DATA, and whose readable side is fed with what RECEIVE DATA brought
// in (TS 102 223 §6.4.29–§6.4.30). Node's TLS runs over it unchanged — no TLS is written here.

import { Duplex } from 'node:stream';
import { concatBytes } from '../../lib/ber-tlv.js';

export class BipStream extends Duplex {
  #outbox: Uint8Array[] = [];
  #outboxLength = 0;
  #ended = false;
  readonly #wake: () => void;

  /** `wake` is called whenever there is something new for the toolkit to send (or the end). */
  constructor(wake: () => void) {
    super();
    this.#wake = wake;
  }

  override _read(): void {
    // Data is pushed by deliver() as RECEIVE DATA brings it; nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#outbox.push(new Uint8Array(chunk));
    this.#outboxLength += chunk.length;
    this.#wake();
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#ended = true;
    this.#wake();
    callback();
  }

  /** Bytes waiting to go out. */
  get pending(): number {
    return this.#outboxLength;
  }

  /** The TLS layer finished writing (close_notify queued): after the outbox, the channel may close. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Up to `max` bytes from the outbox, in order. */
  takeOutgoing(max: number): Uint8Array {
    const all = concatBytes(this.#outbox);
    const out = all.slice(0, max);
    const rest = all.subarray(out.length);
    this.#outbox = rest.length === 0 ? [] : [rest.slice()];
    this.#outboxLength = rest.length;
    return out;
  }

  /** Bytes received from the channel, for the TLS layer to read. */
  deliver(bytes: Uint8Array): void {
    if (!this.destroyed) this.push(Buffer.from(bytes));
  }

  /** The link dropped: the TLS layer sees the end of its input. */
  hangUp(): void {
    if (!this.destroyed) this.push(null);
  }
}

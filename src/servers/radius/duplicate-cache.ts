// Duplicate detection (RFC 5080 §2.2.2; RFC 2865 §5 "Identifier"): a request with the same source
// address, source port, Identifier and Request Authenticator as one seen within the window is a
// retransmission. While the first is still being processed the copy is dropped; once answered, the
// copy gets the same answer again — so a retransmitted Accounting-Request is never recorded twice
// and a retransmitted Access-Request never consumes a second vector or address.

export type CacheState =
  | { readonly state: 'pending' }
  | { readonly state: 'answered'; readonly response: Uint8Array };

interface Entry {
  value: CacheState;
  readonly expiresAt: number;
}

const PENDING: CacheState = { state: 'pending' };

export class DuplicateCache {
  // A Map iterates in insertion order and every entry lives equally long, so the oldest entries are
  // always at the head: sweeping is O(expired).
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  static key(address: string, port: number, identifier: number, authenticator: Uint8Array): string {
    return `${address}|${port}|${identifier}|${Buffer.from(authenticator.buffer, authenticator.byteOffset, 16).toString('latin1')}`;
  }

  /** The state of a live entry, or undefined for a new request. */
  get(key: string, now: number): CacheState | undefined {
    this.sweep(now);
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > now ? entry.value : undefined;
  }

  /** Marks a request as being processed. */
  begin(key: string, now: number): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    // Delete first, so the entry moves to the tail and the head stays the oldest.
    this.entries.delete(key);
    this.entries.set(key, { value: PENDING, expiresAt: now + this.ttlMs });
  }

  /** Keeps the answer for retransmissions. */
  answer(key: string, response: Uint8Array): void {
    const entry = this.entries.get(key);
    if (entry) entry.value = { state: 'answered', response };
  }

  /** Processing failed without an answer: a retransmission is handled afresh. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}

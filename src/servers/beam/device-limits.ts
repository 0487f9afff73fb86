// Limits of the device-facing TCP and UDP entry points (Beam, Funk; Funnel may use them too). A
// source address is one SIM session, so the bounds are per source: connections a device may hold,
// datagrams it may send per second, and — over all sources — connections and requests in flight.
// Both structures are bounded in memory whatever the number of sources that show up.

/** A dual-stack socket's view of an IPv4 peer ("::ffff:10.0.0.1") is that IPv4 address. */
export function plainSourceAddress(address: string | undefined): string {
  const a = address ?? '';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  return (mapped?.[1] ?? a).toLowerCase();
}

export type SlotRefusal = 'per_source' | 'capacity';

/** Connections held per source and in all; every admitted connection is given back with release(). */
export class ConnectionSlots {
  private readonly perSource = new Map<string, number>();
  private open = 0;

  constructor(
    private readonly maxPerSource: number,
    private readonly maxTotal: number,
  ) {}

  get connections(): number {
    return this.open;
  }

  admit(source: string): SlotRefusal | undefined {
    if (this.open >= this.maxTotal) return 'capacity';
    const held = this.perSource.get(source) ?? 0;
    if (held >= this.maxPerSource) return 'per_source';
    this.perSource.set(source, held + 1);
    this.open++;
    return undefined;
  }

  release(source: string): void {
    const held = this.perSource.get(source);
    if (held === undefined) return;
    if (held <= 1) this.perSource.delete(source);
    else this.perSource.set(source, held - 1);
    this.open--;
  }
}

/**
 * A token bucket per source: `ratePerSecond` on average, bursts of `burst`. Sources whose bucket
 * has refilled are forgotten first when the table is full, so a flood from many addresses cannot
 * grow it past `maxSources`; when every tracked source is still limited, the oldest tenth is
 * dropped (they start again with a full bucket: a bound on memory; a device on one session address
 * cannot use it to exceed its own rate unless 10 % of maxSources other sources arrive meanwhile).
 */
export class SourceRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxSources = 100_000,
  ) {}

  /** Takes one token for `source`; false when it has none left (the packet is dropped). */
  take(source: string): boolean {
    const now = this.now();
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) this.evict(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(source, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [source, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(source);
    }
    // Still full: drop the oldest tenth at once, so the sweep above runs once per many new sources.
    const keep = Math.floor(this.maxSources * 0.9);
    for (const source of this.buckets.keys()) {
      if (this.buckets.size <= keep) break;
      this.buckets.delete(source);
    }
  }
}

/**
 * Logs a refusal from one source at most once a minute, so a flood does not flood the log; the
 * number not logged in between is reported with the next line.
 */
export class RefusalLog {
  private readonly seen = new Map<string, { at: number; quiet: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** undefined: do not log now; else the count of refusals not logged since the last line. */
  shouldLog(source: string): number | undefined {
    const now = this.now();
    const s = this.seen.get(source);
    if (s !== undefined && now - s.at < 60_000) {
      s.quiet++;
      return undefined;
    }
    if (this.seen.size > 10_000) this.seen.clear();
    this.seen.set(source, { at: now, quiet: 0 });
    return s?.quiet ?? 0;
  }
}

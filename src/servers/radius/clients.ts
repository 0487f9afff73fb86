// The RADIUS server's view of its NAS clients: every client with its opened secret, looked up by the
// source address of a datagram (longest prefix wins). Reloaded when this instance changes a client
// and every `radiusClientRefreshSeconds` (changes made on another instance).

import type { Logger } from 'pino';
import { containsAddress, ipv4ToNumber, parseIpv4Cidr } from '../../platform/aaa/address-pool.js';
import type { RadiusClientSecret, RadiusClientService } from '../../platform/aaa/radius-clients.js';

interface Entry {
  readonly client: RadiusClientSecret;
  readonly base: number;
  readonly size: number;
  readonly prefix: number;
}

/** "::ffff:127.0.0.1" (an IPv4 peer on a dual-stack socket) → "127.0.0.1". */
export const plainAddress = (address: string): string =>
  address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;

export class ClientTable {
  private entries: Entry[] = [];
  private readonly exact = new Map<string, RadiusClientSecret | null>();
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private reloadAgain = false;

  constructor(
    private readonly service: RadiusClientService,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    this.service.onChange(() => void this.reload());
    this.timer = setInterval(() => void this.reload(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The client for a source address, or undefined (the datagram is dropped). */
  match(address: string): RadiusClientSecret | undefined {
    const cached = this.exact.get(address);
    if (cached !== undefined) return cached ?? undefined;
    const n = ipv4ToNumber(plainAddress(address));
    let found: RadiusClientSecret | undefined;
    if (n !== undefined) {
      for (const e of this.entries) {
        if (containsAddress(e, n)) {
          found = e.client;
          break;
        }
      }
    }
    // Bounded, so a flood from many spoofed sources cannot grow it without limit.
    if (this.exact.size > 10_000) this.exact.clear();
    this.exact.set(address, found ?? null);
    return found;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Reloads now; concurrent calls coalesce (one more load runs after the current one). */
  reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          const { clients, unreadable } = await this.service.loadAll();
          if (unreadable.length > 0) {
            this.logger.error({ clients: unreadable }, 'RADIUS client secrets that do not open are ignored');
          }
          const entries: Entry[] = [];
          for (const client of clients) {
            const network = parseIpv4Cidr(client.address);
            if (network)
              entries.push({ client, base: network.base, size: network.size, prefix: network.prefix });
          }
          entries.sort((a, b) => b.prefix - a.prefix);
          this.entries = entries;
          this.exact.clear();
        } catch (e) {
          this.logger.error({ err: e }, 'could not reload the RADIUS clients; keeping the previous table');
        }
      } while (this.reloadAgain);
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}

// The MFA engine's HMAC keys: 32 random bytes each, created once per platform (the first instance
// to need one inserts it; racing instances keep the first), sealed with the key ring, opened once
// per process. Several instances on one database share them, so an OTP stored by one verifies on
// another and a CSRF token or callback MAC made by one checks on the others.

import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Store } from '../store/database.js';

/**
 * - `otp`: binds an SMS code to its user and login transaction (HMAC at rest, never the code).
 * - `csrf`: CSRF tokens of the gateway's forms.
 * - `callback`: MACs in provider callback URLs (Kannel dlr-url).
 */
export type MfaKeyName = 'otp' | 'csrf' | 'callback';

export class MfaKeys {
  private readonly cache = new Map<MfaKeyName, Promise<Buffer>>();

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {}

  key(name: MfaKeyName): Promise<Buffer> {
    let key = this.cache.get(name);
    if (key === undefined) {
      key = this.load(name);
      key.catch(() => this.cache.delete(name));
      this.cache.set(name, key);
    }
    return key;
  }

  async hmac(name: MfaKeyName, ...parts: string[]): Promise<string> {
    const mac = createHmac('sha256', await this.key(name));
    // Length-prefixed parts, so ("ab","c") and ("a","bc") never collide.
    for (const p of parts) mac.update(`${Buffer.byteLength(p)}:${p};`);
    return mac.digest('base64url');
  }

  private async load(name: MfaKeyName): Promise<Buffer> {
    const context = `mfa-key:${name}`;
    await this.store.db
      .insertInto('mfa_keys')
      .values({ name, sealed: this.keyRing.seal(randomBytes(32), context), created_at: this.clock.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.store.db
      .selectFrom('mfa_keys')
      .select('sealed')
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return this.keyRing.open(row.sealed, context);
  }
}

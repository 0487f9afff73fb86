// The platform-wide key that seals EAP conversation state (conversation-state.ts) and derives the
// pseudonyms and re-authentication identities we hand out. Every instance must hold the same key,
// so it lives in the database (table eap_state_keys), itself sealed by the key ring under the master
// key; the first instance to start creates it. A key id travels in each State so a later rotation
// can add a key without breaking conversations in flight.

import { createHmac, randomBytes } from 'node:crypto';
import type { KeyRing } from '../../../platform/secrets/key-ring.js';
import type { Store } from '../../../platform/store/database.js';

const context = (id: number) => `eap-state-key:${id}`;

export class EapStateKeys {
  private constructor(
    private readonly keys: ReadonlyMap<number, Uint8Array>,
    readonly current: { readonly id: number; readonly key: Uint8Array },
  ) {}

  /** Loads the keys, creating key 1 on a new database (racing instances: the first insert wins). */
  static async open(store: Store, keyRing: KeyRing, now: number): Promise<EapStateKeys> {
    await store.db
      .insertInto('eap_state_keys')
      .values({ key_id: 1, sealed_key: keyRing.seal(randomBytes(32), context(1)), created_at: now })
      .onConflict((oc) => oc.column('key_id').doNothing())
      .execute();
    const rows = await store.db.selectFrom('eap_state_keys').selectAll().orderBy('key_id').execute();
    const keys = new Map<number, Uint8Array>();
    for (const row of rows) {
      const id = Number(row.key_id);
      keys.set(id, new Uint8Array(keyRing.open(row.sealed_key, context(id))));
    }
    const id = Math.max(...keys.keys());
    return new EapStateKeys(keys, { id, key: keys.get(id) as Uint8Array });
  }

  byId(id: number): Uint8Array | undefined {
    return this.keys.get(id);
  }

  /** HMAC-SHA-256 under the current key: unpredictable identifiers only the server can recompute. */
  derive(label: string, ...parts: Uint8Array[]): Uint8Array {
    const h = createHmac('sha256', this.current.key).update(label).update(Uint8Array.of(0));
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }
}

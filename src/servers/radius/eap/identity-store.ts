// Pseudonyms and fast re-authentication identities (RFC 4187 §4.1.1.7–8 and §5, RFC 4186 §4.2.1.7–8):
// one row per subscriber in eap_identities (migration 0004-eap) holding the pseudonym and the
// re-authentication identity last issued, with the re-authentication keys sealed by the key ring.
// A new full authentication replaces both, so the table never holds more rows than subscribers.
//
// Race semantics (both are single statements):
// - `storeFullAuth` is one INSERT … SELECT … ON CONFLICT guarded by the conversation id: the final
//   round of a conversation writes once; a replay of it (same conversation) changes nothing and is
//   refused.
// - `consumeReauth` moves the row from (identity, counter) to (next identity, counter + 1) only if it
//   is still at (identity, counter): of two racing uses of one re-auth identity exactly one wins.

import { sql } from 'kysely';
import type { SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';
import { toHex } from '../../../lib/hex.js';
import type { KeyRing } from '../../../platform/secrets/key-ring.js';
import type { Executor } from '../../../platform/store/database.js';

/** Runs a write, possibly batched with others (the platform's group commit). */
export interface Writer {
  run<T>(op: (trx: Executor) => Promise<T>): Promise<T>;
}

export interface IdentityRecord {
  readonly imsi: string;
  readonly operatorId: string;
  readonly simId: string;
  readonly method: SimAkaMethod;
  readonly reauthCounter: number;
  /** K_aut ‖ K_encr ‖ MK | K_re, opened; undefined when none was issued. */
  readonly reauthKeys?: Uint8Array;
}

const keysContext = (imsi: string) => `eap-reauth:${imsi}`;
const isMethod = (m: string): m is SimAkaMethod => m === 'sim' || m === 'aka' || m === 'akaPrime';

export class EapIdentityStore {
  constructor(
    private readonly db: Executor,
    private readonly writer: Writer,
    private readonly keyRing: KeyRing,
  ) {}

  /** The subscriber a live pseudonym names. */
  async byPseudonym(pseudonym: string, now: number): Promise<IdentityRecord | undefined> {
    const row = await this.db
      .selectFrom('eap_identities')
      .select(['imsi', 'operator_id', 'sim_id', 'method', 'reauth_counter'])
      .where('pseudonym', '=', pseudonym)
      .where('pseudonym_expires_at', '>', now)
      .executeTakeFirst();
    if (row === undefined || !isMethod(row.method)) return undefined;
    return {
      imsi: row.imsi,
      operatorId: row.operator_id,
      simId: row.sim_id,
      method: row.method,
      reauthCounter: Number(row.reauth_counter),
    };
  }

  /** The subscriber and keys a live re-authentication identity names. */
  async byReauthId(reauthId: string, now: number): Promise<IdentityRecord | undefined> {
    const row = await this.db
      .selectFrom('eap_identities')
      .select(['imsi', 'operator_id', 'sim_id', 'method', 'reauth_counter', 'reauth_keys'])
      .where('reauth_id', '=', reauthId)
      .where('reauth_expires_at', '>', now)
      .executeTakeFirst();
    if (row === undefined || row.reauth_keys === null || !isMethod(row.method)) return undefined;
    const keys = this.keyRing.tryOpen(row.reauth_keys, keysContext(row.imsi));
    if (keys === undefined) return undefined;
    return {
      imsi: row.imsi,
      operatorId: row.operator_id,
      simId: row.sim_id,
      method: row.method,
      reauthCounter: Number(row.reauth_counter),
      reauthKeys: new Uint8Array(keys),
    };
  }

  /**
   * After a full authentication: the new pseudonym and re-authentication identity (either may be
   * absent when turned off), under the subscriber's current operator and SIM (read in the same
   * statement). Returns them; undefined when this conversation already wrote (a replayed final
   * round) or the subscriber is gone.
   */
  async storeFullAuth(o: {
    imsi: string;
    method: SimAkaMethod;
    conversationId: Uint8Array;
    pseudonym?: { value: string; expiresAt: number };
    reauth?: { value: string; keys: Uint8Array; expiresAt: number };
    now: number;
  }): Promise<{ operatorId: string; simId: string } | undefined> {
    const conversation = toHex(o.conversationId);
    const sealed = o.reauth ? this.keyRing.seal(o.reauth.keys, keysContext(o.imsi)) : null;
    const result = await this.writer.run((trx) =>
      sql<{ operator_id: string; sim_id: string }>`
        insert into eap_identities (imsi, operator_id, sim_id, method, pseudonym, pseudonym_expires_at,
          reauth_id, reauth_keys, reauth_counter, reauth_expires_at, conversation, updated_at)
        select p.imsi, s.operator_id, s.sim_id, ${o.method}, ${o.pseudonym?.value ?? null},
          ${o.pseudonym?.expiresAt ?? null}, ${o.reauth?.value ?? null}, ${sealed}, 0,
          ${o.reauth?.expiresAt ?? null}, ${conversation}, ${o.now}
        from sim_profiles p join sims s on s.sim_id = p.sim_id
        where p.imsi = ${o.imsi}
        on conflict (imsi) do update set
          operator_id = excluded.operator_id, sim_id = excluded.sim_id, method = excluded.method,
          pseudonym = excluded.pseudonym, pseudonym_expires_at = excluded.pseudonym_expires_at,
          reauth_id = excluded.reauth_id, reauth_keys = excluded.reauth_keys,
          reauth_counter = excluded.reauth_counter, reauth_expires_at = excluded.reauth_expires_at,
          conversation = excluded.conversation, updated_at = excluded.updated_at
        where eap_identities.conversation <> excluded.conversation
        returning operator_id, sim_id`.execute(trx),
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { operatorId: row.operator_id, simId: row.sim_id };
  }

  /**
   * After a fast re-authentication with AT_COUNTER `counter`: the identity used is spent and `next`
   * (if any) takes its place. Returns whose it was; undefined when it was already used (replay or
   * race) or has expired.
   */
  async consumeReauth(o: {
    reauthId: string;
    counter: number;
    next?: string;
    now: number;
  }): Promise<{ operatorId: string; simId: string } | undefined> {
    const row = await this.writer.run((trx) =>
      trx
        .updateTable('eap_identities')
        .set({
          reauth_id: o.next ?? null,
          reauth_counter: o.counter,
          updated_at: o.now,
          ...(o.next === undefined ? { reauth_keys: null, reauth_expires_at: null } : {}),
        })
        .where('reauth_id', '=', o.reauthId)
        .where('reauth_counter', '=', o.counter - 1)
        .where('reauth_expires_at', '>', o.now)
        .returning(['operator_id', 'sim_id'])
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : { operatorId: row.operator_id, simId: row.sim_id };
  }

  /** Forget the re-authentication identity (after the peer refused its counter: full auth next). */
  async dropReauth(reauthId: string): Promise<void> {
    await this.writer.run((trx) =>
      trx
        .updateTable('eap_identities')
        .set({ reauth_id: null, reauth_keys: null, reauth_expires_at: null })
        .where('reauth_id', '=', reauthId)
        .execute(),
    );
  }
}

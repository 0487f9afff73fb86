// Auth keys (SORACOM AuthKey, reference/soracom.md §3.3): `keyId-…` + `secret-…` for programs.
// The secret is 256 random bits, returned once by generate and stored only as its SHA-256 (a
// high-entropy secret needs no slow hash). Login with a key records its last use. Root keys act
// as root; a user's keys act as that user, with that user's permissions.

import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../../crypto/constant-time.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import { type Account, accountColumn, describeAccount, ROOT_ACCOUNT } from './credentials.js';
import type { AuditContext } from './principal.js';
import { revokeTokens } from './tokens.js';
import type { AuthKeyView, UserService } from './users.js';

/** Per account, as SORACOM: one in use and one being rotated in. */
export const MAX_AUTH_KEYS_PER_ACCOUNT = 2;

const secretHash = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();
/** Compared when the key id is unknown, so an unknown id costs what a wrong secret costs. */
const DUMMY_HASH = secretHash(`secret-${randomBytes(32).toString('base64url')}`);

export interface GeneratedAuthKey {
  readonly authKeyId: string;
  /** Shown once. */
  readonly authKey: string;
}

export interface AuthKeyOwner {
  readonly authKeyId: string;
  readonly operatorId: string;
  /** Undefined for a root key. */
  readonly userName: string | undefined;
}

export class AuthKeyService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly users: UserService,
  ) {}

  async generate(ctx: AuditContext, account: Account): Promise<GeneratedAuthKey> {
    const now = this.clock.now();
    const authKeyId = `keyId-${randomBytes(16).toString('hex')}`;
    const authKey = `secret-${randomBytes(32).toString('base64url')}`;
    await this.store.transaction(async (trx) => {
      await this.requireAccount(trx, account);
      const count = await trx
        .selectFrom('auth_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('operator_id', '=', account.operatorId)
        .where('user_name', '=', accountColumn(account))
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_AUTH_KEYS_PER_ACCOUNT) {
        throw new SimtrustError(
          'ERR_AUTH_KEY_LIMIT',
          `${describeAccount(account)} already has ${MAX_AUTH_KEYS_PER_ACCOUNT} auth keys; delete one first`,
        );
      }
      await trx
        .insertInto('auth_keys')
        .values({
          auth_key_id: authKeyId,
          operator_id: account.operatorId,
          user_name: accountColumn(account),
          secret_hash: secretHash(authKey).toString('hex'),
          created_at: now,
          last_used_at: null,
        })
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { authKeyId, userName: account.userName ?? null },
        at: now,
      });
    });
    return { authKeyId, authKey };
  }

  async list(account: Account): Promise<AuthKeyView[]> {
    await this.requireAccount(this.store.db, account);
    const rows = await this.store.db
      .selectFrom('auth_keys')
      .select(['auth_key_id', 'created_at', 'last_used_at'])
      .where('operator_id', '=', account.operatorId)
      .where('user_name', '=', accountColumn(account))
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      authKeyId: r.auth_key_id,
      createdTime: r.created_at,
      lastUsedTime: r.last_used_at,
    }));
  }

  async get(account: Account, authKeyId: string): Promise<AuthKeyView> {
    await this.requireAccount(this.store.db, account);
    const r = await this.find(this.store.db, account, authKeyId);
    return { authKeyId: r.auth_key_id, createdTime: r.created_at, lastUsedTime: r.last_used_at };
  }

  /** Deletes the key and revokes the tokens issued for it. */
  async delete(ctx: AuditContext, account: Account, authKeyId: string): Promise<void> {
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.requireAccount(trx, account);
      await this.find(trx, account, authKeyId);
      await trx.deleteFrom('auth_keys').where('auth_key_id', '=', authKeyId).execute();
      const revoked = await revokeTokens(trx, account.operatorId, { authKeyId });
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { authKeyId, userName: account.userName ?? null, revokedTokens: revoked },
        at: now,
      });
    });
  }

  /**
   * The owner of `authKeyId` when `secret` is its secret, else undefined. Same work for an unknown
   * id as for a wrong secret; the hashes are compared in constant time.
   */
  async verify(authKeyId: string, secret: string): Promise<AuthKeyOwner | undefined> {
    const row = await this.store.db
      .selectFrom('auth_keys')
      .select(['auth_key_id', 'operator_id', 'user_name', 'secret_hash'])
      .where('auth_key_id', '=', authKeyId)
      .executeTakeFirst();
    const expected = row ? Buffer.from(row.secret_hash, 'hex') : DUMMY_HASH;
    const valid = constantTimeEqual(secretHash(secret), expected);
    if (!row || !valid) return undefined;
    return {
      authKeyId: row.auth_key_id,
      operatorId: row.operator_id,
      userName: row.user_name === ROOT_ACCOUNT ? undefined : row.user_name,
    };
  }

  /** The operator a key id belongs to (for auditing a failed attempt), without checking a secret. */
  async operatorOf(authKeyId: string): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom('auth_keys')
      .select('operator_id')
      .where('auth_key_id', '=', authKeyId)
      .executeTakeFirst();
    return row?.operator_id;
  }

  async touch(db: Executor, authKeyId: string, now: number): Promise<void> {
    await db
      .updateTable('auth_keys')
      .set({ last_used_at: now })
      .where('auth_key_id', '=', authKeyId)
      .execute();
  }

  private async requireAccount(db: Executor, account: Account): Promise<void> {
    if (account.userName !== undefined) await this.users.require(db, account.operatorId, account.userName);
  }

  private async find(db: Executor, account: Account, authKeyId: string) {
    const row = await db
      .selectFrom('auth_keys')
      .selectAll()
      .where('auth_key_id', '=', authKeyId)
      .where('operator_id', '=', account.operatorId)
      .where('user_name', '=', accountColumn(account))
      .executeTakeFirst();
    if (!row)
      throw new SimtrustError(
        'ERR_AUTH_KEY_NOT_FOUND',
        `no auth key ${authKeyId} for ${describeAccount(account)}`,
      );
    return row;
  }
}

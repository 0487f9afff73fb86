// API tokens: random, stored as SHA-256 only, with an expiry, revocable one by one (logout) or per
// account (revoke-all, password change, user deletion, key deletion). The one place that turns a
// bearer token into a Principal — the HTTP auth layer calls authenticateToken.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { constantTimeEqualText } from '../../crypto/constant-time.js';
import type { Clock } from '../../lib/clock.js';
import type { Executor } from '../store/database.js';
import type { Principal } from './principal.js';

export const MAX_TOKEN_TIMEOUT_SECONDS = 172_800;
export const MIN_TOKEN_TIMEOUT_SECONDS = 180;

export interface IssuedToken {
  readonly apiKey: string;
  readonly token: string;
  readonly operatorId: string;
  readonly userName?: string | undefined;
  readonly expiresAt: number;
}

/** Only the SHA-256 of a bearer token is stored; a database leak yields no usable token. */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export async function issueToken(
  db: Executor,
  clock: Clock,
  principal: Principal,
  timeoutSeconds: number,
): Promise<IssuedToken> {
  const token = `tok-${randomBytes(32).toString('base64url')}`;
  const apiKey = `api-${randomUUID()}`;
  const now = clock.now();
  const expiresAt = now + timeoutSeconds * 1000;
  // Housekeeping on the way: this account's expired tokens (an index range, never a scan).
  await db
    .deleteFrom('api_tokens')
    .where('operator_id', '=', principal.operatorId)
    .where('user_name', principal.userName === undefined ? 'is' : '=', principal.userName ?? null)
    .where('expires_at', '<=', now)
    .execute();
  await db
    .insertInto('api_tokens')
    .values({
      token_hash: tokenHash(token),
      operator_id: principal.operatorId,
      api_key: apiKey,
      user_name: principal.userName ?? null,
      auth_key_id: principal.authKeyId ?? null,
      expires_at: expiresAt,
      created_at: now,
    })
    .execute();
  return { apiKey, token, operatorId: principal.operatorId, userName: principal.userName, expiresAt };
}

/** The columns of a token row that make its principal. */
export interface TokenRow {
  readonly operator_id: string;
  readonly user_name: string | null;
  readonly auth_key_id: string | null;
  readonly expires_at: number;
  readonly api_key: string;
  readonly email: string;
}

/**
 * The principal of a token row; undefined when it has expired, or when an X-Soracom-API-Key is
 * given that is not the one issued with the token (compared in constant time).
 */
export function principalOfToken(
  row: TokenRow | undefined,
  now: number,
  apiKey: string | undefined,
): Principal | undefined {
  if (!row || Number(row.expires_at) <= now) return undefined;
  if (apiKey !== undefined && !constantTimeEqualText(apiKey, row.api_key)) return undefined;
  const userName = row.user_name ?? undefined;
  if (row.auth_key_id !== null) {
    return {
      operatorId: row.operator_id,
      kind: 'authKey',
      id: row.auth_key_id,
      userName,
      authKeyId: row.auth_key_id,
    };
  }
  return userName === undefined
    ? { operatorId: row.operator_id, kind: 'root', id: row.email }
    : { operatorId: row.operator_id, kind: 'user', id: userName, userName };
}

/** Resolves a bearer token to its principal; undefined for unknown, expired or mismatched. */
export async function authenticateToken(
  db: Executor,
  clock: Clock,
  given: { token: string; apiKey?: string | undefined },
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('operators', 'operators.operator_id', 'api_tokens.operator_id')
    .select([
      'api_tokens.operator_id',
      'api_tokens.user_name',
      'api_tokens.auth_key_id',
      'api_tokens.expires_at',
      'api_tokens.api_key',
      'operators.email',
    ])
    .where('api_tokens.token_hash', '=', tokenHash(given.token))
    .executeTakeFirst();
  return principalOfToken(row, clock.now(), given.apiKey);
}

export async function revokeToken(db: Executor, token: string): Promise<void> {
  await db.deleteFrom('api_tokens').where('token_hash', '=', tokenHash(token)).execute();
}

export type TokenOwner =
  | { readonly root: true }
  | { readonly userName: string; readonly passwordOnly?: boolean }
  | { readonly authKeyId: string };

/** Revokes every token of an account (root, a user, or one auth key); returns how many. */
export async function revokeTokens(db: Executor, operatorId: string, owner: TokenOwner): Promise<number> {
  let q = db.deleteFrom('api_tokens').where('operator_id', '=', operatorId);
  if ('root' in owner) q = q.where('user_name', 'is', null);
  else if ('userName' in owner) {
    q = q.where('user_name', '=', owner.userName);
    if (owner.passwordOnly) q = q.where('auth_key_id', 'is', null);
  } else q = q.where('auth_key_id', '=', owner.authKeyId);
  const r = await q.executeTakeFirst();
  return Number(r.numDeletedRows);
}

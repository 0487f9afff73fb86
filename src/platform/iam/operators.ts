// Operators (tenants) and root login. Every row in the store belongs to one operator; an operator's
// root account logs in with email + password and receives an API token.

import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';

export const MAX_TOKEN_TIMEOUT_SECONDS = 172_800;

export interface Operator {
  readonly operatorId: string;
  readonly email: string;
  readonly createdTime: number;
}

export interface IssuedToken {
  readonly apiKey: string;
  readonly token: string;
  readonly operatorId: string;
  readonly expiresAt: number;
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** `OP` + 10 digits, as SORACOM operator ids look. */
const newOperatorId = () => `OP${String(randomInt(0, 1e10)).padStart(10, '0')}`;

/** Only the SHA-256 of a bearer token is stored; a database leak yields no usable token. */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export async function createOperator(
  store: Store,
  clock: Clock,
  input: { email: string; password: string },
): Promise<Operator> {
  const email = normaliseEmail(input.email);
  if (!/^[^\s@]+@[^\s@]+$/.test(email))
    throw new SimtrustError('ERR_BAD_REQUEST', 'email is not a valid address');
  if (input.password.length < 8) {
    throw new SimtrustError('ERR_BAD_REQUEST', 'password must have at least 8 characters');
  }
  const passwordHash = await hashPassword(input.password);
  const now = clock.now();
  return store.transaction(async (trx) => {
    const existing = await trx
      .selectFrom('operators')
      .select('operator_id')
      .where('email', '=', email)
      .executeTakeFirst();
    if (existing) throw new SimtrustError('ERR_CONFLICT', `an operator with email ${email} already exists`);
    const operatorId = newOperatorId();
    await trx
      .insertInto('operators')
      .values({
        operator_id: operatorId,
        email,
        password_hash: passwordHash,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await writeAudit(trx, {
      context: {
        principal: { operatorId, kind: 'system', id: 'admin' },
        operationId: 'Operator:createOperator',
      },
      result: 'success',
      detail: { email },
      at: now,
    });
    return { operatorId, email, createdTime: now };
  });
}

export async function findOperatorByEmail(db: Executor, email: string): Promise<Operator | undefined> {
  const row = await db
    .selectFrom('operators')
    .select(['operator_id', 'email', 'created_at'])
    .where('email', '=', normaliseEmail(email))
    .executeTakeFirst();
  return row && { operatorId: row.operator_id, email: row.email, createdTime: row.created_at };
}

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
  await db
    .insertInto('api_tokens')
    .values({
      token_hash: tokenHash(token),
      operator_id: principal.operatorId,
      api_key: apiKey,
      user_name: principal.userName ?? null,
      expires_at: expiresAt,
      created_at: now,
    })
    .execute();
  return { apiKey, token, operatorId: principal.operatorId, expiresAt };
}

/** Root login with email + password. Wrong email and wrong password fail alike, in equal time. */
export async function loginRoot(
  store: Store,
  clock: Clock,
  input: { email: string; password: string; tokenTimeoutSeconds: number },
): Promise<IssuedToken> {
  const row = await store.db
    .selectFrom('operators')
    .select(['operator_id', 'email', 'password_hash'])
    .where('email', '=', normaliseEmail(input.email))
    .executeTakeFirst();
  const valid = await verifyPassword(input.password, row?.password_hash ?? (await dummyPasswordHash()));
  if (!row || !valid) throw new SimtrustError('ERR_INVALID_CREDENTIALS', 'invalid email or password');
  const principal: Principal = { operatorId: row.operator_id, kind: 'root', id: row.email };
  return store.transaction(async (trx) => {
    const issued = await issueToken(trx, clock, principal, input.tokenTimeoutSeconds);
    await writeAudit(trx, {
      context: { principal, operationId: 'Auth:auth' },
      result: 'success',
      at: clock.now(),
    });
    return issued;
  });
}

/** Resolves a bearer token to its principal; undefined for unknown or expired tokens. */
export async function authenticateToken(
  db: Executor,
  clock: Clock,
  token: string,
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('operators', 'operators.operator_id', 'api_tokens.operator_id')
    .select(['api_tokens.operator_id', 'api_tokens.user_name', 'api_tokens.expires_at', 'operators.email'])
    .where('api_tokens.token_hash', '=', tokenHash(token))
    .executeTakeFirst();
  if (!row || row.expires_at <= clock.now()) return undefined;
  return row.user_name === null
    ? { operatorId: row.operator_id, kind: 'root', id: row.email }
    : { operatorId: row.operator_id, kind: 'user', id: row.user_name, userName: row.user_name };
}

export async function revokeToken(db: Executor, token: string): Promise<void> {
  await db.deleteFrom('api_tokens').where('token_hash', '=', tokenHash(token)).execute();
}

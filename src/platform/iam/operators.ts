// Operators (tenants) and their root accounts. Every row in the store belongs to one operator; the
// root account logs in with email + password (login.ts) and has every permission.

import { randomInt } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';

export { MAX_TOKEN_TIMEOUT_SECONDS, tokenHash } from './tokens.js';

export interface Operator {
  readonly operatorId: string;
  readonly email: string;
  readonly createdTime: number;
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** `OP` + 10 digits, as SORACOM operator ids look. */
const newOperatorId = () => `OP${String(randomInt(0, 1e10)).padStart(10, '0')}`;

export async function createOperator(
  store: Store,
  clock: Clock,
  input: { email: string; password: string },
): Promise<Operator> {
  const email = normaliseEmail(input.email);
  if (!/^[^\s@]+@[^\s@]+$/.test(email))
    throw new SimtrustError('ERR_BAD_REQUEST', 'email is not a valid address');
  checkPasswordPolicy(input.password);
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

export interface OperatorView extends Operator {
  readonly lastModifiedTime: number;
}

export async function getOperator(db: Executor, operatorId: string): Promise<OperatorView> {
  const row = await db
    .selectFrom('operators')
    .select(['operator_id', 'email', 'created_at', 'updated_at'])
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  if (!row) throw new SimtrustError('ERR_NOT_FOUND', `no operator ${operatorId}`);
  return {
    operatorId: row.operator_id,
    email: row.email,
    createdTime: row.created_at,
    lastModifiedTime: row.updated_at,
  };
}

/** The stored root password hash, for re-authentication (login, MFA revoke, password change). */
export async function operatorLogin(
  db: Executor,
  by: { email: string } | { operatorId: string },
): Promise<{ operatorId: string; email: string; passwordHash: string } | undefined> {
  let q = db.selectFrom('operators').select(['operator_id', 'email', 'password_hash']);
  q =
    'email' in by
      ? q.where('email', '=', normaliseEmail(by.email))
      : q.where('operator_id', '=', by.operatorId);
  const row = await q.executeTakeFirst();
  return row && { operatorId: row.operator_id, email: row.email, passwordHash: row.password_hash };
}

export const normaliseOperatorEmail = normaliseEmail;

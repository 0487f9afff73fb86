// The platform's own accounts as MFA subjects, so the gateway can protect an application for an
// operator's staff (root and sub-users) and platform login can use SMS codes: root logs in with its
// email, a sub-user with `<operatorId>/<userName>` (or just the user name when the application
// names the operator). Passwords and TOTP are access management's (iam/); the phone number for SMS
// codes is enrolled here (mfa_sms_enrollments).

import { SimtrustError } from '../../lib/errors.js';
import type { AccountMfaService } from '../iam/account-mfa.js';
import type { Account } from '../iam/credentials.js';
import { normaliseOperatorEmail, operatorLogin } from '../iam/operators.js';
import { dummyPasswordHash, verifyPassword } from '../iam/passwords.js';
import type { Principal } from '../iam/principal.js';
import type { Executor } from '../store/database.js';
import type { Subject, SubjectSource } from './subject.js';

/** `root` or `user:<name>`, the key of mfa_sms_enrollments. */
export const enrollmentPrincipal = (a: Account) => (a.userName === undefined ? 'root' : `user:${a.userName}`);

/** Subject keys of platform accounts (the same form the login throttle of iam/ uses). */
export const platformSubjectKey = (a: Account, rootEmail?: string) =>
  a.userName === undefined ? `root:${rootEmail ?? a.operatorId}` : `user:${a.operatorId}/${a.userName}`;

type Login = { kind: 'root'; email: string } | { kind: 'user'; operatorId: string; userName: string };

function parseLogin(login: string, operatorId: string | undefined): Login | undefined {
  const text = login.trim();
  if (text.length === 0 || text.length > 254) return undefined;
  const slash = /^(OP\d{10})\/(.+)$/.exec(text);
  if (slash) return { kind: 'user', operatorId: slash[1] as string, userName: slash[2] as string };
  if (text.includes('@')) return { kind: 'root', email: normaliseOperatorEmail(text) };
  return operatorId === undefined ? undefined : { kind: 'user', operatorId, userName: text };
}

export async function smsEnrollment(
  db: Executor,
  account: Account,
): Promise<{ number: string; verified: boolean } | undefined> {
  const r = await db
    .selectFrom('mfa_sms_enrollments')
    .select(['phone_number', 'verified_at'])
    .where('operator_id', '=', account.operatorId)
    .where('principal', '=', enrollmentPrincipal(account))
    .executeTakeFirst();
  return r && { number: r.phone_number, verified: r.verified_at !== null };
}

export function platformSource(
  db: Executor,
  accountMfa: AccountMfaService,
  operatorId?: string,
): SubjectSource {
  const subjectOf = async (account: Account, email: string | undefined): Promise<Subject> => {
    const principal: Principal =
      account.userName === undefined
        ? { operatorId: account.operatorId, kind: 'root', id: email ?? account.operatorId }
        : { operatorId: account.operatorId, kind: 'user', id: account.userName, userName: account.userName };
    return {
      key: platformSubjectKey(account, email),
      kind: 'platform',
      operatorId: account.operatorId,
      userId:
        account.userName === undefined
          ? (email ?? account.operatorId)
          : `${account.operatorId}/${account.userName}`,
      displayName: undefined,
      groups: [account.userName === undefined ? 'root' : 'users'],
      phone: await smsEnrollment(db, account),
      hasTotp: await accountMfa.required(account),
      sim: undefined,
      principal,
    };
  };
  const accountOfKey = async (key: string): Promise<{ account: Account; email?: string } | undefined> => {
    if (key.startsWith('root:')) {
      const root = await operatorLogin(db, { email: key.slice(5) });
      return root && { account: { operatorId: root.operatorId }, email: root.email };
    }
    const m = /^user:(OP\d{10})\/(.+)$/.exec(key);
    if (!m) return undefined;
    const row = await db
      .selectFrom('users')
      .select('user_name')
      .where('operator_id', '=', m[1] as string)
      .where('user_name', '=', m[2] as string)
      .where('console_login', '=', 1)
      .executeTakeFirst();
    return row && { account: { operatorId: m[1] as string, userName: row.user_name } };
  };
  const allowed = (a: Account) => operatorId === undefined || a.operatorId === operatorId;
  return {
    id: operatorId === undefined ? 'platform' : `platform:${operatorId}`,
    operatorId,
    keyFor(login) {
      const parsed = parseLogin(login, operatorId);
      if (parsed === undefined) return `invalid:${login.slice(0, 64)}`;
      return parsed.kind === 'root'
        ? platformSubjectKey({ operatorId: '' }, parsed.email)
        : platformSubjectKey({ operatorId: parsed.operatorId, userName: parsed.userName });
    },
    async authenticate(login, password) {
      const parsed = parseLogin(login, operatorId);
      let hash: string | undefined;
      let account: Account | undefined;
      let email: string | undefined;
      if (parsed?.kind === 'root') {
        const root = await operatorLogin(db, { email: parsed.email });
        if (root) {
          hash = root.passwordHash;
          account = { operatorId: root.operatorId };
          email = root.email;
        }
      } else if (parsed?.kind === 'user') {
        const row = await db
          .selectFrom('users')
          .select(['password_hash', 'user_name'])
          .where('operator_id', '=', parsed.operatorId)
          .where('user_name', '=', parsed.userName)
          .where('console_login', '=', 1)
          .executeTakeFirst();
        if (row?.password_hash) {
          hash = row.password_hash;
          account = { operatorId: parsed.operatorId, userName: row.user_name };
        }
      }
      const valid = await verifyPassword(password, hash ?? (await dummyPasswordHash()));
      return valid && account !== undefined && allowed(account) ? subjectOf(account, email) : undefined;
    },
    async load(key) {
      const found = await accountOfKey(key);
      return found && allowed(found.account) ? subjectOf(found.account, found.email) : undefined;
    },
    async checkTotp(subject, code) {
      const found = await accountOfKey(subject.key);
      if (found === undefined) return { ok: false, reason: 'invalid' };
      try {
        await accountMfa.checkLoginCode(found.account, code, undefined);
        return { ok: true, step: 0 };
      } catch (e) {
        if (e instanceof SimtrustError && e.code === 'ERR_INVALID_MFA_CODE')
          return { ok: false, reason: 'invalid' };
        throw e;
      }
    },
    async markPhoneVerified(subject, at) {
      const found = await accountOfKey(subject.key);
      if (found === undefined || subject.phone === undefined) return;
      await db
        .updateTable('mfa_sms_enrollments')
        .set({ verified_at: at, updated_at: at })
        .where('operator_id', '=', found.account.operatorId)
        .where('principal', '=', enrollmentPrincipal(found.account))
        .where('phone_number', '=', subject.phone.number)
        .execute();
    },
  };
}

// A directory as a source of MFA subjects: the engine asks it to check a password, reload a user
// between login steps, open the TOTP secret, and record a verified phone number.

import type { Subject, SubjectSource } from '../mfa/subject.js';
import { verifyTotp } from '../mfa/totp.js';
import type { Executor } from '../store/database.js';
import type { DirectoryUsersTable } from '../store/schema.js';
import type { DirectoryService } from './directory-service.js';

export const directorySubjectKey = (directoryId: string, userId: string) => `dir:${directoryId}:${userId}`;

function toSubject(r: DirectoryUsersTable): Subject {
  return {
    key: directorySubjectKey(r.directory_id, r.user_id),
    kind: 'directory',
    operatorId: r.operator_id,
    userId: r.user_id,
    displayName: r.display_name ?? undefined,
    groups: JSON.parse(r.groups) as string[],
    phone:
      r.phone_number === null
        ? undefined
        : { number: r.phone_number, verified: r.phone_verified_at !== null },
    hasTotp: r.totp_secret !== null,
    sim: r.sim_imsi === null ? undefined : { imsi: r.sim_imsi, imei: r.sim_imei ?? undefined },
    // Application users are not platform principals; the audit log names the gateway as actor and
    // the user in the record's detail.
    principal: { operatorId: r.operator_id, kind: 'system', id: 'mfa-gateway' },
  };
}

export function directorySource(
  db: Executor,
  directories: DirectoryService,
  directoryId: string,
  operatorId: string,
): SubjectSource {
  const prefix = `dir:${directoryId}:`;
  return {
    id: `directory:${directoryId}`,
    operatorId,
    keyFor: (login) => directorySubjectKey(directoryId, login),
    async authenticate(login, password) {
      const r = await directories.authenticate(directoryId, login, password);
      return r === undefined || r.operator_id !== operatorId ? undefined : toSubject(r);
    },
    async load(key) {
      if (!key.startsWith(prefix)) return undefined;
      const r = await directories.load(directoryId, key.slice(prefix.length));
      return r === undefined || r.operator_id !== operatorId ? undefined : toSubject(r);
    },
    async checkTotp(subject, code, now) {
      const r = await directories.load(directoryId, subject.userId);
      const secret = r === undefined ? undefined : directories.openTotpSecret(r);
      if (secret === undefined) return { ok: false, reason: 'invalid' };
      return verifyTotp(db, { scope: 'totp:gateway', key: subject.key, secret, code, now });
    },
    async markPhoneVerified(subject, at) {
      if (subject.phone)
        await directories.markPhoneVerified(directoryId, subject.userId, subject.phone.number, at);
    },
  };
}

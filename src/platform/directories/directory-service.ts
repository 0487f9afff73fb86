// Directories of application users — the people who log in through the MFA gateway to an
// operator's web applications (they are not platform users: they cannot call the API). A user has
// an id, a password (scrypt hash), an E.164 phone number and whether it was verified, a TOTP secret
// (sealed), a registered SIM (IMSI + IMEI) for the SIM-token factor, and groups the gateway's
// policies match on. Every change is audited in the transaction that makes it.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { isImei, isImeisv, isImsi } from '../../lib/identities.js';
import { writeAudit } from '../audit/audit-log.js';
import { checkPasswordPolicy, dummyPasswordHash, hashPassword, verifyPassword } from '../iam/passwords.js';
import type { AuditContext } from '../iam/principal.js';
import { parseE164 } from '../mfa/phone.js';
import { generateTotpSecret, totpUri } from '../mfa/totp.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Executor, Store } from '../store/database.js';
import type { DirectoryUsersTable } from '../store/schema.js';

export interface DirectoryView {
  readonly directoryId: string;
  readonly name: string;
  readonly createdTime: number;
  readonly updatedTime: number;
}

export interface DirectoryUserView {
  readonly directoryId: string;
  readonly userId: string;
  readonly displayName: string | null;
  readonly phoneNumber: string | null;
  readonly phoneVerified: boolean;
  readonly phoneVerifiedTime: number | null;
  readonly totpEnabled: boolean;
  readonly sim: { readonly imsi: string; readonly imei: string | null } | null;
  readonly groups: readonly string[];
  readonly disabled: boolean;
  readonly createdTime: number;
  readonly updatedTime: number;
}

export interface UserInput {
  readonly password?: string | undefined;
  /** An scrypt hash in our encoding (`scrypt$…`), for imports from another simtrust. */
  readonly passwordHash?: string | undefined;
  readonly displayName?: string | null | undefined;
  readonly phoneNumber?: string | null | undefined;
  /**
   * The administrator vouches that the number is the user's (e.g. HR records). Otherwise a number
   * becomes verified only when a code sent to it is typed back.
   */
  readonly phoneVerified?: boolean | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly sim?: { readonly imsi: string; readonly imei?: string | null | undefined } | null | undefined;
  readonly disabled?: boolean | undefined;
}

export interface CreateUserInput extends UserInput {
  readonly userId: string;
}

export const USER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const GROUP_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export const MAX_GROUPS = 50;

export const totpContext = (directoryId: string, userId: string) =>
  `directory-user-totp:${directoryId}/${userId}`;

function bad(message: string): SimtrustError {
  return new SimtrustError('ERR_BAD_REQUEST', message);
}

export function checkUserId(userId: string): void {
  if (!USER_ID_PATTERN.test(userId)) {
    throw bad('userId: 1–128 characters, letters, digits and . _ @ + - (not starting with a symbol)');
  }
}

function checkGroups(groups: readonly string[]): string[] {
  if (groups.length > MAX_GROUPS) throw bad(`at most ${MAX_GROUPS} groups`);
  for (const g of groups)
    if (!GROUP_PATTERN.test(g)) throw bad(`group "${g.slice(0, 70)}": 1–64 letters, digits, . _ : -`);
  return [...new Set(groups)].sort();
}

function checkSim(sim: NonNullable<UserInput['sim']>): { imsi: string; imei: string | null } {
  if (!isImsi(sim.imsi)) throw bad('sim.imsi must be 6–15 digits');
  const imei = sim.imei ?? null;
  if (imei !== null && !isImei(imei) && !isImeisv(imei)) {
    throw bad('sim.imei must be a 15-digit IMEI (Luhn check digit) or a 16-digit IMEISV');
  }
  return { imsi: sim.imsi, imei };
}

function phone(input: string): string {
  const parsed = parseE164(input);
  if (!parsed.ok) throw new SimtrustError('ERR_PHONE_NUMBER', `phoneNumber: ${parsed.error.message}`);
  return parsed.value;
}

function toView(r: DirectoryUsersTable): DirectoryUserView {
  return {
    directoryId: r.directory_id,
    userId: r.user_id,
    displayName: r.display_name,
    phoneNumber: r.phone_number,
    phoneVerified: r.phone_verified_at !== null,
    phoneVerifiedTime: r.phone_verified_at,
    totpEnabled: r.totp_secret !== null,
    sim: r.sim_imsi === null ? null : { imsi: r.sim_imsi, imei: r.sim_imei },
    groups: JSON.parse(r.groups) as string[],
    disabled: r.disabled === 1,
    createdTime: r.created_at,
    updatedTime: r.updated_at,
  };
}

export class DirectoryService {
  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {}

  // ------------------------------------------------------------ directories

  async create(ctx: AuditContext, input: { name: string }): Promise<DirectoryView> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100) throw bad('name: 1–100 characters');
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('directories')
        .select('directory_id')
        .where('operator_id', '=', operatorId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (existing) throw new SimtrustError('ERR_CONFLICT', `a directory named "${name}" exists`);
      const directoryId = `dir-${randomBytes(8).toString('hex')}`;
      await trx
        .insertInto('directories')
        .values({
          directory_id: directoryId,
          operator_id: operatorId,
          name,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { directoryId, name }, at: now });
      return { directoryId, name, createdTime: now, updatedTime: now };
    });
  }

  async list(operatorId: string): Promise<DirectoryView[]> {
    const rows = await this.store.db
      .selectFrom('directories')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      directoryId: r.directory_id,
      name: r.name,
      createdTime: r.created_at,
      updatedTime: r.updated_at,
    }));
  }

  async get(operatorId: string, directoryId: string, db: Executor = this.store.db): Promise<DirectoryView> {
    const r = await db
      .selectFrom('directories')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('directory_id', '=', directoryId)
      .executeTakeFirst();
    if (!r) throw new SimtrustError('ERR_DIRECTORY_NOT_FOUND', `no directory ${directoryId}`);
    return {
      directoryId: r.directory_id,
      name: r.name,
      createdTime: r.created_at,
      updatedTime: r.updated_at,
    };
  }

  /** The operator a directory belongs to (the gateway knows directories by id only). */
  async operatorOf(directoryId: string): Promise<string | undefined> {
    const r = await this.store.db
      .selectFrom('directories')
      .select('operator_id')
      .where('directory_id', '=', directoryId)
      .executeTakeFirst();
    return r?.operator_id;
  }

  /** Deletes a directory, its users and their gateway sessions. */
  async delete(ctx: AuditContext, directoryId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    await this.store.transaction(async (trx) => {
      await this.get(operatorId, directoryId, trx);
      const users = await trx
        .deleteFrom('directory_users')
        .where('directory_id', '=', directoryId)
        .executeTakeFirst();
      await trx
        .deleteFrom('gateway_sessions')
        .where('operator_id', '=', operatorId)
        .where('subject', 'like', `dir:${directoryId}:%`)
        .execute();
      await trx.deleteFrom('directories').where('directory_id', '=', directoryId).execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { directoryId, users: Number(users.numDeletedRows) },
        at: this.clock.now(),
      });
    });
  }

  // ------------------------------------------------------------ users

  private async row(
    db: Executor,
    operatorId: string,
    directoryId: string,
    userId: string,
  ): Promise<DirectoryUsersTable> {
    const r = await db
      .selectFrom('directory_users')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('directory_id', '=', directoryId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!r) {
      await this.get(operatorId, directoryId, db);
      throw new SimtrustError('ERR_DIRECTORY_USER_NOT_FOUND', `no user ${userId} in ${directoryId}`);
    }
    return r;
  }

  async getUser(operatorId: string, directoryId: string, userId: string): Promise<DirectoryUserView> {
    return toView(await this.row(this.store.db, operatorId, directoryId, userId));
  }

  async listUsers(
    operatorId: string,
    directoryId: string,
    page: { limit: number; after?: string | undefined; group?: string | undefined },
  ): Promise<{ items: DirectoryUserView[]; nextKey: string | undefined }> {
    await this.get(operatorId, directoryId);
    let q = this.store.db
      .selectFrom('directory_users')
      .selectAll()
      .where('directory_id', '=', directoryId)
      .where('operator_id', '=', operatorId);
    if (page.after !== undefined) q = q.where('user_id', '>', page.after);
    if (page.group !== undefined) q = q.where('groups', 'like', `%${JSON.stringify(page.group)}%`);
    const rows = await q
      .orderBy('user_id')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toView);
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.userId : undefined };
  }

  /** Validates and hashes an input outside any transaction (scrypt takes ~60 ms). */
  private async prepare(
    input: UserInput,
    existing: DirectoryUsersTable | undefined,
  ): Promise<Partial<DirectoryUsersTable>> {
    const now = this.clock.now();
    const out: Partial<DirectoryUsersTable> = {};
    if (input.password !== undefined) {
      checkPasswordPolicy(input.password);
      out.password_hash = await hashPassword(input.password);
    } else if (input.passwordHash !== undefined) {
      if (!/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(input.passwordHash)) {
        throw bad('passwordHash must be an scrypt hash as simtrust writes it (scrypt$logN$r$p$salt$hash)');
      }
      out.password_hash = input.passwordHash;
    }
    if (input.displayName !== undefined) {
      if (input.displayName !== null && input.displayName.length > 200)
        throw bad('displayName: at most 200 characters');
      out.display_name = input.displayName;
    }
    if (input.phoneNumber !== undefined) {
      const number = input.phoneNumber === null ? null : phone(input.phoneNumber);
      out.phone_number = number;
      // A changed number is a new authenticator (NIST SP 800-63B §6.1.2): it must be verified again.
      if (number !== existing?.phone_number) out.phone_verified_at = null;
    }
    if (input.phoneVerified !== undefined) {
      const number = out.phone_number !== undefined ? out.phone_number : (existing?.phone_number ?? null);
      if (input.phoneVerified && number === null) throw bad('phoneVerified needs a phoneNumber');
      out.phone_verified_at = input.phoneVerified ? now : null;
    }
    if (input.groups !== undefined) out.groups = JSON.stringify(checkGroups(input.groups));
    if (input.sim !== undefined) {
      const sim = input.sim === null ? null : checkSim(input.sim);
      out.sim_imsi = sim?.imsi ?? null;
      out.sim_imei = sim?.imei ?? null;
    }
    if (input.disabled !== undefined) out.disabled = input.disabled ? 1 : 0;
    return out;
  }

  async createUser(
    ctx: AuditContext,
    directoryId: string,
    input: CreateUserInput,
  ): Promise<DirectoryUserView> {
    checkUserId(input.userId);
    if (input.password === undefined && input.passwordHash === undefined) throw bad('a password is required');
    const prepared = await this.prepare(input, undefined);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      await this.get(operatorId, directoryId, trx);
      const exists = await trx
        .selectFrom('directory_users')
        .select('user_id')
        .where('directory_id', '=', directoryId)
        .where('user_id', '=', input.userId)
        .executeTakeFirst();
      if (exists) throw new SimtrustError('ERR_CONFLICT', `user ${input.userId} exists in ${directoryId}`);
      const row: DirectoryUsersTable = {
        directory_id: directoryId,
        user_id: input.userId,
        operator_id: operatorId,
        display_name: null,
        password_hash: '',
        phone_number: null,
        phone_verified_at: null,
        totp_secret: null,
        sim_imsi: null,
        sim_imei: null,
        groups: '[]',
        disabled: 0,
        created_at: now,
        updated_at: now,
        ...prepared,
      };
      await trx.insertInto('directory_users').values(row).execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { directoryId, userId: input.userId, phoneVerified: row.phone_verified_at !== null },
        at: now,
      });
      return toView(row);
    });
  }

  async updateUser(
    ctx: AuditContext,
    directoryId: string,
    userId: string,
    input: UserInput,
  ): Promise<DirectoryUserView> {
    const operatorId = ctx.principal.operatorId;
    const before = await this.row(this.store.db, operatorId, directoryId, userId);
    const prepared = await this.prepare(input, before);
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      await this.row(trx, operatorId, directoryId, userId);
      await trx
        .updateTable('directory_users')
        .set({ ...prepared, updated_at: now })
        .where('directory_id', '=', directoryId)
        .where('user_id', '=', userId)
        .execute();
      // A new password or a disabled account ends the user's gateway sessions.
      if (prepared.password_hash !== undefined || prepared.disabled === 1) {
        await trx
          .deleteFrom('gateway_sessions')
          .where('operator_id', '=', operatorId)
          .where('subject', '=', `dir:${directoryId}:${userId}`)
          .execute();
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { directoryId, userId, changed: Object.keys(input).filter((k) => k !== 'password') },
        at: now,
      });
      return toView(await this.row(trx, operatorId, directoryId, userId));
    });
  }

  async deleteUser(ctx: AuditContext, directoryId: string, userId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    await this.store.transaction(async (trx) => {
      await this.row(trx, operatorId, directoryId, userId);
      await trx
        .deleteFrom('directory_users')
        .where('directory_id', '=', directoryId)
        .where('user_id', '=', userId)
        .execute();
      await trx
        .deleteFrom('gateway_sessions')
        .where('operator_id', '=', operatorId)
        .where('subject', '=', `dir:${directoryId}:${userId}`)
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { directoryId, userId },
        at: this.clock.now(),
      });
    });
  }

  /** A new TOTP secret for the user; returned once (for the QR code), stored sealed. */
  async enableTotp(
    ctx: AuditContext,
    directoryId: string,
    userId: string,
    issuer: string,
  ): Promise<{ secret: string; totpUri: string }> {
    const secret = generateTotpSecret();
    const sealed = this.keyRing.seal(Buffer.from(secret), totpContext(directoryId, userId));
    await this.setTotpSecret(ctx, directoryId, userId, sealed);
    return { secret, totpUri: totpUri({ issuer, account: userId, secret }) };
  }

  disableTotp(ctx: AuditContext, directoryId: string, userId: string): Promise<void> {
    return this.setTotpSecret(ctx, directoryId, userId, null);
  }

  /** Stores (or clears) the user's sealed TOTP secret, audited in the same transaction. */
  private async setTotpSecret(
    ctx: AuditContext,
    directoryId: string,
    userId: string,
    sealed: string | null,
  ): Promise<void> {
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.row(trx, ctx.principal.operatorId, directoryId, userId);
      await trx
        .updateTable('directory_users')
        .set({ totp_secret: sealed, updated_at: now })
        .where('directory_id', '=', directoryId)
        .where('user_id', '=', userId)
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { directoryId, userId }, at: now });
    });
  }

  // ------------------------------------------------------------ for the MFA engine

  /**
   * The user's row when the password is right and the account enabled; undefined otherwise, in the
   * time a password check takes whether or not the user exists (no enumeration by timing).
   */
  async authenticate(
    directoryId: string,
    userId: string,
    password: string,
  ): Promise<DirectoryUsersTable | undefined> {
    const r = USER_ID_PATTERN.test(userId)
      ? await this.store.db
          .selectFrom('directory_users')
          .selectAll()
          .where('directory_id', '=', directoryId)
          .where('user_id', '=', userId)
          .executeTakeFirst()
      : undefined;
    const valid = await verifyPassword(password, r?.password_hash ?? (await dummyPasswordHash()));
    return r !== undefined && valid && r.disabled === 0 ? r : undefined;
  }

  async load(directoryId: string, userId: string): Promise<DirectoryUsersTable | undefined> {
    return this.store.db
      .selectFrom('directory_users')
      .selectAll()
      .where('directory_id', '=', directoryId)
      .where('user_id', '=', userId)
      .where('disabled', '=', 0)
      .executeTakeFirst();
  }

  openTotpSecret(r: DirectoryUsersTable): string | undefined {
    return r.totp_secret === null
      ? undefined
      : this.keyRing.open(r.totp_secret, totpContext(r.directory_id, r.user_id)).toString();
  }

  async markPhoneVerified(
    directoryId: string,
    userId: string,
    phoneNumber: string,
    at: number,
  ): Promise<void> {
    // Only the number the code went to becomes verified (it may have changed meanwhile).
    await this.store.db
      .updateTable('directory_users')
      .set({ phone_verified_at: at, updated_at: at })
      .where('directory_id', '=', directoryId)
      .where('user_id', '=', userId)
      .where('phone_number', '=', phoneNumber)
      .execute();
  }
}

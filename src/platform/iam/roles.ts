// Roles (SORACOM SAM, reference/soracom.md §3.1): a named permission document that users attach.
// A role still attached to users cannot be deleted — silently dropping its deny statements would
// widen what those users may do.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import type { PermissionService } from './permissions.js';
import type { AuditContext } from './principal.js';
import type { UserService } from './users.js';

export const ROLE_ID_PATTERN = '^[A-Za-z0-9@+=._-]{1,100}$';
const ROLE_ID_RE = new RegExp(ROLE_ID_PATTERN);

export interface RoleView {
  readonly operatorId: string;
  readonly roleId: string;
  readonly description: string;
  readonly permission: string;
  readonly owner: 'operator';
  readonly createdTime: number;
  readonly lastModifiedTime: number;
}

type RoleRow = {
  operator_id: string;
  role_id: string;
  description: string;
  permission: string;
  created_at: number;
  updated_at: number;
};

const view = (r: RoleRow): RoleView => ({
  operatorId: r.operator_id,
  roleId: r.role_id,
  description: r.description,
  permission: r.permission,
  owner: 'operator',
  createdTime: r.created_at,
  lastModifiedTime: r.updated_at,
});

export class RoleService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly users: UserService,
    private readonly permissions: PermissionService,
  ) {}

  async create(
    ctx: AuditContext,
    roleId: string,
    input: { permission: string; description?: string | undefined },
  ): Promise<RoleView> {
    if (!ROLE_ID_RE.test(roleId)) {
      throw new SimtrustError('ERR_VALIDATION', `"${roleId}" is not a valid role id (${ROLE_ID_PATTERN})`);
    }
    this.permissions.validate('the permission', input.permission);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      if (await this.find(trx, operatorId, roleId))
        throw new SimtrustError('ERR_CONFLICT', `role ${roleId} already exists`);
      await trx
        .insertInto('roles')
        .values({
          operator_id: operatorId,
          role_id: roleId,
          description: input.description ?? '',
          permission: input.permission,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { roleId, permission: input.permission },
        at: now,
      });
      return view(await this.require(trx, operatorId, roleId));
    });
  }

  async get(operatorId: string, roleId: string): Promise<RoleView> {
    return view(await this.require(this.store.db, operatorId, roleId));
  }

  async list(
    operatorId: string,
    page: { limit: number; after?: string | undefined },
  ): Promise<{ items: RoleView[]; nextKey: string | undefined }> {
    let q = this.store.db.selectFrom('roles').selectAll().where('operator_id', '=', operatorId);
    if (page.after !== undefined) q = q.where('role_id', '>', page.after);
    const rows = await q
      .orderBy('role_id')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(view);
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.roleId : undefined };
  }

  async update(
    ctx: AuditContext,
    roleId: string,
    input: { permission?: string | undefined; description?: string | undefined },
  ): Promise<RoleView> {
    if (input.permission !== undefined) this.permissions.validate('the permission', input.permission);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      await this.require(trx, operatorId, roleId);
      await trx
        .updateTable('roles')
        .set({
          ...(input.permission === undefined ? {} : { permission: input.permission }),
          ...(input.description === undefined ? {} : { description: input.description }),
          updated_at: now,
        })
        .where('operator_id', '=', operatorId)
        .where('role_id', '=', roleId)
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { roleId, ...input }, at: now });
      return view(await this.require(trx, operatorId, roleId));
    });
  }

  async delete(ctx: AuditContext, roleId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.require(trx, operatorId, roleId);
      const users = await this.attachedUsers(trx, operatorId, roleId);
      if (users.length > 0) {
        throw new SimtrustError(
          'ERR_ROLE_IN_USE',
          `role ${roleId} is attached to ${users.length} user(s) (${users.slice(0, 5).join(', ')}); detach it first`,
        );
      }
      await trx
        .deleteFrom('roles')
        .where('operator_id', '=', operatorId)
        .where('role_id', '=', roleId)
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { roleId }, at: now });
    });
  }

  async listUsers(
    operatorId: string,
    roleId: string,
  ): Promise<Array<{ userName: string; attachedTime: number }>> {
    await this.require(this.store.db, operatorId, roleId);
    const rows = await this.store.db
      .selectFrom('user_roles')
      .select(['user_name', 'attached_at'])
      .where('operator_id', '=', operatorId)
      .where('role_id', '=', roleId)
      .orderBy('user_name')
      .execute();
    return rows.map((r) => ({ userName: r.user_name, attachedTime: r.attached_at }));
  }

  async listOfUser(
    operatorId: string,
    userName: string,
  ): Promise<Array<RoleView & { attachedTime: number }>> {
    await this.users.require(this.store.db, operatorId, userName);
    const rows = await this.store.db
      .selectFrom('user_roles')
      .innerJoin('roles', (j) =>
        j
          .onRef('roles.operator_id', '=', 'user_roles.operator_id')
          .onRef('roles.role_id', '=', 'user_roles.role_id'),
      )
      .selectAll('roles')
      .select('user_roles.attached_at')
      .where('user_roles.operator_id', '=', operatorId)
      .where('user_roles.user_name', '=', userName)
      .orderBy('roles.role_id')
      .execute();
    return rows.map((r) => ({ ...view(r), attachedTime: r.attached_at }));
  }

  async attach(ctx: AuditContext, userName: string, roleId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.users.require(trx, operatorId, userName);
      await this.require(trx, operatorId, roleId);
      const existing = await trx
        .selectFrom('user_roles')
        .select('role_id')
        .where('operator_id', '=', operatorId)
        .where('user_name', '=', userName)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      if (!existing) {
        await trx
          .insertInto('user_roles')
          .values({ operator_id: operatorId, user_name: userName, role_id: roleId, attached_at: now })
          .execute();
      }
      await writeAudit(trx, { context: ctx, result: 'success', detail: { userName, roleId }, at: now });
    });
  }

  async detach(ctx: AuditContext, userName: string, roleId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.users.require(trx, operatorId, userName);
      const r = await trx
        .deleteFrom('user_roles')
        .where('operator_id', '=', operatorId)
        .where('user_name', '=', userName)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) {
        throw new SimtrustError('ERR_ROLE_NOT_FOUND', `role ${roleId} is not attached to user ${userName}`);
      }
      await writeAudit(trx, { context: ctx, result: 'success', detail: { userName, roleId }, at: now });
    });
  }

  private async attachedUsers(db: Executor, operatorId: string, roleId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('user_roles')
      .select('user_name')
      .where('operator_id', '=', operatorId)
      .where('role_id', '=', roleId)
      .limit(100)
      .execute();
    return rows.map((r) => r.user_name);
  }

  private async require(db: Executor, operatorId: string, roleId: string): Promise<RoleRow> {
    const row = await this.find(db, operatorId, roleId);
    if (!row) throw new SimtrustError('ERR_ROLE_NOT_FOUND', `no role ${roleId}`);
    return row;
  }

  private find(db: Executor, operatorId: string, roleId: string) {
    return db
      .selectFrom('roles')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
  }
}

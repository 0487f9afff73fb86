// The audit log: append-only (no update or delete path exists in code, and database triggers refuse
// UPDATE and DELETE — migration 0002), one row per mutating call and per login attempt. Domain
// services write their record inside the transaction of the change they make, so a change and its
// record commit together.

import type { AuditContext } from '../iam/principal.js';
import type { Executor } from '../store/database.js';

export type AuditResult = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  readonly context: AuditContext;
  readonly result: AuditResult;
  readonly statusCode?: number;
  /** Operation-specific facts; never a secret. */
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly at: number;
}

export async function writeAudit(db: Executor, e: AuditEntry): Promise<void> {
  await db.insertInto('audit_logs').values(auditRow(e)).execute();
}

/** Several records in one statement (a batch job's changes, each with its own record). */
export async function writeAudits(db: Executor, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length > 0) await db.insertInto('audit_logs').values(entries.map(auditRow)).execute();
}

function auditRow(e: AuditEntry) {
  const c = e.context;
  return {
    operator_id: c.principal.operatorId,
    at: e.at,
    actor_kind: c.principal.kind,
    actor_id: c.principal.id,
    operation_id: c.operationId,
    method: c.method ?? null,
    path: c.path ?? null,
    params: JSON.stringify(c.params ?? {}),
    source_ip: c.sourceIp ?? null,
    request_id: c.requestId ?? null,
    result: e.result,
    status_code: e.statusCode ?? null,
    detail: JSON.stringify(
      c.authorization === undefined ? (e.detail ?? {}) : { ...e.detail, authorization: c.authorization },
    ),
    user_name: c.principal.userName ?? null,
    auth_key_id: c.principal.authKeyId ?? null,
  };
}

export interface AuditRecord {
  readonly id: number;
  readonly time: number;
  readonly operatorId: string;
  readonly actor: {
    readonly kind: string;
    readonly id: string;
    readonly userName: string | null;
    readonly authKeyId: string | null;
  };
  readonly operationId: string;
  readonly method: string | null;
  readonly path: string | null;
  readonly params: Record<string, string>;
  readonly sourceIp: string | null;
  readonly requestId: string | null;
  readonly result: string;
  readonly statusCode: number | null;
  readonly detail: Record<string, unknown>;
}

export interface AuditQuery {
  readonly operationId?: string | undefined;
  readonly actorId?: string | undefined;
  readonly result?: string | undefined;
  readonly userName?: string | undefined;
  readonly authKeyId?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  /** Keyset: return records older than this id (newest first). */
  readonly before?: number | undefined;
  readonly limit: number;
}

export async function listAudit(
  db: Executor,
  operatorId: string,
  q: AuditQuery,
): Promise<{ records: AuditRecord[]; nextKey: number | undefined }> {
  let query = db.selectFrom('audit_logs').selectAll().where('operator_id', '=', operatorId);
  if (q.operationId) query = query.where('operation_id', '=', q.operationId);
  if (q.actorId) query = query.where('actor_id', '=', q.actorId);
  if (q.result) query = query.where('result', '=', q.result);
  if (q.userName) query = query.where('user_name', '=', q.userName);
  if (q.authKeyId) query = query.where('auth_key_id', '=', q.authKeyId);
  if (q.sourceIp) query = query.where('source_ip', '=', q.sourceIp);
  if (q.from !== undefined) query = query.where('at', '>=', q.from);
  if (q.to !== undefined) query = query.where('at', '<', q.to);
  if (q.before !== undefined) query = query.where('id', '<', q.before);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(q.limit + 1)
    .execute();
  const page = rows.slice(0, q.limit);
  return {
    records: page.map((r) => ({
      id: Number(r.id),
      time: r.at,
      operatorId: r.operator_id,
      actor: { kind: r.actor_kind, id: r.actor_id, userName: r.user_name, authKeyId: r.auth_key_id },
      operationId: r.operation_id,
      method: r.method,
      path: r.path,
      params: JSON.parse(r.params) as Record<string, string>,
      sourceIp: r.source_ip,
      requestId: r.request_id,
      result: r.result,
      statusCode: r.status_code,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    })),
    nextKey: rows.length > q.limit ? Number(page.at(-1)?.id) : undefined,
  };
}

// `simtrust audit-logs list`: the audit trail.

import type { Command } from 'commander';
import type { AuditRecord } from '../../platform/audit/audit-log.js';
import { apiClient, print } from '../context.js';

export function registerAuditLogsCommand(program: Command): void {
  const audit = program.command('audit-logs').description('Read the audit log');
  audit
    .command('list')
    .description('Audit records, newest first')
    .option('--operation-id <id>', 'e.g. Sim:suspendSim')
    .option('--actor-id <id>', 'who (email, user name or key id)')
    .option('--result <result>', 'success, failure or denied')
    .option('--limit <n>', 'page size (1-100)', '100')
    .option('--fetch-all', 'follow every page')
    .addHelpText(
      'after',
      '\nExample:\n  $ simtrust audit-logs list --operation-id Sim:suspendSim --output table',
    )
    .action(
      async (
        o: { operationId?: string; actorId?: string; result?: string; limit: string; fetchAll?: boolean },
        command: Command,
      ) => {
        const client = await apiClient(command);
        const query = { operation_id: o.operationId, actor_id: o.actorId, result: o.result, limit: o.limit };
        const all: AuditRecord[] = [];
        for await (const page of client.pages<AuditRecord>('/v1/audit_logs', query)) {
          all.push(...page);
          if (!o.fetchAll) break;
        }
        print(command, all, [
          ['time', (r) => new Date(r.time).toISOString()],
          ['actor', (r) => `${r.actor.kind}:${r.actor.id}`],
          ['operation', (r) => r.operationId],
          ['result', (r) => r.result],
          ['status', (r) => r.statusCode],
          ['params', (r) => r.params],
          ['sourceIp', (r) => r.sourceIp],
        ]);
      },
    );
}

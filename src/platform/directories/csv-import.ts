// Bulk load of a directory from CSV (an HR export, another system's user list). Header names the
// columns; `user_id` and one of `password` / `password_hash` (for new users) are required:
//   user_id,password,password_hash,display_name,phone_number,phone_verified,groups,sim_imsi,sim_imei,disabled
// `groups` is `a;b;c`; `phone_verified` and `disabled` are true/false. A row for an existing user
// updates the columns it fills (an empty cell leaves the value as it is). Bad rows are refused
// with their line number and reason; the other rows are imported (each in its own transaction).

import { parse } from 'csv-parse/sync';
import { SimtrustError } from '../../lib/errors.js';
import type { AuditContext } from '../iam/principal.js';
import type { DirectoryService, UserInput } from './directory-service.js';

export const DIRECTORY_CSV_COLUMNS = [
  'user_id',
  'password',
  'password_hash',
  'display_name',
  'phone_number',
  'phone_verified',
  'groups',
  'sim_imsi',
  'sim_imei',
  'disabled',
] as const;

/** Directories are people, not fleets: a few MB is tens of thousands of users. */
export const DIRECTORY_CSV_MAX_BYTES = 16 * 1024 * 1024;

export interface DirectoryImportSummary {
  readonly rows: number;
  readonly created: number;
  readonly updated: number;
  readonly rejected: number;
  readonly errors: ReadonlyArray<{ line: number; userId?: string; code: string; reason: string }>;
}

function flag(value: string, column: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === '') return undefined;
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new SimtrustError('ERR_BAD_REQUEST', `${column} must be true or false`);
}

export async function importDirectoryCsv(
  directories: DirectoryService,
  ctx: AuditContext,
  directoryId: string,
  text: string,
): Promise<DirectoryImportSummary> {
  if (Buffer.byteLength(text) > DIRECTORY_CSV_MAX_BYTES) {
    throw new SimtrustError(
      'ERR_PAYLOAD_TOO_LARGE',
      `a directory CSV may have at most ${DIRECTORY_CSV_MAX_BYTES} bytes`,
    );
  }
  await directories.get(ctx.principal.operatorId, directoryId);
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true, trim: true });
  } catch (e) {
    throw new SimtrustError('ERR_MALFORMED_BODY', `not a CSV file: ${(e as Error).message}`);
  }
  const header = (records.shift() ?? []).map((h) => h.toLowerCase());
  const unknown = header.filter((h) => !(DIRECTORY_CSV_COLUMNS as readonly string[]).includes(h));
  if (!header.includes('user_id') || unknown.length > 0) {
    throw new SimtrustError(
      'ERR_BAD_REQUEST',
      `the header must name user_id and may name only ${DIRECTORY_CSV_COLUMNS.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
    );
  }
  let created = 0;
  let updated = 0;
  const errors: Array<{ line: number; userId?: string; code: string; reason: string }> = [];
  for (const [i, record] of records.entries()) {
    const line = i + 2;
    const cell = (name: string) => record[header.indexOf(name)] ?? '';
    const userId = cell('user_id');
    try {
      const imsi = cell('sim_imsi');
      const input: UserInput = {
        ...(cell('password') ? { password: cell('password') } : {}),
        ...(cell('password_hash') ? { passwordHash: cell('password_hash') } : {}),
        ...(cell('display_name') ? { displayName: cell('display_name') } : {}),
        ...(cell('phone_number') ? { phoneNumber: cell('phone_number') } : {}),
        ...(flag(cell('phone_verified'), 'phone_verified') !== undefined
          ? { phoneVerified: flag(cell('phone_verified'), 'phone_verified') }
          : {}),
        ...(cell('groups')
          ? {
              groups: cell('groups')
                .split(';')
                .map((g) => g.trim())
                .filter(Boolean),
            }
          : {}),
        ...(imsi ? { sim: { imsi, imei: cell('sim_imei') || null } } : {}),
        ...(flag(cell('disabled'), 'disabled') !== undefined
          ? { disabled: flag(cell('disabled'), 'disabled') }
          : {}),
      };
      const exists = await directories
        .getUser(ctx.principal.operatorId, directoryId, userId)
        .then(() => true)
        .catch((e: unknown) => {
          if (e instanceof SimtrustError && e.code === 'ERR_DIRECTORY_USER_NOT_FOUND') return false;
          throw e;
        });
      if (exists) {
        await directories.updateUser(ctx, directoryId, userId, input);
        updated++;
      } else {
        await directories.createUser(ctx, directoryId, { ...input, userId });
        created++;
      }
    } catch (e) {
      if (!(e instanceof SimtrustError) || e.status >= 500) throw e;
      errors.push({ line, ...(userId ? { userId } : {}), code: e.code, reason: e.message });
    }
  }
  return { rows: records.length, created, updated, rejected: errors.length, errors: errors.slice(0, 1000) };
}

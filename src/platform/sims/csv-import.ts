// Bulk import of the file a card vendor delivers: CSV with header iccid,imsi,msisdn,ki,opc
// (optional op instead of opc, amf, serial_number, type, group, tags as k=v;k=v; OTA keys kic, kid,
// kvn and the anti-theft applet's quarantine_imsi: ota-provisioning.ts).
//
// The file is streamed and committed in batches; each SIM (its row, profile, tags and first history
// entry) lands in the same transaction as the rest of its batch, so a crash leaves whole SIMs only.
// Re-importing is idempotent: a row equal to what is stored (ICCID, IMSI, MSISDN, AMF, Ki, OPc) is
// counted as unchanged; a row that disagrees is rejected as a conflict with its line number, and
// so is every malformed row. Other rows are imported.

import { timingSafeEqual } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { parse } from 'csv-parse';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import { OtaService } from '../ota/ota-service.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Executor, Store } from '../store/database.js';
import {
  checkProfile,
  DEFAULT_SPEED_CLASS,
  packSecrets,
  profileSecretContext,
  SIM_TYPES,
  type SimType,
  type ValidProfile,
} from './model.js';
import {
  OTA_CSV_COLUMNS,
  otaOfCsvRow,
  quarantineTaken,
  takenQuarantineImsis,
  type ValidSimOta,
} from './ota-provisioning.js';
import { alreadyRegistered, newProfileRow, newSimRow } from './sim-service.js';

/** After this many new SIMs, refresh planner statistics so listing stays on its indexes. */
const ANALYZE_AFTER_ROWS = 10_000;

export const REQUIRED_COLUMNS = ['iccid', 'imsi', 'ki'] as const;
export const OPTIONAL_COLUMNS = [
  'msisdn',
  'opc',
  'op',
  'amf',
  'serial_number',
  'type',
  'group',
  'tags',
  ...OTA_CSV_COLUMNS,
] as const;
const KNOWN_COLUMNS: readonly string[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];

export interface ImportRowError {
  readonly line: number;
  readonly code: 'ERR_IMPORT_ROW' | 'ERR_DUPLICATE_SIM';
  readonly reason: string;
  readonly iccid?: string;
}

export interface ImportProgress {
  readonly rows: number;
  readonly created: number;
  readonly unchanged: number;
  readonly rejected: number;
}

export interface ImportSummary extends ImportProgress {
  /** The first `maxReportedErrors` rejected rows (all are counted in `rejected`). */
  readonly errors: ImportRowError[];
}

export interface ImportOptions {
  readonly batchSize?: number;
  /** Refuse (ERR_PAYLOAD_TOO_LARGE) once the input passes this many bytes; earlier batches stay. */
  readonly maxBytes?: number;
  readonly maxReportedErrors?: number;
  readonly onProgress?: (progress: ImportProgress) => void;
}

interface ImportRow {
  readonly line: number;
  readonly profile: ValidProfile;
  readonly type: SimType;
  readonly serialNumber: string | null;
  readonly group: string | null;
  readonly tags: ReadonlyArray<readonly [string, string]>;
  /** OTA key sets and anti-theft applet from the kic/kid/kvn/quarantine_imsi columns. */
  readonly ota: ValidSimOta | undefined;
}

function parseTags(text: string): Array<[string, string]> | string {
  if (text.trim() === '') return [];
  const tags: Array<[string, string]> = [];
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (name === '' || name.length > 100) return `tag "${pair.slice(0, 40)}" must be name=value`;
    tags.push([name, pair.slice(eq + 1).trim()]);
  }
  return tags;
}

/** Column name → index in a record, from the header line. */
type Columns = ReadonlyMap<string, number>;

function checkHeader(header: readonly string[]): Columns {
  const columns = header.map((h) => h.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  const unknown = columns.filter((c) => !KNOWN_COLUMNS.includes(c));
  const noOpc = !columns.includes('opc') && !columns.includes('op');
  if (missing.length > 0 || unknown.length > 0 || noOpc) {
    const problems = [
      missing.length ? `missing ${missing.join(', ')}` : '',
      unknown.length ? `unknown ${unknown.join(', ')}` : '',
      noOpc ? 'needs opc or op' : '',
    ].filter(Boolean);
    throw new SimtrustError(
      'ERR_IMPORT_HEADER',
      `bad CSV header (${problems.join('; ')}). Expected iccid,imsi,msisdn,ki,opc (optional: op, amf, serial_number, type, group, tags, kic, kid, kvn, quarantine_imsi)`,
    );
  }
  return new Map(columns.map((c, i) => [c, i]));
}

/** Validates one CSV record. Returns the row or a reason that never echoes key material. */
function checkRow(fields: readonly string[], columns: Columns, line: number): ImportRow | string {
  // PostgreSQL text cannot hold NUL: such a row failed in the database (issue 11).
  if (fields.some((f) => f.includes('\u0000'))) {
    return 'the line contains a NUL character (U+0000), which cannot be stored; remove it';
  }
  const field = (name: string): string | undefined => {
    const i = columns.get(name);
    return i === undefined ? undefined : fields[i];
  };
  const check = checkProfile({
    iccid: field('iccid') ?? '',
    imsi: field('imsi') ?? '',
    msisdn: field('msisdn'),
    ki: field('ki') ?? '',
    opc: field('opc'),
    op: field('op'),
    amf: field('amf'),
  });
  if (!check.ok) return check.reason;
  const type = (field('type')?.trim() || 'uicc') as SimType;
  if (!SIM_TYPES.includes(type)) return `type must be one of ${SIM_TYPES.join(', ')}`;
  const serialNumber = field('serial_number')?.trim() || null;
  if (serialNumber !== null && serialNumber.length > 64) return 'serial_number is longer than 64 characters';
  const tags = parseTags(field('tags') ?? '');
  if (typeof tags === 'string') return tags;
  const ota = otaOfCsvRow(field, check.profile.imsi);
  if (!ota.ok) return ota.reason;
  return {
    line,
    profile: check.profile,
    type,
    serialNumber,
    group: field('group')?.trim() || null,
    tags,
    ota: ota.ota,
  };
}

/** What csv-parse's 'skip' event carries (CsvError with the parser's position). */
type CsvSkip = Error & { code?: string; lines?: number; empty_lines?: number };

/** The reason of a record the parser could not read; `start`–`end` are the lines it covered. */
function unparsableReason(e: CsvSkip, start: number, end: number): string {
  if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
    const span = start === end ? `line ${start}` : `lines ${start}–${end}`;
    return `unparsable CSV: ${span} (to the end of the file) lie inside a quoted field that is never closed; close the quote (a quote inside a field is written "") and import the file again`;
  }
  const span = start === end ? '' : ` (lines ${start}–${end})`;
  return `unparsable CSV${span}: ${e.message}`;
}

/** Counts bytes and fails the stream once they pass `max`. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen <= max) return done(null, chunk);
      done(
        new SimtrustError(
          'ERR_PAYLOAD_TOO_LARGE',
          `the CSV is larger than the limit of ${max} bytes (importMaxBytes)`,
        ),
      );
    },
  });
}

export class SimImporter {
  /** Stores the OTA key sets of new SIMs (provision only). */
  private readonly otaKeys: OtaService;

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {
    this.otaKeys = new OtaService(store, keyRing, clock);
  }

  /**
   * Streams the CSV through the parser, checks each row, and commits batches in order. While one
   * batch is being written the parser goes on with the next (one batch ahead at most), so on
   * PostgreSQL parsing and writing overlap.
   */
  importCsv(ctx: AuditContext, input: Readable, options: ImportOptions = {}): Promise<ImportSummary> {
    const batchSize = options.batchSize ?? 1000;
    const maxReported = options.maxReportedErrors ?? 1000;
    const counts = { rows: 0, created: 0, unchanged: 0, rejected: 0 };
    const errors: ImportRowError[] = [];
    const reject = (e: ImportRowError) => {
      counts.rejected++;
      if (errors.length < maxReported) errors.push(e);
    };
    const seenIccid = new Map<string, number>();
    const seenImsi = new Map<string, number>();
    const groups = new Map<string, string | undefined>();

    const write = async (rows: ImportRow[]) => {
      if (rows.length === 0) return;
      await this.resolveGroups(ctx.principal.operatorId, rows, groups);
      const result = await this.commitBatch(ctx, rows, groups);
      counts.created += result.created;
      counts.unchanged += result.unchanged;
      for (const e of result.errors) reject(e);
      options.onProgress?.({ ...counts });
    };

    // Records arrive as field arrays through 'data' events, where parser.info.lines is the line of
    // the record being emitted (cheaper than csv-parse's per-record info objects).
    const parser = parse({ bom: true, skip_empty_lines: true, skip_records_with_error: true });
    // pipeline (not pipe) so an input error — a client that goes away, the size limit — ends the
    // parser too.
    pipeline(input, byteLimit(options.maxBytes ?? Number.POSITIVE_INFINITY), parser, () => undefined);

    return new Promise<ImportSummary>((resolve, fail) => {
      let columns: Columns | undefined;
      let batch: ImportRow[] = [];
      let written: Promise<void> = Promise.resolve();
      let queued = 0;
      let failed = false;
      const abort = (e: unknown) => {
        if (failed) return;
        failed = true;
        parser.destroy();
        fail(
          e instanceof SimtrustError
            ? e
            : new SimtrustError('ERR_MALFORMED_BODY', `the CSV could not be read: ${(e as Error).message}`, {
                cause: e,
              }),
        );
      };
      const enqueue = (rows: ImportRow[]) => {
        queued++;
        written = written.then(() => write(rows)).finally(() => queued--);
        written.catch(abort);
        return written;
      };

      // Row accounting (issue 11): every record the parser ends — imported, unchanged or rejected —
      // counts once in `rows`, so rows = created + unchanged + rejected. A record the parser skips
      // covers the lines after the previous record up to the line it reports; csv-parse may report
      // one broken line twice (an invalid quote seen at two fields), which is still one row.
      const lines = { end: 0, empty: 0 };
      parser.on('skip', (e: CsvSkip) => {
        if (failed) return;
        const end = e.lines ?? lines.end + 1;
        if (end <= lines.end) return;
        const start = Math.min(
          end,
          lines.end + 1 + Math.max(0, (e.empty_lines ?? lines.empty) - lines.empty),
        );
        lines.end = end;
        lines.empty = e.empty_lines ?? lines.empty;
        if (columns === undefined) {
          abort(
            new SimtrustError(
              'ERR_IMPORT_HEADER',
              `the CSV header (line ${start}) cannot be parsed: ${e.message}. Expected iccid,imsi,msisdn,ki,opc`,
            ),
          );
          return;
        }
        counts.rows++;
        reject({ line: start, code: 'ERR_IMPORT_ROW', reason: unparsableReason(e, start, end) });
      });

      parser.on('data', (fields: string[]) => {
        if (failed) return;
        const line = parser.info.lines;
        lines.end = Math.max(lines.end, line);
        lines.empty = parser.info.empty_lines;
        try {
          if (columns === undefined) {
            columns = checkHeader(fields);
            return;
          }
          counts.rows++;
          const row = checkRow(fields, columns, line);
          if (typeof row === 'string') {
            const iccid = fields[columns.get('iccid') ?? -1]?.trim();
            reject({ line, code: 'ERR_IMPORT_ROW', reason: row, ...(iccid ? { iccid } : {}) });
            return;
          }
          const { iccid, imsi } = row.profile;
          const quarantine = row.ota?.antiTheft?.quarantineImsi;
          const dupIccid = seenIccid.get(iccid);
          const dupImsi = seenImsi.get(imsi);
          // A quarantine IMSI is an identity too: no other row's IMSI or quarantine IMSI.
          const dupQuarantine = quarantine === undefined ? undefined : seenImsi.get(quarantine);
          if (dupIccid !== undefined || dupImsi !== undefined || dupQuarantine !== undefined) {
            const what =
              dupIccid !== undefined
                ? `ICCID (first on line ${dupIccid})`
                : dupImsi !== undefined
                  ? `IMSI (first on line ${dupImsi})`
                  : `quarantine_imsi (an IMSI on line ${dupQuarantine})`;
            reject({ line, code: 'ERR_IMPORT_ROW', reason: `duplicate ${what}`, iccid });
            return;
          }
          seenIccid.set(iccid, line);
          seenImsi.set(imsi, line);
          if (quarantine !== undefined) seenImsi.set(quarantine, line);
          batch.push(row);
          if (batch.length >= batchSize) {
            const pending = enqueue(batch);
            batch = [];
            if (queued > 1) {
              parser.pause();
              pending.then(() => !failed && parser.resume(), abort);
            }
          }
        } catch (e) {
          abort(e);
        }
      });
      parser.on('error', abort);
      parser.on('end', () => {
        if (failed) return;
        if (columns === undefined) {
          abort(new SimtrustError('ERR_IMPORT_HEADER', 'the CSV is empty; expected a header line'));
          return;
        }
        enqueue(batch)
          .then(async () => {
            if (counts.created >= ANALYZE_AFTER_ROWS) {
              await this.store.analyze(['sims', 'sim_profiles', 'sim_tags', 'sim_status_history']);
            }
          })
          .then(() => resolve({ ...counts, errors }), abort);
      });
    });
  }

  private async resolveGroups(operatorId: string, rows: ImportRow[], cache: Map<string, string | undefined>) {
    for (const name of new Set(rows.map((r) => r.group).filter((g): g is string => g !== null))) {
      if (cache.has(name)) continue;
      // A group is named by its id or by its `name` tag.
      const byId = await this.store.db
        .selectFrom('groups')
        .select('group_id')
        .where('operator_id', '=', operatorId)
        .where('group_id', '=', name)
        .executeTakeFirst();
      const byName =
        byId ??
        (await this.store.db
          .selectFrom('groups')
          .innerJoin('group_tags', 'group_tags.group_id', 'groups.group_id')
          .select('groups.group_id')
          .where('groups.operator_id', '=', operatorId)
          .where('group_tags.name', '=', 'name')
          .where('group_tags.value', '=', name)
          .orderBy('groups.group_id')
          .executeTakeFirst());
      cache.set(name, byName?.group_id);
    }
  }

  /** Commits one batch; if it fails as a whole (a concurrent import), retries row by row. */
  private async commitBatch(ctx: AuditContext, rows: ImportRow[], groups: Map<string, string | undefined>) {
    try {
      return await this.store.transaction((trx) => this.writeRows(trx, ctx, rows, groups));
    } catch (e) {
      if (rows.length === 1) throw e;
      const total = { created: 0, unchanged: 0, errors: [] as ImportRowError[] };
      for (const row of rows) {
        try {
          const r = await this.store.transaction((trx) => this.writeRows(trx, ctx, [row], groups));
          total.created += r.created;
          total.unchanged += r.unchanged;
          total.errors.push(...r.errors);
        } catch (rowError) {
          total.errors.push({
            line: row.line,
            code: 'ERR_DUPLICATE_SIM',
            reason: `could not store the row: ${(rowError as Error).message.split('\n')[0]}`,
            iccid: row.profile.iccid,
          });
        }
      }
      return total;
    }
  }

  private async writeRows(
    trx: Executor,
    ctx: AuditContext,
    rows: ImportRow[],
    groups: Map<string, string | undefined>,
  ) {
    const operatorId = ctx.principal.operatorId;
    const iccids = rows.map((r) => r.profile.iccid);
    const imsis = rows.map((r) => r.profile.imsi);
    const columns = ['iccid', 'imsi', 'msisdn', 'amf', 'secrets', 'operator_id'] as const;
    const [byIccidRows, byImsiRows] = await Promise.all([
      trx.selectFrom('sim_profiles').select(columns).where('iccid', 'in', iccids).execute(),
      trx.selectFrom('sim_profiles').select(columns).where('imsi', 'in', imsis).execute(),
    ]);
    const byIccid = new Map(byIccidRows.map((r) => [r.iccid, r]));
    const byImsi = new Map(byImsiRows.map((r) => [r.imsi, r]));
    const quarantines = rows.flatMap((r) => r.ota?.antiTheft?.quarantineImsi ?? []);
    const taken = await takenQuarantineImsis(trx, quarantines);
    const errors: ImportRowError[] = [];
    const fresh: ImportRow[] = [];
    let unchanged = 0;

    for (const row of rows) {
      const p = row.profile;
      const conflict = (reason: string) =>
        errors.push({ line: row.line, code: 'ERR_DUPLICATE_SIM', reason, iccid: p.iccid });
      // A conflict reads the same whether the number is in this operator's inventory or another's
      // (alreadyRegistered); only a row equal to this operator's own SIM counts as unchanged.
      const existing = byIccid.get(p.iccid);
      if (existing) {
        if (existing.operator_id !== operatorId || this.difference(existing, p) !== undefined)
          conflict(alreadyRegistered('ICCID', p.iccid));
        else if (!(await this.sameOta(trx, p.iccid, row.ota)))
          conflict(
            `SIM ${p.iccid} is registered with other OTA key sets or anti-theft settings (or none); OTA keys are provisioned only with a new SIM`,
          );
        else unchanged++;
        continue;
      }
      if (byImsi.has(p.imsi)) {
        conflict(alreadyRegistered('IMSI', p.imsi));
        continue;
      }
      const quarantine = row.ota?.antiTheft?.quarantineImsi;
      if (quarantine !== undefined && taken.has(quarantine)) {
        conflict(quarantineTaken(quarantine));
        continue;
      }
      if (row.group !== null && groups.get(row.group) === undefined) {
        errors.push({
          line: row.line,
          code: 'ERR_IMPORT_ROW',
          reason: `unknown group "${row.group}"`,
          iccid: p.iccid,
        });
        continue;
      }
      fresh.push(row);
    }

    if (fresh.length > 0) {
      const now = this.clock.now();
      await trx
        .insertInto('sims')
        .values(
          fresh.map((r) =>
            newSimRow(operatorId, r.profile.iccid, now, {
              type: r.type,
              speedClass: DEFAULT_SPEED_CLASS,
              groupId: r.group === null ? null : (groups.get(r.group) ?? null),
              serialNumber: r.serialNumber,
            }),
          ),
        )
        .execute();
      await trx
        .insertInto('sim_profiles')
        .values(fresh.map(({ profile }) => newProfileRow(this.keyRing, operatorId, profile, now)))
        .execute();
      const tags = fresh.flatMap((r) =>
        r.tags.map(([name, value]) => ({ sim_id: r.profile.iccid, name, value, operator_id: operatorId })),
      );
      // Tags of a row may repeat a name: the last value wins, as in PUT …/tags.
      const uniqueTags = [...new Map(tags.map((t) => [`${t.sim_id}\0${t.name}`, t])).values()];
      if (uniqueTags.length > 0) await trx.insertInto('sim_tags').values(uniqueTags).execute();
      for (const r of fresh) {
        if (r.ota !== undefined)
          await this.otaKeys.provision(trx, operatorId, r.profile.iccid, r.ota.keysets, r.ota.antiTheft);
      }
      await trx
        .insertInto('sim_status_history')
        .values(
          fresh.map((r) => ({
            sim_id: r.profile.iccid,
            operator_id: operatorId,
            previous_status: null,
            status: 'ready',
            operation: ctx.operationId,
            actor: `${ctx.principal.kind}:${ctx.principal.id}`,
            at: now,
          })),
        )
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: {
          created: fresh.length,
          firstLine: fresh[0]?.line,
          lastLine: fresh.at(-1)?.line,
          firstIccid: fresh[0]?.profile.iccid,
          lastIccid: fresh.at(-1)?.profile.iccid,
        },
        at: now,
      });
    }
    return { created: fresh.length, unchanged, errors };
  }

  /**
   * Whether the SIM's stored OTA data is what the row says: no OTA columns and no key sets, or the
   * same key set (keys compared in constant time) and the same quarantine IMSI.
   */
  private async sameOta(trx: Executor, simId: string, ota: ValidSimOta | undefined): Promise<boolean> {
    const [keysets, applet] = await Promise.all([
      trx
        .selectFrom('ota_key_sets')
        .select(['kvn', 'kic_algorithm', 'kid_algorithm', 'secrets'])
        .where('sim_id', '=', simId)
        .execute(),
      trx
        .selectFrom('anti_theft_sims')
        .select(['kvn', 'report_kvn', 'quarantine_imsi'])
        .where('sim_id', '=', simId)
        .executeTakeFirst(),
    ]);
    if (ota === undefined) return keysets.length === 0 && applet === undefined;
    if (keysets.length !== ota.keysets.length) return false;
    for (const k of ota.keysets) {
      const row = keysets.find((r) => r.kvn === k.kvn);
      if (row === undefined || row.kic_algorithm !== k.kicAlgorithm || row.kid_algorithm !== k.kidAlgorithm)
        return false;
      // The sealed form of OtaService.provision: length ‖ KIc ‖ length ‖ KID, bound to sim and kvn.
      const stored = this.keyRing.open(row.secrets, `ota-key-set:${simId}:${k.kvn}`);
      const given = Uint8Array.of(k.kic.length, ...k.kic, k.kid.length, ...k.kid);
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return false;
    }
    const a = ota.antiTheft;
    if (a === undefined) return applet === undefined;
    return (
      applet !== undefined &&
      applet.quarantine_imsi === a.quarantineImsi &&
      applet.kvn === a.kvn &&
      applet.report_kvn === a.reportKvn
    );
  }

  /** Which stored field differs from the row, or undefined when the row is what is stored. */
  private difference(
    existing: { imsi: string; msisdn: string | null; amf: string; secrets: string; iccid: string },
    p: ValidProfile,
  ): string | undefined {
    if (existing.imsi !== p.imsi) return 'IMSI';
    if (existing.msisdn !== p.msisdn) return 'MSISDN';
    if (existing.amf !== p.amf) return 'AMF';
    const stored = this.keyRing.open(existing.secrets, profileSecretContext(existing.iccid));
    const given = packSecrets(p.ki, p.opc);
    return stored.length === given.length && timingSafeEqual(stored, given) ? undefined : 'Ki/OPc';
  }
}

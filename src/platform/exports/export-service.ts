// Exported files (issue 17; issue 19 reuses it for /stats/air): SORACOM's export operations answer
// either at once with a download URL (`export_mode=sync`) or with `exportedFileId` and
// `exportedFilePath` (`async`), the URL then coming from GET /files/exported/{exported_file_id}.
//
// A kind of export is registered once (register(kind, {parse, fileName, header, rows})); an export is
// a row of exported_files (migration 0022) with the kind and its parameters, so any process can run
// it: the one that was asked starts at once, and the exports job (servers/exports-job.ts) takes over
// a row whose claim ran out (its process died) and deletes what has expired.
//
// Files are CSV under `<dataDir>/exports/<operator_id>/<file_id>.csv` (directories 0700, files 0600,
// written as `.part` and renamed when whole). The download URL carries a random token whose SHA-256
// is stored with the row (one live URL per file, exportUrlTtlSeconds long; asking again replaces it);
// the download route compares it in constant time. With several instances behind one address,
// `dataDir` must be storage they share (the file is served by whichever instance gets the download).

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, rmSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { constantTimeEqualText } from '../../crypto/constant-time.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../private-files.js';
import type { Executor, Store } from '../store/database.js';
import { csvLine } from './csv.js';

export type ExportStatus = 'processing' | 'exported' | 'failed';

export interface ExportKind<P> {
  /** Checks the parameters (the request's, or the stored JSON); throws ERR_VALIDATION. */
  parse(params: unknown): P;
  /** The download's file name: letters, digits, dot, dash and underscore only. */
  fileName(params: P): string;
  header(params: P): readonly string[];
  rows(db: Executor, operatorId: string, params: P): AsyncIterable<readonly (string | number | null)[]>;
}

export interface ExportedFile {
  readonly fileId: string;
  readonly operatorId: string;
  readonly kind: string;
  readonly status: ExportStatus;
  readonly fileName: string;
  /** SORACOM's exportedFilePath: where the file is, relative to the exports area. */
  readonly filePath: string;
  readonly rows: number | null;
  readonly bytes: number | null;
  /** Why it failed (safe text), when status is 'failed'. */
  readonly error: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface ExportServiceOptions {
  /** The exports area (dataDir/exports). */
  readonly dir: string;
  /** Lifetime of a download URL. */
  readonly urlTtlMs: number;
  /** Rows and files are deleted this long after they were made. */
  readonly retentionMs: number;
  /** How long a process holds an export it works on before another may take it over. */
  readonly claimMs?: number;
}

const FILE_ID_RE = /^ef-[0-9a-f]{24}$/;
const OPERATOR_RE = /^[A-Za-z0-9._-]{1,64}$/;
const FILE_NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;
const DEFAULT_CLAIM_MS = 60_000;
/** Rows between two claim extensions at most. */
const ROWS_PER_BEAT = 5_000;

export const isFileId = (id: string): boolean => FILE_ID_RE.test(id);

const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

type Row = {
  file_id: string;
  operator_id: string;
  kind: string;
  params: string;
  status: string;
  file_name: string;
  rows: number | string | null;
  bytes: number | string | null;
  error: string | null;
  created_at: number | string;
  expires_at: number | string;
};

const num = (v: number | string | null) => (v === null ? null : Number(v));

export class ExportService {
  private readonly kinds = new Map<string, ExportKind<unknown>>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly claimMs: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: ExportServiceOptions,
  ) {
    this.claimMs = options.claimMs ?? DEFAULT_CLAIM_MS;
  }

  register<P>(kind: string, definition: ExportKind<P>): void {
    if (this.kinds.has(kind)) throw new Error(`export kind ${kind} is registered twice`);
    this.kinds.set(kind, definition as ExportKind<unknown>);
  }

  private kind(kind: string): ExportKind<unknown> {
    const k = this.kinds.get(kind);
    if (k === undefined) throw new SimtrustError('ERR_INTERNAL', `no export kind ${kind} is registered`);
    return k;
  }

  private view(r: Row): ExportedFile {
    return {
      fileId: r.file_id,
      operatorId: r.operator_id,
      kind: r.kind,
      status: r.status as ExportStatus,
      fileName: r.file_name,
      filePath: `exports/${r.file_id}/${r.file_name}`,
      rows: num(r.rows),
      bytes: num(r.bytes),
      error: r.error,
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
    };
  }

  /** The file of an export; refuses anything that would leave the exports area. */
  private pathOf(operatorId: string, fileId: string, suffix = ''): string {
    if (!OPERATOR_RE.test(operatorId) || !FILE_ID_RE.test(fileId))
      throw new SimtrustError('ERR_INTERNAL', 'export path from an unexpected id');
    const root = resolve(this.options.dir);
    const path = resolve(root, operatorId, `${fileId}.csv${suffix}`);
    if (!path.startsWith(root + sep)) throw new SimtrustError('ERR_INTERNAL', 'export path outside its area');
    return path;
  }

  /** Records an export of `kind` for `operatorId`; parameters are checked before anything is stored. */
  private async create(operatorId: string, kind: string, params: unknown): Promise<Row> {
    const k = this.kind(kind);
    const parsed = k.parse(params);
    const fileName = k.fileName(parsed);
    if (!FILE_NAME_RE.test(fileName))
      throw new SimtrustError('ERR_INTERNAL', `bad export file name ${fileName}`);
    const now = this.clock.now();
    const row = {
      file_id: `ef-${randomBytes(12).toString('hex')}`,
      operator_id: operatorId,
      kind,
      params: JSON.stringify(parsed),
      status: 'processing',
      file_name: fileName,
      rows: null,
      bytes: null,
      error: null,
      claimed_until: now + this.claimMs,
      download_token_hash: null,
      download_expires_at: null,
      created_at: now,
      updated_at: now,
      expires_at: now + this.options.retentionMs,
    };
    await this.store.db.insertInto('exported_files').values(row).execute();
    return row;
  }

  /** export_mode=async: the export is recorded and runs in the background; poll get(). */
  async start(operatorId: string, kind: string, params: unknown): Promise<ExportedFile> {
    const row = await this.create(operatorId, kind, params);
    this.track(this.write(row).catch(() => undefined));
    return this.view(row);
  }

  /** export_mode=sync: the export is written before this resolves (a failure rejects). */
  async run(operatorId: string, kind: string, params: unknown): Promise<ExportedFile> {
    const row = await this.create(operatorId, kind, params);
    const done = this.write(row);
    this.track(done.catch(() => undefined));
    return await done;
  }

  private track(p: Promise<unknown>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Resolves when no export this process started is still being written. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Extends the claim on `fileId` if this process still holds it (it wrote claimed_until). */
  private async extendClaim(fileId: string): Promise<void> {
    const now = this.clock.now();
    await this.store.db
      .updateTable('exported_files')
      .set({ claimed_until: now + this.claimMs, updated_at: now })
      .where('file_id', '=', fileId)
      .where('status', '=', 'processing')
      .execute();
  }

  /** Writes the file of a claimed export and records the outcome. */
  private async write(row: Row): Promise<ExportedFile> {
    const k = this.kind(row.kind);
    const part = this.pathOf(row.operator_id, row.file_id, '.part');
    const final = this.pathOf(row.operator_id, row.file_id);
    try {
      ensurePrivateDir(resolve(this.options.dir));
      ensurePrivateDir(resolve(this.options.dir, row.operator_id));
      const params = k.parse(JSON.parse(row.params));
      const out = createWriteStream(part, { mode: PRIVATE_FILE_MODE });
      const opened = once(out, 'open');
      let rows = 0;
      try {
        await opened;
        const put = async (line: string) => {
          if (!out.write(line)) await once(out, 'drain');
        };
        await put(csvLine(k.header(params)));
        let beat = this.clock.now();
        for await (const values of k.rows(this.store.db, row.operator_id, params)) {
          await put(csvLine(values));
          // The claim is extended well before it runs out, so no other process takes the export over.
          if (++rows % ROWS_PER_BEAT === 0 || this.clock.now() - beat > this.claimMs / 3) {
            await this.extendClaim(row.file_id);
            beat = this.clock.now();
          }
        }
      } finally {
        out.end();
        await once(out, 'close');
      }
      await rename(part, final);
      const bytes = statSync(final).size;
      const now = this.clock.now();
      await this.store.db
        .updateTable('exported_files')
        .set({ status: 'exported', rows, bytes, claimed_until: null, updated_at: now })
        .where('file_id', '=', row.file_id)
        .execute();
      return this.view({ ...row, status: 'exported', rows, bytes });
    } catch (e) {
      await rm(part, { force: true }).catch(() => undefined);
      const message =
        e instanceof SimtrustError && e.expose
          ? e.message
          : 'the export could not be written; see the server log, then export again';
      await this.store.db
        .updateTable('exported_files')
        .set({ status: 'failed', error: message, claimed_until: null, updated_at: this.clock.now() })
        .where('file_id', '=', row.file_id)
        .execute()
        .catch(() => undefined);
      throw e;
    }
  }

  /** The export `fileId` of `operatorId` (404 when absent or another operator's). */
  async get(operatorId: string, fileId: string): Promise<ExportedFile> {
    const row = FILE_ID_RE.test(fileId)
      ? await this.store.db
          .selectFrom('exported_files')
          .selectAll()
          .where('file_id', '=', fileId)
          .where('operator_id', '=', operatorId)
          .executeTakeFirst()
      : undefined;
    if (row === undefined) throw new SimtrustError('ERR_NOT_FOUND', `no exported file ${fileId}`);
    return this.view(row);
  }

  /**
   * A new download token for an exported file (the previous one stops working). Refused with
   * ERR_EXPORT_NOT_READY while it is processing and ERR_EXPORT_FAILED when it failed.
   */
  async issueDownload(operatorId: string, fileId: string): Promise<{ token: string; expiresAt: number }> {
    const file = await this.get(operatorId, fileId);
    if (file.status === 'processing')
      throw new SimtrustError(
        'ERR_EXPORT_NOT_READY',
        `the export ${fileId} is still being written; ask again shortly`,
      );
    if (file.status === 'failed')
      throw new SimtrustError(
        'ERR_EXPORT_FAILED',
        `the export ${fileId} failed: ${file.error ?? 'unknown reason'}`,
      );
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.clock.now() + this.options.urlTtlMs;
    await this.store.db
      .updateTable('exported_files')
      .set({ download_token_hash: tokenHash(token), download_expires_at: expiresAt })
      .where('file_id', '=', fileId)
      .where('operator_id', '=', operatorId)
      .execute();
    return { token, expiresAt };
  }

  /**
   * The file behind a download URL: the token must be the current one, unexpired, compared in
   * constant time. Every refusal is the same 404, so a URL tells nothing about other files.
   */
  async openDownload(
    fileId: string,
    token: string,
  ): Promise<{ path: string; fileName: string; bytes: number }> {
    const refuse = () =>
      new SimtrustError('ERR_NOT_FOUND', 'no such download, or its URL has expired; ask for a new URL');
    if (!FILE_ID_RE.test(fileId) || token.length === 0 || token.length > 128) throw refuse();
    const row = await this.store.db
      .selectFrom('exported_files')
      .selectAll()
      .where('file_id', '=', fileId)
      .executeTakeFirst();
    const given = tokenHash(token);
    const stored = row?.download_token_hash ?? tokenHash('');
    const matches = constantTimeEqualText(given, stored);
    if (
      row === undefined ||
      !matches ||
      row.status !== 'exported' ||
      row.download_expires_at === null ||
      Number(row.download_expires_at) <= this.clock.now()
    )
      throw refuse();
    const path = this.pathOf(row.operator_id, row.file_id);
    if (!existsSync(path)) throw refuse();
    return { path, fileName: row.file_name, bytes: statSync(path).size };
  }

  /**
   * Runs the exports whose process died (claim ran out while processing), each claimed atomically so
   * that only one process takes it. Returns how many were taken.
   */
  async resumeOrphans(limit = 10): Promise<number> {
    const now = this.clock.now();
    const candidates = await this.store.db
      .selectFrom('exported_files')
      .selectAll()
      .where('status', '=', 'processing')
      .where('claimed_until', '<', now)
      .orderBy('claimed_until')
      .limit(limit)
      .execute();
    let taken = 0;
    for (const row of candidates) {
      if (!this.kinds.has(row.kind)) continue;
      const claimed = await this.store.db
        .updateTable('exported_files')
        .set({ claimed_until: now + this.claimMs, updated_at: now })
        .where('file_id', '=', row.file_id)
        .where('status', '=', 'processing')
        .where('claimed_until', '=', row.claimed_until)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      taken++;
      this.track(this.write(row).catch(() => undefined));
    }
    return taken;
  }

  /** Deletes expired exports: the file, then the row. Returns how many went. */
  async purgeExpired(limit = 500): Promise<number> {
    const now = this.clock.now();
    const rows = await this.store.db
      .selectFrom('exported_files')
      .select(['file_id', 'operator_id'])
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    for (const r of rows) {
      if (OPERATOR_RE.test(r.operator_id) && FILE_ID_RE.test(r.file_id)) {
        rmSync(this.pathOf(r.operator_id, r.file_id), { force: true });
        rmSync(this.pathOf(r.operator_id, r.file_id, '.part'), { force: true });
      }
      await this.store.db.deleteFrom('exported_files').where('file_id', '=', r.file_id).execute();
    }
    return rows.length;
  }
}

/** The exports area of a data directory. */
export const exportsDir = (dataDir: string): string => join(dataDir, 'exports');

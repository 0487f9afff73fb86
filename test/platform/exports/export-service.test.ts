// The exports service (issue 17, reused by issue 19) and the Beam stats CSV: pages through every
// IMSI without losing or splitting a row whatever the page size; an export left half-done by a dead
// process is taken over once; expired exports go with their file; files are private (0600 in 0700);
// CSV cells never start a spreadsheet formula. SQLite and PostgreSQL (store project).

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { statsCsvRows } from '../../../src/platform/beam/stats.js';
import { registerStatsExports } from '../../../src/platform/beam/stats-export.js';
import { DAY_MS } from '../../../src/platform/beam/usage.js';
import { csvCell, csvLine } from '../../../src/platform/exports/csv.js';
import { ExportService } from '../../../src/platform/exports/export-service.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const T = Date.UTC(2026, 4, 1);
const OP = 'OPexport0001';

describe('exports', () => {
  let db: TestDatabase;
  let dir: string;
  let clock: ManualClock;
  beforeEach(async () => {
    db = await openTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'simtrust-exports-'));
    clock = new ManualClock(T + 10 * DAY_MS);
  });
  afterEach(async () => {
    await db.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const service = () => {
    const s = new ExportService(db.store, clock, {
      dir,
      urlTtlMs: 60_000,
      retentionMs: 3_600_000,
      claimMs: 30_000,
    });
    registerStatsExports(s);
    return s;
  };

  /** Day buckets for `imsis` IMSIs × `days` days × two entry points (with and without destination). */
  async function seed(imsis: number, days: number, operatorId = OP): Promise<void> {
    const rows = [];
    for (let i = 0; i < imsis; i++)
      for (let d = 0; d < days; d++)
        for (const [entry_point, destination] of [
          ['http', 'https'],
          ['udp', ''],
        ] as const)
          rows.push({
            operator_id: operatorId,
            imsi: `4401000000${String(i).padStart(5, '0')}`,
            service: 'beam',
            entry_point,
            destination,
            period: 'day' as const,
            bucket_start: T + d * DAY_MS,
            sim_id: `sim-${i}`,
            requests: 2,
            delivered: 1,
            refused: 1,
            failed: 0,
            bytes_up: 10,
            bytes_down: 1,
          });
    for (let i = 0; i < rows.length; i += 100)
      await db.store.db
        .insertInto('beam_usage')
        .values(rows.slice(i, i + 100))
        .execute();
  }

  it('pages through the usage without losing, repeating or splitting a row, whatever the page size', async () => {
    await seed(4, 3);
    await seed(1, 1, 'OPsomeoneelse');
    const collect = async (pageSize: number | undefined, period: 'day' | 'month') => {
      const out: string[] = [];
      for await (const r of statsCsvRows(db.store.db, OP, 'beam', {
        fromMs: T,
        toMs: T + 5 * DAY_MS,
        period,
        ...(pageSize === undefined ? {} : { pageSize }),
      }))
        out.push(r.join(','));
      return out;
    };
    const whole = await collect(undefined, 'day');
    // 4 IMSIs × 3 days × (inHttp, inUdp, outHttps)
    expect(whole).toHaveLength(36);
    expect(whole[0]).toBe('440100000000000,20260501,beam_inHttp,2,sim-0,10,1,1,0');
    expect(whole[1]).toBe('440100000000000,20260501,beam_inUdp,2,sim-0,10,1,1,0');
    expect(whole[2]).toBe('440100000000000,20260501,beam_outHttps,1,sim-0,,,,');
    for (const size of [1, 2, 3, 5, 7]) expect(await collect(size, 'day'), `page ${size}`).toEqual(whole);
    const months = await collect(undefined, 'month');
    expect(months).toHaveLength(12);
    expect(months[0]).toBe('440100000000000,202605,beam_inHttp,6,sim-0,30,3,3,0');
    for (const size of [1, 3, 4]) expect(await collect(size, 'month'), `page ${size}`).toEqual(months);
    expect(whole.join('\n')).not.toContain('OPsomeoneelse');
  });

  it('writes a private file and hands it out only with the current token', async () => {
    await seed(2, 1);
    const s = service();
    const file = await s.run(OP, 'beam-stats', { from: T / 1000, to: T / 1000 + 86_400, period: 'day' });
    expect(file).toMatchObject({ status: 'exported', rows: 6 });
    const { token } = await s.issueDownload(OP, file.fileId);
    const opened = await s.openDownload(file.fileId, token);
    expect(statSync(opened.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, OP)).mode & 0o777).toBe(0o700);
    expect(readFileSync(opened.path, 'utf8').split('\r\n')[0]).toMatch(/^imsi,date,soracomBeamType,count/);
    // Asking again replaces the URL: the old token stops working.
    const again = await s.issueDownload(OP, file.fileId);
    await expect(s.openDownload(file.fileId, token)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(s.openDownload(file.fileId, again.token)).resolves.toMatchObject({
      fileName: file.fileName,
    });
    // Another operator does not see it.
    await expect(s.get('OPsomeoneelse', file.fileId)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(s.issueDownload('OPsomeoneelse', file.fileId)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
  });

  it('refuses bad parameters before anything is recorded', async () => {
    const s = service();
    for (const params of [
      { from: 10, to: 5, period: 'day' },
      { from: 0, to: 10 * 366 * 86_400, period: 'day' },
      { from: 0, to: 10, period: 'hour' },
      { from: '0', to: 10, period: 'day' },
      null,
    ])
      await expect(s.start(OP, 'beam-stats', params)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await db.store.db.selectFrom('exported_files').selectAll().execute()).toEqual([]);
  });

  it('takes over an export whose process died, once, and purges expired ones with their file', async () => {
    await seed(1, 1);
    const now = clock.now();
    await db.store.db
      .insertInto('exported_files')
      .values({
        file_id: `ef-${'a'.repeat(24)}`,
        operator_id: OP,
        kind: 'beam-stats',
        params: JSON.stringify({ from: T / 1000, to: T / 1000 + 86_400, period: 'day' }),
        status: 'processing',
        file_name: 'beam-stats.csv',
        rows: null,
        bytes: null,
        error: null,
        claimed_until: now - 1,
        download_token_hash: null,
        download_expires_at: null,
        created_at: now - 120_000,
        updated_at: now - 120_000,
        expires_at: now + 3_600_000,
      })
      .execute();
    const a = service();
    const b = service();
    const taken = await Promise.all([a.resumeOrphans(), b.resumeOrphans()]);
    expect(taken[0] + taken[1]).toBe(1);
    await Promise.all([a.drained(), b.drained()]);
    const file = await a.get(OP, `ef-${'a'.repeat(24)}`);
    expect(file).toMatchObject({ status: 'exported', rows: 3 });
    const path = join(dir, OP, `${file.fileId}.csv`);
    expect(existsSync(path)).toBe(true);

    clock.advance(3_600_000);
    expect(await a.purgeExpired()).toBe(1);
    expect(existsSync(path)).toBe(false);
    await expect(a.get(OP, file.fileId)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('records a failure with a safe message', async () => {
    const s = new ExportService(db.store, clock, { dir, urlTtlMs: 60_000, retentionMs: 3_600_000 });
    s.register('broken', {
      parse: (p) => p,
      fileName: () => 'broken.csv',
      header: () => ['a'],
      // biome-ignore lint/correctness/useYield: a producer that fails before its first row
      rows: async function* () {
        throw new Error('connection refused by 10.0.0.5:5432 (password=secret)');
      },
    });
    await expect(s.run(OP, 'broken', {})).rejects.toThrow();
    const [row] = await db.store.db.selectFrom('exported_files').selectAll().execute();
    expect(row!.status).toBe('failed');
    expect(row!.error).not.toMatch(/secret|10\.0\.0\.5/);
    await expect(s.issueDownload(OP, row!.file_id)).rejects.toMatchObject({ code: 'ERR_EXPORT_FAILED' });
    expect(existsSync(join(dir, OP, `${row!.file_id}.csv.part`))).toBe(false);
  });
});

describe('CSV cells', () => {
  /** RFC 4180 reader for one line (test oracle). */
  function parseLine(line: string): string[] {
    const out: string[] = [];
    let i = 0;
    for (;;) {
      let cell = '';
      if (line[i] === '"') {
        i++;
        for (;;) {
          if (line[i] === '"' && line[i + 1] === '"') {
            cell += '"';
            i += 2;
          } else if (line[i] === '"') {
            i++;
            break;
          } else cell += line[i++];
        }
      } else while (i < line.length && line[i] !== ',') cell += line[i++];
      out.push(cell);
      if (i >= line.length) return out;
      i++; // the comma
    }
  }

  it('round-trips any text, and never lets a cell start a formula', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { minLength: 1, maxLength: 6 }),
        (cells) => {
          const line = csvLine(cells);
          expect(line.endsWith('\r\n')).toBe(true);
          const back = parseLine(line.slice(0, -2));
          expect(back).toHaveLength(cells.length);
          back.forEach((got, n) => {
            const want = cells[n]!;
            expect(/^[=+\-@\t\r]/.test(got)).toBe(false);
            expect(got).toBe(/^[=+\-@\t\r]/.test(want) ? `'${want}` : want);
          });
        },
      ),
      { numRuns: 500 },
    );
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell(12)).toBe('12');
    expect(csvCell(Number.NaN)).toBe('');
  });
});

// CSV import row accounting (issue 11): every record of the file is counted once, as created,
// unchanged or rejected, whatever the parser makes of broken quoting — so "N of M rows were rejected"
// always adds up, and each rejected record names its line. Threat: a hostile or broken file (stray
// quotes, an unclosed quote swallowing the rest, ragged rows) making the summary lie about what was
// imported. Runs on SQLite and PostgreSQL.

import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { ImportSummary } from '../../../src/platform/sims/csv-import.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let next = 7000;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

const HEADER = 'iccid,imsi,msisdn,ki,opc';

/** Valid vendor lines never used before in this database. */
function goodLines(count: number): string[] {
  const { csv } = vendorCsv(count, { start: next });
  next += count;
  return csv.trim().split('\n').slice(1);
}

function importText(text: string): Promise<ImportSummary> {
  const ctx = systemContext(api.operator.operatorId, 'Sim:importSims', 'test');
  return api.platform.importer.importCsv(ctx, Readable.from([Buffer.from(text)]));
}

function expectAddsUp(s: ImportSummary): void {
  expect(s.rows).toBe(s.created + s.unchanged + s.rejected);
  expect(s.errors).toHaveLength(s.rejected);
}

describe('CSV import row accounting (issue 11)', () => {
  it('issue 11: an unclosed quote is one rejected row naming its lines, not more rejections than rows', async () => {
    const [a, b, c] = goodLines(3) as [string, string, string];
    // Line 3 opens a quote that nothing closes: csv-parse reads lines 3–4 as one field.
    const s = await importText(`${HEADER}\n${a}\n"${b}\n${c}\n`);
    expectAddsUp(s);
    expect(s).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(s.errors[0]).toMatchObject({ line: 3, code: 'ERR_IMPORT_ROW' });
    expect(s.errors[0]?.reason).toContain('lines 3–4');
    expect(s.errors[0]?.reason).toContain('never closed');
  });

  it('issue 11: the API message counts rows and rejections that add up', async () => {
    const [a, b, c] = goodLines(3) as [string, string, string];
    // Line 3 has a stray quote inside a field (csv-parse reports it twice), line 4 is fine.
    const broken = b.replace(',', ',x"y"');
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: `${HEADER}\n${a}\n${broken}\n${c}\n`,
    });
    expect(res.statusCode, res.body).toBe(422);
    const body = res.json();
    expect(body).toMatchObject({ rows: 3, created: 2, rejected: 1 });
    expect(body.message).toContain('1 of 3 rows were rejected');
    expect(body.errors.map((e: { line: number }) => e.line)).toEqual([3]);
  });

  it('each kind of parse error is one rejected row with its line; the rows around it are imported', async () => {
    const cases: Array<{ name: string; bad: (line: string) => string; reason: string }> = [
      { name: 'too few fields', bad: (l) => l.slice(0, l.lastIndexOf(',')), reason: 'Invalid Record Length' },
      { name: 'quote in an unquoted field', bad: (l) => l.replace(',', ',a"b'), reason: 'unparsable CSV' },
      {
        name: 'text after a closing quote',
        bad: (l) => `"${l.replace(',', '"x,')}`,
        reason: 'unparsable CSV',
      },
    ];
    for (const c of cases) {
      const [a, b, d] = goodLines(3) as [string, string, string];
      const s = await importText(`${HEADER}\n${a}\n\n${c.bad(b)}\n${d}\n`);
      expectAddsUp(s);
      expect(s.errors[0]?.line, c.name).toBe(4);
      expect(s.errors[0]?.reason, c.name).toContain(c.reason);
      expect(s.created, c.name).toBeGreaterThanOrEqual(1);
    }
  });

  it('a header the parser cannot read is refused as a header error, not counted as a row', async () => {
    await expect(importText(`"iccid,imsi,ki,opc\n${goodLines(1)[0]}\n`)).rejects.toMatchObject({
      code: 'ERR_IMPORT_HEADER',
    });
  });

  it('property: for any mix of good lines and hostile fragments, rows = created + unchanged + rejected', async () => {
    const fragment = fc.constantFrom('"', '""', ',', '\r', '\r\n', '\n', 'x"y', '"a"b', ';', '\u0000', ' ');
    const hostileLine = fc
      .tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fragment), { maxLength: 4 }))
      .map(([seed, edits]) => ({ seed, edits }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(null), hostileLine), { minLength: 1, maxLength: 8 }),
        async (plan) => {
          const good = goodLines(plan.length);
          const lines = plan.map((edit, i) => {
            let line = good[i] as string;
            if (edit === null) return line;
            for (const [at, text] of edit.edits) {
              const p = at % (line.length + 1);
              line = line.slice(0, p) + text + line.slice(p);
            }
            return line;
          });
          const text = `${HEADER}\n${lines.join('\n')}\n`;
          const s = await importText(text);
          expectAddsUp(s);
          // Whatever convention mixed line ends are counted by, no line is past this one.
          const lastLine = (text.match(/[\r\n]/g)?.length ?? 0) + 1;
          for (const e of s.errors) {
            expect(e.line).toBeGreaterThanOrEqual(2);
            expect(e.line).toBeLessThanOrEqual(lastLine);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

// The console's CSV preview reads a file the operator picked — any bytes at all. The threat is a
// preview that throws on a hostile file (the page breaks) or that shows different rows than the
// importer will import (csv-parse on the server), so the operator approves one thing and gets
// another. The reader must be total and agree with csv-parse wherever csv-parse reads the text.

import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHeader, preview, readCsv, shownCell } from '../../web/src/import/csv.js';

const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);

describe('console CSV preview', () => {
  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a",\r\n\uFEFF]*$/)), (text) => {
        const read = readCsv(text);
        if (read.ok) preview(read);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads back what RFC 4180 writes, with the line each record starts on', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é') });
    const records = fc.array(fc.array(field, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(records, fc.constantFrom('\n', '\r\n'), (rows, eol) => {
        const text = rows.map((r) => r.map(quote).join(',')).join(eol) + eol;
        const read = readCsv(text);
        expect(read.ok).toBe(true);
        if (!read.ok) return;
        expect(read.records.map((r) => r.fields)).toEqual(rows);
        let line = 1;
        rows.forEach((r, i) => {
          expect(read.records[i]?.line).toBe(line);
          line += r.join('').split('\n').length - 1 + 1;
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with csv-parse (the importer) on the records of any text csv-parse reads', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab",\r\n]{0,40}$/), (text) => {
        let expected: string[][];
        try {
          expected = parse(text, {
            bom: true,
            skip_empty_lines: true,
            relax_column_count: true,
          }) as string[][];
        } catch {
          return; // the importer reports such a file by line; the preview only has to stay total
        }
        const read = readCsv(text);
        expect(read.ok).toBe(true);
        if (read.ok) expect(read.records.map((r) => r.fields)).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('names an unclosed quote by the line it starts on', () => {
    expect(readCsv('iccid,imsi\n1,2\n"3,4\n5,6\n')).toEqual({ ok: false, line: 3, reason: 'unclosed-quote' });
  });

  it('checks the header with the importer’s rules and masks key material', () => {
    expect(checkHeader(['iccid', 'imsi', 'msisdn', 'ki', 'opc'])).toBeUndefined();
    expect(checkHeader([' ICCID', 'imsi', 'ki', 'op'])).toBeUndefined();
    expect(checkHeader(['iccid', 'ki', 'colour'])).toEqual({
      missing: ['imsi'],
      unknown: ['colour'],
      noOpc: true,
    });
    const read = readCsv('iccid,imsi,ki,opc\n1,2,00112233,44\n3,4\n');
    expect(read.ok && preview(read)?.ragged).toEqual([3]);
    expect(shownCell('ki', '00112233445566778899aabbccddeeff')).toBe('••••');
    expect(shownCell('opc', '')).toBe('');
    expect(shownCell('imsi', '001010000000001')).toBe('001010000000001');
  });
});

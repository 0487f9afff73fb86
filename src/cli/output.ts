// Output of CLI results: JSON (default, for scripts), an aligned table, or CSV.

export type OutputFormat = 'json' | 'table' | 'csv';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'table', 'csv'];

/** A column of a table/CSV view: header and how to read it from a record. */
export type Column<T> = readonly [header: string, read: (row: T) => unknown];

const cell = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

export function render<T>(data: T | T[], format: OutputFormat, columns?: ReadonlyArray<Column<T>>): string {
  if (format === 'json' || columns === undefined) return `${JSON.stringify(data, null, 2)}\n`;
  const rows = Array.isArray(data) ? data : [data];
  const cells = rows.map((row) => columns.map(([, read]) => cell(read(row))));
  const headers = columns.map(([h]) => h);
  if (format === 'csv') {
    return `${[headers, ...cells].map((line) => line.map(csvCell).join(',')).join('\n')}\n`;
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

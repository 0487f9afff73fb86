// CSV for exported files (RFC 4180): fields with a comma, quote or line break are quoted, quotes
// doubled, lines end with CRLF. A text field that a spreadsheet would take for a formula (starting
// with = + - @, a tab or a carriage return; OWASP "CSV injection") is prefixed with an apostrophe, so
// opening an export never runs what a device or user managed to put in a value. Numbers are written
// as they are (a negative count never occurs; a non-finite one is written empty).

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly (string | number | null | undefined)[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

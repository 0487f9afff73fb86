// The CSV import's preview, computed in the browser before anything is sent: an RFC 4180 reader
// (quoted fields, "" inside quotes, CRLF or LF, a BOM) that never throws, the header checked with the
// importer's rules (src/platform/sims/csv-import.ts checkHeader), and each record's field count.
// Row-level checks (Luhn, IMSI, key lengths) are the API's: its per-row errors are shown after the
// import, by line.

export const REQUIRED_COLUMNS = ['iccid', 'imsi', 'ki'] as const;
export const KNOWN_COLUMNS: readonly string[] = [
  ...REQUIRED_COLUMNS,
  'msisdn',
  'opc',
  'op',
  'amf',
  'serial_number',
  'type',
  'group',
  'tags',
];
/** Columns whose values are key material: the preview never shows them. */
export const SECRET_COLUMNS: ReadonlySet<string> = new Set(['ki', 'opc', 'op']);

export interface CsvRecord {
  /** The 1-based line the record starts on (the API reports rejected rows by line). */
  readonly line: number;
  readonly fields: readonly string[];
}

export type CsvRead =
  | { readonly ok: true; readonly records: readonly CsvRecord[] }
  | { readonly ok: false; readonly line: number; readonly reason: 'unclosed-quote' };

/**
 * Reads CSV text into records; blank lines are skipped (as the importer does). The record delimiter
 * is the first line break met outside quotes (\r\n, \n or \r), as csv-parse detects it.
 */
export function readCsv(input: string): CsvRead {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let quoteLine = 1;
  let eol: string | undefined;
  let hadQuote = false;
  let i = 0;
  const endRecord = () => {
    fields.push(field);
    // A line with nothing on it is skipped; `""` alone is a record with one empty field.
    if (!(fields.length === 1 && fields[0] === '' && !hadQuote)) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    hadQuote = false;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      hadQuote = true;
      quoteLine = line;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if ((c === '\n' || c === '\r') && eol === undefined) {
      // As csv-parse does: the first line break outside quotes sets the record delimiter.
      eol = c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
      continue;
    } else if (text.startsWith(eol ?? '\n', i) && eol !== undefined) {
      endRecord();
      i += eol.length;
      line++;
      recordLine = line;
      continue;
    } else {
      if (c === '\n') line++;
      field += c;
    }
    i++;
  }
  if (quoted) return { ok: false, line: quoteLine, reason: 'unclosed-quote' };
  if (field !== '' || fields.length > 0 || hadQuote) endRecord();
  return { ok: true, records };
}

export interface HeaderProblems {
  readonly missing: readonly string[];
  readonly unknown: readonly string[];
  readonly noOpc: boolean;
}

/** The importer's header rules; undefined when the header is acceptable. */
export function checkHeader(header: readonly string[]): HeaderProblems | undefined {
  const columns = header.map((h) => h.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  const unknown = columns.filter((c) => !KNOWN_COLUMNS.includes(c));
  const noOpc = !columns.includes('opc') && !columns.includes('op');
  return missing.length > 0 || unknown.length > 0 || noOpc ? { missing, unknown, noOpc } : undefined;
}

export interface Preview {
  readonly columns: readonly string[];
  /** Every data record (the header excluded). */
  readonly rows: readonly CsvRecord[];
  readonly header: HeaderProblems | undefined;
  /** Lines whose field count differs from the header's. */
  readonly ragged: readonly number[];
}

export function preview(read: Extract<CsvRead, { ok: true }>): Preview | undefined {
  const [head, ...rows] = read.records;
  if (head === undefined) return undefined;
  const columns = head.fields.map((h) => h.trim().toLowerCase());
  return {
    columns,
    rows,
    header: checkHeader(head.fields),
    ragged: rows.filter((r) => r.fields.length !== columns.length).map((r) => r.line),
  };
}

/** A cell as the preview shows it: key material masked. */
export const shownCell = (column: string | undefined, value: string): string =>
  column !== undefined && SECRET_COLUMNS.has(column) && value !== '' ? '••••' : value;

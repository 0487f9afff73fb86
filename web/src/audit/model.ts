// The audit log's filters as they appear in the page's URL (shareable), and the API query built from
// them. The URL is anyone's to edit: every value is checked here against the API's own bounds
// (src/servers/http/routes/audit-logs.ts) and dropped when it does not fit, so a hand-made link shows
// the unfiltered log rather than an error.

export const RESULTS = ['success', 'failure', 'denied'] as const;
export type AuditResult = (typeof RESULTS)[number];

export interface AuditFilter {
  readonly operationId?: string;
  readonly userName?: string;
  readonly sourceIp?: string;
  readonly result?: AuditResult;
  /** Unix ms, inclusive. */
  readonly from?: number;
  /** Unix ms, exclusive. */
  readonly to?: number;
}

const TEXT_LIMITS = { operationId: 100, userName: 100, sourceIp: 64 } as const;

/** The latest time the API takes (ECMAScript's last valid Date, schemas/common.ts). */
export const MAX_DATE_MS = 8_640_000_000_000_000;

/** A time from the URL: Unix ms as decimal digits, within what the API takes. */
function unixMs(text: string | null): number | undefined {
  if (text === null || !/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_DATE_MS ? n : undefined;
}

export function filterFromSearch(search: URLSearchParams): AuditFilter {
  const f: { -readonly [K in keyof AuditFilter]: AuditFilter[K] } = {};
  for (const [key, max] of Object.entries(TEXT_LIMITS) as Array<[keyof typeof TEXT_LIMITS, number]>) {
    const v = search.get(key)?.trim();
    if (v && v.length <= max) f[key] = v;
  }
  const result = search.get('result');
  if ((RESULTS as readonly (string | null)[]).includes(result)) f.result = result as AuditResult;
  const from = unixMs(search.get('from'));
  const to = unixMs(search.get('to'));
  if (from !== undefined) f.from = from;
  if (to !== undefined) f.to = to;
  return f;
}

export function filterToSearch(filter: AuditFilter): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== '') p.set(k, String(v));
  return p.toString();
}

/** The GET /v1/audit_logs query of a filter and page. */
export function auditQuery(filter: AuditFilter, limit: number, before?: number) {
  return {
    limit,
    ...(before !== undefined ? { last_evaluated_key: before } : {}),
    ...(filter.operationId ? { operation_id: filter.operationId } : {}),
    ...(filter.userName ? { user_name: filter.userName } : {}),
    ...(filter.sourceIp ? { source_ip: filter.sourceIp } : {}),
    ...(filter.result ? { result: filter.result } : {}),
    ...(filter.from !== undefined ? { from: filter.from } : {}),
    ...(filter.to !== undefined ? { to: filter.to } : {}),
  };
}

/** `<input type="datetime-local">` text (the user's zone) ↔ Unix ms. */
export function localInputToMs(text: string): number | undefined {
  if (text === '') return undefined;
  const ms = new Date(text).getTime();
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_DATE_MS ? ms : undefined;
}
export function msToLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

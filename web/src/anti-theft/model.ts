// The anti-theft applet as the SIM page shows and edits it (docs/anti-theft.md, "Platform side"):
// what the card last reported, and the desired lists a PUT /v1/sims/{sim_id}/anti_theft sends. The
// platform turns a desired list into OTA commands from the reported state (removals first), so the
// page always sends whole lists: the reported ones with one IMEI or cell added or taken out.
// Typed input is checked here with the route's own bounds, so the operator reads the reason beside
// the field instead of a 400.

/** A cell as TS 102 223 §8.19 names it (the API's AntiTheftCell). */
export interface Cell {
  readonly mcc: string;
  readonly mnc: string;
  readonly areaCode: number;
  readonly cellIdentity: string;
}

/** The applet's limits (the API's Desired schema; the applet's own storage). */
export const MAX_IMEIS = 4;
export const MAX_CELLS = 10;

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CellError };
export type CellError = 'imei' | 'mcc' | 'mnc' | 'areaCode' | 'cellIdentity' | 'full' | 'present';

export const cellText = (c: Cell): string => `${c.mcc}-${c.mnc} / ${c.areaCode} / ${c.cellIdentity}`;
export const sameCell = (a: Cell, b: Cell): boolean =>
  a.mcc === b.mcc && a.mnc === b.mnc && a.areaCode === b.areaCode && a.cellIdentity === b.cellIdentity;

/** An IMEI as typed (spaces and dashes allowed): 15 digits. */
export function imeiFromInput(text: string): Checked<string> {
  const digits = text.replace(/[\s-]/g, '');
  return /^[0-9]{15}$/.test(digits) ? { ok: true, value: digits } : { ok: false, error: 'imei' };
}

/** A cell from its four fields as typed: MCC 3 digits, MNC 2–3, LAC/TAC 0–65535, CI 4 or ECI 8 hex. */
export function cellFromInput(input: {
  mcc: string;
  mnc: string;
  areaCode: string;
  cellIdentity: string;
}): Checked<Cell> {
  const mcc = input.mcc.trim();
  const mnc = input.mnc.trim();
  const area = input.areaCode.trim();
  const ci = input.cellIdentity.trim().toUpperCase();
  if (!/^[0-9]{3}$/.test(mcc)) return { ok: false, error: 'mcc' };
  if (!/^[0-9]{2,3}$/.test(mnc)) return { ok: false, error: 'mnc' };
  if (!/^[0-9]{1,5}$/.test(area) || Number(area) > 65535) return { ok: false, error: 'areaCode' };
  if (!/^([0-9A-F]{4}|[0-9A-F]{8})$/.test(ci)) return { ok: false, error: 'cellIdentity' };
  return { ok: true, value: { mcc, mnc, areaCode: Number(area), cellIdentity: ci } };
}

/** A reported cell as the PUT body takes it (hex upper case, no extra fields). */
const desiredCell = (c: Cell): Cell => ({
  mcc: c.mcc,
  mnc: c.mnc,
  areaCode: c.areaCode,
  cellIdentity: c.cellIdentity.toUpperCase(),
});

export type Change =
  | { readonly kind: 'addImei'; readonly imei: string }
  | { readonly kind: 'removeImei'; readonly imei: string }
  | { readonly kind: 'addCell'; readonly cell: Cell }
  | { readonly kind: 'removeCell'; readonly cell: Cell };

/** The PUT body for one change to the reported lists; only the list that changes is sent. */
export function desiredAfter(
  reported: { readonly imeis: readonly string[]; readonly cells: readonly Cell[] },
  change: Change,
): Checked<{ imeis: string[] } | { cells: Cell[] }> {
  switch (change.kind) {
    case 'addImei':
      if (reported.imeis.includes(change.imei)) return { ok: false, error: 'present' };
      if (reported.imeis.length >= MAX_IMEIS) return { ok: false, error: 'full' };
      return { ok: true, value: { imeis: [...reported.imeis, change.imei] } };
    case 'removeImei':
      return { ok: true, value: { imeis: reported.imeis.filter((i) => i !== change.imei) } };
    case 'addCell':
      if (reported.cells.some((c) => sameCell(c, change.cell))) return { ok: false, error: 'present' };
      if (reported.cells.length >= MAX_CELLS) return { ok: false, error: 'full' };
      return { ok: true, value: { cells: [...reported.cells.map(desiredCell), desiredCell(change.cell)] } };
    case 'removeCell':
      return {
        ok: true,
        value: { cells: reported.cells.filter((c) => !sameCell(c, change.cell)).map(desiredCell) },
      };
  }
}

/**
 * The mode to show: the platform's own answer (the view's `mode`: the card's last READ STATE, or
 * blocked when a blocking alert was received after it), so the page never infers it from times.
 */
export function shownMode(view: {
  readonly mode: { readonly mode: string; readonly reason: string; readonly source: string } | null;
}): { mode: string; reason: string; fromAlert: boolean } | undefined {
  const m = view.mode;
  return m ? { mode: m.mode, reason: m.reason, fromAlert: m.source === 'alert' } : undefined;
}

/** A cell as the API's sessions give it (the SIM's localInfo.cell: 3GPP-User-Location-Info fields). */
export interface ApiCell {
  readonly radioType?: string;
  readonly mcc?: string;
  readonly mnc?: string;
  readonly tac?: number;
  readonly eci?: number;
  readonly lac?: number;
  readonly ci?: number;
}

/** The cell the card reported, as an operator reads it: `440-10 / TAC 6699 / ECI 1`. */
export function reportedCellText(c: ApiCell): string {
  const plmn = c.mcc && c.mnc ? `${c.mcc}-${c.mnc}` : undefined;
  const area = c.tac !== undefined ? `TAC ${c.tac}` : c.lac !== undefined ? `LAC ${c.lac}` : undefined;
  const id = c.eci !== undefined ? `ECI ${c.eci}` : c.ci !== undefined ? `CI ${c.ci}` : undefined;
  return [plmn, area, id].filter((x) => x !== undefined).join(' / ') || '—';
}

/** TS 102 223 §8.61 access technologies as the platform names them (src/platform/ota/local-info.ts). */
const ACCESS_TECHNOLOGY: Record<string, string> = {
  geran: 'GSM (GERAN)',
  utran: 'UMTS (UTRAN)',
  eutran: 'LTE (E-UTRAN)',
  nr: '5G NR',
};
export const accessTechnologyText = (radioType: string | undefined): string | undefined =>
  radioType === undefined ? undefined : (ACCESS_TECHNOLOGY[radioType] ?? radioType);

/**
 * "Report location now" waits for a report newer than the one shown when it was pressed (`since`:
 * that report's time, null when there was none). The card answers by SMS, so the wait ends either
 * when such a report is in the view or after REPORT_WAIT_MS (a card switched off, out of coverage).
 */
export const REPORT_WAIT_MS = 120_000;
export type ReportWait = { readonly since: number | null; readonly startedAt: number };
export type ReportWaitState = 'waiting' | 'arrived' | 'gaveUp';

export function reportWaitState(
  wait: ReportWait,
  localInfo: { readonly reportedTime: number } | null | undefined,
  now: number,
): ReportWaitState {
  if (localInfo && localInfo.reportedTime > (wait.since ?? Number.NEGATIVE_INFINITY)) return 'arrived';
  return now - wait.startedAt >= REPORT_WAIT_MS ? 'gaveUp' : 'waiting';
}

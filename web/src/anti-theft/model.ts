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
 * The mode to show: what the card last reported, unless an alert came after that report — a card
 * that blocks tells the platform by an alert, not by a READ STATE, so the alert is the newer truth.
 */
export function shownMode(view: {
  readonly reported: { readonly mode: string; readonly reason: string } | null;
  readonly reportedTime: number | null;
  readonly lastAlert: { readonly event: string; readonly reason: string; readonly time: number } | null;
}): { mode: string; reason: string; fromAlert: boolean } | undefined {
  const alert = view.lastAlert;
  if (alert?.event.endsWith('_BLOCKED') && alert.time > (view.reportedTime ?? 0))
    return { mode: 'blocked', reason: alert.reason, fromAlert: true };
  return view.reported
    ? { mode: view.reported.mode, reason: view.reported.reason, fromAlert: false }
    : undefined;
}

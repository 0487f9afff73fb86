// The SIM page's anti-theft forms turn typed text into the PUT /v1/sims/{sim_id}/anti_theft body,
// whose values become OTA commands to the card. The threat: typed or pasted text (letters, Unicode
// digits, overlong numbers, lower-case hex, duplicates) reaching the API as a body it refuses — or
// worse, a list that silently drops what the card holds. Every accepted value fits the route's
// Desired schema (src/servers/http/routes/anti-theft.ts) and every change keeps the other entries.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accessTechnologyText,
  type Cell,
  cellFromInput,
  desiredAfter,
  imeiFromInput,
  MAX_CELLS,
  MAX_IMEIS,
  REPORT_WAIT_MS,
  reportedCellText,
  reportWaitState,
  sameCell,
  shownMode,
} from '../../web/src/anti-theft/model.js';

const fitsDesiredCell = (c: Cell) =>
  /^[0-9]{3}$/.test(c.mcc) &&
  /^[0-9]{2,3}$/.test(c.mnc) &&
  Number.isInteger(c.areaCode) &&
  c.areaCode >= 0 &&
  c.areaCode <= 65535 &&
  /^([0-9A-F]{4}|[0-9A-F]{8})$/.test(c.cellIdentity) &&
  Object.keys(c).sort().join() === 'areaCode,cellIdentity,mcc,mnc';

const cellArb = fc.record({
  mcc: fc.stringMatching(/^[0-9]{3}$/),
  mnc: fc.stringMatching(/^[0-9]{2,3}$/),
  areaCode: fc.integer({ min: 0, max: 65535 }),
  cellIdentity: fc.stringMatching(/^([0-9A-F]{4}|[0-9A-F]{8})$/),
});

describe('anti-theft forms', () => {
  it('reads what an operator types: spaced IMEIs, lower-case hex', () => {
    expect(imeiFromInput('35-840800 000001 9')).toEqual({ ok: true, value: '358408000000019' });
    expect(imeiFromInput('３５８４０８０００００００１９')).toEqual({ ok: false, error: 'imei' });
    expect(cellFromInput({ mcc: '440', mnc: '10', areaCode: '6699', cellIdentity: '0000009f' })).toEqual({
      ok: true,
      value: { mcc: '440', mnc: '10', areaCode: 6699, cellIdentity: '0000009F' },
    });
    expect(cellFromInput({ mcc: '440', mnc: '10', areaCode: '65536', cellIdentity: '009F' })).toEqual({
      ok: false,
      error: 'areaCode',
    });
  });

  it('property: any typed cell is refused with the failing field or fits the API schema', () => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[0-9A-Fa-f ]{1,9}$/));
    fc.assert(
      fc.property(text, text, text, text, (mcc, mnc, areaCode, cellIdentity) => {
        const r = cellFromInput({ mcc, mnc, areaCode, cellIdentity });
        if (r.ok) expect(fitsDesiredCell(r.value)).toBe(true);
        else expect(['mcc', 'mnc', 'areaCode', 'cellIdentity']).toContain(r.error);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (typed) => {
        const r = imeiFromInput(typed);
        if (r.ok) expect(r.value).toMatch(/^[0-9]{15}$/);
      }),
    );
  });

  it('property: a change sends the whole list with exactly that entry added or removed, within limits', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[0-9]{15}$/), { maxLength: MAX_IMEIS }),
        fc.uniqueArray(cellArb, { maxLength: MAX_CELLS, comparator: sameCell }),
        fc.stringMatching(/^[0-9]{15}$/),
        cellArb,
        (imeis, cells, imei, cell) => {
          const reported = { imeis, cells };
          const addI = desiredAfter(reported, { kind: 'addImei', imei });
          if (imeis.includes(imei)) expect(addI).toEqual({ ok: false, error: 'present' });
          else if (imeis.length === MAX_IMEIS) expect(addI).toEqual({ ok: false, error: 'full' });
          else expect(addI).toEqual({ ok: true, value: { imeis: [...imeis, imei] } });
          for (const i of imeis)
            expect(desiredAfter(reported, { kind: 'removeImei', imei: i })).toEqual({
              ok: true,
              value: { imeis: imeis.filter((x) => x !== i) },
            });
          const addC = desiredAfter(reported, { kind: 'addCell', cell });
          if (cells.some((c) => sameCell(c, cell))) expect(addC).toEqual({ ok: false, error: 'present' });
          else if (cells.length === MAX_CELLS) expect(addC).toEqual({ ok: false, error: 'full' });
          else {
            expect(addC.ok).toBe(true);
            const sent = (addC as { value: { cells: Cell[] } }).value.cells;
            expect(sent).toHaveLength(cells.length + 1);
            expect(sent.every(fitsDesiredCell)).toBe(true);
          }
          for (const c of cells) {
            const r = desiredAfter(reported, { kind: 'removeCell', cell: c });
            const sent = (r as { value: { cells: Cell[] } }).value.cells;
            expect(sent).toHaveLength(cells.length - 1);
            expect(sent.some((x) => sameCell(x, c))).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the mode shown is the platform’s: blocked by an alert is marked, nothing reported is none', () => {
    expect(shownMode({ mode: { mode: 'blocked', reason: 'imei_mismatch', source: 'alert' } })).toEqual({
      mode: 'blocked',
      reason: 'imei_mismatch',
      fromAlert: true,
    });
    expect(shownMode({ mode: { mode: 'armed', reason: 'none', source: 'reported' } })).toEqual({
      mode: 'armed',
      reason: 'none',
      fromAlert: false,
    });
    expect(shownMode({ mode: null })).toBeUndefined();
  });
});

// "Report location now" must not take the report already shown for the answer (the page would say
// "reported" before the card said anything), nor wait for ever on a card that is switched off.
describe('waiting for a local information report', () => {
  const time = fc.integer({ min: 0, max: 2 ** 45 });
  it('ends on a report strictly newer than the one shown when pressed, and only on one', () => {
    fc.assert(
      fc.property(
        fc.option(time, { nil: null }),
        fc.option(time, { nil: null }),
        time,
        (since, reported, now) => {
          const state = reportWaitState(
            { since, startedAt: now },
            reported === null ? null : { reportedTime: reported },
            now,
          );
          const newer = reported !== null && (since === null || reported > since);
          expect(state).toBe(newer ? 'arrived' : 'waiting');
        },
      ),
    );
  });

  it('gives up after REPORT_WAIT_MS without a newer report, not before', () => {
    const wait = { since: 1_000, startedAt: 50_000 };
    expect(reportWaitState(wait, { reportedTime: 1_000 }, 50_000 + REPORT_WAIT_MS - 1)).toBe('waiting');
    expect(reportWaitState(wait, { reportedTime: 1_000 }, 50_000 + REPORT_WAIT_MS)).toBe('gaveUp');
    expect(reportWaitState(wait, undefined, 50_000 + REPORT_WAIT_MS)).toBe('gaveUp');
    // A report that is there when the wait is judged wins over the clock.
    expect(reportWaitState(wait, { reportedTime: 1_001 }, 50_000 + 10 * REPORT_WAIT_MS)).toBe('arrived');
  });

  it('shows the reported cell and access technology as an operator reads them', () => {
    expect(reportedCellText({ radioType: 'eutran', mcc: '440', mnc: '10', tac: 6699, eci: 1 })).toBe(
      '440-10 / TAC 6699 / ECI 1',
    );
    expect(reportedCellText({ radioType: 'geran', mcc: '001', mnc: '01', lac: 1, ci: 0x9f })).toBe(
      '001-01 / LAC 1 / CI 159',
    );
    expect(reportedCellText({})).toBe('—');
    expect(accessTechnologyText('eutran')).toBe('LTE (E-UTRAN)');
    expect(accessTechnologyText('nb-iot')).toBe('nb-iot');
    expect(accessTechnologyText(undefined)).toBeUndefined();
  });
});

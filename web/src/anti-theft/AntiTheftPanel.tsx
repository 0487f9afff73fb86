// The SIM page's anti-theft panel: the applet's state as the card last reported it over OTA (mode,
// reason, registered IMEIs and cells), the last alert and PoR, the commands still waiting for a PoR,
// the alert history; and — when the account's permissions allow — adding or removing an IMEI or a
// cell (PUT …/anti_theft) and "Unblock" after a confirmation; the IMEI and cell the card last reported
// on request (localInfo) and "Report location now", which asks the card and waits for a newer report.
// Nothing at all for a SIM without the applet. Changes go to the card by SMS: the panel shows them
// pending and asks again until the PoR (or the report) arrives.

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import {
  errorText,
  FieldError,
  Guarded,
  invalidProps,
  type Outcome,
  OutcomeLine,
  useAction,
} from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import {
  accessTechnologyText,
  type Cell,
  type CellError,
  type Change,
  cellFromInput,
  cellText,
  desiredAfter,
  imeiFromInput,
  type ReportWait,
  reportedCellText,
  reportWaitState,
  shownMode,
} from './model';
import { type AntiTheftView, useAntiTheft, useAntiTheftEvents } from './queries';

export const ANTI_THEFT_OPERATIONS = {
  configure: 'Sim:putSimAntiTheft',
  unblock: 'Sim:unblockSimAntiTheft',
  report: 'Sim:reportSimLocalInfo',
} as const;

/** The answers of report_local_info an operator can act on, said plainly (docs/anti-theft.md). */
const REPORT_ERROR_TEXT: Record<string, MessageKey> = {
  ERR_ANTI_THEFT_NOT_PROVISIONED: 'antiTheft.reportNotProvisioned',
  ERR_OTA_UNAVAILABLE: 'antiTheft.reportNoLink',
};

const ERROR_TEXT: Record<CellError, MessageKey> = {
  imei: 'antiTheft.badImei',
  mcc: 'antiTheft.badMcc',
  mnc: 'antiTheft.badMnc',
  areaCode: 'antiTheft.badAreaCode',
  cellIdentity: 'antiTheft.badCellIdentity',
  full: 'antiTheft.full',
  present: 'antiTheft.present',
};

type Command = AntiTheftView['pendingCommands'][number];
const commandText = (c: Command) =>
  c.commands
    .map((x) => (x.imei ? `${x.op} ${x.imei}` : x.cell ? `${x.op} ${cellText(x.cell)}` : x.op))
    .join(', ');

export function AntiTheftPanel({ simId }: { simId: string }) {
  const { t, formatTime } = useI18n();
  const [reportWait, setReportWait] = useState<ReportWait>();
  const [reporting, setReporting] = useState(false);
  const [reportNote, setReportNote] = useState<Outcome>();
  const state = useAntiTheft(simId, reportWait !== undefined);
  const view = state.data;
  const pending = (view?.pendingCommands.length ?? 0) > 0;
  const events = useAntiTheftEvents(simId, view !== undefined && view !== null, pending);
  const can = usePermissions(Object.values(ANTI_THEFT_OPERATIONS));
  const queryClient = useQueryClient();
  const action = useAction();
  const [imei, setImei] = useState('');
  const [cell, setCell] = useState({ mcc: '', mnc: '', areaCode: '', cellIdentity: '' });
  const [fieldError, setFieldError] = useState<{ field: 'imei' | 'cell'; error: CellError }>();

  // Each answer of the poll (dataUpdatedAt) settles a wait for a report: a newer one, or too long.
  const localInfo = view?.localInfo;
  const updatedAt = state.dataUpdatedAt;
  useEffect(() => {
    if (reportWait === undefined || updatedAt === 0) return;
    const now = Date.now();
    const settled = reportWaitState(reportWait, localInfo, now);
    if (settled === 'waiting') return;
    setReportWait(undefined);
    setReportNote(
      settled === 'arrived'
        ? { ok: true, text: t('antiTheft.reportArrived') }
        : { ok: false, text: t('antiTheft.reportLate') },
    );
  }, [reportWait, localInfo, updatedAt, t]);

  // No applet (ERR_ANTI_THEFT_NOT_PROVISIONED), or not yet known: no panel. A real error is said in the panel's place.
  if (view === null || (view === undefined && !state.error)) return null;
  if (view === undefined)
    return (
      <section className="card" aria-labelledby="anti-theft">
        <h2 id="anti-theft">{t('antiTheft.title')}</h2>
        <p role="alert" className="error">
          {t('app.error', { message: state.error?.message ?? '' })}
        </p>
      </section>
    );

  const reported = view.reported;
  const mode = shownMode(view);
  const lists = { imeis: reported?.imeis ?? [], cells: reported?.cells ?? [] };
  const path = { sim_id: simId };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sims', 'anti-theft', simId] });

  async function change(c: Change, field: 'imei' | 'cell') {
    const body = desiredAfter(lists, c);
    if (!body.ok) {
      setFieldError({ field, error: body.error });
      return;
    }
    setFieldError(undefined);
    const done = await action.run(
      () => unwrap(api.PUT('/v1/sims/{sim_id}/anti_theft', { params: { path }, body: body.value })),
      (r) => t('antiTheft.sent', { id: r.command.id }),
    );
    if (done) {
      if (c.kind === 'addImei') setImei('');
      if (c.kind === 'addCell') setCell({ mcc: '', mnc: '', areaCode: '', cellIdentity: '' });
    }
    await refresh();
  }

  function addImei(e: FormEvent) {
    e.preventDefault();
    const checked = imeiFromInput(imei);
    if (!checked.ok) setFieldError({ field: 'imei', error: checked.error });
    else void change({ kind: 'addImei', imei: checked.value }, 'imei');
  }
  function addCell(e: FormEvent) {
    e.preventDefault();
    const checked = cellFromInput(cell);
    if (!checked.ok) setFieldError({ field: 'cell', error: checked.error });
    else void change({ kind: 'addCell', cell: checked.value }, 'cell');
  }
  async function unblock() {
    if (!window.confirm(t('antiTheft.confirmUnblock', { id: simId }))) return;
    await action.run(
      () => unwrap(api.POST('/v1/sims/{sim_id}/anti_theft/unblock', { params: { path } })),
      (r) => t('antiTheft.sent', { id: r.id }),
    );
    await refresh();
  }

  async function reportNow() {
    const since = view?.localInfo?.reportedTime ?? null;
    setReporting(true);
    setReportNote(undefined);
    try {
      await unwrap(api.POST('/v1/sims/{sim_id}/report_local_info', { params: { path } }));
      setReportWait({ since, startedAt: Date.now() });
      setReportNote({ ok: true, text: t('antiTheft.reportSent') });
    } catch (e) {
      const known = e instanceof ApiError ? REPORT_ERROR_TEXT[e.code] : undefined;
      setReportNote({ ok: false, text: known ? t(known) : errorText(e) });
    } finally {
      setReporting(false);
    }
    await refresh();
  }

  const configure = can(ANTI_THEFT_OPERATIONS.configure);
  const errorOf = (field: 'imei' | 'cell') =>
    fieldError?.field === field ? t(ERROR_TEXT[fieldError.error]) : undefined;
  const removeCell = (c: Cell) => void change({ kind: 'removeCell', cell: c }, 'cell');

  return (
    <section className="card stack" aria-labelledby="anti-theft" data-anti-theft={mode?.mode ?? 'unknown'}>
      <h2 id="anti-theft">{t('antiTheft.title')}</h2>
      <div className="grid">
        <dl aria-live="polite">
          <dt>{t('antiTheft.mode')}</dt>
          <dd data-field="antiTheftMode" className={`status status-${mode?.mode ?? 'unknown'}`}>
            {mode ? mode.mode : t('antiTheft.neverReported')}
          </dd>
          <dt>{t('antiTheft.reason')}</dt>
          <dd>
            {mode ? mode.reason : '—'}
            {mode?.fromAlert ? ` (${t('antiTheft.byAlert')})` : ''}
          </dd>
          <dt>{t('antiTheft.reportedTime')}</dt>
          <dd>{view.reportedTime ? formatTime(view.reportedTime) : '—'}</dd>
          <dt>{t('antiTheft.lastAlert')}</dt>
          <dd>{view.lastAlert ? `${view.lastAlert.event} (${formatTime(view.lastAlert.time)})` : '—'}</dd>
          <dt>{t('antiTheft.lastPor')}</dt>
          <dd data-field="lastPor">
            {view.lastPor
              ? `#${view.lastPor.id} ${view.lastPor.status} (${formatTime(view.lastPor.updatedTime)})`
              : '—'}
          </dd>
          <dt>{t('antiTheft.pending')}</dt>
          <dd data-field="pendingCommands">
            {pending ? (
              <ul>
                {view.pendingCommands.map((c) => (
                  <li key={c.id}>
                    #{c.id} {t('antiTheft.waiting')}: {commandText(c)}
                  </li>
                ))}
              </ul>
            ) : (
              t('antiTheft.nonePending')
            )}
          </dd>
        </dl>
        <div className="stack">
          <h3>{t('antiTheft.imeis')}</h3>
          {lists.imeis.length > 0 ? (
            <ul className="anti-theft-imeis">
              {lists.imeis.map((i) => (
                <li key={i}>
                  {i}{' '}
                  <Guarded
                    className="secondary"
                    permission={configure}
                    busy={action.busy}
                    onClick={() => void change({ kind: 'removeImei', imei: i }, 'imei')}
                  >
                    {t('antiTheft.removeImei', { imei: i })}
                  </Guarded>
                </li>
              ))}
            </ul>
          ) : (
            <p>{t('sim.none')}</p>
          )}
          {configure.allowed && (
            <form className="row" onSubmit={addImei} aria-label={t('antiTheft.addImei')}>
              <label>
                {t('antiTheft.imei')}
                <input
                  inputMode="numeric"
                  value={imei}
                  onChange={(e) => setImei(e.target.value)}
                  {...invalidProps('anti-theft-imei', errorOf('imei'))}
                />
              </label>
              <button type="submit" disabled={action.busy}>
                {t('antiTheft.addImei')}
              </button>
              <FieldError field="anti-theft-imei" error={errorOf('imei')} />
            </form>
          )}
        </div>
        <div className="stack">
          <h3>{t('antiTheft.cells')}</h3>
          {lists.cells.length > 0 ? (
            <ul className="anti-theft-cells">
              {lists.cells.map((c) => (
                <li key={cellText(c)}>
                  {cellText(c)}{' '}
                  <Guarded
                    className="secondary"
                    permission={configure}
                    busy={action.busy}
                    onClick={() => removeCell(c)}
                  >
                    {t('antiTheft.removeCell', { cell: cellText(c) })}
                  </Guarded>
                </li>
              ))}
            </ul>
          ) : (
            <p>{t('sim.none')}</p>
          )}
          {configure.allowed && (
            <form className="stack" onSubmit={addCell} aria-label={t('antiTheft.addCell')}>
              <div className="row">
                <label>
                  MCC
                  <input
                    inputMode="numeric"
                    size={3}
                    value={cell.mcc}
                    onChange={(e) => setCell({ ...cell, mcc: e.target.value })}
                  />
                </label>
                <label>
                  MNC
                  <input
                    inputMode="numeric"
                    size={3}
                    value={cell.mnc}
                    onChange={(e) => setCell({ ...cell, mnc: e.target.value })}
                  />
                </label>
                <label>
                  {t('antiTheft.areaCode')}
                  <input
                    inputMode="numeric"
                    size={5}
                    value={cell.areaCode}
                    onChange={(e) => setCell({ ...cell, areaCode: e.target.value })}
                  />
                </label>
                <label>
                  {t('antiTheft.cellIdentity')}
                  <input
                    size={8}
                    value={cell.cellIdentity}
                    onChange={(e) => setCell({ ...cell, cellIdentity: e.target.value })}
                    {...invalidProps('anti-theft-cell', errorOf('cell'))}
                  />
                </label>
              </div>
              <div className="row">
                <button type="submit" disabled={action.busy}>
                  {t('antiTheft.addCell')}
                </button>
                <FieldError field="anti-theft-cell" error={errorOf('cell')} />
              </div>
            </form>
          )}
        </div>
      </div>
      <div className="stack" data-local-info={localInfo ? 'reported' : 'never'}>
        <h3>{t('antiTheft.localInfo')}</h3>
        {localInfo ? (
          <dl aria-live="polite">
            <dt>{t('antiTheft.localInfoImei')}</dt>
            <dd data-field="localInfoImei">{localInfo.imei ?? '—'}</dd>
            <dt>{t('antiTheft.localInfoCell')}</dt>
            <dd data-field="localInfoCell">{localInfo.cell ? reportedCellText(localInfo.cell) : '—'}</dd>
            <dt>{t('antiTheft.localInfoAccess')}</dt>
            <dd data-field="localInfoAccess">{accessTechnologyText(localInfo.cell?.radioType) ?? '—'}</dd>
            <dt>{t('antiTheft.localInfoTime')}</dt>
            <dd data-field="localInfoTime">{formatTime(localInfo.reportedTime)}</dd>
          </dl>
        ) : (
          <p aria-live="polite">{t('antiTheft.localInfoNever')}</p>
        )}
        <div className="row">
          <Guarded
            permission={can(ANTI_THEFT_OPERATIONS.report)}
            busy={reporting || reportWait !== undefined}
            onClick={() => void reportNow()}
          >
            {t('antiTheft.reportNow')}
          </Guarded>
        </div>
        <OutcomeLine outcome={reportNote} />
      </div>
      <div className="row">
        <Guarded
          permission={can(ANTI_THEFT_OPERATIONS.unblock)}
          busy={action.busy}
          onClick={() => void unblock()}
        >
          {t('antiTheft.unblock')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
      <h3>{t('antiTheft.history')}</h3>
      {events.error ? (
        <p className="error">{events.error.message}</p>
      ) : events.data && events.data.length > 0 ? (
        <table className="anti-theft-events">
          <thead>
            <tr>
              <th scope="col">{t('sim.time')}</th>
              <th scope="col">{t('sim.event')}</th>
              <th scope="col">{t('sim.reason')}</th>
              <th scope="col">{t('col.imei')}</th>
              <th scope="col">{t('sim.cell')}</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((e) => (
              <tr key={`${e.time}-${e.event}`}>
                <td>{formatTime(e.time)}</td>
                <td>{e.event}</td>
                <td>{e.reason}</td>
                <td>{e.imei ?? '—'}</td>
                <td>{e.cell ? cellText(e.cell) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>{t('sim.none')}</p>
      )}
    </section>
  );
}

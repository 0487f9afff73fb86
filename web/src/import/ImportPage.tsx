import { useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { usePermissions } from '../api/permissions';
import { errorText, Guarded } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { type Preview, preview, readCsv, shownCell } from './csv';
import { type ImportProgress, type ImportSummary, importCsv } from './upload';

const PREVIEW_ROWS = 20;

type Loaded =
  | { kind: 'preview'; file: File; preview: Preview }
  | { kind: 'unreadable'; file: File; message: string };

export function ImportPage() {
  const { t, formatNumber } = useI18n();
  const can = usePermissions(['Sim:importSims']);
  const queryClient = useQueryClient();
  const [loaded, setLoaded] = useState<Loaded>();
  const [progress, setProgress] = useState<ImportProgress>();
  const [running, setRunning] = useState(false);
  const [summary, setSummary] = useState<ImportSummary>();
  const [failure, setFailure] = useState<string>();
  const abort = useRef<AbortController | undefined>(undefined);

  async function choose(file: File | undefined) {
    setSummary(undefined);
    setProgress(undefined);
    setFailure(undefined);
    if (file === undefined) return setLoaded(undefined);
    const read = readCsv(await file.text());
    if (!read.ok)
      return setLoaded({ kind: 'unreadable', file, message: t('import.unclosed', { line: read.line }) });
    const p = preview(read);
    if (p === undefined) return setLoaded({ kind: 'unreadable', file, message: t('import.empty') });
    setLoaded({ kind: 'preview', file, preview: p });
  }

  async function start() {
    if (loaded?.kind !== 'preview') return;
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    setSummary(undefined);
    setFailure(undefined);
    setProgress({ rows: 0, created: 0, unchanged: 0, rejected: 0 });
    try {
      const result = await importCsv(loaded.file, setProgress, controller.signal);
      setProgress(result);
      setSummary(result);
    } catch (e) {
      setFailure(controller.signal.aborted ? t('import.cancelled') : errorText(e));
    } finally {
      setRunning(false);
      abort.current = undefined;
      await queryClient.invalidateQueries({ queryKey: ['sims'] });
    }
  }

  const p = loaded?.kind === 'preview' ? loaded.preview : undefined;
  const total = p?.rows.length ?? 0;
  const blocked = p === undefined || p.header !== undefined || total === 0;

  return (
    <div className="stack">
      <h1>{t('import.title')}</h1>
      <div className="card stack">
        <p className="hint">{t('import.hint')}</p>
        <label>
          {t('import.file')}
          <input
            type="file"
            accept=".csv,text/csv"
            disabled={running}
            onChange={(e) => void choose(e.target.files?.[0])}
          />
        </label>
        {loaded?.kind === 'unreadable' && (
          <p role="alert" className="error">
            {loaded.message}
          </p>
        )}
        {p?.header && (
          <p role="alert" className="error" data-header-error>
            {t('import.badHeader', {
              problems: [
                p.header.missing.length ? t('import.missing', { columns: p.header.missing.join(', ') }) : '',
                p.header.unknown.length ? t('import.unknown', { columns: p.header.unknown.join(', ') }) : '',
                p.header.noOpc ? t('import.noOpc') : '',
              ]
                .filter(Boolean)
                .join('; '),
            })}
          </p>
        )}
      </div>
      {p && (
        <section className="stack" aria-labelledby="import-preview">
          <h2 id="import-preview">
            {t('import.preview', {
              count: formatNumber(Math.min(PREVIEW_ROWS, total)),
              total: formatNumber(total),
            })}
          </h2>
          {p.ragged.length > 0 && (
            <p className="notice" role="status">
              {t('import.ragged', { lines: p.ragged.slice(0, 10).join(', '), count: p.ragged.length })}
            </p>
          )}
          <div className="table-wrap">
            <table className="preview">
              <caption className="visually-hidden">{t('import.previewCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('import.line')}</th>
                  {p.columns.map((c, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: a header may repeat a name
                    <th scope="col" key={`${c}-${i}`}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {p.rows.slice(0, PREVIEW_ROWS).map((r) => (
                  <tr key={r.line} data-line={r.line}>
                    <th scope="row">{r.line}</th>
                    {r.fields.map((f, i) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                      <td key={i}>{shownCell(p.columns[i], f)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="row">
            <Guarded
              permission={can('Sim:importSims')}
              busy={running || blocked}
              onClick={() => void start()}
            >
              {t('import.start', { count: formatNumber(total) })}
            </Guarded>
            {running && (
              <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
                {t('sims.cancel')}
              </button>
            )}
          </div>
        </section>
      )}
      {progress && (
        <section className="card stack" aria-labelledby="import-progress" aria-live="polite">
          <h2 id="import-progress">{t('import.progressTitle')}</h2>
          <label>
            {t('import.progress', { done: formatNumber(progress.rows), total: formatNumber(total) })}
            <progress max={Math.max(total, progress.rows, 1)} value={progress.rows} />
          </label>
          {summary && (
            <p role="status" className={summary.rejected > 0 ? 'error' : 'ok'} data-import-done>
              {t('import.done', {
                created: formatNumber(summary.created),
                unchanged: formatNumber(summary.unchanged),
                failed: formatNumber(summary.rejected),
              })}
            </p>
          )}
          {failure && (
            <p role="alert" className="error">
              {failure}
            </p>
          )}
        </section>
      )}
      {summary && summary.errors.length > 0 && (
        <section className="stack" aria-labelledby="import-errors">
          <h2 id="import-errors">{t('import.rowErrors')}</h2>
          {summary.errors.length < summary.rejected && (
            <p className="hint">
              {t('import.moreErrors', { shown: summary.errors.length, total: summary.rejected })}
            </p>
          )}
          <div className="table-wrap">
            <table className="row-errors">
              <caption className="visually-hidden">{t('import.rowErrors')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('import.row')}</th>
                  <th scope="col">{t('col.iccid')}</th>
                  <th scope="col">{t('import.code')}</th>
                  <th scope="col">{t('import.error')}</th>
                </tr>
              </thead>
              <tbody>
                {summary.errors.map((e) => (
                  <tr key={`${e.line}-${e.code}`} data-line={e.line}>
                    <th scope="row">{e.line}</th>
                    <td>{e.iccid ?? '—'}</td>
                    <td>{e.code}</td>
                    <td className="error">{e.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}

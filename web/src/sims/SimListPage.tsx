import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { usePermissions } from '../api/permissions';
import { Link, navigate, useLocation } from '../app/router';
import { KeysetPager } from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { OPERATION } from './actions';
import { BulkActions } from './BulkActions';
import {
  csvField,
  filterFromSearch,
  filterToSearch,
  identity,
  type Sim,
  type SimFilter,
  SPEED_CLASSES,
  STATUSES,
} from './model';
import { fetchSimPage, useGroups, useSimPage } from './queries';
import type { SearchBy } from './search';

type Column = {
  readonly id: string;
  readonly label: MessageKey;
  readonly value: (sim: Sim, groupName: (id: string | null) => string) => string;
};

const COLUMNS: readonly Column[] = [
  { id: 'iccid', label: 'col.iccid', value: (s) => identity(s).iccid },
  { id: 'imsi', label: 'col.imsi', value: (s) => identity(s).imsi },
  { id: 'msisdn', label: 'col.msisdn', value: (s) => identity(s).msisdn },
  { id: 'status', label: 'col.status', value: (s) => s.status },
  { id: 'speedClass', label: 'col.speedClass', value: (s) => s.speedClass },
  { id: 'group', label: 'col.group', value: (s, g) => g(s.groupId) },
  {
    id: 'tags',
    label: 'col.tags',
    value: (s) =>
      Object.entries(s.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
  },
  { id: 'session', label: 'col.session', value: (s) => (s.sessionStatus?.online ? 'online' : 'offline') },
  { id: 'ip', label: 'col.ip', value: (s) => s.sessionStatus?.ueIpAddress ?? '' },
  { id: 'imei', label: 'col.imei', value: (s) => s.sessionStatus?.imei ?? '' },
];
const DEFAULT_COLUMNS = ['iccid', 'imsi', 'msisdn', 'status', 'speedClass', 'group', 'session'];
const COLUMNS_KEY = 'simtrust.console.simColumns';

function savedColumns(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null');
    if (Array.isArray(v) && v.every((c) => typeof c === 'string')) return v;
  } catch {
    // A damaged preference falls back to the default columns.
  }
  return DEFAULT_COLUMNS;
}

export function SimListPage() {
  const { t, formatNumber } = useI18n();
  const { search } = useLocation();
  // Keyed by the query string: a new URLSearchParams each render must not reset the page.
  const query = search.toString();
  const filter = useMemo(() => filterFromSearch(new URLSearchParams(query)), [query]);
  const [draft, setDraft] = useState<SimFilter>(filter);
  // Keyset paging: the keys that started each page seen so far (page 1 starts at none).
  const [keys, setKeys] = useState<Array<string | undefined>>([undefined]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [columns, setColumns] = useState<string[]>(savedColumns);
  const page = useSimPage(filter, keys.at(-1));
  const groups = useGroups();
  const can = usePermissions(Object.values(OPERATION));
  const groupName = (id: string | null) =>
    id === null ? '' : (groups.data?.find((g) => g.groupId === id)?.tags.name ?? id);

  useEffect(() => {
    setDraft(filter);
    setKeys([undefined]);
    setSelected(new Set());
  }, [filter]);

  function apply(e: FormEvent) {
    e.preventDefault();
    navigate(`/sims?${filterToSearch(draft)}`);
  }

  const toggleColumn = (id: string) => {
    const next = columns.includes(id)
      ? columns.filter((c) => c !== id)
      : COLUMNS.filter((c) => c.id === id || columns.includes(c.id)).map((c) => c.id);
    setColumns(next);
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(next));
  };
  const shown = COLUMNS.filter((c) => columns.includes(c.id));
  const sims = page.data?.sims ?? [];
  const allSelected = sims.length > 0 && sims.every((s) => selected.has(s.simId));

  return (
    <div className="stack">
      <h1>{t('sims.title')}</h1>
      <form className="filters card" onSubmit={apply} aria-label={t('sims.filters')}>
        <label>
          {t('sims.searchBy')}
          <select
            value={draft.searchBy ?? 'imsi'}
            onChange={(e) => setDraft({ ...draft, searchBy: e.target.value as SearchBy })}
          >
            <option value="imsi">IMSI</option>
            <option value="iccid">ICCID</option>
            <option value="msisdn">MSISDN</option>
          </select>
        </label>
        <label>
          {t('sims.search')}
          <input
            type="search"
            inputMode="numeric"
            placeholder={t('sims.searchHint')}
            value={draft.search ?? ''}
            onChange={(e) => setDraft({ ...draft, search: e.target.value })}
          />
        </label>
        <label>
          {t('sims.status')}
          <select value={draft.status ?? ''} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">{t('sims.any')}</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          {t('sims.speedClass')}
          <select
            value={draft.speedClass ?? ''}
            onChange={(e) => setDraft({ ...draft, speedClass: e.target.value })}
          >
            <option value="">{t('sims.any')}</option>
            {SPEED_CLASSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          {t('sims.group')}
          <select
            value={draft.groupId ?? ''}
            onChange={(e) => setDraft({ ...draft, groupId: e.target.value })}
          >
            <option value="">{t('sims.any')}</option>
            {groups.data?.map((g) => (
              <option key={g.groupId} value={g.groupId}>
                {g.tags.name ?? g.groupId}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('sims.tagName')}
          <input
            value={draft.tagName ?? ''}
            onChange={(e) => setDraft({ ...draft, tagName: e.target.value })}
          />
        </label>
        <label>
          {t('sims.tagValue')}
          <input
            value={draft.tagValue ?? ''}
            onChange={(e) => setDraft({ ...draft, tagValue: e.target.value })}
          />
        </label>
        <div className="row end">
          <button type="submit">{t('sims.apply')}</button>
          <button type="button" className="secondary" onClick={() => navigate('/sims')}>
            {t('sims.clear')}
          </button>
        </div>
      </form>
      <div className="row">
        <details className="columns">
          <summary>{t('sims.columns')}</summary>
          <fieldset>
            <legend>{t('sims.columns')}</legend>
            {COLUMNS.map((c) => (
              <label key={c.id} className="inline">
                <input type="checkbox" checked={columns.includes(c.id)} onChange={() => toggleColumn(c.id)} />
                {t(c.label)}
              </label>
            ))}
          </fieldset>
        </details>
        <CsvExport filter={filter} columns={shown} groupName={groupName} />
      </div>
      {selected.size > 0 && <BulkActions selected={[...selected]} can={can} onDone={() => undefined} />}
      {page.error ? (
        <p role="alert" className="error">
          {t('app.error', { message: page.error.message })}
        </p>
      ) : (
        <div className="table-wrap">
          <table className="sims" aria-busy={page.isFetching}>
            <caption className="visually-hidden">{t('sims.title')}</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label={t('sims.selectAll')}
                    checked={allSelected}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(sims.map((s) => s.simId)))}
                  />
                </th>
                <th scope="col">{t('col.simId')}</th>
                {shown.map((c) => (
                  <th scope="col" key={c.id}>
                    {t(c.label)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {sims.map((sim) => (
                <tr key={sim.simId} data-sim-id={sim.simId}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={t('sims.select', { id: sim.simId })}
                      checked={selected.has(sim.simId)}
                      onChange={() => {
                        const next = new Set(selected);
                        if (!next.delete(sim.simId)) next.add(sim.simId);
                        setSelected(next);
                      }}
                    />
                  </td>
                  <td>
                    <Link to={`/sims/${encodeURIComponent(sim.simId)}`}>{sim.simId}</Link>
                  </td>
                  {shown.map((c) => (
                    <td
                      key={c.id}
                      data-column={c.id}
                      className={c.id === 'status' ? `status status-${sim.status}` : undefined}
                    >
                      {c.id === 'session'
                        ? t(sim.sessionStatus?.online ? 'sims.online' : 'sims.offline')
                        : c.value(sim, groupName)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {page.isSuccess && sims.length === 0 && <p>{t('sims.none')}</p>}
        </div>
      )}
      <KeysetPager
        label={t('sims.page', { page: formatNumber(keys.length) })}
        keys={keys}
        setKeys={setKeys}
        nextKey={page.data?.nextKey}
        busy={page.isFetching}
      />
    </div>
  );
}

/** Every SIM of the current filter as CSV, page by page through the API, cancellable. */
function CsvExport({
  filter,
  columns,
  groupName,
}: {
  filter: SimFilter;
  columns: readonly Column[];
  groupName: (id: string | null) => string;
}) {
  const { t } = useI18n();
  const [state, setState] = useState<{ count: number; running: boolean; href?: string }>();
  const cancelled = useRef(false);

  async function exportCsv() {
    cancelled.current = false;
    setState({ count: 0, running: true });
    const lines = [['simId', ...columns.map((c) => c.id)].join(',')];
    let after: string | undefined;
    let count = 0;
    do {
      const page = await fetchSimPage(filter, 100, after);
      for (const sim of page.sims)
        lines.push([sim.simId, ...columns.map((c) => c.value(sim, groupName))].map(csvField).join(','));
      count += page.sims.length;
      after = page.nextKey;
      setState({ count, running: true });
    } while (after !== undefined && !cancelled.current);
    const blob = new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv' });
    setState({ count, running: false, href: URL.createObjectURL(blob) });
  }

  return (
    <span className="row" role="status">
      {state?.running ? (
        <>
          <span>{t('sims.exporting', { count: state.count })}</span>
          <button type="button" className="secondary" onClick={() => (cancelled.current = true)}>
            {t('sims.cancel')}
          </button>
        </>
      ) : (
        <button type="button" className="secondary" onClick={() => void exportCsv()}>
          {t('sims.export')}
        </button>
      )}
      {state?.href && (
        <a href={state.href} download="sims.csv">
          {t('sims.exported', { count: state.count })}
        </a>
      )}
    </span>
  );
}

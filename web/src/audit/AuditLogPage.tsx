import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { api, apiError } from '../api/client';
import { navigate, useLocation } from '../app/router';
import { KeysetPager, QueryState } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import {
  type AuditFilter,
  type AuditResult,
  auditQuery,
  filterFromSearch,
  filterToSearch,
  localInputToMs,
  msToLocalInput,
  RESULTS,
} from './model';

const PAGE_SIZE = 50;

function useAuditPage(filter: AuditFilter, before: number | undefined) {
  return useQuery({
    queryKey: ['audit', filter, before ?? 0],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/audit_logs', {
        params: { query: auditQuery(filter, PAGE_SIZE, before) },
      });
      if (data === undefined) throw apiError(response, error);
      const next = response.headers.get('x-soracom-next-key');
      return { records: data, nextKey: next !== null && /^\d+$/.test(next) ? Number(next) : undefined };
    },
    placeholderData: keepPreviousData,
    // New records arrive while the operator watches (first page only: later pages stay put).
    refetchInterval: before === undefined ? 10_000 : false,
  });
}

export function AuditLogPage() {
  const { t, formatTime } = useI18n();
  const { search } = useLocation();
  const query = search.toString();
  const filter = useMemo(() => filterFromSearch(new URLSearchParams(query)), [query]);
  const [draft, setDraft] = useState({
    ...filter,
    fromText: msToLocalInput(filter.from),
    toText: msToLocalInput(filter.to),
  });
  const [keys, setKeys] = useState<Array<number | undefined>>([undefined]);
  const page = useAuditPage(filter, keys.at(-1));

  useEffect(() => {
    setDraft({ ...filter, fromText: msToLocalInput(filter.from), toText: msToLocalInput(filter.to) });
    setKeys([undefined]);
  }, [filter]);

  function apply(e: FormEvent) {
    e.preventDefault();
    const { fromText, toText, ...rest } = draft;
    const from = localInputToMs(fromText);
    const to = localInputToMs(toText);
    navigate(
      `/audit?${filterToSearch({ ...rest, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) })}`,
    );
  }
  const text = (
    key: 'operationId' | 'userName' | 'sourceIp',
    label: string,
    max: number,
    placeholder?: string,
  ) => (
    <label>
      {label}
      <input
        maxLength={max}
        placeholder={placeholder}
        value={draft[key] ?? ''}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
      />
    </label>
  );

  return (
    <div className="stack">
      <h1>{t('audit.title')}</h1>
      <form className="filters card" onSubmit={apply} aria-label={t('sims.filters')}>
        {text('operationId', t('audit.operation'), 100, 'Sim:suspendSim')}
        {text('userName', t('auth.userName'), 100)}
        {text('sourceIp', t('audit.sourceIp'), 64)}
        <label>
          {t('audit.result')}
          <select
            value={draft.result ?? ''}
            onChange={(e) => {
              const { result: _, ...rest } = draft;
              setDraft(e.target.value ? { ...rest, result: e.target.value as AuditResult } : rest);
            }}
          >
            <option value="">{t('sims.any')}</option>
            {RESULTS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          {t('audit.from')}
          <input
            type="datetime-local"
            value={draft.fromText}
            onChange={(e) => setDraft({ ...draft, fromText: e.target.value })}
          />
        </label>
        <label>
          {t('audit.to')}
          <input
            type="datetime-local"
            value={draft.toText}
            onChange={(e) => setDraft({ ...draft, toText: e.target.value })}
          />
        </label>
        <div className="row end">
          <button type="submit">{t('sims.apply')}</button>
          <button type="button" className="secondary" onClick={() => navigate('/audit')}>
            {t('sims.clear')}
          </button>
        </div>
      </form>
      <QueryState error={page.error} loading={page.isPending} />
      {page.data && page.data.records.length === 0 && <p>{t('audit.none')}</p>}
      {page.data && page.data.records.length > 0 && (
        <div className="table-wrap">
          <table className="audit">
            <caption className="visually-hidden">{t('audit.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('sim.time')}</th>
                <th scope="col">{t('audit.actor')}</th>
                <th scope="col">{t('audit.operation')}</th>
                <th scope="col">{t('audit.request')}</th>
                <th scope="col">{t('audit.sourceIp')}</th>
                <th scope="col">{t('audit.result')}</th>
                <th scope="col">{t('audit.detail')}</th>
              </tr>
            </thead>
            <tbody>
              {page.data.records.map((r) => (
                <tr key={r.id} data-operation={r.operationId} data-result={r.result}>
                  <td>{formatTime(r.time)}</td>
                  <td>
                    {r.actor.userName ?? r.actor.kind}
                    {r.actor.authKeyId ? ` (${r.actor.authKeyId})` : ''}
                  </td>
                  <td>{r.operationId}</td>
                  <td>{r.method && r.path ? `${r.method} ${r.path}` : '—'}</td>
                  <td>{r.sourceIp ?? '—'}</td>
                  <td className={r.result === 'success' ? 'ok' : 'error'}>
                    {r.result}
                    {r.statusCode ? ` (${r.statusCode})` : ''}
                  </td>
                  <td>
                    {Object.keys(r.detail).length > 0 || Object.keys(r.params).length > 0 ? (
                      <details>
                        <summary>{t('audit.show')}</summary>
                        <pre className="json">
                          {JSON.stringify({ params: r.params, detail: r.detail }, null, 2)}
                        </pre>
                      </details>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <KeysetPager
        label={t('audit.pages')}
        keys={keys}
        setKeys={setKeys}
        nextKey={page.data?.nextKey}
        busy={page.isFetching}
      />
    </div>
  );
}

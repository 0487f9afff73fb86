import { useState } from 'react';
import { usePermissions } from '../api/permissions';
import { Link, navigate, useLocation } from '../app/router';
import { KeysetPager, QueryState } from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { TARGET_KINDS, type TargetKind, targetOf } from './model';
import { EVENT_HANDLER_OPERATIONS, type EventHandler, useHandlerPage, useLastFired } from './queries';

const isTarget = (v: string | null): v is TargetKind =>
  v !== null && (TARGET_KINDS as readonly string[]).includes(v);

function LastFired({ handlerId }: { handlerId: string }) {
  const { t, formatTime } = useI18n();
  const last = useLastFired(handlerId);
  if (last.isPending) return <>…</>;
  return <>{last.data ? formatTime(last.data) : t('eh.never')}</>;
}

export function TargetText({ handler }: { handler: EventHandler }) {
  const { t } = useI18n();
  const target = targetOf(handler);
  if (target === undefined) return <>—</>;
  const label = t(`eh.target.${target.kind}` as MessageKey);
  if (target.kind === 'group')
    return (
      <>
        {label} <Link to={`/groups/${encodeURIComponent(target.id)}`}>{target.id}</Link>
      </>
    );
  if (target.kind === 'sim')
    return (
      <>
        {label} <Link to={`/sims/${encodeURIComponent(target.id)}`}>{target.id}</Link>
      </>
    );
  return target.kind === 'operator' ? label : `${label} ${target.id}`;
}

export function StatusText({ status }: { status: string }) {
  const { t } = useI18n();
  return (
    <span className={`status-${status}`}>
      {t(status === 'active' ? 'eh.status.active' : 'eh.status.inactive')}
    </span>
  );
}

export function EventHandlerListPage() {
  const { t } = useI18n();
  const { search } = useLocation();
  const targetParam = search.get('target');
  const target = isTarget(targetParam) ? targetParam : undefined;
  const [keys, setKeys] = useState<Array<string | undefined>>([undefined]);
  const page = useHandlerPage(target, keys.at(-1));
  const can = usePermissions(EVENT_HANDLER_OPERATIONS);
  const create = can('EventHandler:createEventHandler');

  return (
    <div className="stack">
      <h1>{t('eh.title')}</h1>
      <p className="hint">{t('eh.intro')}</p>
      <div className="row">
        <label>
          {t('eh.filterTarget')}
          <select
            value={target ?? ''}
            onChange={(e) => {
              setKeys([undefined]);
              navigate(e.target.value ? `/event-handlers?target=${e.target.value}` : '/event-handlers', {
                replace: true,
              });
            }}
          >
            <option value="">{t('sims.any')}</option>
            {TARGET_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`eh.target.${k}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        {create.allowed ? (
          <button type="button" onClick={() => navigate('/event-handlers/new')}>
            {t('eh.create')}
          </button>
        ) : (
          create.reason !== undefined && (
            <p className="hint">{t('app.forbidden', { reason: create.reason })}</p>
          )
        )}
      </div>
      <QueryState error={page.error} loading={page.isPending} />
      {page.data && page.data.handlers.length === 0 && keys.length === 1 && <p>{t('eh.none')}</p>}
      {page.data && page.data.handlers.length > 0 && (
        <div className="table-wrap">
          <table className="event-handlers">
            <caption className="visually-hidden">{t('eh.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('eh.name')}</th>
                <th scope="col">{t('eh.status')}</th>
                <th scope="col">{t('eh.target')}</th>
                <th scope="col">{t('eh.ruleType')}</th>
                <th scope="col">{t('eh.actions')}</th>
                <th scope="col">{t('eh.lastFired')}</th>
              </tr>
            </thead>
            <tbody>
              {page.data.handlers.map((h) => (
                <tr key={h.handlerId} data-handler-id={h.handlerId}>
                  <td>
                    <Link to={`/event-handlers/${encodeURIComponent(h.handlerId)}`}>{h.name}</Link>
                  </td>
                  <td>
                    <StatusText status={h.status} />
                  </td>
                  <td>
                    <TargetText handler={h} />
                  </td>
                  <td>{h.ruleConfig.type}</td>
                  <td>{h.actionConfigList.map((a) => a.type).join(', ')}</td>
                  <td>
                    <LastFired handlerId={h.handlerId} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <KeysetPager
        label={t('eh.pages')}
        keys={keys}
        setKeys={setKeys}
        nextKey={page.data?.nextKey}
        busy={page.isFetching}
      />
    </div>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Permission } from '../api/permissions';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, KeysetPager, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useSignedIn } from '../auth/session';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { HandlerForm } from './HandlerForm';
import { StatusText, TargetText } from './HandlerListPage';
import { emptyForm, fromHandler, type HandlerBody } from './model';
import {
  createHandler,
  deleteHandler,
  EVENT_HANDLER_OPERATIONS,
  type Execution,
  isUnsettled,
  RETRYABLE,
  retryAction,
  updateHandler,
  useExecutions,
  useHandler,
} from './queries';

function PropertyList({ properties }: { properties: Readonly<Record<string, string>> }) {
  const entries = Object.entries(properties);
  if (entries.length === 0) return <>—</>;
  return (
    <dl className="eh-properties">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>
            <code>{k}</code>
          </dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function ExecutionRows({
  execution,
  retry,
}: {
  execution: Execution;
  retry: { permission: Permission; busy: boolean; run: (executionId: number, actionIndex: number) => void };
}) {
  const { t, formatTime } = useI18n();
  return (
    <>
      {execution.actions.map((a, i) => (
        <tr key={a.actionIndex} data-execution-id={execution.executionId} data-run-status={a.status}>
          {i === 0 && (
            <>
              <td rowSpan={execution.actions.length}>{formatTime(execution.time)}</td>
              <td rowSpan={execution.actions.length}>
                {execution.simId ? (
                  <Link to={`/sims/${encodeURIComponent(execution.simId)}`}>{execution.simId}</Link>
                ) : (
                  t('eh.wholeTarget')
                )}
              </td>
            </>
          )}
          <td>
            {a.actionIndex + 1}. {a.type}
          </td>
          <td>
            <span className={`run-${a.status}`}>{t(`eh.run.${a.status}` as MessageKey)}</span>
            {RETRYABLE.has(a.status) && (
              <>
                {' '}
                <Guarded
                  permission={retry.permission}
                  busy={retry.busy}
                  ariaLabel={t('eh.retryLabel', {
                    n: String(a.actionIndex + 1),
                    time: formatTime(execution.time),
                  })}
                  onClick={() => retry.run(execution.executionId, a.actionIndex)}
                >
                  {t('eh.retry')}
                </Guarded>
              </>
            )}
          </td>
          <td>{formatTime(a.scheduledTime)}</td>
          <td>{a.attempts}</td>
          <td>{a.result ? <code className="eh-result">{JSON.stringify(a.result)}</code> : '—'}</td>
        </tr>
      ))}
      {execution.actions.length === 0 && (
        <tr data-execution-id={execution.executionId}>
          <td>{formatTime(execution.time)}</td>
          <td>{execution.simId ?? t('eh.wholeTarget')}</td>
          <td colSpan={5}>—</td>
        </tr>
      )}
    </>
  );
}

function Executions({ handlerId, permission }: { handlerId: string; permission: Permission }) {
  const { t } = useI18n();
  const [keys, setKeys] = useState<Array<number | undefined>>([undefined]);
  const page = useExecutions(handlerId, keys.at(-1));
  const executions = page.data?.executions ?? [];
  const queryClient = useQueryClient();
  const action = useAction();
  const retry = {
    permission,
    busy: action.busy,
    run: (executionId: number, actionIndex: number) =>
      void action
        .run(() => retryAction(handlerId, executionId, actionIndex), t('eh.retried'))
        .then(() => queryClient.invalidateQueries({ queryKey: ['event-handlers', 'executions', handlerId] })),
  };
  return (
    <section className="card stack" aria-labelledby="ehs-executions" aria-live="polite">
      <h2 id="ehs-executions">{t('eh.executions')}</h2>
      <p className="hint">
        {executions.some(isUnsettled) ? t('eh.executionsPolling') : t('eh.executionsHint')}
      </p>
      <QueryState error={page.error} loading={page.isPending} />
      <OutcomeLine outcome={action.outcome} />
      {page.data && executions.length === 0 && keys.length === 1 && <p>{t('eh.noExecutions')}</p>}
      {executions.length > 0 && (
        <div className="table-wrap">
          <table className="executions">
            <caption className="visually-hidden">{t('eh.executions')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('eh.firedAt')}</th>
                <th scope="col">{t('eh.sim')}</th>
                <th scope="col">{t('eh.action', { n: '' })}</th>
                <th scope="col">{t('eh.runStatus')}</th>
                <th scope="col">{t('eh.scheduled')}</th>
                <th scope="col">{t('eh.attempts')}</th>
                <th scope="col">{t('eh.result')}</th>
              </tr>
            </thead>
            <tbody>
              {executions.map((e) => (
                <ExecutionRows key={e.executionId} execution={e} retry={retry} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <KeysetPager
        label={t('eh.executionPages')}
        keys={keys}
        setKeys={setKeys}
        nextKey={page.data?.nextKey}
        busy={page.isFetching}
      />
    </section>
  );
}

export function EventHandlerPage({ handlerId }: { handlerId: string }) {
  const { t } = useI18n();
  const handler = useHandler(handlerId);
  const can = usePermissions(EVENT_HANDLER_OPERATIONS);
  const queryClient = useQueryClient();
  const action = useAction();
  const h = handler.data;

  async function remove() {
    if (!window.confirm(t('eh.confirmDelete', { name: h?.name ?? handlerId }))) return;
    const done = await action.run(async () => {
      await deleteHandler(handlerId);
      return true;
    }, t('eh.deleted'));
    if (!done) return;
    // Leave the page first: its queries of the deleted handler must not ask again (they would 404).
    navigate('/event-handlers');
    queryClient.removeQueries({ queryKey: ['event-handlers', 'one', handlerId] });
    queryClient.removeQueries({ queryKey: ['event-handlers', 'executions', handlerId] });
    await queryClient.invalidateQueries({ queryKey: ['event-handlers'] });
  }

  return (
    <div className="stack">
      <p>
        <Link to="/event-handlers">{t('eh.back')}</Link>
      </p>
      <QueryState error={handler.error} loading={handler.isPending} />
      {h && (
        <>
          <h1>{t('eh.handler', { name: h.name })}</h1>
          <section className="card stack" aria-labelledby="ehs-config">
            <h2 id="ehs-config">{t('eh.configuration')}</h2>
            <dl>
              <dt>{t('eh.id')}</dt>
              <dd>{h.handlerId}</dd>
              <dt>{t('eh.status')}</dt>
              <dd>
                <StatusText status={h.status} />
              </dd>
              <dt>{t('eh.description')}</dt>
              <dd>{h.description || '—'}</dd>
              <dt>{t('eh.target')}</dt>
              <dd>
                <TargetText handler={h} />
              </dd>
              <dt>{t('eh.rule')}</dt>
              <dd>
                <strong>{h.ruleConfig.type}</strong>
                <PropertyList properties={h.ruleConfig.properties} />
              </dd>
              {h.actionConfigList.map((a, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: an action's place is its identity
                <div key={i} className="eh-action-view">
                  <dt>{t('eh.action', { n: String(i + 1) })}</dt>
                  <dd>
                    <strong>{a.type}</strong>
                    <PropertyList properties={a.properties} />
                  </dd>
                </div>
              ))}
            </dl>
            <div className="row">
              <Guarded
                permission={can('EventHandler:updateEventHandler')}
                onClick={() => navigate(`/event-handlers/${encodeURIComponent(handlerId)}/edit`)}
              >
                {t('eh.edit')}
              </Guarded>
              <Guarded
                className="danger"
                permission={can('EventHandler:deleteEventHandler')}
                busy={action.busy}
                onClick={() => void remove()}
              >
                {t('eh.delete')}
              </Guarded>
            </div>
            <OutcomeLine outcome={action.outcome} />
          </section>
          <Executions handlerId={handlerId} permission={can('EventHandler:retryEventHandlerAction')} />
        </>
      )}
    </div>
  );
}

export function EventHandlerEditPage({ handlerId }: { handlerId?: string }) {
  const { t } = useI18n();
  const session = useSignedIn();
  const can = usePermissions(EVENT_HANDLER_OPERATIONS);
  const queryClient = useQueryClient();
  const existing = useHandler(handlerId ?? '');
  const editing = handlerId !== undefined;

  async function save(body: HandlerBody) {
    const saved = editing ? await updateHandler(handlerId, body) : await createHandler(body);
    await queryClient.invalidateQueries({ queryKey: ['event-handlers'] });
    navigate(`/event-handlers/${encodeURIComponent(saved.handlerId)}`);
  }

  if (editing && !existing.data) return <QueryState error={existing.error} loading={existing.isPending} />;
  const initial = editing && existing.data ? fromHandler(existing.data) : emptyForm();
  return (
    <div className="stack">
      <p>
        <Link to={editing ? `/event-handlers/${encodeURIComponent(handlerId)}` : '/event-handlers'}>
          {t('eh.back')}
        </Link>
      </p>
      <h1>{editing ? t('eh.editTitle', { name: existing.data?.name ?? '' }) : t('eh.createTitle')}</h1>
      {initial === undefined ? (
        <p role="alert" className="error">
          {t('eh.unknownType')}
        </p>
      ) : (
        <HandlerForm
          initial={initial}
          operatorId={session.operatorId}
          permission={can(editing ? 'EventHandler:updateEventHandler' : 'EventHandler:createEventHandler')}
          submitLabel={t(editing ? 'eh.save' : 'eh.create')}
          onSubmit={save}
        />
      )}
    </div>
  );
}

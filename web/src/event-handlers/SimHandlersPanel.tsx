// On the SIM page: the event handlers that apply to this SIM (on its IMSIs, the SIM, its group or the
// operator; GET /v1/event_handlers/sims/{sim_id}) and, with the permission, exempting the SIM from one
// of them or ending the exemption. Kept free of the form's tables so the SIM page stays light.

import { useState } from 'react';
import { ApiError } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { type EventHandler, ignoreForSim, unignoreForSim, useSimHandlers } from './queries';

const OPERATIONS = [
  'EventHandler:listEventHandlersBySim',
  'EventHandler:setIgnoreEventHandlerForSim',
  'EventHandler:deleteIgnoreEventHandlerForSim',
] as const;

const targetKey = (h: EventHandler): MessageKey =>
  h.targetImsi !== undefined
    ? 'eh.target.imsi'
    : h.targetSimId !== undefined
      ? 'eh.target.sim'
      : h.targetGroupId !== undefined
        ? 'eh.target.group'
        : 'eh.target.operator';

export function SimHandlersPanel({ simId }: { simId: string }) {
  const { t } = useI18n();
  const can = usePermissions(OPERATIONS);
  const list = can('EventHandler:listEventHandlersBySim');
  const handlers = useSimHandlers(simId, list.allowed);
  const action = useAction();
  // What this page did: the API's list does not say which handlers the SIM is exempt from.
  const [exempt, setExempt] = useState<Record<string, boolean>>({});

  async function ignore(h: EventHandler, on: boolean) {
    const done = await action.run(
      async () => {
        try {
          await (on ? ignoreForSim(h.handlerId, simId) : unignoreForSim(h.handlerId, simId));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'ERR_EVENT_HANDLER_NOT_IGNORED')) throw e;
        }
        return true;
      },
      t(on ? 'eh.ignored' : 'eh.unignored', { name: h.name }),
    );
    if (done) setExempt((x) => ({ ...x, [h.handlerId]: on }));
  }

  return (
    <section className="card stack" aria-labelledby="sim-event-handlers">
      <h2 id="sim-event-handlers">{t('eh.simPanel')}</h2>
      {!list.allowed ? (
        list.reason !== undefined && <p className="hint">{t('app.forbidden', { reason: list.reason })}</p>
      ) : (
        <>
          <QueryState error={handlers.error} loading={handlers.isPending} />
          {handlers.data?.length === 0 && <p>{t('eh.simNone')}</p>}
          {handlers.data && handlers.data.length > 0 && (
            <>
              <p className="hint">{t('eh.simHint')}</p>
              <ul className="plain sim-event-handlers">
                {handlers.data.map((h) => (
                  <li key={h.handlerId} data-handler-id={h.handlerId} className="row">
                    <Link to={`/event-handlers/${encodeURIComponent(h.handlerId)}`}>{h.name}</Link>
                    <span>
                      {h.ruleConfig.type} · {t(targetKey(h))} ·{' '}
                      {t(h.status === 'active' ? 'eh.status.active' : 'eh.status.inactive')}
                      {exempt[h.handlerId] ? ` · ${t('eh.exempt')}` : ''}
                    </span>
                    <span className="spacer" />
                    {exempt[h.handlerId] ? (
                      <Guarded
                        className="secondary"
                        permission={can('EventHandler:deleteIgnoreEventHandlerForSim')}
                        busy={action.busy}
                        onClick={() => void ignore(h, false)}
                      >
                        {t('eh.unignore')}
                      </Guarded>
                    ) : (
                      <Guarded
                        className="secondary"
                        permission={can('EventHandler:setIgnoreEventHandlerForSim')}
                        busy={action.busy}
                        onClick={() => void ignore(h, true)}
                      >
                        {t('eh.ignore')}
                      </Guarded>
                    )}
                  </li>
                ))}
              </ul>
            </>
          )}
          <OutcomeLine outcome={action.outcome} />
        </>
      )}
    </section>
  );
}

// On the SIM page: the SIM's last delivery and last error through Beam, Funnel and Funk, per service
// (GET /v1/sims/{sim_id}/beam_status; docs/stats.md). The entry points' usage is written every few
// seconds, so the panel asks again every IDLE_INTERVAL_MS while it is open.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { QueryState } from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';

const OPERATIONS = ['Sim:getSimBeamStatus'] as const;

/** New deliveries and errors show up without reloading the page. */
export const IDLE_INTERVAL_MS = 15_000;

const SERVICE_NAME: Record<string, MessageKey> = {
  beam: 'beam.service.beam',
  funnel: 'beam.service.funnel',
  funk: 'beam.service.funk',
};

function useBeamStatus(simId: string, enabled: boolean) {
  return useQuery({
    queryKey: ['sims', 'beam-status', simId],
    queryFn: () => unwrap(api.GET('/v1/sims/{sim_id}/beam_status', { params: { path: { sim_id: simId } } })),
    enabled,
    refetchInterval: IDLE_INTERVAL_MS,
  });
}

export function BeamStatusPanel({ simId }: { simId: string }) {
  const { t, formatTime } = useI18n();
  const can = usePermissions(OPERATIONS);
  const read = can('Sim:getSimBeamStatus');
  const status = useBeamStatus(simId, read.allowed);
  const services = status.data?.services ?? [];
  return (
    <section className="card stack" aria-labelledby="sim-beam-status">
      <h2 id="sim-beam-status">{t('beam.simPanel')}</h2>
      {!read.allowed ? (
        read.reason !== undefined && <p className="hint">{t('app.forbidden', { reason: read.reason })}</p>
      ) : (
        <>
          <QueryState error={status.error} loading={status.isPending} />
          {status.data && services.length === 0 && <p>{t('beam.simNone')}</p>}
          {services.map((s) => (
            <div key={s.service} data-service={s.service} className="stack">
              <h3>{SERVICE_NAME[s.service] ? t(SERVICE_NAME[s.service]!) : s.service}</h3>
              <dl>
                <dt>{t('beam.lastDelivery')}</dt>
                <dd className="beam-last-delivery">
                  {s.lastDeliveryTime === null
                    ? '—'
                    : t('beam.at', {
                        time: formatTime(s.lastDeliveryTime),
                        entryPoint: s.lastDeliveryEntryPoint ?? '?',
                      })}
                </dd>
                <dt>{t('beam.lastError')}</dt>
                <dd className="beam-last-error">
                  {s.lastErrorTime === null ? (
                    '—'
                  ) : (
                    <>
                      {t('beam.at', {
                        time: formatTime(s.lastErrorTime),
                        entryPoint: s.lastErrorEntryPoint ?? '?',
                      })}
                      {s.lastError !== null && (
                        <>
                          <br />
                          <span className="error">{s.lastError}</span>
                        </>
                      )}
                    </>
                  )}
                </dd>
              </dl>
            </div>
          ))}
        </>
      )}
    </section>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useMemo, useState } from 'react';
import { AntiTheftPanel } from '../anti-theft/AntiTheftPanel';
import { api, unwrap } from '../api/client';
import { type Permission, usePermissions } from '../api/permissions';
import { Link } from '../app/router';
import { BeamStatusPanel } from '../beam/BeamStatusPanel';
import { EsimPanel } from '../esim/EsimPanel';
import { SimHandlersPanel } from '../event-handlers/SimHandlersPanel';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { OPERATION, runAction, SIM_PAGE_OPERATIONS, type SimAction } from './actions';
import { identity, type Sim, SPEED_CLASSES, type SpeedClass } from './model';
import { type Period, SPAN_SECONDS, useSim, useSimEvents, useUsage } from './queries';
import { UsageChart } from './UsageChart';

type Cell = NonNullable<NonNullable<Sim['sessionStatus']>['cell']>;
const cellText = (c: Cell | null | undefined) =>
  c
    ? [c.radioType, c.mcc && c.mnc ? `${c.mcc}-${c.mnc}` : undefined, c.tac ?? c.lac, c.eci ?? c.ci]
        .filter((x) => x !== undefined && x !== null)
        .join(' / ')
    : '—';

function Guarded({
  permission,
  onClick,
  children,
  busy,
}: {
  permission: Permission;
  onClick: () => void;
  children: ReactNode;
  busy: boolean;
}) {
  const { t } = useI18n();
  const reason = permission.allowed
    ? undefined
    : t('app.forbidden', { reason: permission.reason ?? t('app.permissionUnknown') });
  return (
    <button
      type="button"
      disabled={!permission.allowed || busy}
      title={reason}
      aria-description={reason}
      onClick={onClick}
    >
      {children}
    </button>
  );
}

export function SimPage({ simId }: { simId: string }) {
  const { t, formatTime } = useI18n();
  const sim = useSim(simId);
  const can = usePermissions(SIM_PAGE_OPERATIONS);
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const [speedClass, setSpeedClass] = useState<SpeedClass | ''>('');
  const [imei, setImei] = useState('');

  async function act(call: () => Promise<unknown>) {
    setBusy(true);
    setMessage(undefined);
    try {
      await call();
      setMessage({ ok: true, text: t('sim.saved') });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
      await queryClient.invalidateQueries({ queryKey: ['sims'] });
    }
  }
  const action = (a: SimAction) => act(() => runAction(simId, a));
  const path = { sim_id: simId };

  if (sim.error)
    return (
      <p role="alert" className="error">
        {t('app.error', { message: sim.error.message })}
      </p>
    );
  if (sim.data === undefined) return <p>{t('app.loading')}</p>;
  const s = sim.data;
  const id = identity(s);
  const session = s.sessionStatus;

  return (
    <div className="stack">
      <p>
        <Link to="/sims">← {t('sim.back')}</Link>
      </p>
      <h1>{t('sim.title', { id: s.simId })}</h1>
      <div className="grid">
        <section className="card" aria-labelledby="identity">
          <h2 id="identity">{t('sim.identity')}</h2>
          <dl>
            <dt>{t('col.iccid')}</dt>
            <dd>{id.iccid}</dd>
            <dt>{t('col.imsi')}</dt>
            <dd>{id.imsi}</dd>
            <dt>{t('col.msisdn')}</dt>
            <dd>{id.msisdn || '—'}</dd>
            <dt>{t('col.status')}</dt>
            <dd data-field="status" className={`status status-${s.status}`}>
              {s.status}
            </dd>
            <dt>{t('col.speedClass')}</dt>
            <dd data-field="speedClass">{s.speedClass}</dd>
            <dt>{t('col.group')}</dt>
            <dd>{s.groupId ?? '—'}</dd>
            <dt>{t('col.tags')}</dt>
            <dd>
              {Object.entries(s.tags)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ') || '—'}
            </dd>
            <dt>{t('sim.expiry')}</dt>
            <dd data-field="expiry">
              {s.expiryTime != null
                ? t('sim.expiryAt', { time: formatTime(s.expiryTime), action: s.expiryAction ?? 'doNothing' })
                : t('sim.expiryNone')}
            </dd>
            <dt>{t('col.modified')}</dt>
            <dd>{formatTime(s.lastModifiedTime)}</dd>
          </dl>
          <h3>{t('sim.profiles')}</h3>
          <ul>
            {Object.entries(s.profiles).map(([pid, p]) => (
              <li key={pid}>
                {p.iccid} —{' '}
                {Object.values(p.subscribers)
                  .map((x) => x.imsi + (x.msisdn ? ` (${x.msisdn})` : ''))
                  .join(', ')}
                {pid === s.activeProfileId ? ' ✓' : ''}
              </li>
            ))}
          </ul>
        </section>
        <section className="card" aria-labelledby="session" aria-live="polite">
          <h2 id="session">{t('sim.session')}</h2>
          {session?.online ? (
            <dl data-session="online">
              <dt>{t('col.session')}</dt>
              <dd>{t('sims.online')}</dd>
              <dt>{t('col.ip')}</dt>
              <dd>{session.ueIpAddress ?? '—'}</dd>
              <dt>{t('col.imei')}</dt>
              <dd>{session.imei ?? '—'}</dd>
              <dt>{t('sim.apn')}</dt>
              <dd>{session.apn ?? '—'}</dd>
              <dt>{t('sim.cell')}</dt>
              <dd>{cellText(session.cell)}</dd>
              <dt>{t('sim.since')}</dt>
              <dd>{session.createdTime ? formatTime(session.createdTime) : '—'}</dd>
            </dl>
          ) : (
            <div data-session="offline">
              <p>{t('sim.noSession')}</p>
              {s.previousSession && (
                <p>{t('sim.lastSession', { time: formatTime(s.previousSession.deletedTime) })}</p>
              )}
            </div>
          )}
        </section>
        <section className="card stack" aria-labelledby="actions">
          <h2 id="actions">{t('sim.actions')}</h2>
          <div className="row">
            <Guarded
              permission={can(OPERATION.activate)}
              busy={busy}
              onClick={() => void action({ kind: 'activate' })}
            >
              {t('sim.activate')}
            </Guarded>
            <Guarded
              permission={can(OPERATION.suspend)}
              busy={busy}
              onClick={() => void action({ kind: 'suspend' })}
            >
              {t('sim.suspend')}
            </Guarded>
            <Guarded
              permission={can(OPERATION.deactivate)}
              busy={busy}
              onClick={() => void action({ kind: 'deactivate' })}
            >
              {t('sim.deactivate')}
            </Guarded>
          </div>
          <div className="row">
            <label>
              {t('sim.speedClass')}
              <select
                value={speedClass || s.speedClass}
                onChange={(e) => setSpeedClass(e.target.value as SpeedClass)}
              >
                {SPEED_CLASSES.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <Guarded
              permission={can(OPERATION.speedClass)}
              busy={busy || speedClass === '' || speedClass === s.speedClass}
              onClick={() => speedClass && void action({ kind: 'speedClass', speedClass })}
            >
              {t('sim.change')}
            </Guarded>
          </div>
          <h3>{t('sim.imeiLock')}</h3>
          <p>{s.imeiLock ? t('sim.imeiLocked', { imei: s.imeiLock.imei }) : t('sim.imeiUnlocked')}</p>
          <div className="row">
            <label>
              {t('sim.lockTo')}
              <input inputMode="numeric" value={imei} onChange={(e) => setImei(e.target.value)} />
            </label>
            <Guarded
              permission={can('Sim:setSimImeiLock')}
              busy={busy}
              onClick={() =>
                void act(() =>
                  unwrap(api.POST('/v1/sims/{sim_id}/set_imei_lock', { params: { path }, body: { imei } })),
                )
              }
            >
              {t('sim.lock')}
            </Guarded>
            {s.imeiLock && (
              <Guarded
                permission={can('Sim:unsetSimImeiLock')}
                busy={busy}
                onClick={() =>
                  void act(() => unwrap(api.POST('/v1/sims/{sim_id}/unset_imei_lock', { params: { path } })))
                }
              >
                {t('sim.unlock')}
              </Guarded>
            )}
          </div>
          <h3>{t('sim.termination')}</h3>
          <p>{t(s.terminationEnabled ? 'sim.unprotected' : 'sim.protected')}</p>
          {s.terminationEnabled ? (
            <Guarded
              permission={can('Sim:disableSimTermination')}
              busy={busy}
              onClick={() =>
                void act(() =>
                  unwrap(api.POST('/v1/sims/{sim_id}/disable_termination', { params: { path } })),
                )
              }
            >
              {t('sim.protect')}
            </Guarded>
          ) : (
            <Guarded
              permission={can('Sim:enableSimTermination')}
              busy={busy}
              onClick={() =>
                void act(() => unwrap(api.POST('/v1/sims/{sim_id}/enable_termination', { params: { path } })))
              }
            >
              {t('sim.unprotect')}
            </Guarded>
          )}
          {message && (
            <p role={message.ok ? 'status' : 'alert'} className={message.ok ? 'ok' : 'error'}>
              {message.text}
            </p>
          )}
        </section>
      </div>
      {s.type === 'euicc' && (
        <EsimPanel
          simId={simId}
          eid={s.eid ?? simId}
          profiles={Object.values(s.profiles ?? {}).map((p) => ({
            iccid: p.iccid,
            state: p.state,
            profileType: p.profileType,
          }))}
        />
      )}
      <AntiTheftPanel simId={simId} />
      <SimHandlersPanel simId={simId} />
      <BeamStatusPanel simId={simId} />
      <Usage simId={simId} />
      <History simId={simId} />
    </div>
  );
}

const PERIODS: ReadonlyArray<{ period: Period; label: MessageKey }> = [
  { period: 'hour', label: 'sim.hour' },
  { period: 'day', label: 'sim.day' },
  { period: 'month', label: 'sim.month' },
];

function Usage({ simId }: { simId: string }) {
  const { t } = useI18n();
  const [period, setPeriod] = useState<Period>('hour');
  const usage = useUsage(simId, period);
  const points = useMemo(
    () =>
      (usage.data ?? []).map((row) => {
        const all = Object.values(row.dataTrafficStatsMap);
        return {
          unixtime: row.unixtime,
          upload: all.reduce((n, x) => n + x.uploadByteSizeTotal, 0),
          download: all.reduce((n, x) => n + x.downloadByteSizeTotal, 0),
        };
      }),
    [usage.data],
  );
  return (
    <section className="card" aria-labelledby="usage">
      <h2 id="usage">{t('sim.usage')}</h2>
      <label>
        {t('sim.period')}
        <select value={period} onChange={(e) => setPeriod(e.target.value as Period)}>
          {PERIODS.map((p) => (
            <option key={p.period} value={p.period}>
              {t(p.label)}
            </option>
          ))}
        </select>
      </label>
      {usage.error ? (
        <p className="error">{usage.error.message}</p>
      ) : (
        <UsageChart points={points} spanSeconds={SPAN_SECONDS[period]} />
      )}
    </section>
  );
}

function History({ simId }: { simId: string }) {
  const { t, formatTime } = useI18n();
  const events = useSimEvents(simId);
  if (events.error) return <p className="error">{events.error.message}</p>;
  const d = events.data;
  return (
    <div className="grid">
      <section className="card" aria-labelledby="sessions">
        <h2 id="sessions">{t('sim.sessions')}</h2>
        {d && d.sessions.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">{t('sim.time')}</th>
                <th scope="col">{t('sim.event')}</th>
                <th scope="col">{t('col.ip')}</th>
                <th scope="col">{t('sim.cell')}</th>
              </tr>
            </thead>
            <tbody>
              {d.sessions.map((e) => (
                <tr key={`${e.sessionId}-${e.time}-${e.event}`}>
                  <td>{formatTime(e.time)}</td>
                  <td>{e.event}</td>
                  <td>{e.ueIpAddress ?? '—'}</td>
                  <td>{cellText(e.cell)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>{t('sim.none')}</p>
        )}
      </section>
      <section className="card" aria-labelledby="refusals">
        <h2 id="refusals">{t('sim.refusals')}</h2>
        {d && d.refusals.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">{t('sim.time')}</th>
                <th scope="col">{t('sim.reason')}</th>
                <th scope="col">{t('col.imei')}</th>
              </tr>
            </thead>
            <tbody>
              {d.refusals.map((r) => (
                <tr key={`${r.time}-${r.code}`}>
                  <td>{formatTime(r.time)}</td>
                  <td>
                    {r.code}: {r.reason}
                  </td>
                  <td>{r.imei ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>{t('sim.none')}</p>
        )}
      </section>
      <section className="card" aria-labelledby="statuses">
        <h2 id="statuses">{t('sim.statuses')}</h2>
        {d && d.statuses.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">{t('sim.time')}</th>
                <th scope="col">{t('col.status')}</th>
                <th scope="col">{t('sim.event')}</th>
              </tr>
            </thead>
            <tbody>
              {d.statuses.map((h) => (
                <tr key={`${h.time}-${h.status}`}>
                  <td>{formatTime(h.time)}</td>
                  <td>
                    {h.previousStatus ?? '—'} → {h.status}
                  </td>
                  <td>
                    {h.operation} ({h.actor})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>{t('sim.none')}</p>
        )}
      </section>
    </div>
  );
}

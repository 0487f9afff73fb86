// The SIM page's eSIM panel for an eUICC SIM (type euicc, simId = EID): the EID, the profiles with the
// state the SM-SR holds, and — when the account's permissions allow — download a profile of the
// inventory (profile type, enable after download), enable, disable and delete; the operations with their
// steps as the SM-DP and the SM-SR report them, asked again while one runs. Nothing for other SIMs.

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Guarded, OutcomeLine, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { useEsimOperations } from './queries';

export const ESIM_OPERATIONS = {
  download: 'Esim:downloadEsimProfile',
  enable: 'Esim:enableEsimProfile',
  disable: 'Esim:disableEsimProfile',
  delete: 'Esim:deleteEsimProfile',
} as const;

/** The SM-DP's profile types (docs/esim.md, Profile types). */
export const PROFILE_TYPES = ['simtrust-usim', 'ts48-generic'] as const;

export interface EsimProfile {
  readonly iccid: string;
  readonly state?: string | undefined;
  readonly profileType?: string | null | undefined;
}

export function EsimPanel({ simId, eid, profiles }: { simId: string; eid: string; profiles: EsimProfile[] }) {
  const { t, formatTime } = useI18n();
  const operations = useEsimOperations(simId);
  const can = usePermissions(Object.values(ESIM_OPERATIONS));
  const action = useAction();
  const queryClient = useQueryClient();
  const [iccid, setIccid] = useState('');
  const [profileType, setProfileType] = useState<string>(PROFILE_TYPES[0]);
  const [enable, setEnable] = useState(true);
  const ops = operations.data ?? [];
  const running = ops.some((o) => o.status === 'running');

  // An operation that ended changed the profiles: read the SIM again.
  const wasRunning = useRef(running);
  useEffect(() => {
    if (wasRunning.current && !running)
      void queryClient.invalidateQueries({ queryKey: ['sims', 'one', simId] });
    wasRunning.current = running;
  }, [running, queryClient, simId]);

  const path = { sim_id: simId };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sims', 'esim-operations', simId] });
  const started = (r: { operationId: string }) => t('esim.started', { id: r.operationId });

  async function download(e: FormEvent) {
    e.preventDefault();
    const done = await action.run(
      () =>
        unwrap(
          api.POST('/v1/sims/{sim_id}/profiles', {
            params: { path },
            body: { iccid: iccid.trim(), profileType, enable },
          }),
        ),
      started,
    );
    if (done) setIccid('');
    await refresh();
  }
  async function change(kind: 'enable' | 'disable' | 'delete', p: string) {
    if (kind === 'delete' && !window.confirm(t('esim.confirmDelete', { iccid: p }))) return;
    const params = { path: { sim_id: simId, iccid: p } };
    await action.run(
      () =>
        unwrap(
          kind === 'enable'
            ? api.POST('/v1/sims/{sim_id}/profiles/{iccid}/enable', { params })
            : kind === 'disable'
              ? api.POST('/v1/sims/{sim_id}/profiles/{iccid}/disable', { params })
              : api.DELETE('/v1/sims/{sim_id}/profiles/{iccid}', { params }),
        ),
      started,
    );
    await refresh();
  }

  return (
    <section className="card stack" aria-labelledby="esim" data-esim-running={running ? 'yes' : 'no'}>
      <h2 id="esim">{t('esim.title')}</h2>
      <dl>
        <dt>{t('esim.eid')}</dt>
        <dd data-field="eid">{eid}</dd>
      </dl>
      <table>
        <caption>{t('esim.profiles')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('esim.iccid')}</th>
            <th scope="col">{t('esim.state')}</th>
            <th scope="col">{t('esim.profileType')}</th>
            <th scope="col">{t('esim.actions')}</th>
          </tr>
        </thead>
        <tbody>
          {profiles.map((p) => (
            <tr key={p.iccid} data-profile={p.iccid}>
              <td>{p.iccid}</td>
              <td data-field="profileState" className={`status status-${(p.state ?? '').toLowerCase()}`}>
                {p.state ?? '—'}
              </td>
              <td>{p.profileType ?? '—'}</td>
              <td className="row">
                {p.state === 'Disabled' && (
                  <Guarded
                    permission={can(ESIM_OPERATIONS.enable)}
                    busy={action.busy || running}
                    onClick={() => void change('enable', p.iccid)}
                    ariaLabel={t('esim.enableProfile', { iccid: p.iccid })}
                  >
                    {t('esim.enable')}
                  </Guarded>
                )}
                {p.state === 'Enabled' && (
                  <Guarded
                    permission={can(ESIM_OPERATIONS.disable)}
                    busy={action.busy || running}
                    onClick={() => void change('disable', p.iccid)}
                    ariaLabel={t('esim.disableProfile', { iccid: p.iccid })}
                  >
                    {t('esim.disable')}
                  </Guarded>
                )}
                {p.state !== 'Enabled' && (
                  <Guarded
                    permission={can(ESIM_OPERATIONS.delete)}
                    busy={action.busy || running}
                    onClick={() => void change('delete', p.iccid)}
                    ariaLabel={t('esim.deleteProfile', { iccid: p.iccid })}
                  >
                    {t('esim.delete')}
                  </Guarded>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {can(ESIM_OPERATIONS.download).allowed && (
        <form onSubmit={download} className="row" aria-labelledby="esim-download">
          <h3 id="esim-download">{t('esim.download')}</h3>
          <label>
            {t('esim.iccid')}
            <input
              value={iccid}
              onChange={(e) => setIccid(e.target.value)}
              required
              inputMode="numeric"
              pattern="[0-9]{18,20}F?"
            />
          </label>
          <label>
            {t('esim.profileType')}
            <select value={profileType} onChange={(e) => setProfileType(e.target.value)}>
              {PROFILE_TYPES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input type="checkbox" checked={enable} onChange={(e) => setEnable(e.target.checked)} />
            {t('esim.enableAfter')}
          </label>
          <Guarded permission={can(ESIM_OPERATIONS.download)} busy={action.busy || running} type="submit">
            {t('esim.downloadButton')}
          </Guarded>
        </form>
      )}
      <OutcomeLine outcome={action.outcome} />
      <h3>{t('esim.operations')}</h3>
      {operations.error && (
        <p role="alert" className="error">
          {t('app.error', { message: operations.error.message })}
        </p>
      )}
      {ops.length === 0 ? (
        <p>{t('esim.noOperations')}</p>
      ) : (
        <ol aria-live="polite">
          {ops.slice(0, 10).map((o) => (
            <li key={o.operationId} data-operation={o.operationId} data-status={o.status}>
              <strong>
                {t(`esim.kind.${o.kind}`)} {o.iccid}
              </strong>{' '}
              <span className={`status status-${o.status}`}>{t(`esim.status.${o.status}`)}</span> (
              {formatTime(o.createdTime)}){o.result?.message ? ` — ${o.result.message}` : ''}
              <ol>
                {o.steps.map((s, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: steps only ever append (their seq order), so the position is the step's identity
                  <li key={`${s.name}-${i}`} data-step={s.name} data-state={s.state}>
                    {s.name}: {t(`esim.step.${s.state}`)}
                    {s.status?.message ? ` — ${s.status.message}` : ''}
                  </li>
                ))}
              </ol>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Permission } from '../api/permissions';
import { useI18n } from '../i18n/i18n';
import { type BulkResult, OPERATION, runBulk, type SimAction } from './actions';
import { SPEED_CLASSES, type SpeedClass } from './model';
import { useGroups } from './queries';

/** The action bar over the selected SIMs: progress while it runs, then one result per SIM. */
export function BulkActions({
  selected,
  can,
  onDone,
}: {
  selected: readonly string[];
  can: (operation: string) => Permission;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const groups = useGroups();
  const queryClient = useQueryClient();
  const [speedClass, setSpeedClass] = useState<SpeedClass>('s1.standard');
  const [groupId, setGroupId] = useState('');
  const [tag, setTag] = useState({ name: '', value: '' });
  const [run, setRun] = useState<{ total: number; results: BulkResult[]; running: boolean }>();

  async function start(action: SimAction) {
    const ids = [...selected];
    setRun({ total: ids.length, results: [], running: true });
    await runBulk(ids, action, (r) => setRun((s) => s && { ...s, results: [...s.results, r] }));
    setRun((s) => s && { ...s, running: false });
    await queryClient.invalidateQueries({ queryKey: ['sims'] });
    onDone();
  }

  const button = (action: SimAction, label: string, extraDisabled = false) => {
    const p = can(OPERATION[action.kind]);
    const reason = p.allowed
      ? undefined
      : t('app.forbidden', { reason: p.reason ?? t('app.permissionUnknown') });
    return (
      <button
        type="button"
        disabled={!p.allowed || extraDisabled || run?.running === true}
        title={reason}
        aria-description={reason}
        onClick={() => void start(action)}
      >
        {label}
      </button>
    );
  };

  const done = run?.results.length ?? 0;
  return (
    <section className="bulk card" aria-label={t('bulk.selected', { count: selected.length })}>
      <strong>{t('bulk.selected', { count: selected.length })}</strong>
      <div className="row">
        {button({ kind: 'activate' }, t('bulk.activate'))}
        {button({ kind: 'suspend' }, t('bulk.suspend'))}
        <span className="group-input">
          <select
            aria-label={t('sims.speedClass')}
            value={speedClass}
            onChange={(e) => setSpeedClass(e.target.value as SpeedClass)}
          >
            {SPEED_CLASSES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
          {button({ kind: 'speedClass', speedClass }, t('bulk.speedClass'))}
        </span>
        <span className="group-input">
          <select aria-label={t('sims.group')} value={groupId} onChange={(e) => setGroupId(e.target.value)}>
            <option value="">—</option>
            {groups.data?.map((g) => (
              <option key={g.groupId} value={g.groupId}>
                {g.tags.name ?? g.groupId}
              </option>
            ))}
          </select>
          {button({ kind: 'group', groupId }, t('bulk.group'), groupId === '')}
        </span>
        <span className="group-input">
          <input
            aria-label={t('sims.tagName')}
            placeholder={t('sims.tagName')}
            value={tag.name}
            onChange={(e) => setTag({ ...tag, name: e.target.value })}
          />
          <input
            aria-label={t('sims.tagValue')}
            placeholder={t('sims.tagValue')}
            value={tag.value}
            onChange={(e) => setTag({ ...tag, value: e.target.value })}
          />
          {button({ kind: 'tag', name: tag.name, value: tag.value }, t('bulk.tag'), tag.name === '')}
        </span>
      </div>
      {run && (
        <div className="stack">
          <label>
            {t('bulk.progress', { done, total: run.total })}
            <progress max={run.total} value={done} />
          </label>
          <table className="results">
            <caption>{t('bulk.results')}</caption>
            <tbody>
              {run.results.map((r) => (
                <tr key={r.simId} data-result={r.ok ? 'ok' : 'failed'}>
                  <th scope="row">{r.simId}</th>
                  <td className={r.ok ? 'ok' : 'error'}>
                    {r.ok ? t('bulk.ok') : t('bulk.failed', { message: r.message ?? '' })}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!run.running && (
            <button type="button" className="secondary" onClick={() => setRun(undefined)}>
              {t('bulk.close')}
            </button>
          )}
        </div>
      )}
    </section>
  );
}

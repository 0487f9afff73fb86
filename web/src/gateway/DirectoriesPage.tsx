// The MFA gateway's directories of application users (the people who sign in to the applications
// behind the gateway — not SAM users). Gateway applications themselves are configured in the
// gateway's settings file, not through the API: ApplicationsPage shows them, read only.

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';

export function useDirectories() {
  return useQuery({
    queryKey: ['directories'],
    queryFn: () => unwrap(api.GET('/v1/directories')),
  });
}

export function DirectoriesPage() {
  const { t, formatTime } = useI18n();
  const directories = useDirectories();
  const can = usePermissions(['Directory:createDirectory']);
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const action = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    const created = await action.run(
      () => unwrap(api.POST('/v1/directories', { body: { name: name.trim() } })),
      t('gateway.created', { name: name.trim() }),
    );
    if (created === undefined) return;
    await queryClient.invalidateQueries({ queryKey: ['directories'] });
    navigate(`/gateway/${encodeURIComponent(created.directoryId)}`);
  }

  return (
    <div className="stack">
      <h1>{t('gateway.title')}</h1>
      <p className="hint">{t('gateway.hint')}</p>
      <p>
        <Link to="/gateway/applications">{t('gateway.showApplications')}</Link>
      </p>
      <form className="card row" onSubmit={(e) => void create(e)} aria-label={t('gateway.create')}>
        <label>
          {t('groups.name')}
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <Guarded
          type="submit"
          permission={can('Directory:createDirectory')}
          busy={action.busy || name.trim() === ''}
        >
          {t('gateway.create')}
        </Guarded>
        <OutcomeLine outcome={action.outcome} />
      </form>
      <QueryState error={directories.error} loading={directories.isPending} />
      {directories.data && directories.data.length === 0 && <p>{t('gateway.none')}</p>}
      {directories.data && directories.data.length > 0 && (
        <div className="table-wrap">
          <table className="directories">
            <caption className="visually-hidden">{t('gateway.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('groups.name')}</th>
                <th scope="col">{t('gateway.directoryId')}</th>
                <th scope="col">{t('col.modified')}</th>
              </tr>
            </thead>
            <tbody>
              {directories.data.map((d) => (
                <tr key={d.directoryId} data-directory={d.directoryId}>
                  <td>
                    <Link to={`/gateway/${encodeURIComponent(d.directoryId)}`}>{d.name}</Link>
                  </td>
                  <td>{d.directoryId}</td>
                  <td>{formatTime(d.updatedTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, KeysetPager, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { groupName, useGroupPage } from './queries';

export const GROUP_OPERATIONS = [
  'Group:createGroup',
  'Group:deleteGroup',
  'Group:putGroupTags',
  'Group:putConfigurationParameters',
  'Group:deleteConfigurationNamespace',
] as const;

export function GroupListPage() {
  const { t, formatTime } = useI18n();
  const [keys, setKeys] = useState<Array<string | undefined>>([undefined]);
  const page = useGroupPage(keys.at(-1));
  const can = usePermissions(GROUP_OPERATIONS);
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const action = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    const group = await action.run(
      () => unwrap(api.POST('/v1/groups', { body: { tags: { name: name.trim() } } })),
      () => t('groups.created', { name: name.trim() }),
    );
    if (group === undefined) return;
    setName('');
    await queryClient.invalidateQueries({ queryKey: ['groups'] });
    navigate(`/groups/${encodeURIComponent(group.groupId)}`);
  }

  return (
    <div className="stack">
      <h1>{t('groups.title')}</h1>
      <form className="card row" onSubmit={(e) => void create(e)} aria-labelledby="new-group">
        <h2 id="new-group" className="visually-hidden">
          {t('groups.create')}
        </h2>
        <label>
          {t('groups.name')}
          <input required maxLength={1000} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <Guarded type="submit" permission={can('Group:createGroup')} busy={action.busy || name.trim() === ''}>
          {t('groups.create')}
        </Guarded>
        <OutcomeLine outcome={action.outcome} />
      </form>
      <QueryState error={page.error} loading={page.isPending} />
      {page.data && page.data.groups.length === 0 && keys.length === 1 && <p>{t('groups.none')}</p>}
      {page.data && page.data.groups.length > 0 && (
        <div className="table-wrap">
          <table className="groups">
            <caption className="visually-hidden">{t('groups.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('groups.name')}</th>
                <th scope="col">{t('groups.id')}</th>
                <th scope="col">{t('groups.namespaces')}</th>
                <th scope="col">{t('col.modified')}</th>
              </tr>
            </thead>
            <tbody>
              {page.data.groups.map((g) => (
                <tr key={g.groupId} data-group-id={g.groupId}>
                  <td>
                    <Link to={`/groups/${encodeURIComponent(g.groupId)}`}>{groupName(g)}</Link>
                  </td>
                  <td>{g.groupId}</td>
                  <td>{Object.keys(g.configuration).join(', ') || '—'}</td>
                  <td>{formatTime(g.lastModifiedTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <KeysetPager
        label={t('groups.pages')}
        keys={keys}
        setKeys={setKeys}
        nextKey={page.data?.nextKey}
        busy={page.isFetching}
      />
    </div>
  );
}

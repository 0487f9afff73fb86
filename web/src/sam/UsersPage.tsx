import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { useOperatorId, useUsers } from './queries';
import { SamTabs } from './SamTabs';

/** SAM user names and role ids (src/platform/iam/users.ts, roles.ts), as an HTML pattern (v flag). */
export const NAME_PATTERN = '[A-Za-z0-9@+=._\\-]{1,100}';

export function UsersPage() {
  const { t, formatTime } = useI18n();
  const operator_id = useOperatorId();
  const users = useUsers();
  const can = usePermissions(['User:createUser']);
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    const user = await action.run(
      () =>
        unwrap(
          api.POST('/v1/operators/{operator_id}/users/{user_name}', {
            params: { path: { operator_id, user_name: name.trim() } },
            body: { description },
          }),
        ),
      t('sam.userCreated', { name: name.trim() }),
    );
    if (user === undefined) return;
    await queryClient.invalidateQueries({ queryKey: ['sam'] });
    navigate(`/sam/users/${encodeURIComponent(user.userName)}`);
  }

  return (
    <div className="stack">
      <h1>{t('sam.users')}</h1>
      <SamTabs />
      <form className="card row" onSubmit={(e) => void create(e)} aria-label={t('sam.createUser')}>
        <label>
          {t('auth.userName')}
          <input required pattern={NAME_PATTERN} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {t('sam.description')}
          <input maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <Guarded type="submit" permission={can('User:createUser')} busy={action.busy || name.trim() === ''}>
          {t('sam.createUser')}
        </Guarded>
        <OutcomeLine outcome={action.outcome} />
      </form>
      <QueryState error={users.error} loading={users.isPending} />
      {users.data && users.data.length === 0 && <p>{t('sam.noUsers')}</p>}
      {users.data && users.data.length > 0 && (
        <div className="table-wrap">
          <table className="users">
            <caption className="visually-hidden">{t('sam.users')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('auth.userName')}</th>
                <th scope="col">{t('sam.description')}</th>
                <th scope="col">{t('sam.roles')}</th>
                <th scope="col">{t('sam.mfa')}</th>
                <th scope="col">{t('sam.consoleLogin')}</th>
                <th scope="col">{t('col.modified')}</th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.userName} data-user={u.userName}>
                  <td>
                    <Link to={`/sam/users/${encodeURIComponent(u.userName)}`}>{u.userName}</Link>
                  </td>
                  <td>{u.description || '—'}</td>
                  <td>{u.roleList.map((r) => r.roleId).join(', ') || '—'}</td>
                  <td>{u.mfaStatus}</td>
                  <td>{u.consoleLogin && u.hasPassword ? t('sam.yes') : t('sam.no')}</td>
                  <td>{formatTime(u.lastModifiedTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { PolicyEditor } from './PolicyEditor';
import { checkPolicy, EXAMPLE_POLICY } from './policy';
import { useOperatorId, useRoles } from './queries';
import { SamTabs } from './SamTabs';
import { NAME_PATTERN } from './UsersPage';

export function RolesPage() {
  const { t, formatTime } = useI18n();
  const operator_id = useOperatorId();
  const roles = useRoles();
  const can = usePermissions(['Role:createRole']);
  const queryClient = useQueryClient();
  const [roleId, setRoleId] = useState('');
  const [description, setDescription] = useState('');
  const [permission, setPermission] = useState(EXAMPLE_POLICY);
  const action = useAction();
  const valid = checkPolicy(permission).ok;

  async function create(e: FormEvent) {
    e.preventDefault();
    const role = await action.run(
      () =>
        unwrap(
          api.POST('/v1/operators/{operator_id}/roles/{role_id}', {
            params: { path: { operator_id, role_id: roleId.trim() } },
            body: { permission, description },
          }),
        ),
      t('sam.roleCreated', { role: roleId.trim() }),
    );
    if (role === undefined) return;
    await queryClient.invalidateQueries({ queryKey: ['sam'] });
    navigate(`/sam/roles/${encodeURIComponent(role.roleId)}`);
  }

  return (
    <div className="stack">
      <h1>{t('sam.roles')}</h1>
      <SamTabs />
      <QueryState error={roles.error} loading={roles.isPending} />
      {roles.data && roles.data.length === 0 && <p>{t('sam.noRoleDefined')}</p>}
      {roles.data && roles.data.length > 0 && (
        <div className="table-wrap">
          <table className="roles">
            <caption className="visually-hidden">{t('sam.roles')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('sam.role')}</th>
                <th scope="col">{t('sam.description')}</th>
                <th scope="col">{t('col.modified')}</th>
              </tr>
            </thead>
            <tbody>
              {roles.data.map((r) => (
                <tr key={r.roleId} data-role={r.roleId}>
                  <td>
                    <Link to={`/sam/roles/${encodeURIComponent(r.roleId)}`}>{r.roleId}</Link>
                  </td>
                  <td>{r.description || '—'}</td>
                  <td>{formatTime(r.lastModifiedTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card stack" onSubmit={(e) => void create(e)} aria-labelledby="new-role">
        <h2 id="new-role">{t('sam.createRole')}</h2>
        <div className="row">
          <label>
            {t('sam.role')}
            <input
              required
              pattern={NAME_PATTERN}
              value={roleId}
              onChange={(e) => setRoleId(e.target.value)}
            />
          </label>
          <label>
            {t('sam.description')}
            <input maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
        </div>
        <PolicyEditor
          id="new-role-permission"
          label={t('sam.permissionDocument')}
          value={permission}
          onChange={setPermission}
        />
        <div className="row">
          <Guarded
            type="submit"
            permission={can('Role:createRole')}
            busy={action.busy || roleId.trim() === '' || !valid}
          >
            {t('sam.createRole')}
          </Guarded>
        </div>
        <OutcomeLine outcome={action.outcome} />
      </form>
    </div>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { PolicyEditor } from './PolicyEditor';
import { checkPolicy } from './policy';
import { useOperatorId, useRole } from './queries';

export function RolePage({ roleId }: { roleId: string }) {
  const role = useRole(roleId);
  if (role.data === undefined) return <QueryState error={role.error} loading={role.isPending} />;
  return <RoleForm data={role.data} roleId={roleId} />;
}

function RoleForm({
  data,
  roleId,
}: {
  data: NonNullable<ReturnType<typeof useRole>['data']>;
  roleId: string;
}) {
  const { t, formatTime } = useI18n();
  const operator_id = useOperatorId();
  const can = usePermissions(['Role:updateRole', 'Role:deleteRole']);
  const queryClient = useQueryClient();
  const [description, setDescription] = useState(data.role.description);
  const [permission, setPermission] = useState(data.role.permission);
  const action = useAction();
  const path = { operator_id, role_id: roleId };
  const valid = checkPolicy(permission).ok;

  async function save(e: FormEvent) {
    e.preventDefault();
    await action.run(
      () =>
        unwrap(
          api.PUT('/v1/operators/{operator_id}/roles/{role_id}', {
            params: { path },
            body: { permission, description },
          }),
        ),
      t('sam.roleSaved'),
    );
    await queryClient.invalidateQueries({ queryKey: ['sam'] });
  }
  async function remove() {
    if (!window.confirm(t('sam.confirmDeleteRole', { role: roleId }))) return;
    const done = await action.run(async () => {
      await unwrap(api.DELETE('/v1/operators/{operator_id}/roles/{role_id}', { params: { path } }));
      return true;
    }, t('sam.roleDeleted'));
    if (!done) return;
    navigate('/sam/roles');
    queryClient.removeQueries({ queryKey: ['sam', 'role', roleId] });
    await queryClient.invalidateQueries({ queryKey: ['sam'] });
  }

  return (
    <div className="stack">
      <p>
        <Link to="/sam/roles">← {t('sam.allRoles')}</Link>
      </p>
      <h1>{t('sam.roleTitle', { role: roleId })}</h1>
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="role-edit">
        <h2 id="role-edit">{t('sam.permission')}</h2>
        <label>
          {t('sam.description')}
          <input maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <PolicyEditor
          id="role-permission"
          label={t('sam.permissionDocument')}
          value={permission}
          onChange={setPermission}
        />
        <div className="row">
          <Guarded type="submit" permission={can('Role:updateRole')} busy={action.busy || !valid}>
            {t('sam.saveRole')}
          </Guarded>
          <Guarded
            className="danger"
            permission={can('Role:deleteRole')}
            busy={action.busy}
            onClick={() => void remove()}
          >
            {t('sam.deleteRole')}
          </Guarded>
        </div>
        <OutcomeLine outcome={action.outcome} />
      </form>
      <section className="card stack" aria-labelledby="role-users">
        <h2 id="role-users">{t('sam.attachedUsers')}</h2>
        {data.users.length === 0 ? (
          <p>{t('sam.noAttachedUsers')}</p>
        ) : (
          <ul className="plain">
            {data.users.map((u) => (
              <li key={u.userName}>
                <Link to={`/sam/users/${encodeURIComponent(u.userName)}`}>{u.userName}</Link>{' '}
                <span className="hint">{formatTime(u.attachedTime)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { AuthKeys } from './AuthKeys';
import { MfaEnrolment } from './MfaEnrolment';
import { PolicyEditor } from './PolicyEditor';
import { checkPolicy, EXAMPLE_POLICY } from './policy';
import { useOperatorId, useRoles, useUser } from './queries';
import { WhatCanDo } from './WhatCanDo';

export const USER_OPERATIONS = [
  'User:updateUser',
  'User:deleteUser',
  'User:createUserPassword',
  'User:deleteUserPassword',
  'User:updateUserPermission',
  'User:deleteUserPermission',
  'User:simulateUserPermission',
  'User:generateUserAuthKey',
  'User:deleteUserAuthKey',
  'User:enableUserMFA',
  'User:verifyUserMFA',
  'User:revokeUserMFA',
  'Role:listRoles',
  'Role:attachRole',
  'Role:detachRole',
];

type User = NonNullable<ReturnType<typeof useUser>['data']>;
type Can = ReturnType<typeof usePermissions>;

export function UserPage({ userName }: { userName: string }) {
  const { t } = useI18n();
  const operatorId = useOperatorId();
  const user = useUser(userName);
  const can = usePermissions(USER_OPERATIONS);
  if (user.data === undefined) return <QueryState error={user.error} loading={user.isPending} />;
  const u = user.data;
  return (
    <div className="stack">
      <p>
        <Link to="/sam/users">← {t('sam.allUsers')}</Link>
      </p>
      <h1>{t('sam.user', { name: u.userName })}</h1>
      <div className="grid">
        <Profile user={u} can={can} />
        <Roles user={u} can={can} />
      </div>
      <DirectPermission user={u} can={can} />
      <WhatCanDo userName={u.userName} permission={can('User:simulateUserPermission')} />
      <div className="grid">
        <AuthKeys
          target={{ kind: 'user', operatorId, userName: u.userName }}
          keys={u.authKeyList}
          can={{ generate: can('User:generateUserAuthKey'), remove: can('User:deleteUserAuthKey') }}
        />
        <MfaEnrolment
          target={{ kind: 'user', operatorId, userName: u.userName }}
          status={u.mfaStatus}
          can={{
            enable: can('User:enableUserMFA'),
            verify: can('User:verifyUserMFA'),
            revoke: can('User:revokeUserMFA'),
          }}
        />
      </div>
    </div>
  );
}

function usePath(userName: string) {
  return { operator_id: useOperatorId(), user_name: userName };
}

function Profile({ user, can }: { user: User; can: Can }) {
  const { t, formatTime } = useI18n();
  const queryClient = useQueryClient();
  const path = usePath(user.userName);
  const [description, setDescription] = useState(user.description);
  const [consoleLogin, setConsoleLogin] = useState(user.consoleLogin);
  const [password, setPassword] = useState('');
  const action = useAction();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sam'] });

  async function save(e: FormEvent) {
    e.preventDefault();
    await action.run(
      () =>
        unwrap(
          api.PUT('/v1/operators/{operator_id}/users/{user_name}', {
            params: { path },
            body: { description, consoleLogin },
          }),
        ),
      t('groups.saved'),
    );
    await refresh();
  }
  async function setNewPassword(e: FormEvent) {
    e.preventDefault();
    await action.run(async () => {
      // An administrator replaces a password by removing the old one (the API's change needs it).
      if (user.hasPassword)
        await unwrap(
          api.DELETE('/v1/operators/{operator_id}/users/{user_name}/password', { params: { path } }),
        );
      await unwrap(
        api.POST('/v1/operators/{operator_id}/users/{user_name}/password', {
          params: { path },
          body: { password },
        }),
      );
    }, t('sam.passwordSet'));
    setPassword('');
    await refresh();
  }
  async function remove() {
    if (!window.confirm(t('sam.confirmDeleteUser', { name: user.userName }))) return;
    const done = await action.run(async () => {
      await unwrap(api.DELETE('/v1/operators/{operator_id}/users/{user_name}', { params: { path } }));
      return true;
    }, t('sam.userDeleted'));
    if (!done) return;
    navigate('/sam/users');
    queryClient.removeQueries({ queryKey: ['sam', 'user', user.userName] });
    await refresh();
  }

  const passwordPermission = user.hasPassword
    ? (() => {
        const del = can('User:deleteUserPassword');
        return del.allowed ? can('User:createUserPassword') : del;
      })()
    : can('User:createUserPassword');

  return (
    <section className="card stack" aria-labelledby="profile">
      <h2 id="profile">{t('sam.profile')}</h2>
      <dl>
        <dt>{t('sam.password')}</dt>
        <dd data-field="hasPassword">{user.hasPassword ? t('sam.yes') : t('sam.no')}</dd>
        <dt>{t('sam.mfa')}</dt>
        <dd>{user.mfaStatus}</dd>
        <dt>{t('groups.createdTime')}</dt>
        <dd>{formatTime(user.createdTime)}</dd>
      </dl>
      <form className="stack" onSubmit={(e) => void save(e)}>
        <label>
          {t('sam.description')}
          <input maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={consoleLogin} onChange={(e) => setConsoleLogin(e.target.checked)} />
          {t('sam.consoleLogin')}
        </label>
        <div className="row">
          <Guarded type="submit" permission={can('User:updateUser')} busy={action.busy}>
            {t('sam.saveProfile')}
          </Guarded>
        </div>
      </form>
      <form className="row" onSubmit={(e) => void setNewPassword(e)}>
        <label>
          {t('sam.newPassword')}
          <input
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <Guarded type="submit" permission={passwordPermission} busy={action.busy || password === ''}>
          {t('sam.setPassword')}
        </Guarded>
      </form>
      <div className="row">
        <Guarded
          className="danger"
          permission={can('User:deleteUser')}
          busy={action.busy}
          onClick={() => void remove()}
        >
          {t('sam.deleteUser')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

function Roles({ user, can }: { user: User; can: Can }) {
  const { t, formatTime } = useI18n();
  const queryClient = useQueryClient();
  const path = usePath(user.userName);
  const listable = can('Role:listRoles').allowed;
  const roles = useRoles(listable);
  const [roleId, setRoleId] = useState('');
  const action = useAction();
  const attached = new Set(user.roleList.map((r) => r.roleId));
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sam'] });

  async function attach(e: FormEvent) {
    e.preventDefault();
    await action.run(
      () =>
        unwrap(
          api.POST('/v1/operators/{operator_id}/users/{user_name}/roles', {
            params: { path },
            body: { roleId },
          }),
        ),
      t('sam.roleAttached', { role: roleId }),
    );
    setRoleId('');
    await refresh();
  }
  async function detach(id: string) {
    await action.run(
      () =>
        unwrap(
          api.DELETE('/v1/operators/{operator_id}/users/{user_name}/roles/{role_id}', {
            params: { path: { ...path, role_id: id } },
          }),
        ),
      t('sam.roleDetached', { role: id }),
    );
    await refresh();
  }

  return (
    <section className="card stack" aria-labelledby="user-roles">
      <h2 id="user-roles">{t('sam.roles')}</h2>
      {user.roleList.length === 0 && <p>{t('sam.noRoles')}</p>}
      <ul className="plain">
        {user.roleList.map((r) => (
          <li key={r.roleId} className="row">
            <Link to={`/sam/roles/${encodeURIComponent(r.roleId)}`}>{r.roleId}</Link>
            <span className="hint">{formatTime(r.attachedTime)}</span>
            <Guarded
              className="secondary"
              permission={can('Role:detachRole')}
              busy={action.busy}
              onClick={() => void detach(r.roleId)}
            >
              {t('sam.detach', { role: r.roleId })}
            </Guarded>
          </li>
        ))}
      </ul>
      <form className="row" onSubmit={(e) => void attach(e)}>
        <label>
          {t('sam.role')}
          <select value={roleId} onChange={(e) => setRoleId(e.target.value)} disabled={!listable}>
            <option value="">—</option>
            {roles.data
              ?.filter((r) => !attached.has(r.roleId))
              .map((r) => (
                <option key={r.roleId} value={r.roleId}>
                  {r.roleId}
                </option>
              ))}
          </select>
        </label>
        <Guarded type="submit" permission={can('Role:attachRole')} busy={action.busy || roleId === ''}>
          {t('sam.attach')}
        </Guarded>
      </form>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

function DirectPermission({ user, can }: { user: User; can: Can }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const path = usePath(user.userName);
  const [text, setText] = useState(user.permission ?? EXAMPLE_POLICY);
  const action = useAction();
  const valid = checkPolicy(text).ok;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sam'] });

  async function save(e: FormEvent) {
    e.preventDefault();
    await action.run(
      () =>
        unwrap(
          api.PUT('/v1/operators/{operator_id}/users/{user_name}/permission', {
            params: { path },
            body: { permission: text },
          }),
        ),
      t('sam.permissionSaved'),
    );
    await refresh();
  }
  async function remove() {
    await action.run(
      () =>
        unwrap(api.DELETE('/v1/operators/{operator_id}/users/{user_name}/permission', { params: { path } })),
      t('sam.permissionRemoved'),
    );
    await refresh();
  }

  return (
    <section className="card stack" aria-labelledby="direct-permission">
      <h2 id="direct-permission">{t('sam.permission')}</h2>
      <p className="hint">{user.permission === null ? t('sam.noPermission') : t('sam.permissionHint')}</p>
      <form className="stack" onSubmit={(e) => void save(e)}>
        <PolicyEditor
          id="user-permission"
          label={t('sam.permissionDocument')}
          value={text}
          onChange={setText}
        />
        <div className="row">
          <Guarded type="submit" permission={can('User:updateUserPermission')} busy={action.busy || !valid}>
            {t('sam.savePermission')}
          </Guarded>
          {user.permission !== null && (
            <Guarded
              className="secondary"
              permission={can('User:deleteUserPermission')}
              busy={action.busy}
              onClick={() => void remove()}
            >
              {t('sam.removePermission')}
            </Guarded>
          )}
        </div>
      </form>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, apiError, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, KeysetPager, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { QrCode } from '../sam/MfaEnrolment';

const OPERATIONS = [
  'Directory:deleteDirectory',
  'Directory:createDirectoryUser',
  'Directory:updateDirectoryUser',
  'Directory:deleteDirectoryUser',
  'Directory:enableDirectoryUserTotp',
  'Directory:disableDirectoryUserTotp',
  'Directory:revokeDirectoryUserSessions',
];
const PAGE_SIZE = 50;

function useDirectoryUsers(directoryId: string, after: string | undefined) {
  return useQuery({
    queryKey: ['directories', directoryId, 'users', after ?? ''],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/directories/{directory_id}/users', {
        params: {
          path: { directory_id: directoryId },
          query: { limit: PAGE_SIZE, ...(after ? { last_evaluated_key: after } : {}) },
        },
      });
      if (data === undefined) throw apiError(response, error);
      return { users: data, nextKey: response.headers.get('x-soracom-next-key') ?? undefined };
    },
    placeholderData: keepPreviousData,
  });
}

type DirectoryUser = NonNullable<ReturnType<typeof useDirectoryUsers>['data']>['users'][number];

export function DirectoryPage({ directoryId }: { directoryId: string }) {
  const { t } = useI18n();
  const directory = useQuery({
    queryKey: ['directories', directoryId],
    queryFn: () =>
      unwrap(api.GET('/v1/directories/{directory_id}', { params: { path: { directory_id: directoryId } } })),
  });
  const [keys, setKeys] = useState<Array<string | undefined>>([undefined]);
  const users = useDirectoryUsers(directoryId, keys.at(-1));
  const can = usePermissions(OPERATIONS);
  const queryClient = useQueryClient();
  const action = useAction();
  const [totp, setTotp] = useState<{ userId: string; secret: string; totpUri: string }>();
  const path = { directory_id: directoryId };
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['directories', directoryId] });

  if (directory.data === undefined)
    return <QueryState error={directory.error} loading={directory.isPending} />;

  async function removeDirectory() {
    if (!window.confirm(t('gateway.confirmDelete'))) return;
    const done = await action.run(async () => {
      await unwrap(api.DELETE('/v1/directories/{directory_id}', { params: { path } }));
      return true;
    }, t('gateway.deleted'));
    if (!done) return;
    navigate('/gateway');
    queryClient.removeQueries({ queryKey: ['directories', directoryId] });
    await queryClient.invalidateQueries({ queryKey: ['directories'] });
  }
  async function userAction(
    u: DirectoryUser,
    kind: 'totp-on' | 'totp-off' | 'sessions' | 'toggle' | 'delete',
  ) {
    const userPath = { ...path, user_id: u.userId };
    if (kind === 'delete' && !window.confirm(t('gateway.confirmDeleteUser', { user: u.userId }))) return;
    const result = await action.run(
      async () => {
        switch (kind) {
          case 'totp-on': {
            const made = await unwrap(
              api.POST('/v1/directories/{directory_id}/users/{user_id}/totp', { params: { path: userPath } }),
            );
            setTotp({ userId: u.userId, ...made });
            return t('gateway.totpMade', { user: u.userId });
          }
          case 'totp-off':
            await unwrap(
              api.DELETE('/v1/directories/{directory_id}/users/{user_id}/totp', {
                params: { path: userPath },
              }),
            );
            return t('gateway.totpRemoved', { user: u.userId });
          case 'sessions': {
            const r = await unwrap(
              api.DELETE('/v1/directories/{directory_id}/users/{user_id}/sessions', {
                params: { path: userPath },
              }),
            );
            return t('gateway.sessionsRevoked', { count: r.revoked, user: u.userId });
          }
          case 'toggle':
            await unwrap(
              api.PUT('/v1/directories/{directory_id}/users/{user_id}', {
                params: { path: userPath },
                body: { disabled: !u.disabled },
              }),
            );
            return t(u.disabled ? 'gateway.enabled' : 'gateway.disabledDone', { user: u.userId });
          case 'delete':
            await unwrap(
              api.DELETE('/v1/directories/{directory_id}/users/{user_id}', { params: { path: userPath } }),
            );
            return t('gateway.userDeleted', { user: u.userId });
        }
      },
      (text) => text,
    );
    if (result !== undefined) await refresh();
  }

  return (
    <div className="stack">
      <p>
        <Link to="/gateway">← {t('gateway.all')}</Link>
      </p>
      <h1>{t('gateway.directory', { name: directory.data.name })}</h1>
      <NewUser directoryId={directoryId} can={can} />
      {totp && (
        <div className="notice stack" data-directory-totp>
          <strong>{t('gateway.totpFor', { user: totp.userId })}</strong>
          <p>{t('sam.shownOnce')}</p>
          <QrCode uri={totp.totpUri} label={t('sam.mfaQr')} />
          <p>
            {t('sam.mfaSecret')} <code className="secret">{totp.secret}</code>
          </p>
          <div className="row">
            <button type="button" className="secondary" onClick={() => setTotp(undefined)}>
              {t('sam.stored')}
            </button>
          </div>
        </div>
      )}
      <OutcomeLine outcome={action.outcome} />
      <QueryState error={users.error} loading={users.isPending} />
      {users.data && users.data.users.length === 0 && keys.length === 1 && <p>{t('gateway.noUsers')}</p>}
      {users.data && users.data.users.length > 0 && (
        <div className="table-wrap">
          <table className="directory-users">
            <caption className="visually-hidden">{t('gateway.users')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('gateway.userId')}</th>
                <th scope="col">{t('gateway.displayName')}</th>
                <th scope="col">{t('gateway.phone')}</th>
                <th scope="col">TOTP</th>
                <th scope="col">SIM</th>
                <th scope="col">{t('gateway.groups')}</th>
                <th scope="col">{t('col.status')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('sim.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => (
                <tr key={u.userId} data-user={u.userId} data-disabled={u.disabled}>
                  <th scope="row">{u.userId}</th>
                  <td>{u.displayName ?? '—'}</td>
                  <td>
                    {u.phoneNumber ?? '—'}
                    {u.phoneNumber
                      ? ` (${u.phoneVerified ? t('gateway.verified') : t('gateway.unverified')})`
                      : ''}
                  </td>
                  <td data-totp={u.totpEnabled}>{u.totpEnabled ? t('sam.yes') : t('sam.no')}</td>
                  <td>{u.sim ? u.sim.imsi : '—'}</td>
                  <td>{u.groups.join(', ') || '—'}</td>
                  <td>{u.disabled ? t('gateway.disabled') : t('gateway.active')}</td>
                  <td>
                    <div className="row">
                      {u.totpEnabled ? (
                        <Guarded
                          className="secondary"
                          permission={can('Directory:disableDirectoryUserTotp')}
                          busy={action.busy}
                          onClick={() => void userAction(u, 'totp-off')}
                        >
                          {t('gateway.totpOff', { user: u.userId })}
                        </Guarded>
                      ) : (
                        <Guarded
                          className="secondary"
                          permission={can('Directory:enableDirectoryUserTotp')}
                          busy={action.busy}
                          onClick={() => void userAction(u, 'totp-on')}
                        >
                          {t('gateway.totpOn', { user: u.userId })}
                        </Guarded>
                      )}
                      <Guarded
                        className="secondary"
                        permission={can('Directory:revokeDirectoryUserSessions')}
                        busy={action.busy}
                        onClick={() => void userAction(u, 'sessions')}
                      >
                        {t('gateway.signOutUser', { user: u.userId })}
                      </Guarded>
                      <Guarded
                        className="secondary"
                        permission={can('Directory:updateDirectoryUser')}
                        busy={action.busy}
                        onClick={() => void userAction(u, 'toggle')}
                      >
                        {u.disabled
                          ? t('gateway.enable', { user: u.userId })
                          : t('gateway.disable', { user: u.userId })}
                      </Guarded>
                      <Guarded
                        className="danger"
                        permission={can('Directory:deleteDirectoryUser')}
                        busy={action.busy}
                        onClick={() => void userAction(u, 'delete')}
                      >
                        {t('gateway.deleteUser', { user: u.userId })}
                      </Guarded>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <KeysetPager
        label={t('gateway.pages')}
        keys={keys}
        setKeys={setKeys}
        nextKey={users.data?.nextKey}
        busy={users.isFetching}
      />
      <div className="row">
        <Guarded
          className="danger"
          permission={can('Directory:deleteDirectory')}
          busy={action.busy}
          onClick={() => void removeDirectory()}
        >
          {t('gateway.delete')}
        </Guarded>
      </div>
    </div>
  );
}

function NewUser({ directoryId, can }: { directoryId: string; can: ReturnType<typeof usePermissions> }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    userId: '',
    displayName: '',
    password: '',
    phoneNumber: '',
    groups: '',
  });
  const action = useAction();
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const groups = form.groups
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const done = await action.run(
      () =>
        unwrap(
          api.POST('/v1/directories/{directory_id}/users', {
            params: { path: { directory_id: directoryId } },
            body: {
              userId: form.userId.trim(),
              ...(form.displayName ? { displayName: form.displayName } : {}),
              ...(form.password ? { password: form.password } : {}),
              ...(form.phoneNumber ? { phoneNumber: form.phoneNumber.trim() } : {}),
              ...(groups.length ? { groups } : {}),
            },
          }),
        ),
      t('gateway.userCreated', { user: form.userId.trim() }),
    );
    if (done === undefined) return;
    setForm({ userId: '', displayName: '', password: '', phoneNumber: '', groups: '' });
    await queryClient.invalidateQueries({ queryKey: ['directories', directoryId] });
  }

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="new-directory-user">
      <h2 id="new-directory-user">{t('gateway.addUser')}</h2>
      <div className="row">
        <label>
          {t('gateway.userId')}
          <input required maxLength={128} value={form.userId} onChange={set('userId')} />
        </label>
        <label>
          {t('gateway.displayName')}
          <input maxLength={200} value={form.displayName} onChange={set('displayName')} />
        </label>
        <label>
          {t('auth.password')}
          <input
            type="password"
            autoComplete="new-password"
            maxLength={1024}
            value={form.password}
            onChange={set('password')}
          />
        </label>
        <label>
          {t('gateway.phone')}
          <input
            type="tel"
            placeholder="+819012345678"
            maxLength={32}
            value={form.phoneNumber}
            onChange={set('phoneNumber')}
          />
        </label>
        <label>
          {t('gateway.groupsInput')}
          <input value={form.groups} onChange={set('groups')} />
        </label>
      </div>
      <div className="row">
        <Guarded
          type="submit"
          permission={can('Directory:createDirectoryUser')}
          busy={action.busy || form.userId.trim() === ''}
        >
          {t('gateway.addUser')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </form>
  );
}

// Auth keys of a SAM user or of root: the list (id, created, last used), deletion, and generation —
// the secret is in the generating answer only (stored hashed), so it is shown once, here, until the
// operator dismisses it; it is never put in the query cache.

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Permission } from '../api/permissions';
import { Guarded, OutcomeLine, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';

export type KeyOwner =
  | { kind: 'operator'; operatorId: string }
  | { kind: 'user'; operatorId: string; userName: string };

interface AuthKey {
  readonly authKeyId: string;
  readonly createdTime: number;
  readonly lastUsedTime: number | null;
}

function calls(owner: KeyOwner) {
  if (owner.kind === 'operator') {
    const path = { operator_id: owner.operatorId };
    return {
      generate: () => unwrap(api.POST('/v1/operators/{operator_id}/auth_keys', { params: { path } })),
      remove: (auth_key_id: string) =>
        unwrap(
          api.DELETE('/v1/operators/{operator_id}/auth_keys/{auth_key_id}', {
            params: { path: { ...path, auth_key_id } },
          }),
        ),
    };
  }
  const path = { operator_id: owner.operatorId, user_name: owner.userName };
  return {
    generate: () =>
      unwrap(api.POST('/v1/operators/{operator_id}/users/{user_name}/auth_keys', { params: { path } })),
    remove: (auth_key_id: string) =>
      unwrap(
        api.DELETE('/v1/operators/{operator_id}/users/{user_name}/auth_keys/{auth_key_id}', {
          params: { path: { ...path, auth_key_id } },
        }),
      ),
  };
}

export function AuthKeys({
  target,
  keys,
  can,
  onChange,
}: {
  target: KeyOwner;
  keys: readonly AuthKey[];
  can: { generate: Permission; remove: Permission };
  onChange?: () => void;
}) {
  const { t, formatTime } = useI18n();
  const queryClient = useQueryClient();
  const keyCalls = calls(target);
  const [fresh, setFresh] = useState<{ authKeyId: string; authKey: string }>();
  const action = useAction();
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['sam'] });
    onChange?.();
  };

  async function generate() {
    const key = await action.run(keyCalls.generate, t('sam.keyGenerated'));
    if (key === undefined) return;
    setFresh({ authKeyId: key.authKeyId, authKey: key.authKey });
    await refresh();
  }
  async function remove(id: string) {
    if (!window.confirm(t('sam.confirmDeleteKey', { id }))) return;
    await action.run(() => keyCalls.remove(id), t('sam.keyDeleted'));
    await refresh();
  }

  return (
    <section className="card stack" aria-labelledby="auth-keys">
      <h2 id="auth-keys">{t('sam.authKeys')}</h2>
      {fresh && (
        <div className="notice stack" data-new-key>
          <strong>{t('sam.newKey')}</strong>
          <p>{t('sam.shownOnce')}</p>
          <dl>
            <dt>authKeyId</dt>
            <dd>
              <code className="secret">{fresh.authKeyId}</code>
            </dd>
            <dt>authKey</dt>
            <dd>
              <code className="secret" data-secret>
                {fresh.authKey}
              </code>
            </dd>
          </dl>
          <div className="row">
            <button type="button" className="secondary" onClick={() => setFresh(undefined)}>
              {t('sam.stored')}
            </button>
          </div>
        </div>
      )}
      {keys.length === 0 ? (
        <p>{t('sam.noKeys')}</p>
      ) : (
        <div className="table-wrap">
          <table className="auth-keys fit">
            <caption className="visually-hidden">{t('sam.authKeys')}</caption>
            <thead>
              <tr>
                <th scope="col">authKeyId</th>
                <th scope="col">{t('groups.createdTime')}</th>
                <th scope="col">{t('sam.lastUsed')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('sim.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.authKeyId} data-key={k.authKeyId}>
                  <th scope="row">{k.authKeyId}</th>
                  <td>{formatTime(k.createdTime)}</td>
                  <td>{k.lastUsedTime === null ? '—' : formatTime(k.lastUsedTime)}</td>
                  <td>
                    <Guarded
                      className="secondary"
                      permission={can.remove}
                      busy={action.busy}
                      onClick={() => void remove(k.authKeyId)}
                    >
                      {t('sam.deleteKey', { id: k.authKeyId })}
                    </Guarded>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="row">
        <Guarded permission={can.generate} busy={action.busy} onClick={() => void generate()}>
          {t('sam.generateKey')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

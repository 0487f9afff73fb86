// The signed-in account's own security: TOTP MFA (root: the operator's; a SAM user: their own) and
// auth keys, each action offered only as far as the account's permissions allow.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { QueryState } from '../app/ui';
import { useSignedIn } from '../auth/session';
import { useI18n } from '../i18n/i18n';
import { AuthKeys } from './AuthKeys';
import { MfaEnrolment } from './MfaEnrolment';

export function AccountPage() {
  const { t } = useI18n();
  const session = useSignedIn();
  return (
    <div className="stack">
      <h1>{t('sam.account')}</h1>
      <p>{t('app.signedInAs', { who: session.userName ?? `root (${session.operatorId})` })}</p>
      {session.userName === undefined ? (
        <RootAccount operatorId={session.operatorId} />
      ) : (
        <UserAccount operatorId={session.operatorId} userName={session.userName} />
      )}
    </div>
  );
}

function RootAccount({ operatorId }: { operatorId: string }) {
  const path = { operator_id: operatorId };
  const keys = useQuery({
    queryKey: ['sam', 'operator-keys'],
    queryFn: () => unwrap(api.GET('/v1/operators/{operator_id}/auth_keys', { params: { path } })),
  });
  const can = usePermissions([
    'Operator:enableMFA',
    'Operator:verifyMFA',
    'Operator:revokeMFA',
    'Operator:generateOperatorAuthKey',
    'Operator:deleteOperatorAuthKey',
  ]);
  return (
    <div className="grid">
      <MfaEnrolment
        target={{ kind: 'operator', operatorId }}
        can={{
          enable: can('Operator:enableMFA'),
          verify: can('Operator:verifyMFA'),
          revoke: can('Operator:revokeMFA'),
        }}
      />
      {keys.data ? (
        <AuthKeys
          target={{ kind: 'operator', operatorId }}
          keys={keys.data}
          can={{
            generate: can('Operator:generateOperatorAuthKey'),
            remove: can('Operator:deleteOperatorAuthKey'),
          }}
        />
      ) : (
        <QueryState error={keys.error} loading={keys.isPending} />
      )}
    </div>
  );
}

function UserAccount({ operatorId, userName }: { operatorId: string; userName: string }) {
  const { t } = useI18n();
  const path = { operator_id: operatorId, user_name: userName };
  const can = usePermissions([
    'User:getUserMFAStatus',
    'User:enableUserMFA',
    'User:verifyUserMFA',
    'User:revokeUserMFA',
  ]);
  const readable = can('User:getUserMFAStatus');
  const status = useQuery({
    queryKey: ['sam', 'own-mfa', userName],
    queryFn: () => unwrap(api.GET('/v1/operators/{operator_id}/users/{user_name}/mfa', { params: { path } })),
    // Asked only when the user may read it: a refused call would say no more than this page does.
    enabled: readable.allowed,
  });
  if (!readable.allowed)
    return (
      <p className="hint">{t('app.forbidden', { reason: readable.reason ?? t('app.permissionUnknown') })}</p>
    );
  if (status.data === undefined) return <QueryState error={status.error} loading={status.isPending} />;
  return (
    <div className="grid">
      <MfaEnrolment
        target={{ kind: 'user', operatorId, userName }}
        status={status.data.status}
        can={{
          enable: can('User:enableUserMFA'),
          verify: can('User:verifyUserMFA'),
          revoke: can('User:revokeUserMFA'),
        }}
      />
    </div>
  );
}

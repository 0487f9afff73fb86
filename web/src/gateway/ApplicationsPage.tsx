// The MFA gateway's protected applications, read only: they are set in the gateway's configuration
// (gatewayApplications / gatewayUpstream, docs/mfa-gateway.md), and GET /v1/gateway/applications
// shows those whose users are this operator's — with the upstream as its origin only.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { Link } from '../app/router';
import { QueryState } from '../app/ui';
import { useI18n } from '../i18n/i18n';

export function ApplicationsPage() {
  const { t } = useI18n();
  const apps = useQuery({
    queryKey: ['gateway', 'applications'],
    queryFn: () => unwrap(api.GET('/v1/gateway/applications')),
  });
  return (
    <div className="stack">
      <p>
        <Link to="/gateway">← {t('gateway.title')}</Link>
      </p>
      <h1>{t('gateway.applications')}</h1>
      <p className="hint">{t('gateway.applicationsHint')}</p>
      <QueryState error={apps.error} loading={apps.isPending} />
      {apps.data && apps.data.length === 0 && <p>{t('gateway.noApplications')}</p>}
      {apps.data && apps.data.length > 0 && (
        <div className="table-wrap">
          <table className="gateway-applications">
            <caption className="visually-hidden">{t('gateway.applications')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('gateway.application')}</th>
                <th scope="col">{t('gateway.displayName')}</th>
                <th scope="col">{t('gateway.prefix')}</th>
                <th scope="col">{t('gateway.upstream')}</th>
                <th scope="col">{t('gateway.returnTo')}</th>
                <th scope="col">{t('gateway.users')}</th>
                <th scope="col">{t('gateway.policy')}</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.map((a) => (
                <tr key={a.name} data-application={a.name}>
                  <td>{a.name}</td>
                  <td>{a.displayName ?? '—'}</td>
                  <td>
                    <code>{a.prefix}</code>
                  </td>
                  <td>{a.upstreamOrigin}</td>
                  <td>{a.returnToOrigins.length > 0 ? a.returnToOrigins.join(', ') : '—'}</td>
                  <td>
                    {a.users.kind === 'directory' ? (
                      <Link to={`/gateway/${encodeURIComponent(a.users.directoryId)}`}>
                        {a.users.directoryName}
                      </Link>
                    ) : a.users.operatorId === null ? (
                      t('gateway.platformUsersAll')
                    ) : (
                      t('gateway.platformUsers')
                    )}
                  </td>
                  <td>
                    {a.policy.length === 0
                      ? t('gateway.anyFactor')
                      : a.policy
                          .map((r) => `${r.groups ? `${r.groups.join(', ')}: ` : ''}${r.factors.join(' / ')}`)
                          .join('; ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

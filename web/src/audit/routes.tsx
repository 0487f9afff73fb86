import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const AuditLogPage = lazyPage(() => import('./AuditLogPage').then((m) => m.AuditLogPage));

export const auditRoutes: Domain = {
  nav: { to: '/audit', label: 'nav.audit' },
  routes: [{ path: '/audit', render: () => <AuditLogPage /> }],
};

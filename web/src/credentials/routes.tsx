import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const CredentialsPage = lazyPage(() => import('./CredentialsPage').then((m) => m.CredentialsPage));

export const credentialRoutes: Domain = {
  nav: { to: '/credentials', label: 'nav.credentials' },
  routes: [{ path: '/credentials', render: () => <CredentialsPage /> }],
};

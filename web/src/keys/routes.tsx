import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const SigningKeysPage = lazyPage(() => import('./SigningKeysPage').then((m) => m.SigningKeysPage));

export const keyRoutes: Domain = {
  nav: { to: '/signing-keys', label: 'nav.keys' },
  routes: [{ path: '/signing-keys', render: () => <SigningKeysPage /> }],
};

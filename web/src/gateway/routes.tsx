import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const DirectoriesPage = lazyPage(() => import('./DirectoriesPage').then((m) => m.DirectoriesPage));
const DirectoryPage = lazyPage(() => import('./DirectoryPage').then((m) => m.DirectoryPage));

export const gatewayRoutes: Domain = {
  nav: { to: '/gateway', label: 'nav.gateway' },
  routes: [
    { path: '/gateway', render: () => <DirectoriesPage /> },
    { path: '/gateway/:directoryId', render: (p) => <DirectoryPage directoryId={p.directoryId ?? ''} /> },
  ],
};

import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const DirectoriesPage = lazyPage(() => import('./DirectoriesPage').then((m) => m.DirectoriesPage));
const ApplicationsPage = lazyPage(() => import('./ApplicationsPage').then((m) => m.ApplicationsPage));
const DirectoryPage = lazyPage(() => import('./DirectoryPage').then((m) => m.DirectoryPage));

export const gatewayRoutes: Domain = {
  nav: { to: '/gateway', label: 'nav.gateway' },
  routes: [
    { path: '/gateway', render: () => <DirectoriesPage /> },
    { path: '/gateway/applications', render: () => <ApplicationsPage /> },
    { path: '/gateway/:directoryId', render: (p) => <DirectoryPage directoryId={p.directoryId ?? ''} /> },
  ],
};

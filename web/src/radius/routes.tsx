import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const RadiusClientsPage = lazyPage(() => import('./RadiusClientsPage').then((m) => m.RadiusClientsPage));

export const radiusRoutes: Domain = {
  nav: { to: '/radius-clients', label: 'nav.radius' },
  routes: [{ path: '/radius-clients', render: () => <RadiusClientsPage /> }],
};

import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const ImportPage = lazyPage(() => import('./ImportPage').then((m) => m.ImportPage));

export const importRoutes: Domain = {
  nav: { to: '/import', label: 'nav.import' },
  routes: [{ path: '/import', render: () => <ImportPage /> }],
};

import type { Domain } from '../app/domains';
import { ImportPage } from './ImportPage';

export const importRoutes: Domain = {
  nav: { to: '/import', label: 'nav.import' },
  routes: [{ path: '/import', render: () => <ImportPage /> }],
};

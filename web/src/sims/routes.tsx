import type { Domain } from '../app/domains';
import { SimListPage } from './SimListPage';
import { SimPage } from './SimPage';

export const simRoutes: Domain = {
  nav: { to: '/sims', label: 'nav.sims' },
  routes: [
    { path: '/sims', render: () => <SimListPage /> },
    { path: '/sims/:simId', render: (p) => <SimPage simId={p.simId ?? ''} /> },
  ],
};

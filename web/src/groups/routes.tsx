import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const GroupListPage = lazyPage(() => import('./GroupListPage').then((m) => m.GroupListPage));
const GroupPage = lazyPage(() => import('./GroupPage').then((m) => m.GroupPage));

export const groupRoutes: Domain = {
  nav: { to: '/groups', label: 'nav.groups' },
  routes: [
    { path: '/groups', render: () => <GroupListPage /> },
    { path: '/groups/:groupId', render: (p) => <GroupPage groupId={p.groupId ?? ''} /> },
  ],
};

import type { Domain } from '../app/domains';
import { GroupListPage } from './GroupListPage';
import { GroupPage } from './GroupPage';

export const groupRoutes: Domain = {
  nav: { to: '/groups', label: 'nav.groups' },
  routes: [
    { path: '/groups', render: () => <GroupListPage /> },
    { path: '/groups/:groupId', render: (p) => <GroupPage groupId={p.groupId ?? ''} /> },
  ],
};

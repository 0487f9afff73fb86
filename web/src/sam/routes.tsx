import type { Domain } from '../app/domains';
import { AccountPage } from './AccountPage';
import { RolePage } from './RolePage';
import { RolesPage } from './RolesPage';
import { UserPage } from './UserPage';
import { UsersPage } from './UsersPage';

export const samRoutes: Domain = {
  nav: { to: '/sam', label: 'nav.sam' },
  routes: [
    { path: '/sam', render: () => <UsersPage /> },
    { path: '/sam/users', render: () => <UsersPage /> },
    { path: '/sam/users/:userName', render: (p) => <UserPage userName={p.userName ?? ''} /> },
    { path: '/sam/roles', render: () => <RolesPage /> },
    { path: '/sam/roles/:roleId', render: (p) => <RolePage roleId={p.roleId ?? ''} /> },
  ],
};

export const accountRoutes: Domain = {
  nav: { to: '/account', label: 'nav.account' },
  routes: [{ path: '/account', render: () => <AccountPage /> }],
};

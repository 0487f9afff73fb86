import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const AccountPage = lazyPage(() => import('./AccountPage').then((m) => m.AccountPage));
const RolePage = lazyPage(() => import('./RolePage').then((m) => m.RolePage));
const RolesPage = lazyPage(() => import('./RolesPage').then((m) => m.RolesPage));
const UserPage = lazyPage(() => import('./UserPage').then((m) => m.UserPage));
const UsersPage = lazyPage(() => import('./UsersPage').then((m) => m.UsersPage));

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

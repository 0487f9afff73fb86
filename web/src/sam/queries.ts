// SAM (users, roles, permissions, auth keys, MFA) through TanStack Query, for the signed-in
// account's operator. Every key starts with 'sam' so a change refreshes every SAM page.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { useSignedIn } from '../auth/session';

export function useOperatorId(): string {
  return useSignedIn().operatorId;
}

export function useUsers() {
  const operator_id = useOperatorId();
  return useQuery({
    queryKey: ['sam', 'users'],
    queryFn: () =>
      unwrap(api.GET('/v1/operators/{operator_id}/users', { params: { path: { operator_id } } })),
  });
}

export function useUser(userName: string) {
  const operator_id = useOperatorId();
  return useQuery({
    queryKey: ['sam', 'user', userName],
    queryFn: () =>
      unwrap(
        api.GET('/v1/operators/{operator_id}/users/{user_name}', {
          params: { path: { operator_id, user_name: userName } },
        }),
      ),
  });
}

export function useRoles(enabled = true) {
  const operator_id = useOperatorId();
  return useQuery({
    queryKey: ['sam', 'roles'],
    queryFn: () =>
      unwrap(api.GET('/v1/operators/{operator_id}/roles', { params: { path: { operator_id } } })),
    enabled,
  });
}

export function useRole(roleId: string) {
  const operator_id = useOperatorId();
  return useQuery({
    queryKey: ['sam', 'role', roleId],
    queryFn: async () => {
      const path = { operator_id, role_id: roleId };
      const [role, users] = await Promise.all([
        unwrap(api.GET('/v1/operators/{operator_id}/roles/{role_id}', { params: { path } })),
        unwrap(api.GET('/v1/operators/{operator_id}/roles/{role_id}/users', { params: { path } })),
      ]);
      return { role, users };
    },
  });
}

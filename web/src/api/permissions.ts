// What the signed-in account may do: one question to GET /v1/auth/permissions per set of operations,
// so a SAM user's forbidden actions are absent or disabled with the reason.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from './client';

export interface Permission {
  readonly allowed: boolean;
  /** Why not (the deciding statement), when refused; `undefined` while the answer is pending. */
  readonly reason?: string;
}

export function usePermissions(apis: readonly string[]): (operation: string) => Permission {
  const sorted = [...new Set(apis)].sort();
  const query = useQuery({
    queryKey: ['permissions', sorted],
    queryFn: () => unwrap(api.GET('/v1/auth/permissions', { params: { query: { apis: sorted.join(',') } } })),
    staleTime: 30_000,
  });
  return (operation) => {
    const result = query.data?.results.find((r) => r.api === operation);
    if (result === undefined) return { allowed: false };
    return result.allowed
      ? { allowed: true }
      : { allowed: false, reason: `${operation}: ${result.statement ?? result.reason}` };
  };
}

// SIM data through TanStack Query: one page of the list (keyset), one SIM (polled while the operator
// waits for its session), its events, usage and the groups for the filters and actions.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, apiError, unwrap } from '../api/client';
import { listQuery, type SimFilter } from './model';

export const PAGE_SIZE = 50;
/** How often an open SIM page asks again (a session coming up or dropping). */
export const LIVE_INTERVAL_MS = 3_000;

export async function fetchSimPage(filter: SimFilter, limit: number, after?: string) {
  const { data, error, response } = await api.GET('/v1/sims', {
    params: { query: listQuery(filter, limit, after) },
  });
  if (data === undefined) throw apiError(response, error);
  return { sims: data, nextKey: response.headers.get('x-soracom-next-key') ?? undefined };
}

export function useSimPage(filter: SimFilter, after: string | undefined) {
  return useQuery({
    queryKey: ['sims', 'list', filter, after ?? ''],
    queryFn: () => fetchSimPage(filter, PAGE_SIZE, after),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
}

export function useSim(simId: string) {
  return useQuery({
    queryKey: ['sims', 'one', simId],
    queryFn: () => unwrap(api.GET('/v1/sims/{sim_id}', { params: { path: { sim_id: simId } } })),
    refetchInterval: LIVE_INTERVAL_MS,
  });
}

export function useGroups() {
  return useQuery({
    queryKey: ['groups', 'all'],
    queryFn: () => unwrap(api.GET('/v1/groups', { params: { query: { limit: 100 } } })),
    staleTime: 30_000,
  });
}

export function useSimEvents(simId: string) {
  const path = { sim_id: simId };
  return useQuery({
    queryKey: ['sims', 'events', simId],
    queryFn: async () => {
      const [sessions, refusals, statuses] = await Promise.all([
        unwrap(api.GET('/v1/sims/{sim_id}/events/sessions', { params: { path, query: { limit: 20 } } })),
        unwrap(api.GET('/v1/sims/{sim_id}/events/refusals', { params: { path, query: { limit: 20 } } })),
        unwrap(api.GET('/v1/sims/{sim_id}/statuses/history', { params: { path } })),
      ]);
      return { sessions, refusals, statuses };
    },
    refetchInterval: LIVE_INTERVAL_MS * 2,
  });
}

export type Period = 'hour' | 'day' | 'month';
/** How far back each period's chart reaches. */
export const SPAN_SECONDS: Record<Period, number> = { hour: 48 * 3600, day: 60 * 86400, month: 730 * 86400 };

export function useUsage(simId: string, period: Period) {
  return useQuery({
    queryKey: ['sims', 'usage', simId, period],
    queryFn: () => {
      const to = Math.floor(Date.now() / 1000);
      return unwrap(
        api.GET('/v1/stats/air/sims/{sim_id}', {
          params: { path: { sim_id: simId }, query: { from: to - SPAN_SECONDS[period], to, period } },
        }),
      );
    },
    refetchInterval: 10_000,
  });
}

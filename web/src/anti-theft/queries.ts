// The anti-theft applet of one SIM through TanStack Query. A SIM without the applet answers
// ERR_ANTI_THEFT_NOT_PROVISIONED (409): that is "no panel", not an error. While a command waits for
// its PoR the page asks again every few seconds, so the operator sees it applied without reloading.

import { useQuery } from '@tanstack/react-query';
import { ApiError, api, unwrap } from '../api/client';

export type AntiTheftView = NonNullable<Awaited<ReturnType<typeof fetchAntiTheft>>>;

/** While a command is pending: how often to ask for its PoR. */
export const PENDING_INTERVAL_MS = 2_000;
/** Otherwise: alerts arrive by themselves (a card moved into another device). */
export const IDLE_INTERVAL_MS = 15_000;

async function fetchAntiTheft(simId: string) {
  try {
    return await unwrap(api.GET('/v1/sims/{sim_id}/anti_theft', { params: { path: { sim_id: simId } } }));
  } catch (e) {
    if (e instanceof ApiError && e.code === 'ERR_ANTI_THEFT_NOT_PROVISIONED') return null;
    throw e;
  }
}

/** `waiting`: the operator asked for something the card answers later (a local information report). */
export function useAntiTheft(simId: string, waiting = false) {
  return useQuery({
    queryKey: ['sims', 'anti-theft', simId],
    queryFn: () => fetchAntiTheft(simId),
    refetchInterval: (q) =>
      q.state.data === null
        ? false
        : waiting || (q.state.data?.pendingCommands.length ?? 0) > 0
          ? PENDING_INTERVAL_MS
          : IDLE_INTERVAL_MS,
  });
}

export function useAntiTheftEvents(simId: string, enabled: boolean, pending: boolean) {
  return useQuery({
    queryKey: ['sims', 'anti-theft-events', simId],
    queryFn: () =>
      unwrap(
        api.GET('/v1/sims/{sim_id}/events/anti_theft', {
          params: { path: { sim_id: simId }, query: { limit: 20 } },
        }),
      ),
    enabled,
    refetchInterval: pending ? PENDING_INTERVAL_MS : IDLE_INTERVAL_MS,
  });
}

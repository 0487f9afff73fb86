// The eSIM operations of one eUICC SIM through TanStack Query (docs/esim.md, Profiles and operations).
// While an operation runs the panel asks again every two seconds, so its steps appear as the SM-DP and
// the SM-SR report them, and the SIM (its profiles' states) is read again once it ends.

import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';

export type EsimOperation = Awaited<ReturnType<typeof fetchOperations>>[number];

/** While an operation runs: how often to ask for its steps. */
export const RUNNING_INTERVAL_MS = 2_000;
/** Otherwise: operations the CLI or another user started show up too. */
export const IDLE_INTERVAL_MS = 15_000;

function fetchOperations(simId: string) {
  return unwrap(api.GET('/v1/sims/{sim_id}/esim/operations', { params: { path: { sim_id: simId } } }));
}

export function useEsimOperations(simId: string) {
  return useQuery({
    queryKey: ['sims', 'esim-operations', simId],
    queryFn: () => fetchOperations(simId),
    refetchInterval: (q) =>
      (q.state.data ?? []).some((o) => o.status === 'running') ? RUNNING_INTERVAL_MS : IDLE_INTERVAL_MS,
  });
}

// Event handlers through TanStack Query: keyset pages of the list (optionally of one target kind), one
// handler, its executions (polled while a run is pending or running), the handlers that apply to a
// SIM, and the calls that change them. Every key starts with 'event-handlers'.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, apiError, unwrap } from '../api/client';
import type { components } from '../api/schema';
import type { HandlerBody, TargetKind } from './model';

export type EventHandler = components['schemas']['EventHandler'];
export type Execution = NonNullable<Awaited<ReturnType<typeof fetchExecutions>>['executions']>[number];
export const HANDLER_PAGE_SIZE = 50;
/** Operations the event handler pages ask permission for (EventHandler:*). */
export const EVENT_HANDLER_OPERATIONS = [
  'EventHandler:createEventHandler',
  'EventHandler:updateEventHandler',
  'EventHandler:deleteEventHandler',
  'EventHandler:setIgnoreEventHandlerForSim',
  'EventHandler:deleteIgnoreEventHandlerForSim',
  'EventHandler:retryEventHandlerAction',
] as const;

/** Action run states the Retry button is offered for (the API refuses the others). */
export const RETRYABLE = new Set(['dead', 'failed']);

export function useHandlerPage(target: TargetKind | undefined, after: string | undefined) {
  return useQuery({
    queryKey: ['event-handlers', 'page', target ?? '', after ?? ''],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/event_handlers', {
        params: {
          query: {
            limit: HANDLER_PAGE_SIZE,
            ...(target ? { target } : {}),
            ...(after ? { last_evaluated_key: after } : {}),
          },
        },
      });
      if (data === undefined) throw apiError(response, error);
      return { handlers: data, nextKey: response.headers.get('x-soracom-next-key') ?? undefined };
    },
    placeholderData: keepPreviousData,
  });
}

export function useHandler(handlerId: string) {
  return useQuery({
    queryKey: ['event-handlers', 'one', handlerId],
    queryFn: () =>
      unwrap(api.GET('/v1/event_handlers/{handler_id}', { params: { path: { handler_id: handlerId } } })),
    enabled: handlerId !== '',
  });
}

async function fetchExecutions(handlerId: string, limit: number, after: number | undefined) {
  const { data, error, response } = await api.GET('/v1/event_handlers/{handler_id}/executions', {
    params: {
      path: { handler_id: handlerId },
      query: { limit, ...(after === undefined ? {} : { last_evaluated_key: after }) },
    },
  });
  if (data === undefined) throw apiError(response, error);
  const next = response.headers.get('x-soracom-next-key');
  return { executions: data, nextKey: next === null ? undefined : Number(next) };
}

/** A run that will still change: the page keeps asking until none is left. */
export const isUnsettled = (e: Execution) =>
  e.actions.some((a) => a.status === 'pending' || a.status === 'running');

/** A page of executions, newest first; polled every 3 s while none or an unsettled one is shown (15 s otherwise). */
export function useExecutions(handlerId: string, after: number | undefined) {
  return useQuery({
    queryKey: ['event-handlers', 'executions', handlerId, after ?? 0],
    queryFn: () => fetchExecutions(handlerId, 20, after),
    placeholderData: keepPreviousData,
    // Quickly while a run will still change or nothing fired yet (someone is waiting for it).
    refetchInterval: (q) => {
      const executions = q.state.data?.executions;
      return executions === undefined || executions.length === 0 || executions.some(isUnsettled)
        ? 3_000
        : 15_000;
    },
  });
}

/** When a handler last fired (its newest execution), for the list. */
export function useLastFired(handlerId: string) {
  return useQuery({
    queryKey: ['event-handlers', 'last-fired', handlerId],
    queryFn: async () => (await fetchExecutions(handlerId, 1, undefined)).executions[0]?.time ?? null,
    staleTime: 30_000,
  });
}

/** The handlers that apply to a SIM (on its IMSIs, the SIM, its group, the operator). */
export function useSimHandlers(simId: string, enabled: boolean) {
  return useQuery({
    queryKey: ['event-handlers', 'sim', simId],
    queryFn: () =>
      unwrap(api.GET('/v1/event_handlers/sims/{sim_id}', { params: { path: { sim_id: simId } } })),
    enabled,
  });
}

export const createHandler = (body: HandlerBody) => unwrap(api.POST('/v1/event_handlers', { body }));
export const updateHandler = (handlerId: string, body: HandlerBody) =>
  unwrap(api.PUT('/v1/event_handlers/{handler_id}', { params: { path: { handler_id: handlerId } }, body }));
export const deleteHandler = (handlerId: string) =>
  unwrap(api.DELETE('/v1/event_handlers/{handler_id}', { params: { path: { handler_id: handlerId } } }));
/** Sets a dead or failed run back to pending (simtrust's retry; the engine then runs it). */
export const retryAction = (handlerId: string, executionId: number, actionIndex: number) =>
  unwrap(
    api.POST('/v1/event_handlers/{handler_id}/executions/{execution_id}/actions/{action_index}/retry', {
      params: { path: { handler_id: handlerId, execution_id: executionId, action_index: actionIndex } },
    }),
  );
/** POST …/ignore answers 200 with no body (idempotent), DELETE 204: only the status tells. */
async function noContent(call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  const { error, response } = await call;
  if (!response.ok) throw apiError(response, error);
}
export const ignoreForSim = (handlerId: string, simId: string) =>
  noContent(
    api.POST('/v1/event_handlers/{handler_id}/sims/{sim_id}/ignore', {
      params: { path: { handler_id: handlerId, sim_id: simId } },
      parseAs: 'text',
    }),
  );
export const unignoreForSim = (handlerId: string, simId: string) =>
  noContent(
    api.DELETE('/v1/event_handlers/{handler_id}/sims/{sim_id}/ignore', {
      params: { path: { handler_id: handlerId, sim_id: simId } },
    }),
  );

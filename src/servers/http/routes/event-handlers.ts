// The EventHandler API (SORACOM tag EventHandler): handlers on a subscriber, SIM, group or the
// operator, with their rule and actions; per-subscriber and per-SIM listings and exemptions. The
// SIM-centric routes (`…/sims/{sim_id}…`) are simtrust's: SORACOM keys these operations by IMSI only.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { LastEvaluatedKey, Limit, QueryInteger, responses } from '../schemas/common.js';
import {
  EventHandlerBody,
  Execution,
  ExecutionAction,
  HandlerIdParams,
  Imsi,
  TargetQuery,
} from '../schemas/event-handlers.js';
import { SimIdParams } from '../schemas/sims.js';

const Tag = 'EventHandler';
const HandlerRef = Type.Ref('EventHandler');

export const eventHandlerRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { eventHandlers } = platform;

    app.get(
      '/event_handlers',
      {
        schema: {
          tags: [Tag],
          operationId: 'listEventHandlers',
          summary: 'List event handlers, optionally of one target kind (keyset pages).',
          querystring: Type.Object(
            {
              target: Type.Optional(TargetQuery),
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(LastEvaluatedKey),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(HandlerRef) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await eventHandlers.list(
          request.principal!.operatorId,
          { target: q.target },
          { limit: pageSize(q.limit), after: q.last_evaluated_key },
        );
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/event_handlers',
      {
        schema: {
          tags: [Tag],
          operationId: 'createEventHandler',
          summary: 'Create an event handler (one target, a rule, 1–5 actions; 10 handlers per target).',
          body: EventHandlerBody,
          response: responses({ 201: HandlerRef }, 404),
        },
      },
      async (request, reply) =>
        reply.status(201).send(await eventHandlers.create(auditContext(request), request.body)),
    );

    app.get(
      '/event_handlers/subscribers/:imsi',
      {
        schema: {
          tags: [Tag],
          operationId: 'listEventHandlersBySubscriber',
          summary:
            "Event handlers that apply to a subscriber (its IMSI, SIM, the SIM's group, the operator).",
          params: Type.Object({ imsi: Imsi }),
          response: responses({ 200: Type.Array(HandlerRef) }, 404),
        },
      },
      async (request) => eventHandlers.listBySubscriber(request.principal!.operatorId, request.params.imsi),
    );

    app.get(
      '/event_handlers/sims/:sim_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'listEventHandlersBySim',
          summary: 'Event handlers that apply to a SIM (its IMSIs, the SIM, its group, the operator).',
          params: SimIdParams,
          response: responses({ 200: Type.Array(HandlerRef) }, 404),
        },
      },
      async (request) => eventHandlers.listBySim(request.principal!.operatorId, request.params.sim_id),
    );

    app.get(
      '/event_handlers/:handler_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'getEventHandler',
          summary: 'Get an event handler.',
          params: HandlerIdParams,
          response: responses({ 200: HandlerRef }, 404),
        },
      },
      async (request) => eventHandlers.get(request.principal!.operatorId, request.params.handler_id),
    );

    app.put(
      '/event_handlers/:handler_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'updateEventHandler',
          summary: 'Replace an event handler (the same body as create).',
          params: HandlerIdParams,
          body: EventHandlerBody,
          response: responses({ 200: HandlerRef }, 404),
        },
      },
      async (request) => eventHandlers.update(auditContext(request), request.params.handler_id, request.body),
    );

    app.delete(
      '/event_handlers/:handler_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteEventHandler',
          summary: 'Delete an event handler (its scheduled actions that have not started are cancelled).',
          params: HandlerIdParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await eventHandlers.delete(auditContext(request), request.params.handler_id);
        return reply.status(204).send();
      },
    );

    app.get(
      '/event_handlers/:handler_id/executions',
      {
        schema: {
          tags: [Tag],
          operationId: 'listEventHandlerExecutions',
          summary:
            'Firings of a handler with each action run and its outcome, newest first (optionally of one SIM; keyset pages).',
          params: HandlerIdParams,
          querystring: Type.Object(
            {
              sim_id: Type.Optional(SimIdParams.properties.sim_id),
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(
                QueryInteger(1, Number.MAX_SAFE_INTEGER, {
                  description: 'x-soracom-next-key of the previous page.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(Execution) }, 404),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await platform.events.executions(
          request.principal!.operatorId,
          request.params.handler_id,
          { simId: q.sim_id },
          { limit: pageSize(q.limit), after: q.last_evaluated_key },
        );
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/event_handlers/:handler_id/executions/:execution_id/actions/:action_index/retry',
      {
        schema: {
          tags: [Tag],
          operationId: 'retryEventHandlerAction',
          summary:
            'simtrust extension: run a dead or failed action run again — back to pending, due now, attempts reset, same idempotency key. Other states answer 409.',
          params: Type.Object({
            handler_id: HandlerIdParams.properties.handler_id,
            execution_id: QueryInteger(1, Number.MAX_SAFE_INTEGER, {
              description: 'executionId of the listing.',
            }),
            action_index: QueryInteger(0, 4, { description: 'actionIndex within the execution (0–4).' }),
          }),
          response: responses({ 200: ExecutionAction }, 404, 409),
        },
      },
      async (request) =>
        eventHandlers.retryAction(
          auditContext(request),
          request.params.handler_id,
          request.params.execution_id,
          request.params.action_index,
        ),
    );

    const IgnoreImsiParams = Type.Object({ handler_id: HandlerIdParams.properties.handler_id, imsi: Imsi });
    const IgnoreSimParams = Type.Object({
      handler_id: HandlerIdParams.properties.handler_id,
      sim_id: SimIdParams.properties.sim_id,
    });

    app.post(
      '/event_handlers/:handler_id/subscribers/:imsi/ignore',
      {
        schema: {
          tags: [Tag],
          operationId: 'setIgnoreEventHandler',
          summary: 'Exempt the SIM of this IMSI from the handler (idempotent).',
          params: IgnoreImsiParams,
          response: responses({ 200: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await eventHandlers.ignoreSubscriber(
          auditContext(request),
          request.params.handler_id,
          request.params.imsi,
        );
        return reply.status(200).send();
      },
    );

    app.delete(
      '/event_handlers/:handler_id/subscribers/:imsi/ignore',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteIgnoreEventHandler',
          summary: 'Remove the exemption of the SIM of this IMSI.',
          params: IgnoreImsiParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await eventHandlers.unignoreSubscriber(
          auditContext(request),
          request.params.handler_id,
          request.params.imsi,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/event_handlers/:handler_id/sims/:sim_id/ignore',
      {
        schema: {
          tags: [Tag],
          operationId: 'setIgnoreEventHandlerForSim',
          summary: 'Exempt a SIM from the handler (idempotent).',
          params: IgnoreSimParams,
          response: responses({ 200: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await eventHandlers.ignoreSim(
          auditContext(request),
          request.params.handler_id,
          request.params.sim_id,
        );
        return reply.status(200).send();
      },
    );

    app.delete(
      '/event_handlers/:handler_id/sims/:sim_id/ignore',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteIgnoreEventHandlerForSim',
          summary: 'Remove the exemption of a SIM.',
          params: IgnoreSimParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await eventHandlers.unignoreSim(
          auditContext(request),
          request.params.handler_id,
          request.params.sim_id,
        );
        return reply.status(204).send();
      },
    );
  };

// The Group API: groups of SIMs with namespaced configuration and tags.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { LastEvaluatedKey, Limit, responses, TagFilter, TagUpdate } from '../schemas/common.js';
import { ConfigurationParameters, CreateGroupBody, GroupIdParams, Namespace } from '../schemas/groups.js';

const GroupRef = Type.Ref('Group');

export const groupRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { groups } = platform;

    app.get(
      '/groups',
      {
        schema: {
          tags: ['Group'],
          operationId: 'listGroups',
          summary: 'List groups (filter by tag; keyset pages).',
          querystring: Type.Object(
            {
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(LastEvaluatedKey),
              ...TagFilter,
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(GroupRef) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await groups.list(
          request.principal!.operatorId,
          {
            tagName: q.tag_name,
            tagValue: q.tag_value,
            tagValueMatchMode: q.tag_value_match_mode ?? 'exact',
          },
          { limit: pageSize(q.limit), after: q.last_evaluated_key },
        );
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/groups',
      {
        schema: {
          tags: ['Group'],
          operationId: 'createGroup',
          summary: 'Create a group (give it a `name` tag to find it by name).',
          body: CreateGroupBody,
          response: responses({ 201: GroupRef }),
        },
      },
      async (request, reply) =>
        reply.status(201).send(await groups.create(auditContext(request), request.body)),
    );

    app.get(
      '/groups/:group_id',
      {
        schema: {
          tags: ['Group'],
          operationId: 'getGroup',
          summary: 'Get a group with its configuration.',
          params: GroupIdParams,
          response: responses({ 200: GroupRef }, 404),
        },
      },
      async (request) => groups.get(request.principal!.operatorId, request.params.group_id),
    );

    app.delete(
      '/groups/:group_id',
      {
        schema: {
          tags: ['Group'],
          operationId: 'deleteGroup',
          summary: 'Delete an empty group.',
          params: GroupIdParams,
          response: responses({ 204: Type.Null() }, 404, 409),
        },
      },
      async (request, reply) => {
        await groups.delete(auditContext(request), request.params.group_id);
        return reply.status(204).send();
      },
    );

    app.put(
      '/groups/:group_id/configuration/:namespace',
      {
        schema: {
          tags: ['Group'],
          operationId: 'putConfigurationParameters',
          summary:
            'Set configuration parameters ([{key, value}]) in a namespace; existing keys are overwritten.',
          params: Type.Object({ group_id: GroupIdParams.properties.group_id, namespace: Namespace }),
          body: ConfigurationParameters,
          response: responses({ 200: GroupRef }, 404),
        },
      },
      async (request) =>
        groups.putConfiguration(
          auditContext(request),
          request.params.group_id,
          request.params.namespace,
          request.body,
        ),
    );

    app.delete(
      '/groups/:group_id/configuration/:namespace',
      {
        schema: {
          tags: ['Group'],
          operationId: 'deleteConfigurationNamespace',
          summary: 'Delete a whole configuration namespace.',
          params: Type.Object({ group_id: GroupIdParams.properties.group_id, namespace: Namespace }),
          response: responses({ 200: GroupRef }, 404),
        },
      },
      async (request) =>
        groups.deleteConfigurationNamespace(
          auditContext(request),
          request.params.group_id,
          request.params.namespace,
        ),
    );

    app.put(
      '/groups/:group_id/tags',
      {
        schema: {
          tags: ['Group'],
          operationId: 'putGroupTags',
          summary: 'Add or update group tags.',
          params: GroupIdParams,
          body: TagUpdate,
          response: responses({ 200: GroupRef }, 404),
        },
      },
      async (request) => groups.putTags(auditContext(request), request.params.group_id, request.body),
    );

    app.delete(
      '/groups/:group_id/tags/:tag_name',
      {
        schema: {
          tags: ['Group'],
          operationId: 'deleteGroupTag',
          summary: 'Delete a group tag.',
          params: Type.Object({
            group_id: GroupIdParams.properties.group_id,
            tag_name: Type.String({ minLength: 1, maxLength: 100 }),
          }),
          response: responses({ 200: GroupRef }, 404),
        },
      },
      async (request) =>
        groups.deleteTag(auditContext(request), request.params.group_id, request.params.tag_name),
    );
  };

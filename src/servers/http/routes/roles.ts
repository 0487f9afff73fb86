// Roles (SORACOM Role API, reference/soracom.md §3.1): named permission documents, and attaching
// them to users.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import {
  CreateRoleBody,
  OperatorParams,
  Role,
  RoleId,
  RoleParams,
  UpdateRoleBody,
  UserParams,
} from '../schemas/access.js';
import { LastEvaluatedKey, Limit, responses } from '../schemas/common.js';

const tags = ['Role'];

export const roleRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { roles } = platform.access;

    app.get(
      '/operators/:operator_id/roles',
      {
        schema: {
          tags,
          operationId: 'listRoles',
          summary: 'Roles of the operator, by id, in pages.',
          params: OperatorParams,
          querystring: Type.Object(
            { limit: Type.Optional(Limit), last_evaluated_key: Type.Optional(LastEvaluatedKey) },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(Role) }, 404),
        },
      },
      async (request, reply) => {
        const page = await roles.list(request.params.operator_id, {
          limit: pageSize(request.query.limit),
          after: request.query.last_evaluated_key,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    const roleUrl = '/operators/:operator_id/roles/:role_id';
    app.post(
      roleUrl,
      {
        schema: {
          tags,
          operationId: 'createRole',
          summary:
            'Create a role (its permission is validated; a syntax error is refused with its position).',
          params: RoleParams,
          body: CreateRoleBody,
          response: responses({ 201: Role }, 404, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await roles.create(auditContext(request), request.params.role_id, request.body)),
    );
    app.get(
      roleUrl,
      {
        schema: {
          tags,
          operationId: 'getRole',
          summary: 'A role.',
          params: RoleParams,
          response: responses({ 200: Role }, 404),
        },
      },
      async (request) => roles.get(request.params.operator_id, request.params.role_id),
    );
    app.put(
      roleUrl,
      {
        schema: {
          tags,
          operationId: 'updateRole',
          summary: 'Change the permission or description of a role (takes effect on the next request).',
          params: RoleParams,
          body: UpdateRoleBody,
          response: responses({ 200: Role }, 404),
        },
      },
      async (request) => roles.update(auditContext(request), request.params.role_id, request.body),
    );
    app.delete(
      roleUrl,
      {
        schema: {
          tags,
          operationId: 'deleteRole',
          summary: 'Delete a role that no user has attached.',
          params: RoleParams,
          response: responses({ 204: Type.Null() }, 404, 409),
        },
      },
      async (request, reply) => {
        await roles.delete(auditContext(request), request.params.role_id);
        return reply.status(204).send();
      },
    );
    app.get(
      `${roleUrl}/users`,
      {
        schema: {
          tags,
          operationId: 'listRoleAttachedUsers',
          summary: 'Users that have the role attached.',
          params: RoleParams,
          response: responses(
            { 200: Type.Array(Type.Object({ userName: Type.String(), attachedTime: Type.Integer() })) },
            404,
          ),
        },
      },
      async (request) => roles.listUsers(request.params.operator_id, request.params.role_id),
    );

    const userRolesUrl = '/operators/:operator_id/users/:user_name/roles';
    app.get(
      userRolesUrl,
      {
        schema: {
          tags,
          operationId: 'listUserRoles',
          summary: 'Roles attached to a user.',
          params: UserParams,
          response: responses(
            { 200: Type.Array(Type.Intersect([Role, Type.Object({ attachedTime: Type.Integer() })])) },
            404,
          ),
        },
      },
      async (request) => roles.listOfUser(request.params.operator_id, request.params.user_name),
    );
    app.post(
      userRolesUrl,
      {
        schema: {
          tags,
          operationId: 'attachRole',
          summary: 'Attach a role to a user.',
          params: UserParams,
          body: Type.Object({ roleId: RoleId }, { additionalProperties: false }),
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await roles.attach(auditContext(request), request.params.user_name, request.body.roleId);
        return reply.status(204).send();
      },
    );
    app.delete(
      `${userRolesUrl}/:role_id`,
      {
        schema: {
          tags,
          operationId: 'detachRole',
          summary: 'Detach a role from a user.',
          params: Type.Object({
            operator_id: UserParams.properties.operator_id,
            user_name: UserParams.properties.user_name,
            role_id: RoleId,
          }),
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await roles.detach(auditContext(request), request.params.user_name, request.params.role_id);
        return reply.status(204).send();
      },
    );
  };

// /v1/virtual_private_gateways (issue 18): SORACOM's VirtualPrivateGateway operations for the VPG
// resource, its tags and its traffic filtering (Canal allow-lists). The routes only change the
// desired state (platform/vpg); the data plane (servers/dataplane) programs the kernel from it.
// While the data plane is off on this instance, create and the filtering/terminate changes answer
// 503 ERR_DATAPLANE_UNAVAILABLE (listing, reading and tags still work).
// Not here yet (docs/vpg.md): gate/*, junction/*, packet_capture_sessions, ip_address_map,
// customer_routes, set_routing_filter, fqdn_rules, fixed_public_ip_addresses.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import {
  FILTER_PROTOCOLS,
  MAX_RULE_DESCRIPTION,
  MAX_UPLINK_RULES,
} from '../../../platform/vpg/filter-rules.js';
import { DEFAULT_DEVICE_SUBNET, VPG_ID_PATTERN, VPG_TYPES } from '../../../platform/vpg/vpg-service.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { LastEvaluatedKey, Limit, responses, TagFilter, TagMap, TagUpdate } from '../schemas/common.js';

const Tag = 'VirtualPrivateGateway';
const Time = Type.Integer({ description: 'Unix milliseconds' });

const UplinkRule = Type.Object(
  {
    ipRange: Type.String({
      maxLength: 18,
      description: 'Destination IPv4 network (CIDR), e.g. 192.0.2.0/24; a single host as /32.',
    }),
    protocol: Type.Optional(
      Type.Union(
        FILTER_PROTOCOLS.map((p) => Type.Literal(p)),
        { description: 'Default any.' },
      ),
    ),
    fromPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'tcp/udp only.' })),
    toPort: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: 'tcp/udp only; default fromPort.' }),
    ),
    description: Type.Optional(Type.String({ maxLength: MAX_RULE_DESCRIPTION })),
  },
  { additionalProperties: false },
);

const VirtualPrivateGateway = Type.Object(
  {
    vpgId: Type.String(),
    operatorId: Type.String(),
    type: Type.Integer(),
    placement: Type.String(),
    status: Type.Union(
      ['creating', 'running', 'terminating', 'terminated', 'failed'].map((s) => Type.Literal(s)),
      {
        description:
          'creating until the data plane applied the VPG, then running; terminating until its namespace is removed, then terminated; failed (statusReason says why) when applying failed — the next reconcile retries.',
      },
    ),
    statusReason: Type.Optional(Type.String()),
    deviceSubnetCidrRange: Type.String(),
    useInternetGateway: Type.Boolean(),
    trafficFilteringEnabled: Type.Boolean({
      description:
        'simtrust: whether the uplink rules are enforced (traffic_filtering/enable|disable). Off: devices reach every destination.',
    }),
    uplinkFilterRules: Type.Array(UplinkRule, {
      description:
        'simtrust: the allow-list set with PUT traffic_filtering/uplink_rules; everything else a device sends is dropped and counted.',
    }),
    tags: TagMap,
    createdTime: Time,
    lastModifiedTime: Time,
  },
  { $id: 'VirtualPrivateGateway' },
);
const VpgRef = Type.Ref('VirtualPrivateGateway');

const Params = Type.Object({
  vpg_id: Type.String({ pattern: VPG_ID_PATTERN, description: 'The vpgId (a UUID).' }),
});

const CreateBody = Type.Object(
  {
    type: Type.Optional(
      Type.Union(
        VPG_TYPES.map((t) => Type.Literal(t)),
        {
          description:
            'SORACOM VPG type; default 14 (Type-E). Recorded; every type gets the same data plane today.',
        },
      ),
    ),
    placement: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9:_-]+$',
        description: 'Default `default`.',
      }),
    ),
    deviceSubnetCidrRange: Type.Optional(
      Type.String({
        maxLength: 18,
        description: `IPv4 network of the devices' addresses, /8 to /28; default ${DEFAULT_DEVICE_SUBNET}. Give the groups using the VPG a SoracomAir.addressPool inside it.`,
      }),
    ),
    useInternetGateway: Type.Optional(Type.Boolean({ description: 'Default true.' })),
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 }), {
        maxProperties: 100,
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'soracomTransitGateway (AWS-specific) is not supported.',
  },
);

const RulesBody = Type.Object(
  { rules: Type.Array(UplinkRule, { maxItems: MAX_UPLINK_RULES }) },
  { additionalProperties: false },
);

const RefusedTraffic = Type.Object(
  {
    ipAddress: Type.String(),
    simId: Type.Optional(Type.String({ description: 'The SIM online at this address now, if any.' })),
    imsi: Type.Optional(Type.String()),
    packets: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const vpgRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const vpg = platform.vpg;
    app.addSchema(VirtualPrivateGateway);

    app.get(
      '/virtual_private_gateways',
      {
        schema: {
          tags: [Tag],
          operationId: 'listVirtualPrivateGateways',
          summary: 'List the VPGs (filter by tag; keyset pages).',
          querystring: Type.Object(
            {
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(LastEvaluatedKey),
              ...TagFilter,
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(VpgRef) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await vpg.list(
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
      '/virtual_private_gateways',
      {
        schema: {
          tags: [Tag],
          operationId: 'createVirtualPrivateGateway',
          summary: 'Create a VPG (a network namespace with its own nftables ruleset).',
          body: CreateBody,
          response: responses({ 201: VpgRef }, 503),
        },
      },
      async (request, reply) => reply.status(201).send(await vpg.create(auditContext(request), request.body)),
    );

    app.get(
      '/virtual_private_gateways/:vpg_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'getVirtualPrivateGateway',
          summary: 'Get a VPG.',
          params: Params,
          response: responses({ 200: VpgRef }, 404),
        },
      },
      async (request) => vpg.get(request.principal!.operatorId, request.params.vpg_id),
    );

    app.post(
      '/virtual_private_gateways/:vpg_id/terminate',
      {
        schema: {
          tags: [Tag],
          operationId: 'terminateVirtualPrivateGateway',
          summary: 'Terminate a VPG no group uses (remove SoracomAir.vpgId from them first).',
          params: Params,
          response: responses({ 200: VpgRef }, 404, 409, 503),
        },
      },
      async (request) => vpg.terminate(auditContext(request), request.params.vpg_id),
    );

    app.put(
      '/virtual_private_gateways/:vpg_id/tags',
      {
        schema: {
          tags: [Tag],
          operationId: 'updateVirtualPrivateGatewayTags',
          summary: 'Add or change tags.',
          params: Params,
          body: TagUpdate,
          response: responses({ 204: Type.Null() }, 404, 409),
        },
      },
      async (request, reply) => {
        await vpg.putTags(auditContext(request), request.params.vpg_id, request.body);
        return reply.status(204).send();
      },
    );

    app.delete(
      '/virtual_private_gateways/:vpg_id/tags/:tag_name',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteVirtualPrivateGatewayTag',
          summary: 'Delete a tag.',
          params: Type.Object({
            vpg_id: Params.properties.vpg_id,
            tag_name: Type.String({ minLength: 1, maxLength: 100 }),
          }),
          response: responses({ 204: Type.Null() }, 404, 409),
        },
      },
      async (request, reply) => {
        await vpg.deleteTag(auditContext(request), request.params.vpg_id, request.params.tag_name);
        return reply.status(204).send();
      },
    );

    app.post(
      '/virtual_private_gateways/:vpg_id/traffic_filtering/enable',
      {
        schema: {
          tags: [Tag],
          operationId: 'enableTrafficFiltering',
          summary: 'Enforce the uplink rules: devices reach only what they allow.',
          params: Params,
          response: responses({ 201: Type.Null() }, 404, 409, 503),
        },
      },
      async (request, reply) => {
        await vpg.setTrafficFiltering(auditContext(request), request.params.vpg_id, true);
        return reply.status(201).send();
      },
    );

    app.post(
      '/virtual_private_gateways/:vpg_id/traffic_filtering/disable',
      {
        schema: {
          tags: [Tag],
          operationId: 'disableTrafficFiltering',
          summary: 'Stop enforcing the uplink rules (they are kept).',
          params: Params,
          response: responses({ 204: Type.Null() }, 404, 409, 503),
        },
      },
      async (request, reply) => {
        await vpg.setTrafficFiltering(auditContext(request), request.params.vpg_id, false);
        return reply.status(204).send();
      },
    );

    app.get(
      '/virtual_private_gateways/:vpg_id/traffic_filtering/refused',
      {
        schema: {
          tags: [Tag],
          operationId: 'listVirtualPrivateGatewayRefusedTraffic',
          summary:
            'simtrust: packets each device sent that the uplink rules did not allow (kernel counters per device address, with the SIM online there).',
          params: Params,
          response: responses({ 200: Type.Array(RefusedTraffic) }, 404, 503),
        },
      },
      async (request) => vpg.refusedTraffic(request.principal!.operatorId, request.params.vpg_id),
    );

    app.put(
      '/virtual_private_gateways/:vpg_id/traffic_filtering/uplink_rules',
      {
        schema: {
          tags: [Tag],
          operationId: 'putUplinkFilterRules',
          summary: 'Replace the uplink allow-list; the kernel takes the whole list in one transaction.',
          params: Params,
          body: RulesBody,
          response: responses({ 200: VpgRef }, 404, 409, 503),
        },
      },
      async (request) => vpg.putUplinkRules(auditContext(request), request.params.vpg_id, request.body.rules),
    );
  };

// The MFA gateway's protected applications as the operator sees them (read only): they are configured
// in `gatewayApplications` / `gatewayUpstream` (src/servers/gateway/applications.ts, docs/mfa-gateway.md),
// not through the API. An operator sees the applications whose users are theirs — a directory of
// theirs, or the platform's users of their operator (or of every operator). The upstream is shown as
// its origin only: a path, query or userinfo in the configured URL may carry a credential, and the
// response schema has no field that could hold one.

import { type FastifyPluginAsyncTypebox, type Static, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { type GatewayApplication, gatewayApplications } from '../../gateway/applications.js';
import { responses } from '../schemas/common.js';

const GatewayApplicationView = Type.Object(
  {
    name: Type.String({ description: 'The application id: its name in logs, audit records and assertions' }),
    displayName: Type.Union([Type.String(), Type.Null()], {
      description: 'What the sign-in page calls it (null: the page names no application)',
    }),
    prefix: Type.String({ description: 'Path prefix on the gateway' }),
    upstreamOrigin: Type.String({ description: 'Origin of the upstream (scheme, host, port; nothing else)' }),
    returnToOrigins: Type.Array(Type.String(), {
      description: 'Origins besides the gateway a return_to may name as an absolute URL',
    }),
    users: Type.Union([
      Type.Object({
        kind: Type.Literal('directory'),
        directoryId: Type.String(),
        directoryName: Type.String(),
      }),
      Type.Object({
        kind: Type.Literal('platform'),
        operatorId: Type.Union([Type.String(), Type.Null()], { description: 'null: every operator' }),
      }),
    ]),
    policy: Type.Array(
      Type.Object({
        groups: Type.Union([Type.Array(Type.String()), Type.Null()]),
        factors: Type.Array(Type.String()),
      }),
    ),
    audience: Type.String(),
    websocket: Type.Boolean(),
    stripPrefix: Type.Boolean(),
  },
  { description: 'A protected application. Never carries the upstream path or credentials.' },
);

/** scheme://host[:port] of a configured upstream (checked as http(s) URL when the gateway starts). */
export function originOf(upstream: string): string {
  return URL.canParse(upstream) ? new URL(upstream).origin : '';
}

export const gatewayApplicationRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/gateway/applications',
      {
        schema: {
          tags: ['Directory'],
          operationId: 'listGatewayApplications',
          summary:
            "The MFA gateway's protected applications whose users are this operator's (a directory of theirs or the platform's own users), from the gateway configuration; read only.",
          response: responses({ 200: Type.Array(GatewayApplicationView) }),
        },
      },
      async (request) => {
        const operatorId = request.principal!.operatorId;
        const all: GatewayApplication[] = gatewayApplications(platform.config);
        const out = [];
        for (const a of all) {
          let users: Static<typeof GatewayApplicationView>['users'];
          if ('directory' in a.users) {
            // Looked up within the operator: another operator's directory is simply not theirs.
            const dir = await platform.directories.get(operatorId, a.users.directory).catch(() => undefined);
            if (dir === undefined) continue;
            users = { kind: 'directory' as const, directoryId: dir.directoryId, directoryName: dir.name };
          } else {
            if (a.users.operatorId !== undefined && a.users.operatorId !== operatorId) continue;
            users = { kind: 'platform' as const, operatorId: a.users.operatorId ?? null };
          }
          out.push({
            name: a.name,
            displayName: a.displayName ?? null,
            prefix: a.prefix,
            upstreamOrigin: originOf(a.upstream),
            returnToOrigins: [...(a.returnToOrigins ?? [])],
            users,
            policy: a.policy.map((r) => ({
              groups: r.groups ? [...r.groups] : null,
              factors: [...r.factors],
            })),
            audience: a.audience,
            websocket: a.websocket,
            stripPrefix: a.stripPrefix,
          });
        }
        return out;
      },
    );
  };

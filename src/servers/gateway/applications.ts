// The protected applications behind the gateway, from configuration: `gatewayApplications` (any
// number, each with its own upstream, path prefix, user store and policy) and the one-application
// shortcut `gatewayUpstream` (`simtrust gateway --upstream URL`). Checked when the gateway starts,
// with ERR_CONFIG naming the entry and the problem.

import { type Static, Type } from '@fastify/type-provider-typebox';
import { Value } from 'typebox/value';
import type { Config } from '../../config/defaults.js';
import { SimtrustError } from '../../lib/errors.js';
import { FACTORS, type Factor, type PolicyRule } from '../../platform/mfa/subject.js';

const FactorSchema = Type.Union([Type.Literal('sms-otp'), Type.Literal('totp'), Type.Literal('sim-token')]);

export const ApplicationSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }),
    /** What the sign-in page calls the application (default: no name, "Sign in to continue."). */
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    /** Path prefix the application is served under: `/` or `/wiki/`. */
    prefix: Type.String({ pattern: '^/(?:[A-Za-z0-9._~-]+/)*$', maxLength: 200 }),
    upstream: Type.String({ pattern: '^https?://[^/]+(/.*)?$' }),
    users: Type.Union([
      Type.Object({ directory: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      Type.Object(
        { platform: Type.Literal(true), operatorId: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ]),
    policy: Type.Optional(
      Type.Array(
        Type.Object(
          {
            groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
            factors: Type.Array(FactorSchema, { minItems: 1, uniqueItems: true }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 50 },
      ),
    ),
    /** Proxy WebSocket upgrades too (default true). */
    websocket: Type.Optional(Type.Boolean()),
    /** Upstream sees paths without the prefix (default false: the path as the browser sent it). */
    stripPrefix: Type.Optional(Type.Boolean()),
    /** The `aud` of the identity assertion (default: the application name). */
    audience: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Origins besides the gateway's own that `return_to` may name as an absolute URL (default none:
     * only paths on the gateway), e.g. the application's public address on a host in front of it.
     */
    returnToOrigins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 20 })),
  },
  { additionalProperties: false },
);

export interface GatewayApplication {
  readonly name: string;
  /** Shown to people; undefined: the pages name no application. */
  readonly displayName?: string | undefined;
  readonly prefix: string;
  readonly upstream: string;
  readonly users:
    | { readonly directory: string }
    | { readonly platform: true; readonly operatorId?: string | undefined };
  readonly policy: readonly PolicyRule[];
  readonly websocket: boolean;
  readonly stripPrefix: boolean;
  readonly audience: string;
  /** Exact origins (`https://host[:port]`) an absolute `return_to` may go to. */
  readonly returnToOrigins?: readonly string[] | undefined;
}

type ApplicationEntry = Static<typeof ApplicationSchema>;

function check(entry: Readonly<Record<string, unknown>>, where: string): ApplicationEntry {
  if (Value.Check(ApplicationSchema, entry)) return entry as ApplicationEntry;
  const first = [...Value.Errors(ApplicationSchema, entry)][0];
  throw new SimtrustError(
    'ERR_CONFIG',
    `${where}${first?.instancePath ? ` at ${first.instancePath}` : ''}: ${first?.message ?? 'invalid'}`,
  );
}

function parseFactors(list: string): Factor[] {
  const factors = list
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of factors) {
    if (!(FACTORS as readonly string[]).includes(f)) {
      throw new SimtrustError('ERR_CONFIG', `gatewayFactors: "${f}" is not one of ${FACTORS.join(', ')}`);
    }
  }
  if (factors.length === 0) throw new SimtrustError('ERR_CONFIG', 'gatewayFactors names no factor');
  return factors as Factor[];
}

/** The applications to protect; empty when the gateway is not configured. */
export function gatewayApplications(
  config: Pick<Config, 'gatewayApplications' | 'gatewayUpstream' | 'gatewayDirectory' | 'gatewayFactors'> &
    Partial<Pick<Config, 'gatewayDisplayName'>>,
): GatewayApplication[] {
  const entries: ApplicationEntry[] = config.gatewayApplications.map((e, i) =>
    check(e, `gatewayApplications[${i}] (${String(e.name ?? '?')})`),
  );
  if (config.gatewayUpstream !== undefined) {
    entries.push({
      name: 'default',
      ...(config.gatewayDisplayName === undefined ? {} : { displayName: config.gatewayDisplayName }),
      prefix: '/',
      upstream: config.gatewayUpstream,
      users:
        config.gatewayDirectory === undefined ? { platform: true } : { directory: config.gatewayDirectory },
      policy: [{ factors: parseFactors(config.gatewayFactors) }],
    });
  }
  const names = new Set<string>();
  const prefixes = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name))
      throw new SimtrustError('ERR_CONFIG', `gateway application name "${e.name}" is used twice`);
    if (prefixes.has(e.prefix))
      throw new SimtrustError('ERR_CONFIG', `gateway prefix "${e.prefix}" is used twice`);
    if (e.prefix.startsWith('/.simtrust/')) {
      throw new SimtrustError('ERR_CONFIG', `gateway prefix "${e.prefix}": /.simtrust/ is the gateway's own`);
    }
    for (const origin of e.returnToOrigins ?? []) {
      const url = URL.canParse(origin) ? new URL(origin) : undefined;
      if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== origin) {
        throw new SimtrustError(
          'ERR_CONFIG',
          `gateway application "${e.name}": returnToOrigins entry "${origin}" must be one origin such as https://app.example.com (scheme, host and port only)`,
        );
      }
    }
    names.add(e.name);
    prefixes.add(e.prefix);
  }
  return entries.map((e) => ({
    name: e.name,
    prefix: e.prefix,
    upstream: e.upstream.replace(/\/+$/, ''),
    users: e.users,
    policy: (e.policy ?? []).map((r) => ({ groups: r.groups, factors: r.factors })),
    websocket: e.websocket ?? true,
    stripPrefix: e.stripPrefix ?? false,
    audience: e.audience ?? e.name,
    ...(e.displayName === undefined ? {} : { displayName: e.displayName }),
    ...(e.returnToOrigins === undefined ? {} : { returnToOrigins: e.returnToOrigins }),
  }));
}

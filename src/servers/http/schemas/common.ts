// Shared TypeBox schemas. Response schemas are the guard that keeps secrets out of answers: the
// serializer writes only the properties declared here.

import { type TSchema, type TUnknown, Type } from '@fastify/type-provider-typebox';

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'Stable ERR_* code (see docs/errors.md)' }),
    message: Type.String(),
  },
  { $id: 'Error', description: 'Every API error has this shape.' },
);

const STANDARD_ERRORS = [400, 401, 403, 429, 500] as const;

/**
 * The declared responses of an authenticated route: its successes, the standard errors and `extra`.
 * Typed as TUnknown on purpose: handlers are checked by the domain's types, while Fastify still
 * validates and serializes each status with its real schema.
 */
export function responses(success: Record<number, TSchema>, ...extra: number[]): Record<number, TUnknown> {
  const all: Record<number, TSchema> = {};
  for (const status of [...STANDARD_ERRORS, ...extra]) all[status] = Type.Ref('Error');
  return { ...all, ...success } as Record<number, TUnknown>;
}

export const Limit = Type.Integer({
  minimum: 1,
  maximum: 100,
  default: 100,
  description: 'Page size (1–100).',
});

export const LastEvaluatedKey = Type.String({
  maxLength: 128,
  description: 'Keyset pagination: the value of the x-soracom-next-key header of the previous page.',
});

export const TagUpdate = Type.Array(
  Type.Object(
    {
      tagName: Type.String({ minLength: 1, maxLength: 100 }),
      tagValue: Type.String({ maxLength: 1000 }),
    },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: 100 },
);

export const TagMap = Type.Record(Type.String(), Type.String(), { description: 'Tag name → value.' });

export const TagFilter = {
  tag_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  tag_value: Type.Optional(Type.String({ maxLength: 1000 })),
  tag_value_match_mode: Type.Optional(
    Type.Union([Type.Literal('exact'), Type.Literal('prefix')], { default: 'exact' }),
  ),
};

// Shared TypeBox schemas. Response schemas are the guard that keeps secrets out of answers: the
// serializer writes only the properties declared here.

import { type TSchema, type TUnknown, Type } from '@fastify/type-provider-typebox';
import { MAX_PAGE_SIZE } from '../pagination.js';

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

/**
 * An integer read from a query string or path: both bounds are required, so no value (Infinity, 2^53,
 * a negative count) reaches a query or the clock unchecked. The query-number check in
 * plugins/query-numbers.ts makes sure the text is a plain decimal first (AJV's own coercion would turn
 * "1e999" into Infinity, which passes every bound).
 */
export const QueryInteger = (
  minimum: number,
  maximum: number,
  options: { description?: string; default?: number } = {},
) => {
  if (!(Number.isSafeInteger(minimum) && Number.isSafeInteger(maximum) && minimum <= maximum)) {
    throw new Error(`QueryInteger(${minimum}, ${maximum}): bounds must be safe integers, minimum <= maximum`);
  }
  return Type.Integer({ minimum, maximum, ...options });
};

export const Limit = QueryInteger(1, MAX_PAGE_SIZE, {
  default: MAX_PAGE_SIZE,
  description: `Page size (1–${MAX_PAGE_SIZE}).`,
});

/** The range of a JavaScript Date (ECMA-262 §21.4.1.1: ±8.64e15 ms); later times cannot be shown. */
const MAX_DATE_MS = 8_640_000_000_000_000;

/** A point in time in Unix milliseconds, as a query parameter. */
export const UnixMsQuery = (description: string) => QueryInteger(0, MAX_DATE_MS, { description });

/** A point in time in Unix seconds, as a query parameter. */
export const UnixSecondsQuery = (description: string) => QueryInteger(0, MAX_DATE_MS / 1000, { description });

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

// Numbers in query strings and path variables are read strictly, before AJV coerces them.
//
// AJV's coercion (coerceTypes) turns any text that `Number()` accepts into a number: "1e999" becomes
// Infinity, "0x10" 16, " 5" 5, "9007199254740993" 9007199254740992. Its minimum/maximum checks look
// at finite numbers only, so Infinity passed `limit` (1–100) and failed in SQL as a 500 (issue 11).
// This hook runs before validation for every route: each query or path value whose schema is an
// integer or a number must be plain decimal text naming a finite number (an integer: a safe one,
// |n| ≤ 2^53 − 1). What passes is then coerced and bounds-checked by AJV as before.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SimtrustError } from '../../../lib/errors.js';

const DECIMAL_INTEGER = /^-?[0-9]{1,16}$/;
const DECIMAL_NUMBER = /^-?[0-9]{1,16}(\.[0-9]{1,16})?$/;

type NumberKind = 'integer' | 'number';

interface PropertySchema {
  readonly type?: unknown;
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly items?: PropertySchema;
}

function numberKind(schema: PropertySchema | undefined): NumberKind | undefined {
  const types = Array.isArray(schema?.type) ? schema.type : [schema?.type];
  if (types.includes('integer')) return 'integer';
  if (types.includes('number')) return 'number';
  return undefined;
}

/** Undefined when `text` is an acceptable `kind`; otherwise what the value must look like. */
function checkText(text: string, kind: NumberKind, schema: PropertySchema): string | undefined {
  const value = Number(text);
  const plain = (kind === 'integer' ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(text);
  if (plain && Number.isFinite(value) && (kind === 'number' || Number.isSafeInteger(value))) return undefined;
  const bounds =
    typeof schema.minimum === 'number' && typeof schema.maximum === 'number'
      ? ` from ${schema.minimum} to ${schema.maximum}`
      : '';
  return kind === 'integer'
    ? `must be a whole number in decimal digits${bounds} (no exponent, hex or spaces)`
    : `must be a decimal number${bounds} (no exponent, hex or spaces)`;
}

function checkPart(
  part: 'querystring' | 'params',
  values: unknown,
  schema: { properties?: Record<string, PropertySchema> } | undefined,
): void {
  const properties = schema?.properties;
  if (properties === undefined || values === null || typeof values !== 'object') return;
  for (const [name, raw] of Object.entries(values as Record<string, unknown>)) {
    if (!Object.hasOwn(properties, name)) continue; // unknown names are AJV's to refuse
    const property = properties[name] as PropertySchema;
    const arrayOf = Array.isArray(raw) ? numberKind(property.items) : undefined;
    const kind = arrayOf ?? numberKind(property);
    if (kind === undefined) continue;
    const itemSchema = arrayOf !== undefined ? (property.items as PropertySchema) : property;
    for (const text of Array.isArray(raw) ? raw : [raw]) {
      if (typeof text !== 'string') continue;
      const problem = checkText(text, kind, itemSchema);
      if (problem !== undefined) throw new SimtrustError('ERR_VALIDATION', `${part}/${name} ${problem}`);
    }
  }
}

export function registerQueryNumberCheck(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const schema = request.routeOptions.schema as
      | {
          querystring?: { properties?: Record<string, PropertySchema> };
          params?: { properties?: Record<string, PropertySchema> };
        }
      | undefined;
    if (schema === undefined) return;
    checkPart('querystring', request.query, schema.querystring);
    checkPart('params', request.params, schema.params);
  });
}

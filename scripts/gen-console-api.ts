// npm run docs (and `tsx scripts/gen-console-api.ts`): writes web/src/api/schema.d.ts — the console's
// API types — from the platform's own OpenAPI document, so the front end cannot drift from the
// routes (STYLE.md §14). The shape is the one openapi-fetch reads (`paths` → method → operation,
// as openapi-typescript emits it); test/scripts/console-api-types.test.ts fails when the file is stale.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Config, SETTINGS } from '../src/config/defaults.js';
import { openPlatform } from '../src/platform/platform.js';
import { buildApp } from '../src/servers/http/app.js';

export const CONSOLE_SCHEMA_FILE = 'web/src/api/schema.d.ts';

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  patternProperties?: Record<string, Schema>;
  items?: Schema | Schema[];
  nullable?: boolean;
  description?: string;
};

type Parameter = { name: string; in: string; required?: boolean; schema?: Schema };
type Operation = {
  operationId?: string;
  summary?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string) => (IDENT.test(k) ? k : JSON.stringify(k));
const pad = (depth: number) => '  '.repeat(depth);

/** The TypeScript type of one JSON schema (the subset TypeBox emits). */
export function typeOf(s: Schema | undefined, depth: number): string {
  if (s === undefined) return 'unknown';
  const nullable = (t: string) => (s.nullable ? `${t} | null` : t);
  if (s.$ref !== undefined) {
    const name = s.$ref.replace(/^#\/components\/schemas\//, '');
    return nullable(`components["schemas"][${JSON.stringify(name)}]`);
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.anyOf ?? s.oneOf)
    return nullable(`(${(s.anyOf ?? s.oneOf)!.map((x) => typeOf(x, depth)).join(' | ')})`);
  if (s.allOf) return `(${s.allOf.map((x) => typeOf(x, depth)).join(' & ')})`;
  const types = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type];
  if (types.length > 1) return types.map((t) => typeOf({ ...s, type: t }, depth)).join(' | ');
  switch (types[0]) {
    case 'string':
      return nullable('string');
    case 'integer':
    case 'number':
      return nullable('number');
    case 'boolean':
      return nullable('boolean');
    case 'null':
      return 'null';
    case 'array': {
      const items = Array.isArray(s.items) ? `[${s.items.map((x) => typeOf(x, depth)).join(', ')}]` : null;
      return nullable(items ?? `(${typeOf(s.items as Schema | undefined, depth)})[]`);
    }
    case 'object':
      return nullable(objectType(s, depth));
    default:
      return s.properties ? objectType(s, depth) : 'unknown';
  }
}

function objectType(s: Schema, depth: number): string {
  const lines: string[] = [];
  const required = new Set(s.required ?? []);
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    if (prop.description) lines.push(`${pad(depth + 1)}/** ${prop.description.replace(/\*\//g, '* /')} */`);
    lines.push(`${pad(depth + 1)}${key(name)}${required.has(name) ? '' : '?'}: ${typeOf(prop, depth + 1)};`);
  }
  const extra = [
    ...Object.values(s.patternProperties ?? {}),
    ...(typeof s.additionalProperties === 'object' ? [s.additionalProperties] : []),
  ];
  if (extra.length > 0)
    lines.push(`${pad(depth + 1)}[key: string]: ${extra.map((x) => typeOf(x, depth + 1)).join(' | ')};`);
  else if (
    s.additionalProperties === true ||
    (s.properties === undefined && s.additionalProperties !== false)
  )
    lines.push(`${pad(depth + 1)}[key: string]: unknown;`);
  return lines.length === 0 ? 'Record<string, never>' : `{\n${lines.join('\n')}\n${pad(depth)}}`;
}

function parametersOf(params: Parameter[], depth: number): string {
  const where = ['query', 'header', 'path', 'cookie'];
  const lines = where.map((place) => {
    const here = params.filter((p) => p.in === place);
    if (here.length === 0) return `${pad(depth + 1)}${place}?: never;`;
    const optional = here.every((p) => !p.required) ? '?' : '';
    const fields = here.map(
      (p) => `${pad(depth + 2)}${key(p.name)}${p.required ? '' : '?'}: ${typeOf(p.schema, depth + 2)};`,
    );
    return `${pad(depth + 1)}${place}${optional}: {\n${fields.join('\n')}\n${pad(depth + 1)}};`;
  });
  return `{\n${lines.join('\n')}\n${pad(depth)}}`;
}

function contentOf(content: Record<string, { schema?: Schema }> | undefined, depth: number): string {
  const entries = Object.entries(content ?? {});
  if (entries.length === 0) return 'never';
  return `{\n${entries.map(([type, c]) => `${pad(depth + 1)}${JSON.stringify(type)}: ${typeOf(c.schema, depth + 1)};`).join('\n')}\n${pad(depth)}}`;
}

function operationOf(op: Operation, depth: number): string {
  const lines = [`${pad(depth + 1)}parameters: ${parametersOf(op.parameters ?? [], depth + 1)};`];
  if (op.requestBody === undefined) lines.push(`${pad(depth + 1)}requestBody?: never;`);
  else
    lines.push(
      `${pad(depth + 1)}requestBody${op.requestBody.required ? '' : '?'}: {\n${pad(depth + 2)}content: ${contentOf(op.requestBody.content, depth + 2)};\n${pad(depth + 1)}};`,
    );
  const responses = Object.entries(op.responses ?? {}).map(([status, r]) => {
    const content = r.content ? contentOf(r.content, depth + 3) : 'never';
    return `${pad(depth + 2)}${/^\d+$/.test(status) ? status : key(status)}: {\n${pad(depth + 3)}headers: { [name: string]: unknown };\n${pad(depth + 3)}content: ${content};\n${pad(depth + 2)}};`;
  });
  lines.push(`${pad(depth + 1)}responses: {\n${responses.join('\n')}\n${pad(depth + 1)}};`);
  return `{\n${lines.join('\n')}\n${pad(depth)}}`;
}

/** The declaration file for an OpenAPI 3.0 document. */
export function renderSchema(doc: Document): string {
  const out = [
    '// Generated by scripts/gen-console-api.ts from the platform OpenAPI document — do not edit.',
    '// Regenerate with `npm run docs`.',
    '',
    'export interface paths {',
  ];
  const operations: string[] = [];
  for (const [path, item] of Object.entries(doc.paths).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`  ${JSON.stringify(path)}: {`);
    out.push('    parameters: { query?: never; header?: never; path?: never; cookie?: never };');
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) {
        out.push(`    ${method}?: never;`);
        continue;
      }
      const id = op.operationId ?? `${method}${path.replace(/[^A-Za-z0-9]+/g, '_')}`;
      out.push(`    ${method}: operations[${JSON.stringify(id)}];`);
      operations.push(`  /** ${(op.summary ?? '').replace(/\*\//g, '* /')} */`);
      operations.push(`  ${key(id)}: ${operationOf(op, 1)};`);
    }
    out.push('  };');
  }
  out.push('}', '', 'export interface components {', '  schemas: {');
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {}).sort(([a], [b]) =>
    a.localeCompare(b),
  ))
    out.push(`    ${key(name)}: ${typeOf(s, 2)};`);
  out.push('  };', '}', '', 'export interface operations {', ...operations, '}', '');
  return out.join('\n');
}

/** The OpenAPI document of the app as it is built now (in-memory SQLite, a throwaway key). */
export async function currentOpenApi(): Promise<Document> {
  const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
  const masterKey = randomBytes(32);
  const config = Object.freeze({
    ...defaults,
    demo: false,
    logLevel: 'silent',
    databaseUrl: 'sqlite::memory:',
    masterKey,
  }) as Config;
  const platform = await openPlatform(config, { masterKey });
  try {
    const { app } = await buildApp({ platform });
    const doc = app.swagger() as unknown as Document;
    await app.close();
    return doc;
  } finally {
    await platform.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(CONSOLE_SCHEMA_FILE, renderSchema(await currentOpenApi()));
  console.log(`wrote ${CONSOLE_SCHEMA_FILE}`);
}

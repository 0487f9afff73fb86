// Permission documents (SORACOM SAM syntax, reference/soracom.md §3.2):
//
//   {"statements":[{"effect":"allow"|"deny",
//                   "api":"Tag:operationId" | ["Sim:listSims","Group:*","Sim:list*","*"],
//                   "condition":"<condition language, see condition.ts>"}]}
//
// compilePolicy() is total: every defect — JSON syntax, a missing or unknown field, a bad API
// pattern, a condition error — comes back with its line and column in the document, so a policy
// is refused when it is saved, never discovered broken when a request arrives.

import { err, ok, type Result } from '../../../lib/result.js';
import { type Condition, parseCondition } from './condition.js';
import { type JsonNode, parseJson, plainValue, positionOf } from './json-document.js';

export type Effect = 'allow' | 'deny';

export interface Statement {
  readonly index: number;
  readonly effect: Effect;
  readonly api: readonly string[];
  readonly condition?: Condition | undefined;
  /** The statement as written, for explanations. */
  readonly source: unknown;
  matchesApi(operation: string): boolean;
}

export interface Policy {
  readonly statements: readonly Statement[];
}

export interface PolicyError {
  readonly message: string;
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export const MAX_POLICY_LENGTH = 65_536;
export const MAX_STATEMENTS = 100;
const MAX_APIS = 500;

/** `*`, `Tag:*`, `Tag:operationId` or `Tag:prefix*` (tags and operation ids as in the OpenAPI document). */
const API_PATTERN = /^(\*|[A-Z][A-Za-z0-9]{0,63}:(\*|[a-z][A-Za-z0-9]{0,127}\*?))$/;

export function matchesApiPattern(pattern: string, operation: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return operation.startsWith(pattern.slice(0, -1));
  return pattern === operation;
}

class Failure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

export function compilePolicy(text: string): Result<Policy, PolicyError> {
  const fail = (offset: number, message: string) => err({ ...positionOf(text, offset), message });
  if (text.length > MAX_POLICY_LENGTH)
    return fail(MAX_POLICY_LENGTH, `longer than ${MAX_POLICY_LENGTH} characters`);
  const parsed = parseJson(text);
  if (!parsed.ok) return err(parsed.error);
  try {
    return ok(compileDocument(parsed.value));
  } catch (e) {
    if (e instanceof Failure) return fail(e.offset, e.message);
    return fail(0, 'the permission cannot be compiled');
  }
}

function compileDocument(root: JsonNode): Policy {
  if (root.kind !== 'object')
    throw new Failure(root.offset, 'a permission is a JSON object {"statements": [...]}');
  let statementsNode: JsonNode | undefined;
  for (const e of root.entries) {
    if (e.key !== 'statements')
      throw new Failure(e.keyOffset, `unknown property "${e.key}" (only "statements")`);
    statementsNode = e.value;
  }
  if (statementsNode === undefined) throw new Failure(root.offset, 'missing "statements"');
  if (statementsNode.kind !== 'array')
    throw new Failure(statementsNode.offset, '"statements" must be an array');
  if (statementsNode.items.length > MAX_STATEMENTS) {
    throw new Failure(statementsNode.offset, `more than ${MAX_STATEMENTS} statements`);
  }
  return { statements: statementsNode.items.map((node, index) => compileStatement(node, index)) };
}

function compileStatement(node: JsonNode, index: number): Statement {
  const where = `statements[${index}]`;
  if (node.kind !== 'object') throw new Failure(node.offset, `${where} must be an object`);
  let effect: Effect | undefined;
  let api: string[] | undefined;
  let condition: Condition | undefined;
  for (const e of node.entries) {
    const v = e.value;
    switch (e.key) {
      case 'effect':
        if (v.kind !== 'string' || (v.value !== 'allow' && v.value !== 'deny')) {
          throw new Failure(v.offset, `${where}.effect must be "allow" or "deny"`);
        }
        effect = v.value;
        break;
      case 'api': {
        const items = v.kind === 'array' ? v.items : [v];
        if (items.length === 0) throw new Failure(v.offset, `${where}.api must name at least one API`);
        if (items.length > MAX_APIS)
          throw new Failure(v.offset, `${where}.api lists more than ${MAX_APIS} APIs`);
        api = items.map((item) => {
          if (item.kind !== 'string' || !API_PATTERN.test(item.value)) {
            throw new Failure(
              item.offset,
              `${where}.api: expected "Tag:operationId", "Tag:*", "Tag:prefix*" or "*"`,
            );
          }
          return item.value;
        });
        break;
      }
      case 'condition': {
        if (v.kind !== 'string') throw new Failure(v.offset, `${where}.condition must be a string`);
        const parsed = parseCondition(v.value);
        if (!parsed.ok) {
          // Point into the document: the offset of the offending character inside the JSON string.
          const at = v.charOffsets[parsed.error.offset] ?? v.end;
          throw new Failure(at, `${where}.condition: ${parsed.error.message}`);
        }
        condition = parsed.value;
        break;
      }
      default:
        throw new Failure(e.keyOffset, `${where}: unknown property "${e.key}" (effect, api, condition)`);
    }
  }
  if (effect === undefined) throw new Failure(node.offset, `${where} needs "effect"`);
  if (api === undefined) throw new Failure(node.offset, `${where} needs "api"`);
  const patterns = api;
  return {
    index,
    effect,
    api: patterns,
    condition,
    source: plainValue(node),
    matchesApi: (operation) => patterns.some((p) => matchesApiPattern(p, operation)),
  };
}

/** A readable one-line description of a policy error, as the API returns it. */
export function describePolicyError(what: string, e: PolicyError): string {
  return `${what} is invalid at line ${e.line}, column ${e.column} (offset ${e.offset}): ${e.message}`;
}

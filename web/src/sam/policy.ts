// The permission editor's check, run in the page on every keystroke: the platform's own positioned
// JSON parser (src/platform/iam/policy/json-document.ts, pure) and the document rules of
// src/platform/iam/policy/policy.ts (compileDocument/compileStatement), with the same messages and
// positions. A statement's `condition` is only checked to be a string here — its expression language
// needs node:net for address ranges — and is judged by the API on save, which answers with the same
// "line L, column C" form. test/web/policy-editor.test.ts keeps both sides in step.

import { type JsonNode, parseJson, positionOf } from '../../../src/platform/iam/policy/json-document.js';

export const MAX_POLICY_LENGTH = 65_536;
const MAX_STATEMENTS = 100;
const MAX_APIS = 500;
const API_PATTERN = /^(\*|[A-Z][A-Za-z0-9]{0,63}:(\*|[a-z][A-Za-z0-9]{0,127}\*?))$/;

export interface PolicyProblem {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  readonly message: string;
}

export type PolicyCheck =
  | { readonly ok: true; readonly statements: number; readonly conditions: number }
  | ({ readonly ok: false } & PolicyProblem);

class Failure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function checkStatement(node: JsonNode, index: number): boolean {
  const where = `statements[${index}]`;
  if (node.kind !== 'object') throw new Failure(node.offset, `${where} must be an object`);
  let effect = false;
  let api = false;
  let condition = false;
  for (const e of node.entries) {
    const v = e.value;
    switch (e.key) {
      case 'effect':
        if (v.kind !== 'string' || (v.value !== 'allow' && v.value !== 'deny'))
          throw new Failure(v.offset, `${where}.effect must be "allow" or "deny"`);
        effect = true;
        break;
      case 'api': {
        const items = v.kind === 'array' ? v.items : [v];
        if (items.length === 0) throw new Failure(v.offset, `${where}.api must name at least one API`);
        if (items.length > MAX_APIS)
          throw new Failure(v.offset, `${where}.api lists more than ${MAX_APIS} APIs`);
        for (const item of items) {
          if (item.kind !== 'string' || !API_PATTERN.test(item.value))
            throw new Failure(
              item.offset,
              `${where}.api: expected "Tag:operationId", "Tag:*", "Tag:prefix*" or "*"`,
            );
        }
        api = true;
        break;
      }
      case 'condition':
        if (v.kind !== 'string') throw new Failure(v.offset, `${where}.condition must be a string`);
        condition = true;
        break;
      default:
        throw new Failure(e.keyOffset, `${where}: unknown property "${e.key}" (effect, api, condition)`);
    }
  }
  if (!effect) throw new Failure(node.offset, `${where} needs "effect"`);
  if (!api) throw new Failure(node.offset, `${where} needs "api"`);
  return condition;
}

/** The document's first problem with its position, or how many statements (and conditions) it has. */
export function checkPolicy(text: string): PolicyCheck {
  const fail = (offset: number, message: string): PolicyCheck => ({
    ok: false,
    ...positionOf(text, offset),
    message,
  });
  if (text.length > MAX_POLICY_LENGTH)
    return fail(MAX_POLICY_LENGTH, `longer than ${MAX_POLICY_LENGTH} characters`);
  const parsed = parseJson(text);
  if (!parsed.ok) return { ok: false, ...parsed.error };
  const root = parsed.value;
  try {
    if (root.kind !== 'object')
      throw new Failure(root.offset, 'a permission is a JSON object {"statements": [...]}');
    let statements: JsonNode | undefined;
    for (const e of root.entries) {
      if (e.key !== 'statements')
        throw new Failure(e.keyOffset, `unknown property "${e.key}" (only "statements")`);
      statements = e.value;
    }
    if (statements === undefined) throw new Failure(root.offset, 'missing "statements"');
    if (statements.kind !== 'array') throw new Failure(statements.offset, '"statements" must be an array');
    if (statements.items.length > MAX_STATEMENTS)
      throw new Failure(statements.offset, `more than ${MAX_STATEMENTS} statements`);
    const conditions = statements.items.map((s, i) => checkStatement(s, i)).filter(Boolean).length;
    return { ok: true, statements: statements.items.length, conditions };
  } catch (e) {
    if (e instanceof Failure) return fail(e.offset, e.message);
    return fail(0, 'the permission cannot be checked');
  }
}

/** A starting document for a new role or user. */
export const EXAMPLE_POLICY = `{
  "statements": [
    { "effect": "allow", "api": ["Sim:list*", "Sim:get*", "Group:list*", "Stats:*"] }
  ]
}`;

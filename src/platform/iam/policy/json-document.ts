// A small, total JSON parser (RFC 8259) for permission documents that keeps the position of every
// value. JSON.parse is not used because its errors do not reliably carry a position, and a policy
// refused at save time must say where it is wrong — also for a semantic error such as
// `"effect": "alow"`, which needs the offset of that value. Duplicate keys are refused: JSON.parse
// keeps the last one silently, so `{"effect":"deny","effect":"allow"}` would read differently to a
// human and to the engine.

import { err, ok, type Result } from '../../../lib/result.js';

export type JsonNode =
  | { readonly kind: 'object'; readonly offset: number; readonly entries: readonly JsonEntry[] }
  | { readonly kind: 'array'; readonly offset: number; readonly items: readonly JsonNode[] }
  | {
      readonly kind: 'string';
      readonly offset: number;
      readonly value: string;
      /** Offset in the document of each decoded character (escapes make them differ). */
      readonly charOffsets: readonly number[];
      /** Offset of the closing quote. */
      readonly end: number;
    }
  | { readonly kind: 'number'; readonly offset: number; readonly value: number }
  | { readonly kind: 'boolean'; readonly offset: number; readonly value: boolean }
  | { readonly kind: 'null'; readonly offset: number };

export interface JsonEntry {
  readonly key: string;
  readonly keyOffset: number;
  readonly value: JsonNode;
}

export interface SourcePosition {
  /** 0-based character offset. */
  readonly offset: number;
  /** 1-based line and column. */
  readonly line: number;
  readonly column: number;
}

export interface JsonSyntaxError extends SourcePosition {
  readonly message: string;
}

/** 1-based line/column of `offset` in `text`. */
export function positionOf(text: string, offset: number): SourcePosition {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { offset, line, column };
}

const MAX_DEPTH = 32;

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class Failure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

/** Parses `text` into positioned nodes; never throws. */
export function parseJson(text: string): Result<JsonNode, JsonSyntaxError> {
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw new Failure(at, message);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r'))
      i++;
  };
  const found = () => (i >= text.length ? 'end of input' : `'${text[i]}'`);

  const parseString = (): JsonNode & { kind: 'string' } => {
    const offset = i;
    i++; // the opening quote
    let value = '';
    const charOffsets: number[] = [];
    while (true) {
      if (i >= text.length) fail('unterminated string', offset);
      const ch = text[i] as string;
      if (ch === '"') {
        i++;
        return { kind: 'string', offset, value, charOffsets, end: i - 1 };
      }
      if (ch === '\\') {
        const esc = text[i + 1] ?? '';
        const simple = ESCAPES[esc];
        if (simple !== undefined) {
          value += simple;
          charOffsets.push(i);
          i += 2;
          continue;
        }
        if (esc === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
          value += String.fromCharCode(Number.parseInt(hex, 16));
          charOffsets.push(i);
          i += 6;
          continue;
        }
        fail('invalid escape sequence');
      }
      if (ch.charCodeAt(0) < 0x20) fail('control character in string');
      value += ch;
      charOffsets.push(i);
      i++;
    }
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    ws();
    const offset = i;
    const ch = text[i];
    if (ch === '{') {
      i++;
      const entries: JsonEntry[] = [];
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', offset, entries };
      }
      while (true) {
        ws();
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${found()}`);
        const keyOffset = i;
        const key = parseString().value;
        if (seen.has(key)) fail(`duplicate property "${key}"`, keyOffset);
        seen.add(key);
        ws();
        if (text[i] !== ':') fail(`expected ':' after the property name, found ${found()}`);
        i++;
        entries.push({ key, keyOffset, value: parseValue(depth + 1) });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { kind: 'object', offset, entries };
        }
        fail(`expected ',' or '}', found ${found()}`);
      }
    }
    if (ch === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'array', offset, items };
      }
      while (true) {
        items.push(parseValue(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { kind: 'array', offset, items };
        }
        fail(`expected ',' or ']', found ${found()}`);
      }
    }
    if (ch === '"') return parseString();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { kind: 'boolean', offset, value };
      }
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return { kind: 'null', offset };
    }
    const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (number) {
      i += number[0].length;
      return { kind: 'number', offset, value: Number(number[0]) };
    }
    return fail(`expected a value, found ${found()}`);
  };

  try {
    const node = parseValue(0);
    ws();
    if (i < text.length) fail(`unexpected ${found()} after the end of the document`);
    return ok(node);
  } catch (e) {
    if (e instanceof Failure) return err({ ...positionOf(text, e.offset), message: e.message });
    // MAX_DEPTH keeps the recursion far from the stack limit; still, never throw past the parser.
    return err({ ...positionOf(text, i), message: 'the document cannot be parsed' });
  }
}

/** The plain value of a node (for echoing a statement back). */
export function plainValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object':
      return Object.fromEntries(node.entries.map((e) => [e.key, plainValue(e.value)]));
    case 'array':
      return node.items.map(plainValue);
    case 'null':
      return null;
    default:
      return node.value;
  }
}

// The condition language of permission statements (SORACOM SAM, reference/soracom.md §3.2):
//
//   condition  := or
//   or         := and ('or' and)*
//   and        := not ('and' not)*
//   not        := 'not' not | comparison
//   comparison := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
//   operand    := '(' condition ')' | call | name | 'string' | "string" | integer | true | false
//
// Names: currentDate (today, 00:00 UTC), currentDateTime (now), samUserName (the calling user).
// Calls: ipAddress('cidr' | 'address', ...), httpMethod('GET', ...), pathVariable('name'),
//        date(y, m, d), dateTime(y, m, d, h, mi, s) — all times UTC.
//
// Parsing is total and also type-checks (a comparison of a date with a string, a bad CIDR or an
// unknown function is refused at save time, with its position), so evaluation can be total too.

import { BlockList, isIP } from 'node:net';
import { err, ok, type Result } from '../../../lib/result.js';

export interface ConditionError {
  readonly message: string;
  /** 0-based offset in the condition text. */
  readonly offset: number;
}

export interface ConditionContext {
  /** Unix ms. */
  readonly now: number;
  readonly sourceIp?: string | undefined;
  readonly method?: string | undefined;
  readonly pathVariables: Readonly<Record<string, string>>;
  readonly userName?: string | undefined;
}

type ValueType = 'boolean' | 'string' | 'time' | 'number';
type Comparator = '==' | '!=' | '<' | '<=' | '>' | '>=';

type Expr =
  | { readonly kind: 'literal'; readonly type: ValueType; readonly value: boolean | string | number }
  | { readonly kind: 'and' | 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'compare'; readonly op: Comparator; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'ipAddress'; readonly blocks: BlockList }
  | { readonly kind: 'httpMethod'; readonly methods: ReadonlySet<string> }
  | { readonly kind: 'pathVariable'; readonly name: string }
  | { readonly kind: 'name'; readonly name: 'currentDate' | 'currentDateTime' | 'samUserName' };

export interface Condition {
  readonly source: string;
  evaluate(context: ConditionContext): boolean;
}

export const MAX_CONDITION_LENGTH = 4096;
const MAX_DEPTH = 64;

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
const NAMES: Readonly<Record<string, ValueType>> = {
  currentDate: 'time',
  currentDateTime: 'time',
  samUserName: 'string',
};
const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false']);

type Token =
  | { readonly t: 'ident'; readonly text: string; readonly at: number }
  | { readonly t: 'string'; readonly text: string; readonly at: number }
  | { readonly t: 'number'; readonly value: number; readonly text: string; readonly at: number }
  | { readonly t: 'punct'; readonly text: string; readonly at: number }
  | { readonly t: 'end'; readonly text: ''; readonly at: number };

class Failure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const at = i;
    if (/[A-Za-z_]/.test(ch)) {
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i] as string)) i++;
      out.push({ t: 'ident', text: src.slice(at, i), at });
      continue;
    }
    if (/[0-9]/.test(ch)) {
      while (i < src.length && /[0-9]/.test(src[i] as string)) i++;
      const text = src.slice(at, i);
      if (text.length > 9) throw new Failure(at, 'number too large');
      out.push({ t: 'number', value: Number(text), text, at });
      continue;
    }
    if (ch === "'" || ch === '"') {
      i++;
      let text = '';
      while (true) {
        if (i >= src.length) throw new Failure(at, 'unterminated string');
        const c = src[i] as string;
        if (c === ch) {
          i++;
          break;
        }
        if (c === '\\') {
          const next = src[i + 1];
          if (next !== "'" && next !== '"' && next !== '\\') {
            throw new Failure(i, 'only \\\', \\" and \\\\ escapes are allowed in a string');
          }
          text += next;
          i += 2;
          continue;
        }
        text += c;
        i++;
      }
      out.push({ t: 'string', text, at });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      out.push({ t: 'punct', text: two, at });
      i += 2;
      continue;
    }
    if ('()<>,'.includes(ch)) {
      out.push({ t: 'punct', text: ch, at });
      i++;
      continue;
    }
    if (ch === '=') throw new Failure(at, "unexpected '='; compare with '=='");
    throw new Failure(at, `unexpected character '${ch}'`);
  }
  out.push({ t: 'end', text: '', at: src.length });
  return out;
}

const describe = (t: Token) => (t.t === 'end' ? 'the end of the condition' : `'${t.text}'`);

/** Parses and type-checks `source`; never throws. */
export function parseCondition(source: string): Result<Condition, ConditionError> {
  if (source.length > MAX_CONDITION_LENGTH) {
    return err({ offset: MAX_CONDITION_LENGTH, message: `longer than ${MAX_CONDITION_LENGTH} characters` });
  }
  try {
    const tokens = tokenize(source);
    let p = 0;
    const peek = () => tokens[p] as Token;
    const next = () => tokens[p++] as Token;
    const isWord = (t: Token, w: string) => t.t === 'ident' && t.text === w;
    const isPunct = (t: Token, s: string) => t.t === 'punct' && t.text === s;
    const expect = (s: string) => {
      const t = next();
      if (!isPunct(t, s)) throw new Failure(t.at, `expected '${s}' but found ${describe(t)}`);
    };

    // Each parse function returns the node and its static type.
    type Typed = { expr: Expr; type: ValueType; at: number };
    const requireBoolean = (x: Typed, what: string): Expr => {
      if (x.type !== 'boolean') throw new Failure(x.at, `${what} needs a true/false value, not a ${x.type}`);
      return x.expr;
    };

    const parseOr = (depth: number): Typed => {
      let left = parseAnd(depth);
      while (isWord(peek(), 'or')) {
        const op = next();
        const right = parseAnd(depth);
        left = {
          expr: { kind: 'or', left: requireBoolean(left, "'or'"), right: requireBoolean(right, "'or'") },
          type: 'boolean',
          at: op.at,
        };
      }
      return left;
    };
    const parseAnd = (depth: number): Typed => {
      let left = parseNot(depth);
      while (isWord(peek(), 'and')) {
        const op = next();
        const right = parseNot(depth);
        left = {
          expr: { kind: 'and', left: requireBoolean(left, "'and'"), right: requireBoolean(right, "'and'") },
          type: 'boolean',
          at: op.at,
        };
      }
      return left;
    };
    const parseNot = (depth: number): Typed => {
      if (depth > MAX_DEPTH) throw new Failure(peek().at, `nested deeper than ${MAX_DEPTH} levels`);
      if (isWord(peek(), 'not')) {
        const op = next();
        const operand = parseNot(depth + 1);
        return {
          expr: { kind: 'not', operand: requireBoolean(operand, "'not'") },
          type: 'boolean',
          at: op.at,
        };
      }
      return parseComparison(depth);
    };
    const parseComparison = (depth: number): Typed => {
      const left = parseOperand(depth);
      const t = peek();
      if (t.t !== 'punct' || !['==', '!=', '<', '<=', '>', '>='].includes(t.text)) return left;
      next();
      const op = t.text as Comparator;
      const right = parseOperand(depth);
      if (left.type !== right.type) {
        throw new Failure(t.at, `'${op}' compares a ${left.type} with a ${right.type}`);
      }
      if (op !== '==' && op !== '!=' && left.type !== 'time' && left.type !== 'number') {
        throw new Failure(t.at, `'${op}' orders dates and numbers only, not a ${left.type}`);
      }
      return {
        expr: { kind: 'compare', op, left: left.expr, right: right.expr },
        type: 'boolean',
        at: left.at,
      };
    };
    const parseOperand = (depth: number): Typed => {
      const t = next();
      if (isPunct(t, '(')) {
        const inner = parseOr(depth + 1);
        expect(')');
        return inner;
      }
      if (t.t === 'string')
        return { expr: { kind: 'literal', type: 'string', value: t.text }, type: 'string', at: t.at };
      if (t.t === 'number')
        return { expr: { kind: 'literal', type: 'number', value: t.value }, type: 'number', at: t.at };
      if (t.t === 'ident') {
        if (t.text === 'true' || t.text === 'false') {
          return {
            expr: { kind: 'literal', type: 'boolean', value: t.text === 'true' },
            type: 'boolean',
            at: t.at,
          };
        }
        if (KEYWORDS.has(t.text)) throw new Failure(t.at, `expected a value but found '${t.text}'`);
        if (isPunct(peek(), '(')) return parseCall(t);
        // Own names only: `constructor` or `toString` must not find Object.prototype's members.
        const type = Object.hasOwn(NAMES, t.text) ? NAMES[t.text] : undefined;
        if (type === undefined) {
          throw new Failure(t.at, `unknown name '${t.text}' (known: ${Object.keys(NAMES).join(', ')})`);
        }
        return { expr: { kind: 'name', name: t.text as 'currentDate' }, type, at: t.at };
      }
      throw new Failure(t.at, `expected a value but found ${describe(t)}`);
    };
    // Arguments are literals only, so every call is checked (and its CIDRs compiled) at save time.
    const parseArgs = (): Array<Token & { t: 'string' | 'number' }> => {
      expect('(');
      const args: Array<Token & { t: 'string' | 'number' }> = [];
      if (isPunct(peek(), ')')) {
        next();
        return args;
      }
      while (true) {
        const a = next();
        if (a.t !== 'string' && a.t !== 'number') {
          throw new Failure(
            a.at,
            `a function argument must be a quoted string or a number, found ${describe(a)}`,
          );
        }
        args.push(a);
        const sep = next();
        if (isPunct(sep, ')')) return args;
        if (!isPunct(sep, ',')) throw new Failure(sep.at, `expected ',' or ')' but found ${describe(sep)}`);
      }
    };
    const strings = (
      name: string,
      args: Token[],
      at: number,
      min: number,
      max: number,
    ): Array<Token & { t: 'string' }> => {
      if (args.length < min || args.length > max) {
        throw new Failure(
          at,
          `${name}() takes ${min === max ? min : `${min} or more`} quoted argument${max === 1 ? '' : 's'}`,
        );
      }
      for (const a of args) if (a.t !== 'string') throw new Failure(a.at, `${name}() takes quoted strings`);
      return args as Array<Token & { t: 'string' }>;
    };
    const numbers = (name: string, args: Token[], at: number, count: number): number[] => {
      if (args.length !== count) throw new Failure(at, `${name}() takes ${count} numbers`);
      return args.map((a) => {
        if (a.t !== 'number') throw new Failure(a.at, `${name}() takes numbers`);
        return a.value;
      });
    };
    const parseCall = (fn: Token): Typed => {
      const at = fn.at;
      const args = parseArgs();
      switch (fn.text) {
        case 'ipAddress': {
          const blocks = new BlockList();
          for (const a of strings('ipAddress', args, at, 1, 100)) {
            const [address = '', prefixText, extra] = a.text.split('/');
            const family = isIP(address);
            const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
            if (
              family === 0 ||
              extra !== undefined ||
              (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) ||
              prefix > (family === 6 ? 128 : 32)
            ) {
              throw new Failure(a.at, `'${a.text}' is not an IP address or CIDR block`);
            }
            blocks.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
          }
          return { expr: { kind: 'ipAddress', blocks }, type: 'boolean', at };
        }
        case 'httpMethod': {
          const methods = new Set<string>();
          for (const a of strings('httpMethod', args, at, 1, 10)) {
            const m = a.text.toUpperCase();
            if (!HTTP_METHODS.has(m)) throw new Failure(a.at, `'${a.text}' is not an HTTP method`);
            methods.add(m);
          }
          return { expr: { kind: 'httpMethod', methods }, type: 'boolean', at };
        }
        case 'pathVariable': {
          const [name] = strings('pathVariable', args, at, 1, 1);
          if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name?.text ?? '')) {
            throw new Failure(name?.at ?? at, 'pathVariable() takes a path variable name such as sim_id');
          }
          return { expr: { kind: 'pathVariable', name: name?.text ?? '' }, type: 'string', at };
        }
        case 'date':
        case 'dateTime': {
          const n = numbers(fn.text, args, at, fn.text === 'date' ? 3 : 6);
          const [y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0] = n;
          const value = Date.UTC(y, mo - 1, d, h, mi, s);
          const back = new Date(value);
          if (
            y < 1970 ||
            y > 9999 ||
            back.getUTCFullYear() !== y ||
            back.getUTCMonth() !== mo - 1 ||
            back.getUTCDate() !== d ||
            back.getUTCHours() !== h ||
            back.getUTCMinutes() !== mi ||
            back.getUTCSeconds() !== s
          ) {
            throw new Failure(
              at,
              `${fn.text}(${n.join(', ')}) is not a valid ${fn.text === 'date' ? 'date' : 'date and time'}`,
            );
          }
          return { expr: { kind: 'literal', type: 'time', value }, type: 'time', at };
        }
        default:
          throw new Failure(
            at,
            `unknown function '${fn.text}' (known: ipAddress, httpMethod, pathVariable, date, dateTime)`,
          );
      }
    };

    if (peek().t === 'end') throw new Failure(0, 'the condition is empty');
    const root = parseOr(0);
    const rest = peek();
    if (rest.t !== 'end') throw new Failure(rest.at, `unexpected ${describe(rest)}`);
    const expr = requireBoolean(root, 'a condition');
    return ok({ source, evaluate: (context) => evaluate(expr, context) === true });
  } catch (e) {
    if (e instanceof Failure) return err({ offset: e.offset, message: e.message });
    return err({ offset: 0, message: 'the condition cannot be parsed' });
  }
}

/** IPv4-mapped IPv6 (a dual-stack listener's view of an IPv4 client) is matched as IPv4. */
function normaliseAddress(ip: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  const address = mapped?.[1] ?? ip;
  const family = isIP(address);
  return family === 0 ? undefined : { address, family: family === 6 ? 'ipv6' : 'ipv4' };
}

const DAY_MS = 86_400_000;

function evaluate(e: Expr, c: ConditionContext): boolean | string | number | undefined {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'and':
      return evaluate(e.left, c) === true && evaluate(e.right, c) === true;
    case 'or':
      return evaluate(e.left, c) === true || evaluate(e.right, c) === true;
    case 'not':
      return evaluate(e.operand, c) !== true;
    case 'ipAddress': {
      const a = c.sourceIp === undefined ? undefined : normaliseAddress(c.sourceIp);
      return a !== undefined && e.blocks.check(a.address, a.family);
    }
    case 'httpMethod':
      return c.method !== undefined && e.methods.has(c.method.toUpperCase());
    case 'pathVariable':
      return Object.hasOwn(c.pathVariables, e.name) ? c.pathVariables[e.name] : undefined;
    case 'name':
      if (e.name === 'samUserName') return c.userName;
      return e.name === 'currentDate' ? Math.floor(c.now / DAY_MS) * DAY_MS : c.now;
    case 'compare': {
      const l = evaluate(e.left, c);
      const r = evaluate(e.right, c);
      // A missing value (no such path variable, root has no user name) equals nothing.
      if (l === undefined || r === undefined) return e.op === '!=';
      switch (e.op) {
        case '==':
          return l === r;
        case '!=':
          return l !== r;
        case '<':
          return l < r;
        case '<=':
          return l <= r;
        case '>':
          return l > r;
        case '>=':
          return l >= r;
      }
    }
  }
}

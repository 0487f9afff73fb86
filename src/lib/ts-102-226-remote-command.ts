// ETSI TS 102 226 (Remote APDU structure for UICC based applications): what travels as the secured
// data of an SCP80 packet.
//   §5.1.2  compact response: number of commands ‖ last status word ‖ last response data
//   §5.2.1  expanded command: Command Scripting template AA L {…} (definite) or AE 80 {…} 00 00
//           (indefinite) holding C-APDU (22), Immediate Action (81), Error Action (82), Script
//           Chaining (83) objects
//   §5.2.2  expanded response: Response Scripting template AB L {…} or AF 80 {…} 00 00 holding
//           Number of executed C-APDUs (80), R-APDU (23), Immediate Action Response (81), Script
//           Chaining Response (83), Bad Format (90)
// Tags are those of TS 101 220 Table 7.18/7.19. Decoders are total; lengths must be minimal (as every
// encoder writes them), so whatever decodes re-encodes to the same bytes.

import { concatBytes, decodeBerTlvAt, encodeBerTlv, encodeLength, encodeTag } from './ber-tlv.js';
import { decodeError, ok, type Result } from './result.js';

export type ScriptForm = 'definite' | 'indefinite';

export type CommandScriptItem =
  | { readonly type: 'c-apdu'; readonly apdu: Uint8Array }
  | { readonly type: 'immediate-action'; readonly value: Uint8Array }
  | { readonly type: 'error-action'; readonly value: Uint8Array }
  | { readonly type: 'script-chaining'; readonly value: Uint8Array };

export type ResponseScriptItem =
  | { readonly type: 'executed'; readonly count: number }
  | { readonly type: 'r-apdu'; readonly data: Uint8Array; readonly statusWord: Uint8Array }
  | { readonly type: 'immediate-action-response'; readonly value: Uint8Array }
  | { readonly type: 'script-chaining-response'; readonly value: Uint8Array }
  | { readonly type: 'bad-format'; readonly value: Uint8Array };

export interface CommandScript {
  readonly form: ScriptForm;
  readonly items: readonly CommandScriptItem[];
}

export interface ResponseScript {
  readonly form: ScriptForm;
  readonly items: readonly ResponseScriptItem[];
}

interface ElementSpec<I extends { type: string }> {
  readonly tag: number;
  readonly type: I['type'];
  readonly spec: string;
  /** The whole object (tag, length, value) as an example. */
  readonly example: string;
  decode(value: Uint8Array): Result<I>;
  encode(item: I): Uint8Array;
}

const raw =
  <I extends { type: string; value: Uint8Array }>(type: I['type']) =>
  (value: Uint8Array): Result<I> =>
    ok({ type, value: value.slice() } as unknown as I);

/** TS 102 226 §5.2.1: the objects a Command Scripting template may hold, declared once with examples. */
export const COMMAND_SCRIPT_ELEMENTS: readonly ElementSpec<CommandScriptItem>[] = [
  {
    tag: 0x22,
    type: 'c-apdu',
    spec: 'TS 102 226 §5.2.1, TS 101 220 Table 7.19',
    example: '220780f24002024f00',
    decode: (value) => ok({ type: 'c-apdu', apdu: value.slice() }),
    encode: (item) => (item.type === 'c-apdu' ? item.apdu : new Uint8Array(0)),
  },
  {
    tag: 0x81,
    type: 'immediate-action',
    spec: 'TS 102 226 §5.2.1',
    example: '810101',
    decode: raw('immediate-action'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
  {
    tag: 0x82,
    type: 'error-action',
    spec: 'TS 102 226 §5.2.1',
    example: '8200',
    decode: raw('error-action'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
  {
    tag: 0x83,
    type: 'script-chaining',
    spec: 'TS 102 226 §5.2.1',
    example: '830101',
    decode: raw('script-chaining'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
];

/** TS 102 226 §5.2.2: the objects a Response Scripting template may hold. */
export const RESPONSE_SCRIPT_ELEMENTS: readonly ElementSpec<ResponseScriptItem>[] = [
  {
    tag: 0x80,
    type: 'executed',
    spec: 'TS 102 226 §5.2.2 (Number of executed C-APDUs)',
    example: '800101',
    decode: (value) =>
      value.length === 1
        ? ok({ type: 'executed', count: value[0] as number })
        : decodeError('REMOTE_EXECUTED_LENGTH', 'the number of executed C-APDUs is one octet'),
    encode: (item) => (item.type === 'executed' ? Uint8Array.of(item.count) : new Uint8Array(0)),
  },
  {
    tag: 0x23,
    type: 'r-apdu',
    spec: 'TS 102 226 §5.2.2, TS 101 220 Table 7.19',
    example: '23026132',
    decode: (value) =>
      value.length >= 2
        ? ok({ type: 'r-apdu', data: value.slice(0, -2), statusWord: value.slice(-2) })
        : decodeError('REMOTE_R_APDU_LENGTH', 'an R-APDU ends with a two-octet status word'),
    encode: (item) =>
      item.type === 'r-apdu' ? concatBytes([item.data, item.statusWord]) : new Uint8Array(0),
  },
  {
    tag: 0x81,
    type: 'immediate-action-response',
    spec: 'TS 102 226 §5.2.2',
    example: '810101',
    decode: raw('immediate-action-response'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
  {
    tag: 0x83,
    type: 'script-chaining-response',
    spec: 'TS 102 226 §5.2.2',
    example: '830102',
    decode: raw('script-chaining-response'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
  {
    tag: 0x90,
    type: 'bad-format',
    spec: 'TS 102 226 §5.2.2 (Bad format: 01 unknown tag, 02 length error, 03 length not found)',
    example: '900101',
    decode: raw('bad-format'),
    encode: (item) => ('value' in item ? item.value : new Uint8Array(0)),
  },
];

const TEMPLATE = {
  command: { definite: 0xaa, indefinite: 0xae },
  response: { definite: 0xab, indefinite: 0xaf },
} as const;

/** Walk the objects of a template body; for the indefinite form stop at 00 00, which must end the input. */
function decodeItems<I extends { type: string }>(
  bytes: Uint8Array,
  start: number,
  end: number,
  indefinite: boolean,
  elements: readonly ElementSpec<I>[],
): Result<I[]> {
  const items: I[] = [];
  let at = start;
  for (;;) {
    if (indefinite) {
      if (at + 2 <= end && bytes[at] === 0 && bytes[at + 1] === 0) {
        if (at + 2 !== end)
          return decodeError('REMOTE_TRAILING', 'bytes after the end-of-contents 00 00', at + 2);
        return ok(items);
      }
      if (at >= end)
        return decodeError('REMOTE_TRUNCATED', 'the indefinite template has no end-of-contents 00 00', at);
    } else if (at === end) {
      return ok(items);
    }
    const one = decodeBerTlvAt(bytes.subarray(0, end), at);
    if (!one.ok) return one;
    const { tlv, next } = one.value;
    const minimal = encodeTag(tlv.tag).length + encodeLength(tlv.value.length).length + tlv.value.length;
    if (next - at !== minimal) return decodeError('REMOTE_LENGTH', 'the length is not minimally encoded', at);
    const spec = elements.find((e) => e.tag === tlv.tag);
    if (!spec)
      return decodeError('REMOTE_UNKNOWN_TAG', `tag ${tlv.tag.toString(16)} is not allowed here`, at);
    const item = spec.decode(tlv.value);
    if (!item.ok) return decodeError(item.error.code, item.error.message, at);
    items.push(item.value);
    at = next;
  }
}

function decodeTemplate<I extends { type: string }>(
  bytes: Uint8Array,
  tags: { definite: number; indefinite: number },
  elements: readonly ElementSpec<I>[],
): Result<{ form: ScriptForm; items: I[] }> {
  const first = bytes[0];
  if (first === tags.indefinite) {
    if (bytes[1] !== 0x80)
      return decodeError('REMOTE_TEMPLATE', 'the indefinite form has length octet 80', 1);
    const items = decodeItems(bytes, 2, bytes.length, true, elements);
    return items.ok ? ok({ form: 'indefinite', items: items.value }) : items;
  }
  if (first !== tags.definite)
    return decodeError(
      'REMOTE_TEMPLATE',
      `expected template tag ${tags.definite.toString(16)} or ${tags.indefinite.toString(16)}`,
      0,
    );
  const outer = decodeBerTlvAt(bytes, 0);
  if (!outer.ok) return outer;
  if (outer.value.next !== bytes.length)
    return decodeError('REMOTE_TRAILING', 'bytes after the template', outer.value.next);
  const valueStart = bytes.length - outer.value.tlv.value.length;
  if (valueStart !== 1 + encodeLength(outer.value.tlv.value.length).length)
    return decodeError('REMOTE_LENGTH', 'the template length is not minimally encoded', 1);
  const items = decodeItems(bytes, valueStart, bytes.length, false, elements);
  return items.ok ? ok({ form: 'definite', items: items.value }) : items;
}

function encodeTemplate<I extends { type: string }>(
  form: ScriptForm,
  items: readonly I[],
  tags: { definite: number; indefinite: number },
  elements: readonly ElementSpec<I>[],
): Uint8Array {
  const body = concatBytes(
    items.map((item) => {
      const spec = elements.find((e) => e.type === item.type) as ElementSpec<I>;
      return encodeBerTlv(spec.tag, spec.encode(item));
    }),
  );
  if (form === 'definite') return encodeBerTlv(tags.definite, body);
  return concatBytes([Uint8Array.of(tags.indefinite, 0x80), body, Uint8Array.of(0, 0)]);
}

/** TS 102 226 §5.2.1: decode a Command Scripting template (AA definite or AE indefinite). */
export const decodeCommandScript = (bytes: Uint8Array): Result<CommandScript> =>
  decodeTemplate(bytes, TEMPLATE.command, COMMAND_SCRIPT_ELEMENTS);

export const encodeCommandScript = (script: CommandScript): Uint8Array =>
  encodeTemplate(script.form, script.items, TEMPLATE.command, COMMAND_SCRIPT_ELEMENTS);

/** A Command Scripting template of C-APDUs only, the usual case. */
export const commandScript = (apdus: readonly Uint8Array[], form: ScriptForm = 'definite'): Uint8Array =>
  encodeCommandScript({ form, items: apdus.map((apdu) => ({ type: 'c-apdu', apdu })) });

/** TS 102 226 §5.2.2: decode a Response Scripting template (AB definite or AF indefinite). */
export const decodeResponseScript = (bytes: Uint8Array): Result<ResponseScript> =>
  decodeTemplate(bytes, TEMPLATE.response, RESPONSE_SCRIPT_ELEMENTS);

export const encodeResponseScript = (script: ResponseScript): Uint8Array =>
  encodeTemplate(script.form, script.items, TEMPLATE.response, RESPONSE_SCRIPT_ELEMENTS);

/**
 * The card's answer to a script: `80 01 n` then one R-APDU per executed command (definite form), as
 * TS 102 226 §5.2.2 has it; the indefinite form carries no count.
 */
export function responseScript(
  responses: readonly { data: Uint8Array; statusWord: Uint8Array }[],
  form: ScriptForm = 'definite',
): Uint8Array {
  const rApdus = responses.map((r) => ({ type: 'r-apdu', data: r.data, statusWord: r.statusWord }) as const);
  const items: ResponseScriptItem[] =
    form === 'definite' ? [{ type: 'executed', count: responses.length }, ...rApdus] : rApdus;
  return encodeResponseScript({ form, items });
}

/** The last R-APDU of a response script, and the number of executed commands (counted when not stated). */
export function lastResponse(
  script: ResponseScript,
): { executed: number; statusWord: Uint8Array; data: Uint8Array } | undefined {
  const rApdus = script.items.filter((i) => i.type === 'r-apdu');
  const last = rApdus[rApdus.length - 1];
  if (!last) return undefined;
  const stated = script.items.find((i) => i.type === 'executed');
  return { executed: stated ? stated.count : rApdus.length, statusWord: last.statusWord, data: last.data };
}

// ---------------------------------------------------------------------------------------------------
// Compact response — TS 102 226 §5.1.2

export interface CompactResponse {
  /** Number of commands executed. */
  readonly commands: number;
  /** Status word of the last executed command. */
  readonly statusWord: Uint8Array;
  /** Response data of the last executed command, if any. */
  readonly data: Uint8Array;
}

export function decodeCompactResponse(bytes: Uint8Array): Result<CompactResponse> {
  if (bytes.length < 3)
    return decodeError('REMOTE_COMPACT_TRUNCATED', 'a compact response has a count and a status word');
  return ok({ commands: bytes[0] as number, statusWord: bytes.slice(1, 3), data: bytes.slice(3) });
}

export function encodeCompactResponse(response: CompactResponse): Uint8Array {
  if (!Number.isInteger(response.commands) || response.commands < 0 || response.commands > 0xff)
    throw new RangeError('the number of commands is one octet');
  if (response.statusWord.length !== 2) throw new RangeError('the status word is two octets');
  return concatBytes([Uint8Array.of(response.commands), response.statusWord, response.data]);
}

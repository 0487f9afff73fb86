// Checks shared by everything that turns request data into a redirect (CWE-601, open redirect): the
// gateway's `return_to`, the token listener's `redirect_url`. A string check on the raw value is not
// enough — the browser resolves it first (WHATWG URL: `\` is `/` in http(s) URLs, tabs and newlines
// vanish, `.`/`..`/`%2e%2e` segments are removed) and a server behind the redirect may decode it
// again (`%2f` → `/`, `%5c` → `\`). So callers parse the candidate the way the browser will, compare
// origins on the parsed URL, run its path through `pathLayers` (every percent-decoding of it must
// still be a plain path) and emit the URL re-serialised, never the raw text.

import { type DecodeError, decodeError, ok, type Result } from './result.js';

/** Longest redirect target taken from a request. */
export const MAX_REDIRECT_LENGTH = 2048;

/** Decodings followed before a path counts as too deeply encoded to be anything legitimate. */
const MAX_DECODINGS = 3;

// C0 controls, DEL and C1 controls: browsers strip or drop some of them while parsing a URL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Any whitespace in the raw text (a URL from a request never needs it unencoded).
const WHITESPACE = /\s/;

/**
 * The raw text before parsing: bounded, no control characters or whitespace (which URL parsing
 * would silently drop, so what was checked would not be what is followed) and no backslash (a `/`
 * to the browser).
 */
export function checkRawRedirect(raw: unknown): Result<string, DecodeError> {
  if (typeof raw !== 'string' || raw.length === 0) return decodeError('REDIRECT_EMPTY', 'no redirect target');
  if (raw.length > MAX_REDIRECT_LENGTH) {
    return decodeError(
      'REDIRECT_TOO_LONG',
      `a redirect target has at most ${MAX_REDIRECT_LENGTH} characters`,
    );
  }
  if (CONTROL.test(raw) || WHITESPACE.test(raw)) {
    return decodeError('REDIRECT_CONTROL', 'control characters or whitespace in the redirect target');
  }
  if (raw.includes('\\')) return decodeError('REDIRECT_BACKSLASH', 'a backslash in the redirect target');
  return ok(raw);
}

/** Percent-decoding of one layer (RFC 3986 §2.1); total: a `%` not followed by two hex digits stays. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  // TextEncoder rather than Buffer: the console imports this module in the browser.
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = Number.parseInt(String.fromCharCode(bytes[i + 1] as number, bytes[i + 2] as number), 16);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  // Invalid UTF-8 becomes U+FFFD: it is text nobody can turn into a separator.
  return new TextDecoder('utf-8').decode(out.subarray(0, n));
}

const isHex = (b: number | undefined) =>
  b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

/** A dot segment as a browser or an upstream server reads it (`..;x` is `..` to Java servlet containers). */
const DOT_SEGMENT = /^\.{1,2}(?:;.*)?$/;

function checkLayer(path: string): Result<string, DecodeError> {
  if (!path.startsWith('/')) return decodeError('REDIRECT_NOT_A_PATH', 'the path does not start with /');
  if (path.startsWith('//')) {
    return decodeError('REDIRECT_AUTHORITY', 'the path starts with // and would name another host');
  }
  if (CONTROL.test(path)) return decodeError('REDIRECT_CONTROL', 'an encoded control character in the path');
  if (path.includes('\\')) return decodeError('REDIRECT_BACKSLASH', 'an encoded backslash in the path');
  if (path.split('/').some((segment) => DOT_SEGMENT.test(segment))) {
    return decodeError('REDIRECT_DOT_SEGMENT', 'an encoded . or .. segment in the path');
  }
  return ok(path);
}

/**
 * A parsed URL's path (`url.pathname`, already free of literal dot segments) and each successive
 * percent-decoding of it, until decoding changes nothing. Every layer must start with exactly one
 * `/` and hold no control character, backslash or dot segment; the caller checks its own rule
 * (prefix, allowed path) on every layer, so `/app/..%2f..%2fadmin` cannot pass as `/app/…`.
 */
export function pathLayers(pathname: string): Result<readonly string[], DecodeError> {
  const layers: string[] = [];
  let current = pathname;
  for (let round = 0; round <= MAX_DECODINGS; round++) {
    const checked = checkLayer(current);
    if (!checked.ok) return checked;
    layers.push(current);
    const next = percentDecode(current);
    if (next === current) return ok(layers);
    current = next;
  }
  return decodeError('REDIRECT_ENCODING', `the path is percent-encoded more than ${MAX_DECODINGS} times`);
}

/** `path` equals `base` or lies below it at a `/` boundary (`/app` covers `/app/x`, not `/app2`). */
export function pathWithin(path: string, base: string): boolean {
  if (base === '/' || path === base) return true;
  const dir = base.endsWith('/') ? base : `${base}/`;
  return path.startsWith(dir) || `${path}/` === dir;
}

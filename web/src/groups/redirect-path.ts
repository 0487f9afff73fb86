// pathLayers of src/lib/redirect-target.ts for the browser (that module decodes with node's Buffer):
// a URL path and each successive percent-decoding of it must stay a plain path — starting with one
// `/`, no control character, backslash or dot segment. test/web/group-configuration.test.ts checks
// that both give the same verdict on generated hostile paths.

const MAX_DECODINGS = 3;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DOT_SEGMENT = /^\.{1,2}(?:;.*)?$/;

const isHex = (b: number | undefined) =>
  b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

/** RFC 3986 §2.1 percent-decoding of one layer; a `%` without two hex digits stays; bad UTF-8 → U+FFFD. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = Number.parseInt(String.fromCharCode(bytes[i + 1] as number, bytes[i + 2] as number), 16);
      i += 2;
    } else out[n++] = b;
  }
  return new TextDecoder('utf-8').decode(out.subarray(0, n));
}

const plainLayer = (path: string): boolean =>
  path.startsWith('/') &&
  !path.startsWith('//') &&
  !CONTROL.test(path) &&
  !path.includes('\\') &&
  !path.split('/').some((segment) => DOT_SEGMENT.test(segment));

/** Whether the path and every decoding of it (at most three) is a plain path. */
export function plainPathLayers(pathname: string): boolean {
  let current = pathname;
  for (let round = 0; round <= MAX_DECODINGS; round++) {
    if (!plainLayer(current)) return false;
    const next = percentDecode(current);
    if (next === current) return true;
    current = next;
  }
  return false;
}

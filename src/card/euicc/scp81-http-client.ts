// The card's HTTP/1.1 client for RAM over HTTP (GP Amd B §3.3–§3.5, RFC 9112): it writes POST requests
// and reads the administration server's responses from the PSK-TLS stream. A card has little memory, so
// the parser is incremental, bounded (header block and body) and total: bytes give a response, "need
// more", or a typed error — never an exception. Bodies come with Content-Length or chunked.

import { concatBytes } from '../../lib/ber-tlv.js';
import { decodeError, ok, type Result } from '../../lib/result.js';

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; a repeated header keeps its first value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
}

export const MAX_HEADER_BYTES = 4096;
export const MAX_BODY_BYTES = 65536;

const latin1 = new TextDecoder('latin1');
const ascii = new TextEncoder();

export function encodeRequest(r: {
  uri: string;
  host: string;
  headers: readonly (readonly [string, string])[];
  body: Uint8Array;
}): Uint8Array {
  const lines = [
    `POST ${r.uri} HTTP/1.1`,
    `Host: ${r.host}`,
    ...r.headers.map(([n, v]) => `${n}: ${v}`),
    `Content-Length: ${r.body.length}`,
    '',
    '',
  ];
  return concatBytes([ascii.encode(lines.join('\r\n')), r.body]);
}

function indexOfCrlfCrlf(b: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < b.length; i++)
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

function indexOfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

type Parsed = Result<{ response: HttpResponse; used: number } | undefined>;

/** One response from the start of `b`; undefined while more bytes are needed. */
export function parseResponse(b: Uint8Array): Parsed {
  const end = indexOfCrlfCrlf(b);
  if (end < 0) {
    return b.length > MAX_HEADER_BYTES
      ? decodeError('HTTP_HEADER_TOO_LARGE', 'header block too large')
      : ok(undefined);
  }
  if (end > MAX_HEADER_BYTES) return decodeError('HTTP_HEADER_TOO_LARGE', 'header block too large');
  const lines = latin1.decode(b.subarray(0, end)).split('\r\n');
  const m = /^HTTP\/1\.[01] ([1-5][0-9]{2})(?: .*)?$/.exec(lines[0] ?? '');
  if (m === null) return decodeError('HTTP_STATUS_LINE', 'bad status line');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, colon)))
      return decodeError('HTTP_HEADER', 'bad header line');
    const name = line.slice(0, colon).toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  const status = Number(m[1]);
  const start = end + 4;
  const te = headers.get('transfer-encoding');
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked')
      return decodeError('HTTP_TRANSFER_ENCODING', 'only chunked is understood');
    return parseChunked(b, start, status, headers);
  }
  const cl = headers.get('content-length');
  if (cl === undefined) {
    // 204 and 1xx/304 have no body; anything else needs a length on a kept-alive connection.
    if (status === 204 || status === 304 || status < 200)
      return ok({ response: { status, headers, body: new Uint8Array(0) }, used: start });
    return decodeError('HTTP_LENGTH', 'response without Content-Length or chunked body');
  }
  if (!/^[0-9]{1,7}$/.test(cl)) return decodeError('HTTP_LENGTH', 'bad Content-Length');
  const n = Number(cl);
  if (n > MAX_BODY_BYTES) return decodeError('HTTP_BODY_TOO_LARGE', 'body too large');
  if (b.length < start + n) return ok(undefined);
  return ok({ response: { status, headers, body: b.slice(start, start + n) }, used: start + n });
}

function parseChunked(b: Uint8Array, from: number, status: number, headers: Map<string, string>): Parsed {
  const parts: Uint8Array[] = [];
  let total = 0;
  let at = from;
  for (;;) {
    const eol = indexOfCrlf(b, at);
    if (eol < 0) return b.length - at > 64 ? decodeError('HTTP_CHUNK', 'bad chunk size line') : ok(undefined);
    const sizeText = latin1.decode(b.subarray(at, eol)).split(';')[0]?.trim() ?? '';
    if (!/^[0-9A-Fa-f]{1,6}$/.test(sizeText)) return decodeError('HTTP_CHUNK', 'bad chunk size');
    const size = Number.parseInt(sizeText, 16);
    at = eol + 2;
    if (size === 0) {
      // No trailers are expected: the final CRLF ends the message.
      if (b.length < at + 2) return ok(undefined);
      if (b[at] !== 13 || b[at + 1] !== 10) return decodeError('HTTP_CHUNK', 'trailers are not supported');
      return ok({ response: { status, headers, body: concatBytes(parts) }, used: at + 2 });
    }
    total += size;
    if (total > MAX_BODY_BYTES) return decodeError('HTTP_BODY_TOO_LARGE', 'body too large');
    if (b.length < at + size + 2) return ok(undefined);
    if (b[at + size] !== 13 || b[at + size + 1] !== 10)
      return decodeError('HTTP_CHUNK', 'chunk not followed by CRLF');
    parts.push(b.slice(at, at + size));
    at += size + 2;
  }
}

/** Feeds a stream of bytes and hands out complete responses in order. */
export class ResponseReader {
  #buffer: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): void {
    this.#buffer = concatBytes([this.#buffer, bytes]);
  }

  /** A complete response, undefined (need more), or an error (the stream is unusable after it). */
  next(): Result<HttpResponse | undefined> {
    const r = parseResponse(this.#buffer);
    if (!r.ok || r.value === undefined) return r.ok ? ok(undefined) : r;
    this.#buffer = this.#buffer.slice(r.value.used);
    return ok(r.value.response);
  }
}

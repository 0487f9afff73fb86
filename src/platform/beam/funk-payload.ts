// What Funk sends to the function for the device's data, and what it hands back to a TCP or UDP
// device (SORACOM: users.soracom.io/ja-jp/docs/funk/format and /funk/response).
//
// Request body by contentType (funk-config.ts):
//   json    the data itself, which must parse as JSON (else the device gets 400 and nothing is sent)
//   text    {"payload": "<data as UTF-8>"}
//   binary  {"payload": "<data in Base64>"}
//   unspecified: TCP and UDP as binary; HTTP by the request's Content-Type — application/json
//           (or +json) as json, text/* as text, anything else as binary.
// The body always goes with Content-Type: application/json, as SORACOM's Funk sends it.
//
// Answer to a TCP/UDP device ("SORACOM Funk format"): "<status> " then the function's response
// bytes unchanged (text stays text, binary stays binary, nothing is Base64-encoded); with
// skipStatusCode only the bytes.

import { err, ok, type Result } from '../../lib/result.js';
import type { FunkContentType } from './funk-config.js';

export type FunkEntryPoint = 'http' | 'tcp' | 'udp';

/** How the data is sent after `unspecified` is resolved for the entry point. */
export type FunkEncoding = 'json' | 'text' | 'binary';

export function funkEncoding(
  contentType: FunkContentType,
  entryPoint: FunkEntryPoint,
  requestContentType?: string,
): FunkEncoding {
  if (contentType !== 'unspecified') return contentType;
  if (entryPoint !== 'http') return 'binary';
  const media = (requestContentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(media)) return 'json';
  if (media.startsWith('text/')) return 'text';
  return 'binary';
}

/**
 * The request body for the function, or a refusal when json was asked for and the data is not
 * JSON (as UTF-8 text). Total: any bytes give one of the two.
 */
export function funkRequestBody(
  data: Uint8Array,
  encoding: FunkEncoding,
): Result<Buffer, { code: 'NOT_JSON'; message: string }> {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  switch (encoding) {
    case 'json': {
      // Strict UTF-8: a body with invalid sequences is not JSON text (RFC 8259 §8.1).
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        JSON.parse(text);
      } catch {
        return err({ code: 'NOT_JSON', message: 'the data is not JSON; send JSON or change contentType' });
      }
      return ok(Buffer.from(text, 'utf8'));
    }
    case 'text':
      return ok(Buffer.from(JSON.stringify({ payload: bytes.toString('utf8') }), 'utf8'));
    case 'binary':
      return ok(Buffer.from(JSON.stringify({ payload: bytes.toString('base64') }), 'utf8'));
  }
}

/** SORACOM Funk format: "<status> " + body, or the body alone with skipStatusCode. */
export function funkDeviceAnswer(status: number, body: Uint8Array, skipStatusCode: boolean): Buffer {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return skipStatusCode ? bytes : Buffer.concat([Buffer.from(`${status} `, 'latin1'), bytes]);
}

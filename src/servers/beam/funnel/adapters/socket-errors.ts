// The rows every adapter's error table shares for what happens below the broker protocol: the TCP
// connection (refused, reset, unreachable) and TLS (the broker's certificate does not verify, or it
// refused the client certificate). Read from Node's error codes, never from the error's text.

import { isIP } from 'node:net';
import { type FunnelErrorTable, type FunnelFailure, failure } from '../adapter.js';

/**
 * TLS options naming the broker: the connection goes to the checked IP address, while the
 * certificate must match the resourceUrl's host name (SNI and verification). An IP literal is no
 * server name: then the certificate is checked against the address itself.
 */
export const serverName = (url: URL): { servername?: string } => {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? { servername: host } : {};
};

export const SOCKET_ERRORS = {
  DESTINATION_UNREACHABLE: {
    kind: 'unavailable',
    message:
      'the destination broker cannot be reached (connection refused, reset or no route); send again later',
  },
  DESTINATION_TLS: {
    kind: 'refused',
    message:
      "the TLS handshake with the destination broker failed: its certificate does not verify for the resourceUrl's host name, or it refused the client certificate",
  },
  DESTINATION_ERROR: {
    kind: 'unavailable',
    message: 'the destination broker failed in an unexpected way; send again later',
  },
} as const satisfies FunnelErrorTable;

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** A Node socket/TLS error (by its `code`) → the shared row; anything else → DESTINATION_ERROR. */
export function socketFailure(
  table: FunnelErrorTable,
  e: unknown,
  _phase: 'connect' | 'publish',
): FunnelFailure {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  // Libraries wrap the socket's error (cause chains, AggregateError of several addresses).
  while (cur !== null && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNREACHABLE.has(code)) return failure(table, 'DESTINATION_UNREACHABLE');
      if (
        code.startsWith('ERR_TLS') ||
        code.startsWith('ERR_SSL') ||
        code.startsWith('CERT_') ||
        code.includes('SELF_SIGNED') ||
        code.startsWith('UNABLE_TO_') ||
        code === 'HOSTNAME_MISMATCH' ||
        code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
      ) {
        return failure(table, 'DESTINATION_TLS');
      }
    }
    const inner = (cur as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.length > 0) {
      cur = inner[0];
      continue;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return failure(table, 'DESTINATION_ERROR');
}

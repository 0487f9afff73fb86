// One device message → one POST, for Beam's entry points that have no HTTP of their own: UDP → HTTP(S)
// (each datagram) and TCP → HTTP(S) (each piece of data read). SORACOM (developers.soracom.io/en/docs/
// beam/udp-http and /tcp-http): the body is {"payload": "<the message in Base64>"} as JSON, the
// user agent `SORACOM Beam`, the identity headers and signature are the HTTP entry point's, and the
// device gets back "<status> <body>" — SORACOM's platform version 202411 format — or the body alone
// with skipStatusCode.

import type { ErrorCode } from '../../lib/errors.js';
import { ERROR_CODES, isSimtrustError } from '../../lib/errors.js';
import type { BeamEntry, CredentialsRef } from '../../platform/beam/beam-config.js';
import { beamIdentityHeaders } from '../../platform/beam/beam-headers.js';
import type { SessionOwner } from '../../platform/beam/session-owner.js';
import type { Platform } from '../../platform/platform.js';
import {
  type ClientCertificate,
  credentialHeaderValue,
  UpstreamError,
  type UpstreamHttp,
} from './upstream-http.js';

/** Why a message was not forwarded: a code of the catalogue and a message without secrets. */
export class ForwardRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** refused: Beam's policy or configuration said no; failed: the destination did not serve. */
    readonly outcome: 'refused' | 'failed' = 'refused',
  ) {
    super(message);
  }

  /** "<status> <code>: <message>" — the answer a known device gets over TCP or UDP. */
  toBytes(): Buffer {
    return Buffer.from(`${ERROR_CODES[this.code].status} ${this.code}: ${this.message}`, 'utf8');
  }
}

/** "<status> <body>", or the body alone with skipStatusCode. */
export const segmentAnswer = (status: number, body: Buffer, skipStatusCode: boolean): Buffer =>
  skipStatusCode ? body : Buffer.concat([Buffer.from(`${status} `, 'latin1'), body]);

export interface SegmentForwarder {
  /**
   * POSTs `message` for `owner` to `entry`'s http(s) destination and returns the bytes for the
   * device, the answer's body at most `maxAnswerBytes`. Throws ForwardRefusal.
   */
  forward(owner: SessionOwner, entry: BeamEntry, message: Buffer, maxAnswerBytes: number): Promise<Buffer>;
}

export function segmentForwarder(
  platform: Pick<Platform, 'clock' | 'credentials'>,
  upstream: UpstreamHttp,
  entryName: string,
): SegmentForwarder {
  const resolve = async (owner: SessionOwner, ref: CredentialsRef) => {
    try {
      return await platform.credentials.resolve(owner.operatorId, ref.credentialsId, owner);
    } catch (e) {
      const why = isSimtrustError(e) ? e.message : 'it could not be read';
      throw new ForwardRefusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} of the SoracomBeam ${entryName} entry: ${why}`,
      );
    }
  };

  async function headersFor(owner: SessionOwner, entry: BeamEntry): Promise<Record<string, string>> {
    const psk = entry.addSignature && entry.psk ? await resolve(owner, entry.psk) : undefined;
    if (psk !== undefined && (psk.type !== 'psk' || typeof psk.key !== 'string')) {
      throw new ForwardRefusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${entry.psk?.credentialsId} is not of type psk`,
      );
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'SORACOM Beam',
    };
    for (const h of entry.customHeaders) {
      let value: string | undefined;
      if (h.value !== undefined && typeof h.value !== 'string') {
        value = credentialHeaderValue(await resolve(owner, h.value));
        if (value === undefined) {
          throw new ForwardRefusal(
            'ERR_BEAM_CREDENTIALS',
            `credential set ${h.value.credentialsId} cannot be a header value: use psk, api-token-credentials or username-password-credentials without line breaks`,
          );
        }
      } else value = h.value;
      if (h.action === 'delete') delete headers[h.name];
      else if (value !== undefined) {
        // One header per name in an object: append joins as RFC 9110 §5.3 allows for list fields.
        headers[h.name] =
          h.action === 'append' && headers[h.name] !== undefined ? `${headers[h.name]}, ${value}` : value;
      }
    }
    // Beam's identity last, so no custom header can stand in for it.
    Object.assign(
      headers,
      beamIdentityHeaders(owner, entry, psk?.key as string | undefined, platform.clock.now()),
    );
    return headers;
  }

  async function clientCert(owner: SessionOwner, ref: CredentialsRef): Promise<ClientCertificate> {
    const c = await resolve(owner, ref);
    if (c.type !== 'x509' || typeof c.cert !== 'string' || typeof c.key !== 'string') {
      throw new ForwardRefusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} is not of type x509 (certificate and key)`,
      );
    }
    return { cert: c.cert, key: c.key, ca: typeof c.ca === 'string' ? c.ca : undefined };
  }

  return {
    async forward(owner, entry, message, maxAnswerBytes) {
      const [headers, cert] = await Promise.all([
        headersFor(owner, entry),
        entry.clientCert && entry.destination.protocol === 'https:'
          ? clientCert(owner, entry.clientCert)
          : undefined,
      ]);
      const body = Buffer.from(JSON.stringify({ payload: message.toString('base64') }), 'utf8');
      // The answer goes back with "<status> " in front, so its body gets what is left.
      const room = maxAnswerBytes - (entry.skipStatusCode ? 0 : 4);
      try {
        const answer = await upstream.post(entry.destination, headers, body, room, cert);
        return segmentAnswer(answer.status, answer.body, entry.skipStatusCode);
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        const kind = e.failure.kind;
        throw new ForwardRefusal(
          kind === 'refused'
            ? 'ERR_BEAM_DESTINATION_REFUSED'
            : kind === 'timeout'
              ? 'ERR_BEAM_DESTINATION_TIMEOUT'
              : 'ERR_BEAM_DESTINATION_FAILED',
          e.failure.message,
          kind === 'refused' ? 'refused' : 'failed',
        );
      }
    },
  };
}

// What Funnel sends to the broker for one device message (docs/funnel-funk.md, Message format):
// SORACOM's Funnel format — a JSON object with operatorId, destination, credentialsId,
// sourceProtocol, payloads, timestamp, imsi, imei (and simId when the group sets addSimId) — or,
// with destination.payloadsOnly, the payload alone.
//
// `payloads` follows the group's contentType:
//   json         the device's JSON as it is (400 when it is not JSON)
//   text         a string (400 when the bytes are not UTF-8)
//   binary       the bytes in base64
//   unspecified  HTTP: by the request's Content-Type (application/json or +json → json, text/* and
//                application/xml → text, anything else → binary); TCP and UDP: binary
//
// The device's JSON is spliced into the envelope as the bytes it sent (after JSON.parse has checked
// them), never parsed and serialised again: nesting depth costs nothing and numbers keep their text.

import { SimtrustError } from '../../../lib/errors.js';
import type { FunnelConfiguration, FunnelContentType } from '../../../platform/beam/funnel-config.js';
import type { SessionOwner } from '../../../platform/beam/session-owner.js';

export type FunnelSourceProtocol = 'http' | 'tcp' | 'udp';

export interface EnvelopeInput {
  readonly config: FunnelConfiguration;
  readonly owner: SessionOwner;
  readonly body: Buffer;
  readonly sourceProtocol: FunnelSourceProtocol;
  /** The HTTP request's Content-Type (only read for contentType `unspecified`). */
  readonly requestContentType?: string | undefined;
  /** When Funnel took the message (ms since the epoch). */
  readonly timestamp: number;
}

export interface Envelope {
  readonly body: Buffer;
  readonly contentType: string;
  /** How the payload was read. */
  readonly as: Exclude<FunnelContentType, 'unspecified'>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The format the payload is read as. */
export function payloadFormat(
  contentType: FunnelContentType,
  sourceProtocol: FunnelSourceProtocol,
  requestContentType: string | undefined,
): Exclude<FunnelContentType, 'unspecified'> {
  if (contentType !== 'unspecified') return contentType;
  if (sourceProtocol !== 'http') return 'binary';
  const media = (requestContentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/json' || /^application\/[^/]+\+json$/.test(media)) return 'json';
  if (media.startsWith('text/') || media === 'application/xml') return 'text';
  return 'binary';
}

/** The payload's JSON text, checked; or ERR_FUNNEL_INVALID_PAYLOAD. */
function jsonText(body: Buffer): string {
  let text: string;
  try {
    text = utf8.decode(body);
    JSON.parse(text);
  } catch {
    throw new SimtrustError(
      'ERR_FUNNEL_INVALID_PAYLOAD',
      "Invalid JSON sent to Funnel: this SIM's group sends JSON (SoracomFunnel contentType json)",
    );
  }
  return text;
}

function textOf(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new SimtrustError(
      'ERR_FUNNEL_INVALID_PAYLOAD',
      "the data is not UTF-8 text: this SIM's group sends text (SoracomFunnel contentType text); send UTF-8 or use binary",
    );
  }
}

export function envelope(input: EnvelopeInput): Envelope {
  const { config, owner, body } = input;
  const as = payloadFormat(config.contentType, input.sourceProtocol, input.requestContentType);
  // The payload as JSON text (for the envelope) — checked for json and text either way.
  const payloads =
    as === 'json'
      ? jsonText(body)
      : as === 'text'
        ? JSON.stringify(textOf(body))
        : JSON.stringify(body.toString('base64'));
  if (config.destination.payloadsOnly) {
    return {
      as,
      body,
      contentType:
        as === 'json'
          ? 'application/json'
          : as === 'text'
            ? 'text/plain; charset=utf-8'
            : 'application/octet-stream',
    };
  }
  const head = {
    operatorId: owner.operatorId,
    destination: config.destination.written,
    ...(config.credentialsId === undefined ? {} : { credentialsId: config.credentialsId }),
    sourceProtocol: input.sourceProtocol,
  };
  const tail = {
    timestamp: input.timestamp,
    imsi: owner.imsi,
    ...(owner.imei === null ? {} : { imei: owner.imei }),
    ...(config.addSimId ? { simId: owner.simId } : {}),
  };
  const headText = JSON.stringify(head).slice(0, -1);
  const tailText = JSON.stringify(tail).slice(1);
  return {
    as,
    body: Buffer.from(`${headText},"payloads":${payloads},${tailText}`, 'utf8'),
    contentType: 'application/json',
  };
}

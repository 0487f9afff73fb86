// GlobalPlatform Card Specification Amendment B ("Remote Application Management over HTTP", SCP81) as
// SGP.02 uses it between the SM-SR and the ISD-R (SGP.02 §2.4.4, esim.md §4.5). One module for both
// ends, so the SM-SR's encoder and the card's decoder cannot drift:
//   §3.7 / Table 3-3  administration session triggering parameters ('81' TLV, the push SMS's data)
//   SGP.02 Table 4     the PSK identity TLV, sent hex-encoded as the TLS psk_identity
//   §3.3–§3.5          the HTTP headers and content types of the half-duplex POST exchange
// Decoders are total: any bytes or text give a value or a typed error.

import { concatBytes, decodeBerTlvAt, decodeBerTlvList, encodeBerTlv } from './ber-tlv.js';
import { decodeComprehensionTlvList } from './comprehension-tlv.js';
import { fromHex, toHex } from './hex.js';
import { decodeError, ok, type Result } from './result.js';
import { defineBerTlv, type TlvExample } from './tlv-registry.js';
import {
  BearerDescriptionTlv,
  BufferSizeTlv,
  type OtherAddress,
  OtherAddressTlv,
  TransportLevelTlv,
} from './ts-102-223-tlv.js';

// --- HTTP (GP Amd B §3.3–§3.5) ---------------------------------------------------------------------

export const ADMIN_PROTOCOL = 'globalplatform-remote-admin/1.0';
export const ADMIN_HEADER = {
  PROTOCOL: 'x-admin-protocol',
  FROM: 'x-admin-from',
  NEXT_URI: 'x-admin-next-uri',
  TARGETED_APPLICATION: 'x-admin-targeted-application',
  SCRIPT_STATUS: 'x-admin-script-status',
  RESUME: 'x-admin-resume',
} as const;
/** What the SM-SR sends: an expanded remote command (TS 102 226 §5.2.1). */
export const CONTENT_TYPE_COMMAND = 'application/vnd.globalplatform.card-content-mgt;version=1.0';
/** What the card posts back: the expanded remote response (TS 102 226 §5.2.2). */
export const CONTENT_TYPE_RESPONSE = 'application/vnd.globalplatform.card-content-mgt-response;version=1.0';
/** GP Amd B §3.5.2 X-Admin-Script-Status values. */
export const SCRIPT_STATUS = [
  'ok',
  'unknown-application',
  'not-a-security-domain',
  'security-error',
] as const;
export type ScriptStatus = (typeof SCRIPT_STATUS)[number];

/** TLS 1.2 PSK suites of SGP.02 §2.4.4 in OpenSSL's names (GCM first: the mandatory one we prefer). */
export const PSK_TLS_CIPHERS = 'PSK-AES128-GCM-SHA256:PSK-AES128-CBC-SHA256';

/** `X-Admin-From` of SGP.02 §2.4.4: `//se-id/eid/<EID>;//aa-id/aid/<ISD-R AID>`. */
export const adminFrom = (eid: string, isdRAid: string): string =>
  `//se-id/eid/${eid.toUpperCase()};//aa-id/aid/${isdRAid.toUpperCase()}`;

export function parseAdminFrom(text: string): Result<{ eid: string; aid: string }> {
  const m = /^\/\/se-id\/eid\/([0-9A-Fa-f]{32});\/\/aa-id\/aid\/([0-9A-Fa-f]{10,32})$/.exec(text.trim());
  if (m === null) return decodeError('ADMIN_FROM', 'X-Admin-From is not //se-id/eid/<EID>;//aa-id/aid/<AID>');
  return ok({ eid: (m[1] as string).toUpperCase(), aid: (m[2] as string).toUpperCase() });
}

/** `X-Admin-Targeted-Application: //aid/<RID>/<PIX>` (GP Amd B §3.3.4): RID is the first 5 bytes. */
export const targetedApplication = (aid: string): string =>
  `//aid/${aid.slice(0, 10).toUpperCase()}/${aid.slice(10).toUpperCase()}`;

export function parseTargetedApplication(text: string): Result<string> {
  const m = /^\/\/aid\/([0-9A-Fa-f]{10})\/([0-9A-Fa-f]{0,22})$/.exec(text.trim());
  if (m === null || (m[2] as string).length % 2 !== 0)
    return decodeError('ADMIN_TARGET', 'X-Admin-Targeted-Application is not //aid/<RID>/<PIX>');
  return ok(`${m[1]}${m[2]}`.toUpperCase());
}

// --- PSK identity (SGP.02 v4.1 Table 4) -------------------------------------------------------------

export interface PskIdentity {
  /** 32 hex digits. */
  readonly eid: string;
  /** The ISD-R AID (hex). */
  readonly aid: string;
  /** Key version number of the SCP81 keyset, '40'..'4F'. */
  readonly kvn: number;
  /** Key identifier inside the keyset. */
  readonly kid: number;
}

/** SCP81 keysets of the ISD-R (SGP.02 §2.2.5, esim.md §1.1). */
export const isScp81Kvn = (kvn: number): boolean => kvn >= 0x40 && kvn <= 0x4f;

/**
 * TLV `80 01 02` (format) ‖ `81 10 EID` ‖ `4F 10 ISD-R AID` ‖ `82 01 KID` ‖ `83 01 KVN`, sent as its
 * upper-case hex text (njiwa makePskId). To verify against SGP.02 v4.1 §2.4.4 Table 4.
 */
export function encodePskIdentity(id: PskIdentity): string {
  const eid = fromHex(id.eid) ?? new Uint8Array(0);
  const aid = fromHex(id.aid) ?? new Uint8Array(0);
  return toHex(
    concatBytes([
      encodeBerTlv(0x80, Uint8Array.of(0x02)),
      encodeBerTlv(0x81, eid),
      encodeBerTlv(0x4f, aid),
      encodeBerTlv(0x82, Uint8Array.of(id.kid)),
      encodeBerTlv(0x83, Uint8Array.of(id.kvn)),
    ]),
  ).toUpperCase();
}

export function decodePskIdentity(text: string): Result<PskIdentity> {
  if (text.length > 256 || !/^([0-9A-Fa-f]{2})+$/.test(text))
    return decodeError('PSK_IDENTITY', 'PSK identity is not hex text');
  const list = decodeBerTlvList(fromHex(text) ?? new Uint8Array(0));
  if (!list.ok) return list;
  const by = new Map<number, Uint8Array>();
  for (const t of list.value) {
    if (by.has(t.tag)) return decodeError('PSK_IDENTITY', `tag ${t.tag.toString(16)} twice`);
    by.set(t.tag, t.value);
  }
  const format = by.get(0x80);
  const eid = by.get(0x81);
  const aid = by.get(0x4f);
  const kid = by.get(0x82);
  const kvn = by.get(0x83);
  if (format?.length !== 1 || format[0] !== 0x02)
    return decodeError('PSK_IDENTITY', 'format 80 01 02 expected');
  if (eid?.length !== 16) return decodeError('PSK_IDENTITY', 'EID (81) is 16 bytes');
  if (aid === undefined || aid.length < 5 || aid.length > 16)
    return decodeError('PSK_IDENTITY', 'AID (4F) is 5..16 bytes');
  if (kid?.length !== 1 || kvn?.length !== 1)
    return decodeError('PSK_IDENTITY', 'KID (82) and KVN (83) are 1 byte');
  if (by.size !== 5) return decodeError('PSK_IDENTITY', 'unexpected tag in the PSK identity');
  return ok({
    eid: toHex(eid).toUpperCase(),
    aid: toHex(aid).toUpperCase(),
    kid: kid[0] as number,
    kvn: kvn[0] as number,
  });
}

// --- Administration session triggering parameters (GP Amd B §3.7 Table 3-3) --------------------------

/** Where the card connects: the TLVs of its OPEN CHANNEL (TS 102 223 §6.6.27). */
export interface RasConnection {
  readonly bearer: { readonly bearerType: number; readonly parameters: string };
  readonly bufferSize: number;
  readonly transport: { readonly protocol: number; readonly port: number };
  readonly address: OtherAddress;
}

/** §3.8.2 security parameters: PSK identity bytes, and the keyset (KVN) and key (KID) to use. */
export interface SecurityParameters {
  readonly pskIdentity: string;
  readonly kvn: number;
  readonly kid: number;
}

export interface HttpPostParameters {
  readonly host?: string;
  readonly agentId?: string;
  readonly uri: string;
}

export interface AdminSessionTrigger {
  /** Absent: use the connection parameters stored on the card ('81 00' default configuration). */
  readonly connection?: RasConnection;
  readonly security?: SecurityParameters;
  readonly http?: HttpPostParameters;
}

const utf8 = new TextEncoder();
const utf8Text = (v: Uint8Array): Result<string> => {
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(v));
  } catch {
    return decodeError('TLV_VALUE', 'text is not UTF-8');
  }
};

export const SecurityParametersTlv = defineBerTlv<SecurityParameters>({
  name: 'Security parameters',
  spec: 'GP Amd B §3.8.2',
  tag: 0x85,
  codec: {
    decode(v) {
      const n = v[0];
      if (n === undefined || v.length < 1 + n + 3)
        return decodeError('TLV_VALUE_LENGTH', 'security parameters cut short');
      if (v[1 + n] !== 0x02) return decodeError('TLV_VALUE', 'key version and id take 2 bytes', 1 + n);
      // An optional SHA type byte may follow (pySim 'sha_type'); it is not used with PSK-TLS 1.2.
      if (v.length > 1 + n + 4) return decodeError('TLV_VALUE_LENGTH', 'bytes after the security parameters');
      return ok({
        pskIdentity: toHex(v.subarray(1, 1 + n)),
        kvn: v[2 + n] as number,
        kid: v[3 + n] as number,
      });
    },
    encode(s) {
      const id = fromHex(s.pskIdentity) ?? new Uint8Array(0);
      return concatBytes([Uint8Array.of(id.length), id, Uint8Array.of(0x02, s.kvn, s.kid)]);
    },
  },
  // pySim tests/…/http.py SecurityParams: PSK identity DEADBEEF, KVN 00, KID 40.
  examples: [{ hex: '850804deadbeef020040', value: { pskIdentity: 'deadbeef', kvn: 0x00, kid: 0x40 } }],
});

const textTlv = (name: string, spec: string, tag: number, examples: readonly TlvExample<string>[]) =>
  defineBerTlv<string>({
    name,
    spec,
    tag,
    codec: { decode: utf8Text, encode: (t) => utf8.encode(t) },
    examples,
  });

export const AdminHostTlv = textTlv('Administration host', 'GP Amd B §3.8.4', 0x8a, [
  { hex: '8a0a61646d696e2e686f7374', value: 'admin.host' },
]);
export const AgentIdTlv = textTlv('Agent id', 'GP Amd B §3.8.5', 0x8b, [{ hex: '8b0161', value: 'a' }]);
export const AdminUriTlv = textTlv('Administration URI', 'GP Amd B §3.8.6', 0x8c, [
  { hex: '8c1668747470733a2f2f61646d696e2e686f73742f757269', value: 'https://admin.host/uri' },
]);

function encodeConnection(c: RasConnection): Uint8Array {
  return concatBytes([
    BearerDescriptionTlv.encode(c.bearer),
    BufferSizeTlv.encode(c.bufferSize),
    TransportLevelTlv.encode(c.transport),
    OtherAddressTlv.encode(c.address),
  ]);
}

function decodeConnection(v: Uint8Array): Result<RasConnection> {
  const list = decodeComprehensionTlvList(v);
  if (!list.ok) return list;
  let bearer: RasConnection['bearer'] | undefined;
  let bufferSize: number | undefined;
  let transport: RasConnection['transport'] | undefined;
  let address: OtherAddress | undefined;
  for (const t of list.value) {
    if (t.tag === BearerDescriptionTlv.tag) {
      const r = BearerDescriptionTlv.codec.decode(t.value);
      if (!r.ok) return r;
      bearer = r.value;
    } else if (t.tag === BufferSizeTlv.tag) {
      const r = BufferSizeTlv.codec.decode(t.value);
      if (!r.ok) return r;
      bufferSize = r.value;
    } else if (t.tag === TransportLevelTlv.tag) {
      const r = TransportLevelTlv.codec.decode(t.value);
      if (!r.ok) return r;
      transport = r.value;
    } else if (t.tag === OtherAddressTlv.tag) {
      const r = OtherAddressTlv.codec.decode(t.value);
      if (!r.ok) return r;
      address = r.value;
    } else if (t.cr)
      return decodeError('TLV_UNKNOWN_REQUIRED', `tag ${t.tag.toString(16)} in the connection parameters`);
  }
  if (bearer === undefined || bufferSize === undefined || transport === undefined || address === undefined)
    return decodeError(
      'TLV_MISSING',
      'connection parameters need bearer, buffer size, transport level and address',
    );
  return ok({ bearer, bufferSize, transport, address });
}

export const RasConnectionTlv = defineBerTlv<RasConnection>({
  name: 'Connection parameters',
  spec: 'GP Amd B §3.8.1',
  tag: 0x84,
  codec: { decode: decodeConnection, encode: encodeConnection },
  examples: [
    {
      // Default bearer, buffer 1400, TCP client to port 4443 of 127.0.0.1.
      hex: '8413' + 'b50103' + 'b9020578' + 'bc0302115b' + 'be05217f000001',
      value: {
        bearer: { bearerType: 0x03, parameters: '' },
        bufferSize: 1400,
        transport: { protocol: 0x02, port: 4443 },
        address: { type: 'ipv4', address: '127.0.0.1' },
      },
    },
  ],
});

function decodeHttpPost(v: Uint8Array): Result<HttpPostParameters> {
  const list = decodeBerTlvList(v);
  if (!list.ok) return list;
  let host: string | undefined;
  let agentId: string | undefined;
  let uri: string | undefined;
  for (const t of list.value) {
    const text = utf8Text(t.value);
    if (!text.ok) return text;
    if (t.tag === 0x8a) host = text.value;
    else if (t.tag === 0x8b) agentId = text.value;
    else if (t.tag === 0x8c) uri = text.value;
    else return decodeError('TLV_UNEXPECTED_TAG', `tag ${t.tag.toString(16)} in the HTTP POST parameters`);
  }
  if (uri === undefined)
    return decodeError('TLV_MISSING', 'HTTP POST parameters need the administration URI (8C)');
  return ok({ ...(host === undefined ? {} : { host }), ...(agentId === undefined ? {} : { agentId }), uri });
}

const encodeHttpPost = (h: HttpPostParameters): Uint8Array =>
  concatBytes([
    ...(h.host === undefined ? [] : [AdminHostTlv.encode(h.host)]),
    ...(h.agentId === undefined ? [] : [AgentIdTlv.encode(h.agentId)]),
    AdminUriTlv.encode(h.uri),
  ]);

export const HttpPostParametersTlv = defineBerTlv<HttpPostParameters>({
  name: 'HTTP POST parameters',
  spec: 'GP Amd B §3.8.4–§3.8.6',
  tag: 0x89,
  codec: { decode: decodeHttpPost, encode: encodeHttpPost },
  examples: [
    {
      hex: '8912' + '8a0a61646d696e2e686f7374' + '8c042f72616d',
      value: { host: 'admin.host', uri: '/ram' },
    },
  ],
});

function decodeSessionParameters(v: Uint8Array): Result<AdminSessionTrigger> {
  const list = decodeBerTlvList(v);
  if (!list.ok) return list;
  let connection: RasConnection | undefined;
  let security: SecurityParameters | undefined;
  let http: HttpPostParameters | undefined;
  for (const t of list.value) {
    if (t.tag === 0x84) {
      const r = RasConnectionTlv.fromTlv(t);
      if (!r.ok) return r;
      connection = r.value;
    } else if (t.tag === 0x85) {
      const r = SecurityParametersTlv.fromTlv(t);
      if (!r.ok) return r;
      security = r.value;
    } else if (t.tag === 0x89) {
      const r = HttpPostParametersTlv.fromTlv(t);
      if (!r.ok) return r;
      http = r.value;
    }
    // '86' retry policy and 'A5' extended security parameters are accepted and not used: the SM-SR
    // pushes again when a session does not come.
    else if (t.tag !== 0x86 && t.tag !== 0xa5)
      return decodeError('TLV_UNEXPECTED_TAG', `tag ${t.tag.toString(16)} in the session parameters`);
  }
  return ok({
    ...(connection === undefined ? {} : { connection }),
    ...(security === undefined ? {} : { security }),
    ...(http === undefined ? {} : { http }),
  });
}

function encodeTriggerValue(t: AdminSessionTrigger): Uint8Array {
  if (t.connection === undefined && t.security === undefined && t.http === undefined)
    return new Uint8Array(0);
  const inner = concatBytes([
    ...(t.connection === undefined ? [] : [RasConnectionTlv.encode(t.connection)]),
    ...(t.security === undefined ? [] : [SecurityParametersTlv.encode(t.security)]),
    ...(t.http === undefined ? [] : [HttpPostParametersTlv.encode(t.http)]),
  ]);
  return encodeBerTlv(0x83, inner);
}

function decodeTriggerValue(v: Uint8Array): Result<AdminSessionTrigger> {
  if (v.length === 0) return ok({});
  const list = decodeBerTlvList(v);
  if (!list.ok) return list;
  let trigger: AdminSessionTrigger | undefined;
  for (const t of list.value) {
    if (t.tag === 0x83) {
      if (trigger !== undefined) return decodeError('TLV_VALUE', 'session parameters (83) twice');
      const r = decodeSessionParameters(t.value);
      if (!r.ok) return r;
      trigger = r.value;
    } else if (t.tag !== 0xb3)
      return decodeError('TLV_UNEXPECTED_TAG', `tag ${t.tag.toString(16)} in the trigger`);
    // 'B3' DNS resolution parameters: the card connects to the IP address it was given.
  }
  return ok(trigger ?? {});
}

/**
 * The secured data of the push SMS to the ISD-R TAR (pySim contrib/scp81_trigger.py sends the '81'
 * TLV itself as the secured data; to verify against SGP.02 §2.4.4 / GP Amd B §3.7).
 */
export const AdminSessionTriggerTlv = defineBerTlv<AdminSessionTrigger>({
  name: 'Administration session triggering parameters',
  spec: 'GP Amd B §3.7 Table 3-3',
  tag: 0x81,
  codec: { decode: decodeTriggerValue, encode: encodeTriggerValue },
  examples: [
    { hex: '8100', value: {} },
    {
      hex:
        '8129' +
        '8327' +
        '8413b50103b9020578bc0302115bbe05217f000001' +
        '850804deadbeef020040' +
        '89068c042f72616d',
      value: {
        connection: {
          bearer: { bearerType: 0x03, parameters: '' },
          bufferSize: 1400,
          transport: { protocol: 0x02, port: 4443 },
          address: { type: 'ipv4', address: '127.0.0.1' },
        },
        security: { pskIdentity: 'deadbeef', kvn: 0x00, kid: 0x40 },
        http: { uri: '/ram' },
      },
    },
  ],
});

/** Decode the push's secured data: exactly one '81' object (trailing bytes refused). */
export function decodeAdminSessionTrigger(bytes: Uint8Array): Result<AdminSessionTrigger> {
  const first = decodeBerTlvAt(bytes, 0);
  if (!first.ok) return first;
  if (first.value.next !== bytes.length)
    return decodeError('TLV_TRAILING', 'bytes after the trigger', first.value.next);
  return AdminSessionTriggerTlv.fromTlv(first.value.tlv);
}

export const GP_AMD_B_TLVS = [
  AdminSessionTriggerTlv,
  RasConnectionTlv,
  SecurityParametersTlv,
  HttpPostParametersTlv,
  AdminHostTlv,
  AgentIdTlv,
  AdminUriTlv,
] as const;

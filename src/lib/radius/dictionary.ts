// The RADIUS attribute dictionary, declared once as data: code, vendor, data type, named values, the
// clause that defines it and one example (value and its encoded bytes, without the attribute header).
// test/lib/radius/dictionary.test.ts walks every entry (decode → encode → packet round trip).
//
// Rate attributes for a speed class: WISPr-Bandwidth-Max-Up / -Down (vendor 14122, bits per second).
// They come from the Wi-Fi Alliance WISPr 1.0 specification, are in the dictionaries of FreeRADIUS,
// hostapd's RADIUS DAS and most access controllers and packet gateways that take CoA rate changes, and
// are plain 32-bit integers — the most widely understood pair. A gateway that wants another vendor's
// pair can be given it later by adding entries here.

import type { AttributeTypeName, AttributeValueTypes } from './attribute-values.js';

/** RFC 2865 §5.26 Vendor-Specific: the vendors whose sub-attributes we decode (standard 1+1 format). */
export const RADIUS_VENDORS = {
  Microsoft: 311,
  '3GPP': 10415,
  WISPr: 14122,
} as const;
export const KNOWN_VENDOR_IDS: ReadonlySet<number> = new Set(Object.values(RADIUS_VENDORS));

export interface AttributeSpec<T extends AttributeTypeName = AttributeTypeName> {
  /** Attribute type, or the vendor type for a vendor-specific attribute. */
  readonly code: number;
  readonly vendor?: number;
  readonly type: T;
  /** Where it is defined. */
  readonly ref: string;
  readonly values?: Readonly<Record<string, number>>;
  /** The wire value is hidden: RFC 2865 §5.2 (User-Password) or RFC 2548 §2.4.2 (salt). */
  readonly encryption?: 'user-password' | 'salt';
  /** An example value and its encoding (hex). */
  readonly example: readonly [AttributeValueTypes[T], string];
}

const def = <T extends AttributeTypeName>(spec: AttributeSpec<T>): AttributeSpec<T> => spec;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

// --- named values used by the server and the simulator

/** RFC 2865 §5.6 (+ RFC 5176 §3.1 Authorize-Only). */
export const SERVICE_TYPE = {
  Login: 1,
  Framed: 2,
  'Callback-Login': 3,
  'Callback-Framed': 4,
  Outbound: 5,
  Administrative: 6,
  'NAS-Prompt': 7,
  'Authenticate-Only': 8,
  'Callback-NAS-Prompt': 9,
  'Call-Check': 10,
  'Callback-Administrative': 11,
  'Authorize-Only': 17,
} as const;

/** RFC 2865 §5.7 (+ 7 from TS 29.061 §16.4.7.1). */
export const FRAMED_PROTOCOL = {
  PPP: 1,
  SLIP: 2,
  ARAP: 3,
  'Gandalf-SLML': 4,
  'Xylogics-IPX-SLIP': 5,
  'X.75-Synchronous': 6,
  'GPRS-PDP-Context': 7,
} as const;

/** RFC 2866 §5.1. */
export const ACCT_STATUS_TYPE = {
  Start: 1,
  Stop: 2,
  'Interim-Update': 3,
  'Accounting-On': 7,
  'Accounting-Off': 8,
} as const;

/** RFC 2866 §5.6. */
export const ACCT_AUTHENTIC = { RADIUS: 1, Local: 2, Remote: 3, Diameter: 4 } as const;

/** RFC 2866 §5.10 (+ RFC 3580 §3.24 for 19–22). */
export const ACCT_TERMINATE_CAUSE = {
  'User-Request': 1,
  'Lost-Carrier': 2,
  'Lost-Service': 3,
  'Idle-Timeout': 4,
  'Session-Timeout': 5,
  'Admin-Reset': 6,
  'Admin-Reboot': 7,
  'Port-Error': 8,
  'NAS-Error': 9,
  'NAS-Request': 10,
  'NAS-Reboot': 11,
  'Port-Unneeded': 12,
  'Port-Preempted': 13,
  'Port-Suspended': 14,
  'Service-Unavailable': 15,
  Callback: 16,
  'User-Error': 17,
  'Host-Request': 18,
  'Supplicant-Restart': 19,
  'Reauthentication-Failure': 20,
  'Port-Reinitialized': 21,
  'Port-Administratively-Disabled': 22,
} as const;

/** RFC 2865 §5.41 (+ RFC 2869 and RFC 3580 §3.20 for the wireless types). */
export const NAS_PORT_TYPE = {
  Async: 0,
  Sync: 1,
  ISDN: 2,
  'ISDN-V120': 3,
  'ISDN-V110': 4,
  Virtual: 5,
  PIAFS: 6,
  'HDLC-Clear-Channel': 7,
  'X.25': 8,
  'X.75': 9,
  'G.3-Fax': 10,
  SDSL: 11,
  'ADSL-CAP': 12,
  'ADSL-DMT': 13,
  IDSL: 14,
  Ethernet: 15,
  xDSL: 16,
  Cable: 17,
  'Wireless-Other': 18,
  'Wireless-802.11': 19,
  'Token-Ring': 20,
  FDDI: 21,
  'Wireless-CDMA2000': 22,
  'Wireless-UMTS': 23,
  'Wireless-1X-EV': 24,
  IAPP: 25,
} as const;

/** RFC 5176 §3.5 Error-Cause. */
export const ERROR_CAUSE = {
  'Residual-Context-Removed': 201,
  'Invalid-EAP-Packet': 202,
  'Unsupported-Attribute': 401,
  'Missing-Attribute': 402,
  'NAS-Identification-Mismatch': 403,
  'Invalid-Request': 404,
  'Unsupported-Service': 405,
  'Unsupported-Extension': 406,
  'Invalid-Attribute-Value': 407,
  'Administratively-Prohibited': 501,
  'Proxy-Request-Not-Routable': 502,
  'Session-Context-Not-Found': 503,
  'Session-Context-Not-Removable': 504,
  'Proxy-Processing-Error': 505,
  'Resources-Unavailable': 506,
  'Request-Initiated': 507,
  'Multiple-Session-Selection-Unsupported': 508,
} as const;

/** RFC 2868 §3.1 (+ RFC 3580 §3.31: VLAN = 13). */
export const TUNNEL_TYPE = {
  PPTP: 1,
  L2F: 2,
  L2TP: 3,
  ATMP: 4,
  VTP: 5,
  AH: 6,
  'IP-IP': 7,
  'MIN-IP-IP': 8,
  ESP: 9,
  GRE: 10,
  DVS: 11,
  'IP-in-IP': 12,
  VLAN: 13,
} as const;

/** RFC 2868 §3.2 (IEEE-802 for RFC 3580 VLAN assignment). */
export const TUNNEL_MEDIUM_TYPE = {
  IPv4: 1,
  IPv6: 2,
  NSAP: 3,
  HDLC: 4,
  BBN1822: 5,
  'IEEE-802': 6,
  E163: 7,
  E164: 8,
} as const;

/** TS 29.061 §16.4.7.2 3GPP-PDP-Type. */
export const PDP_TYPE = {
  IPv4: 0,
  PPP: 1,
  IPv6: 2,
  IPv4v6: 3,
  'Non-IP': 4,
  Unstructured: 5,
  Ethernet: 6,
} as const;

/** TS 29.061 §16.4.7.2 3GPP-RAT-Type (values of TS 29.274 §8.17; 101–104 non-3GPP, as FreeRADIUS). */
export const RAT_TYPE = {
  UTRAN: 1,
  GERAN: 2,
  WLAN: 3,
  GAN: 4,
  'HSPA-Evolution': 5,
  EUTRAN: 6,
  Virtual: 7,
  'EUTRAN-NB-IoT': 8,
  'LTE-M': 9,
  NR: 10,
  'IEEE-802.16e': 101,
  '3GPP2-eHRPD': 102,
  '3GPP2-HRPD': 103,
  '3GPP2-1xRTT': 104,
} as const;

/** TS 29.061 §16.4.7.2 3GPP-Allocate-IP-Type. */
export const ALLOCATE_IP_TYPE = {
  'Do-Not-Allocate': 0,
  'Allocate-IPv4-Address': 1,
  'Allocate-IPv6-Prefix': 2,
  'Allocate-IPv4-and-IPv6': 3,
} as const;

const TGPP = RADIUS_VENDORS['3GPP'];
const MS = RADIUS_VENDORS.Microsoft;
const WISPR = RADIUS_VENDORS.WISPr;

export const RADIUS_ATTRIBUTES = {
  // RFC 2865 §5
  'User-Name': def({ code: 1, type: 'text', ref: 'RFC 2865 §5.1', example: ['nemo', '6e656d6f'] }),
  'User-Password': def({
    code: 2,
    type: 'string',
    encryption: 'user-password',
    ref: 'RFC 2865 §5.2',
    example: [bytes('0dbe708d93d413ce3196e43f782a0aee'), '0dbe708d93d413ce3196e43f782a0aee'],
  }),
  'CHAP-Password': def({
    code: 3,
    type: 'string',
    ref: 'RFC 2865 §5.3',
    example: [bytes('0100112233445566778899aabbccddeeff'), '0100112233445566778899aabbccddeeff'],
  }),
  'NAS-IP-Address': def({
    code: 4,
    type: 'ipv4addr',
    ref: 'RFC 2865 §5.4',
    example: ['192.168.1.16', 'c0a80110'],
  }),
  'NAS-Port': def({ code: 5, type: 'integer', ref: 'RFC 2865 §5.5', example: [3, '00000003'] }),
  'Service-Type': def({
    code: 6,
    type: 'integer',
    values: SERVICE_TYPE,
    ref: 'RFC 2865 §5.6',
    example: [2, '00000002'],
  }),
  'Framed-Protocol': def({
    code: 7,
    type: 'integer',
    values: FRAMED_PROTOCOL,
    ref: 'RFC 2865 §5.7',
    example: [7, '00000007'],
  }),
  'Framed-IP-Address': def({
    code: 8,
    type: 'ipv4addr',
    ref: 'RFC 2865 §5.8',
    example: ['127.64.0.1', '7f400001'],
  }),
  'Framed-IP-Netmask': def({
    code: 9,
    type: 'ipv4addr',
    ref: 'RFC 2865 §5.9',
    example: ['255.255.255.255', 'ffffffff'],
  }),
  'Framed-Routing': def({ code: 10, type: 'integer', ref: 'RFC 2865 §5.10', example: [0, '00000000'] }),
  'Filter-Id': def({ code: 11, type: 'text', ref: 'RFC 2865 §5.11', example: ['std.ppp', '7374642e707070'] }),
  'Framed-MTU': def({ code: 12, type: 'integer', ref: 'RFC 2865 §5.12', example: [1500, '000005dc'] }),
  'Framed-Compression': def({ code: 13, type: 'integer', ref: 'RFC 2865 §5.13', example: [1, '00000001'] }),
  'Login-IP-Host': def({
    code: 14,
    type: 'ipv4addr',
    ref: 'RFC 2865 §5.14',
    example: ['192.168.1.3', 'c0a80103'],
  }),
  'Login-Service': def({ code: 15, type: 'integer', ref: 'RFC 2865 §5.15', example: [0, '00000000'] }),
  'Login-TCP-Port': def({ code: 16, type: 'integer', ref: 'RFC 2865 §5.16', example: [23, '00000017'] }),
  'Reply-Message': def({
    code: 18,
    type: 'text',
    ref: 'RFC 2865 §5.18',
    example: ['IMEI mismatch', '494d4549206d69736d61746368'],
  }),
  'Callback-Number': def({ code: 19, type: 'text', ref: 'RFC 2865 §5.19', example: ['1000', '31303030'] }),
  'Callback-Id': def({ code: 20, type: 'text', ref: 'RFC 2865 §5.20', example: ['cb', '6362'] }),
  'Framed-Route': def({
    code: 22,
    type: 'text',
    ref: 'RFC 2865 §5.22',
    example: ['10.0.0.0/8', '31302e302e302e302f38'],
  }),
  State: def({ code: 24, type: 'string', ref: 'RFC 2865 §5.24', example: [bytes('a1b2c3d4'), 'a1b2c3d4'] }),
  Class: def({ code: 25, type: 'string', ref: 'RFC 2865 §5.25', example: [bytes('0102'), '0102'] }),
  'Session-Timeout': def({ code: 27, type: 'integer', ref: 'RFC 2865 §5.27', example: [86400, '00015180'] }),
  'Idle-Timeout': def({ code: 28, type: 'integer', ref: 'RFC 2865 §5.28', example: [600, '00000258'] }),
  'Termination-Action': def({
    code: 29,
    type: 'integer',
    values: { Default: 0, 'RADIUS-Request': 1 },
    ref: 'RFC 2865 §5.29',
    example: [1, '00000001'],
  }),
  'Called-Station-Id': def({
    code: 30,
    type: 'text',
    ref: 'RFC 2865 §5.30',
    example: ['iot.example', '696f742e6578616d706c65'],
  }),
  'Calling-Station-Id': def({
    code: 31,
    type: 'text',
    ref: 'RFC 2865 §5.31',
    example: ['819012345678', '383139303132333435363738'],
  }),
  'NAS-Identifier': def({ code: 32, type: 'text', ref: 'RFC 2865 §5.32', example: ['pgw-1', '7067772d31'] }),
  'Proxy-State': def({
    code: 33,
    type: 'string',
    ref: 'RFC 2865 §5.33',
    example: [bytes('313534'), '313534'],
  }),
  'CHAP-Challenge': def({
    code: 60,
    type: 'string',
    ref: 'RFC 2865 §5.40',
    example: [bytes('000102030405060708090a0b0c0d0e0f'), '000102030405060708090a0b0c0d0e0f'],
  }),
  'NAS-Port-Type': def({
    code: 61,
    type: 'integer',
    values: NAS_PORT_TYPE,
    ref: 'RFC 2865 §5.41',
    example: [19, '00000013'],
  }),
  'Port-Limit': def({ code: 62, type: 'integer', ref: 'RFC 2865 §5.42', example: [1, '00000001'] }),

  // RFC 2866 §5 accounting
  'Acct-Status-Type': def({
    code: 40,
    type: 'integer',
    values: ACCT_STATUS_TYPE,
    ref: 'RFC 2866 §5.1',
    example: [3, '00000003'],
  }),
  'Acct-Delay-Time': def({ code: 41, type: 'integer', ref: 'RFC 2866 §5.2', example: [0, '00000000'] }),
  'Acct-Input-Octets': def({
    code: 42,
    type: 'integer',
    ref: 'RFC 2866 §5.3',
    example: [123456789, '075bcd15'],
  }),
  'Acct-Output-Octets': def({
    code: 43,
    type: 'integer',
    ref: 'RFC 2866 §5.4',
    example: [4294967295, 'ffffffff'],
  }),
  'Acct-Session-Id': def({
    code: 44,
    type: 'text',
    ref: 'RFC 2866 §5.5',
    example: ['09042AF8', '3039303432414638'],
  }),
  'Acct-Authentic': def({
    code: 45,
    type: 'integer',
    values: ACCT_AUTHENTIC,
    ref: 'RFC 2866 §5.6',
    example: [1, '00000001'],
  }),
  'Acct-Session-Time': def({ code: 46, type: 'integer', ref: 'RFC 2866 §5.7', example: [3600, '00000e10'] }),
  'Acct-Input-Packets': def({ code: 47, type: 'integer', ref: 'RFC 2866 §5.8', example: [42, '0000002a'] }),
  'Acct-Output-Packets': def({ code: 48, type: 'integer', ref: 'RFC 2866 §5.9', example: [43, '0000002b'] }),
  'Acct-Terminate-Cause': def({
    code: 49,
    type: 'integer',
    values: ACCT_TERMINATE_CAUSE,
    ref: 'RFC 2866 §5.10',
    example: [6, '00000006'],
  }),
  'Acct-Multi-Session-Id': def({ code: 50, type: 'text', ref: 'RFC 2866 §5.11', example: ['m1', '6d31'] }),
  'Acct-Link-Count': def({ code: 51, type: 'integer', ref: 'RFC 2866 §5.12', example: [1, '00000001'] }),

  // RFC 2869 §5 extensions
  'Acct-Input-Gigawords': def({ code: 52, type: 'integer', ref: 'RFC 2869 §5.1', example: [2, '00000002'] }),
  'Acct-Output-Gigawords': def({ code: 53, type: 'integer', ref: 'RFC 2869 §5.2', example: [0, '00000000'] }),
  'Event-Timestamp': def({ code: 55, type: 'time', ref: 'RFC 2869 §5.3', example: [1767225600, '6955b900'] }),
  'Connect-Info': def({
    code: 77,
    type: 'text',
    ref: 'RFC 2869 §5.11',
    example: ['CONNECT 11Mbps 802.11b', '434f4e4e4543542031314d627073203830322e313162'],
  }),
  'EAP-Message': def({
    code: 79,
    type: 'string',
    ref: 'RFC 3579 §3.1',
    example: [bytes('03010004'), '03010004'],
  }),
  'Message-Authenticator': def({
    code: 80,
    type: 'string',
    ref: 'RFC 3579 §3.2',
    example: [bytes('5a665e2e1e8411f3e243822097c84fa3'), '5a665e2e1e8411f3e243822097c84fa3'],
  }),
  'Acct-Interim-Interval': def({
    code: 85,
    type: 'integer',
    ref: 'RFC 2869 §5.16',
    example: [300, '0000012c'],
  }),
  'NAS-Port-Id': def({ code: 87, type: 'text', ref: 'RFC 2869 §5.17', example: ['wlan0', '776c616e30'] }),
  'Framed-Pool': def({ code: 88, type: 'text', ref: 'RFC 2869 §5.18', example: ['pool-a', '706f6f6c2d61'] }),

  // RFC 2868 tunnel attributes, used by RFC 3580 §3.31 for VLAN assignment
  'Tunnel-Type': def({
    code: 64,
    type: 'tagged-integer',
    values: TUNNEL_TYPE,
    ref: 'RFC 2868 §3.1',
    example: [{ tag: 0, value: 13 }, '0000000d'],
  }),
  'Tunnel-Medium-Type': def({
    code: 65,
    type: 'tagged-integer',
    values: TUNNEL_MEDIUM_TYPE,
    ref: 'RFC 2868 §3.2',
    example: [{ tag: 1, value: 6 }, '01000006'],
  }),
  'Tunnel-Private-Group-Id': def({
    code: 81,
    type: 'tagged-text',
    ref: 'RFC 2868 §3.6',
    example: [{ tag: 1, value: '42' }, '013432'],
  }),

  // RFC 4372, RFC 3162, RFC 4818, RFC 6911, RFC 5176, RFC 4072/7268
  'Chargeable-User-Identity': def({
    code: 89,
    type: 'string',
    ref: 'RFC 4372 §2.1',
    example: [bytes('00'), '00'],
  }),
  'NAS-IPv6-Address': def({
    code: 95,
    type: 'ipv6addr',
    ref: 'RFC 3162 §2.1',
    example: ['::1', '00000000000000000000000000000001'],
  }),
  'Framed-Interface-Id': def({
    code: 96,
    type: 'ifid',
    ref: 'RFC 3162 §2.2',
    example: [bytes('0200c0fffe000001'), '0200c0fffe000001'],
  }),
  'Framed-IPv6-Prefix': def({
    code: 97,
    type: 'ipv6prefix',
    ref: 'RFC 3162 §2.3',
    example: ['2001:db8::/32', '002020010db8'],
  }),
  'Framed-IPv6-Pool': def({ code: 100, type: 'text', ref: 'RFC 3162 §2.6', example: ['v6', '7636'] }),
  'Error-Cause': def({
    code: 101,
    type: 'integer',
    values: ERROR_CAUSE,
    ref: 'RFC 5176 §3.5',
    example: [503, '000001f7'],
  }),
  'EAP-Key-Name': def({
    code: 102,
    type: 'string',
    ref: 'RFC 7268 §2.2',
    example: [bytes('17aabb'), '17aabb'],
  }),
  'Delegated-IPv6-Prefix': def({
    code: 123,
    type: 'ipv6prefix',
    ref: 'RFC 4818 §3',
    example: ['2001:db8:1::/48', '003020010db80001'],
  }),
  'Framed-IPv6-Address': def({
    code: 168,
    type: 'ipv6addr',
    ref: 'RFC 6911 §3.1',
    example: ['2001:db8::1', '20010db8000000000000000000000001'],
  }),

  // Microsoft (RFC 2548)
  'MS-MPPE-Encryption-Policy': def({
    code: 7,
    vendor: MS,
    type: 'integer',
    values: { 'Encryption-Allowed': 1, 'Encryption-Required': 2 },
    ref: 'RFC 2548 §2.4.4',
    example: [1, '00000001'],
  }),
  'MS-MPPE-Encryption-Types': def({
    code: 8,
    vendor: MS,
    type: 'integer',
    ref: 'RFC 2548 §2.4.5',
    example: [4, '00000004'],
  }),
  'MS-MPPE-Send-Key': def({
    code: 16,
    vendor: MS,
    type: 'string',
    encryption: 'salt',
    ref: 'RFC 2548 §2.4.2',
    example: [
      bytes(
        '86b748fd9cc1cbb8acbf1bb92c4717a93964d841ccb98d6dfdbb2b81f178adc6cdef8f4ea191d0ccc2e14bc6909cbe609b81',
      ),
      '86b748fd9cc1cbb8acbf1bb92c4717a93964d841ccb98d6dfdbb2b81f178adc6cdef8f4ea191d0ccc2e14bc6909cbe609b81',
    ],
  }),
  'MS-MPPE-Recv-Key': def({
    code: 17,
    vendor: MS,
    type: 'string',
    encryption: 'salt',
    ref: 'RFC 2548 §2.4.3',
    example: [
      bytes(
        '86b61f297c077285a8b65dadac2f8b0c0ce8623fb85df6972749012eac957e8304cb81af5bb01f74f0a0130b5d6a047a2851',
      ),
      '86b61f297c077285a8b65dadac2f8b0c0ce8623fb85df6972749012eac957e8304cb81af5bb01f74f0a0130b5d6a047a2851',
    ],
  }),

  // 3GPP (TS 29.061 §16.4.7.2)
  '3GPP-IMSI': def({
    code: 1,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['232010000000000', '323332303130303030303030303030'],
  }),
  '3GPP-Charging-Id': def({
    code: 2,
    vendor: TGPP,
    type: 'integer',
    ref: 'TS 29.061 §16.4.7.2',
    example: [90525249, '05654e41'],
  }),
  '3GPP-PDP-Type': def({
    code: 3,
    vendor: TGPP,
    type: 'integer',
    values: PDP_TYPE,
    ref: 'TS 29.061 §16.4.7.2',
    example: [0, '00000000'],
  }),
  '3GPP-CG-Address': def({
    code: 4,
    vendor: TGPP,
    type: 'ipv4addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['194.48.132.224', 'c23084e0'],
  }),
  '3GPP-GPRS-Negotiated-QoS-Profile': def({
    code: 5,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['08-4C08', '30382d34433038'],
  }),
  '3GPP-SGSN-Address': def({
    code: 6,
    vendor: TGPP,
    type: 'ipv4addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['194.48.132.224', 'c23084e0'],
  }),
  '3GPP-GGSN-Address': def({
    code: 7,
    vendor: TGPP,
    type: 'ipv4addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['194.48.132.218', 'c23084da'],
  }),
  '3GPP-IMSI-MCC-MNC': def({
    code: 8,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['23201', '3233323031'],
  }),
  '3GPP-GGSN-MCC-MNC': def({
    code: 9,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['23201', '3233323031'],
  }),
  '3GPP-NSAPI': def({
    code: 10,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['5', '35'],
  }),
  '3GPP-Session-Stop-Indicator': def({
    code: 11,
    vendor: TGPP,
    type: 'byte',
    ref: 'TS 29.061 §16.4.7.2',
    example: [255, 'ff'],
  }),
  '3GPP-Selection-Mode': def({
    code: 12,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['0', '30'],
  }),
  '3GPP-Charging-Characteristics': def({
    code: 13,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['0800', '30383030'],
  }),
  '3GPP-CG-IPv6-Address': def({
    code: 14,
    vendor: TGPP,
    type: 'ipv6addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['2001:db8::a', '20010db800000000000000000000000a'],
  }),
  '3GPP-SGSN-IPv6-Address': def({
    code: 15,
    vendor: TGPP,
    type: 'ipv6addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['2001:db8::b', '20010db800000000000000000000000b'],
  }),
  '3GPP-GGSN-IPv6-Address': def({
    code: 16,
    vendor: TGPP,
    type: 'ipv6addr',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['2001:db8::c', '20010db800000000000000000000000c'],
  }),
  '3GPP-IPv6-DNS-Servers': def({
    code: 17,
    vendor: TGPP,
    type: 'string',
    ref: 'TS 29.061 §16.4.7.2',
    example: [bytes('20014860486000000000000000008888'), '20014860486000000000000000008888'],
  }),
  '3GPP-SGSN-MCC-MNC': def({
    code: 18,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['23201', '3233323031'],
  }),
  '3GPP-Teardown-Indicator': def({
    code: 19,
    vendor: TGPP,
    type: 'byte',
    ref: 'TS 29.061 §16.4.7.2',
    example: [1, '01'],
  }),
  '3GPP-IMEISV': def({
    code: 20,
    vendor: TGPP,
    type: 'text',
    ref: 'TS 29.061 §16.4.7.2',
    example: ['8628280212882200', '38363238323830323132383832323030'],
  }),
  '3GPP-RAT-Type': def({
    code: 21,
    vendor: TGPP,
    type: 'byte',
    values: RAT_TYPE,
    ref: 'TS 29.061 §16.4.7.2',
    example: [6, '06'],
  }),
  '3GPP-User-Location-Info': def({
    code: 22,
    vendor: TGPP,
    type: 'uli',
    ref: 'TS 29.061 §16.4.7.2',
    example: [
      { type: 'TAI+ECGI', mcc: '232', mnc: '01', tac: 0x426d, eci: 0x13e02 },
      '8232f210426d32f21000013e02',
    ],
  }),
  '3GPP-MS-TimeZone': def({
    code: 23,
    vendor: TGPP,
    type: 'tz',
    ref: 'TS 29.061 §16.4.7.2',
    example: [{ offsetMinutes: 120, dstHours: 1 }, '8001'],
  }),
  '3GPP-CAMEL-Charging-Info': def({
    code: 24,
    vendor: TGPP,
    type: 'string',
    ref: 'TS 29.061 §16.4.7.2',
    example: [bytes('3003800101'), '3003800101'],
  }),
  '3GPP-Packet-Filter': def({
    code: 25,
    vendor: TGPP,
    type: 'string',
    ref: 'TS 29.061 §16.4.7.2',
    example: [bytes('0110'), '0110'],
  }),
  '3GPP-Negotiated-DSCP': def({
    code: 26,
    vendor: TGPP,
    type: 'byte',
    ref: 'TS 29.061 §16.4.7.2',
    example: [0, '00'],
  }),
  '3GPP-Allocate-IP-Type': def({
    code: 27,
    vendor: TGPP,
    type: 'byte',
    values: ALLOCATE_IP_TYPE,
    ref: 'TS 29.061 §16.4.7.2',
    example: [1, '01'],
  }),

  // WISPr (Wi-Fi Alliance WISPr 1.0 Appendix D): the speed-class rate pair, bits per second
  'WISPr-Bandwidth-Max-Up': def({
    code: 7,
    vendor: WISPR,
    type: 'integer',
    ref: 'WISPr 1.0 App. D',
    example: [128000, '0001f400'],
  }),
  'WISPr-Bandwidth-Max-Down': def({
    code: 8,
    vendor: WISPR,
    type: 'integer',
    ref: 'WISPr 1.0 App. D',
    example: [1000000, '000f4240'],
  }),
} as const satisfies Record<string, AttributeSpec>;

export type AttributeName = keyof typeof RADIUS_ATTRIBUTES;
type SpecOf<N extends AttributeName> = (typeof RADIUS_ATTRIBUTES)[N];
/** The TypeScript value type of a named attribute. */
export type AttributeValue<N extends AttributeName> =
  SpecOf<N> extends AttributeSpec<infer T> ? AttributeValueTypes[T] : never;

const key = (code: number, vendor: number | undefined) => (vendor === undefined ? code : vendor * 256 + code);
const BY_CODE = new Map<number, AttributeName>(
  (Object.entries(RADIUS_ATTRIBUTES) as [AttributeName, AttributeSpec][]).map(([name, spec]) => [
    key(spec.code, spec.vendor),
    name,
  ]),
);

/** The dictionary name of an attribute type (or vendor type), if we know it. */
export function attributeName(type: number, vendorId?: number): AttributeName | undefined {
  return BY_CODE.get(key(type, vendorId));
}

export function attributeSpec(name: AttributeName): AttributeSpec {
  return RADIUS_ATTRIBUTES[name];
}

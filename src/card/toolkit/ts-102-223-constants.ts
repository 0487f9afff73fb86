// Card application toolkit constants as data (ETSI TS 102 223, TS 31.111, and the event numbers of the
// TS 102 241 UICC API): types of proactive command (§9.4), event list codes (§8.25), general results
// (§8.12), command qualifiers the card uses, BER-TLV template tags (TS 101 220 Table 7.22) and the
// TERMINAL PROFILE bits the toolkit depends on (§5.2).

/** TS 102 223 §9.4: type of command (pySim `TypeOfCommand`, uicc.toolkit `PRO_CMD_*`). */
export const PRO_CMD = {
  REFRESH: 0x01,
  MORE_TIME: 0x02,
  POLL_INTERVAL: 0x03,
  POLLING_OFF: 0x04,
  SET_UP_EVENT_LIST: 0x05,
  SEND_SHORT_MESSAGE: 0x13,
  DISPLAY_TEXT: 0x21,
  PROVIDE_LOCAL_INFORMATION: 0x26,
  TIMER_MANAGEMENT: 0x27,
  // Bearer Independent Protocol (TS 102 223 §6.4.27–§6.4.31).
  OPEN_CHANNEL: 0x40,
  CLOSE_CHANNEL: 0x41,
  RECEIVE_DATA: 0x42,
  SEND_DATA: 0x43,
  GET_CHANNEL_STATUS: 0x44,
} as const;

/** TS 102 223 §8.6 qualifiers of PROVIDE LOCAL INFORMATION (ofono build_local_info). */
export const PLI = {
  LOCATION_INFORMATION: 0x00,
  IMEI: 0x01,
  NMR: 0x02,
  DATE_TIME_ZONE: 0x03,
  ACCESS_TECHNOLOGY: 0x06,
  IMEISV: 0x08,
} as const;

/** TS 102 223 §6.4.7 / TS 31.111 qualifiers of REFRESH. */
export const REFRESH = {
  NAA_INIT_FULL_FCN: 0x00,
  FCN: 0x01,
  NAA_INIT_FCN: 0x02,
  NAA_INIT: 0x03,
  UICC_RESET: 0x04,
  NAA_APPLICATION_RESET: 0x05,
  NAA_SESSION_RESET: 0x06,
} as const;

/** TS 102 223 §6.4.21 qualifiers of TIMER MANAGEMENT. */
export const TIMER_OPERATION = { START: 0x00, DEACTIVATE: 0x01, GET_CURRENT_VALUE: 0x02 } as const;

/** TS 102 223 §8.25: event list codes the terminal reports by EVENT DOWNLOAD. */
export const EVENT_CODE = {
  MT_CALL: 0x00,
  CALL_CONNECTED: 0x01,
  CALL_DISCONNECTED: 0x02,
  LOCATION_STATUS: 0x03,
  USER_ACTIVITY: 0x04,
  IDLE_SCREEN_AVAILABLE: 0x05,
  DATA_AVAILABLE: 0x09,
  CHANNEL_STATUS: 0x0a,
  ACCESS_TECHNOLOGY_CHANGE: 0x0b,
} as const;

/** TS 102 223 §8.12 general results (pySim `Result`). */
export const GENERAL_RESULT = {
  OK: 0x00,
  PARTIAL_COMPREHENSION: 0x01,
  MISSING_INFORMATION: 0x02,
  REFRESH_ADDITIONAL_EFS_READ: 0x03,
  OK_LIMITED_SERVICE: 0x06,
  TERMINATED_BY_USER: 0x10,
  TERMINAL_UNABLE: 0x20,
  NETWORK_UNABLE: 0x21,
  BEYOND_TERMINAL_CAPABILITIES: 0x30,
  TYPE_NOT_UNDERSTOOD: 0x31,
  DATA_NOT_UNDERSTOOD: 0x32,
  NUMBER_NOT_KNOWN: 0x33,
  REQUIRED_VALUES_MISSING: 0x36,
  BIP_ERROR: 0x3a,
} as const;

/** Additional information for BIP_ERROR (TS 102 223 §8.12.11). */
export const BIP_ERROR_CAUSE = {
  NO_SPECIFIC_CAUSE: 0x00,
  NO_CHANNEL_AVAILABLE: 0x01,
  CHANNEL_CLOSED: 0x02,
  CHANNEL_ID_NOT_VALID: 0x03,
  BUFFER_SIZE_NOT_AVAILABLE: 0x04,
  TRANSPORT_LEVEL_NOT_AVAILABLE: 0x06,
  REMOTE_DEVICE_NOT_REACHABLE: 0x07,
} as const;

/** TS 102 223 §8.6 qualifiers of the BIP commands. */
export const BIP_QUALIFIER = {
  /** OPEN CHANNEL b1: immediate link establishment (else on demand). */
  OPEN_IMMEDIATE: 0x01,
  /** SEND DATA b1: send immediately (else store in the Tx buffer). */
  SEND_IMMEDIATE: 0x01,
} as const;

/** TS 102 223 §8.59 transport protocol types. */
export const TRANSPORT_PROTOCOL = { UDP_CLIENT_REMOTE: 0x01, TCP_CLIENT_REMOTE: 0x02 } as const;

/** TS 102 223 §8.52 bearer types. */
export const BEARER_TYPE = { PACKET_DATA: 0x02, DEFAULT: 0x03, E_UTRAN: 0x0b } as const;

/** Additional information for TERMINAL_UNABLE (TS 102 223 §8.12.2). */
export const TERMINAL_UNABLE_CAUSE = { NO_SERVICE: 0x04 } as const;

/** A general result the applet may treat as success (TS 102 223 §8.12: 0X results). */
export const isSuccessfulResult = (general: number): boolean => general < 0x10;

/** TS 101 220 Table 7.22: BER-TLV templates of the toolkit. */
export const TEMPLATE_TAG = {
  PROACTIVE_COMMAND: 0xd0,
  SMS_PP_DOWNLOAD: 0xd1,
  CELL_BROADCAST_DOWNLOAD: 0xd2,
  MENU_SELECTION: 0xd3,
  CALL_CONTROL: 0xd4,
  MO_SMS_CONTROL: 0xd5,
  EVENT_DOWNLOAD: 0xd6,
  TIMER_EXPIRATION: 0xd7,
} as const;

/**
 * TS 102 241 §6.2 (uicc.toolkit.ToolkitConstants) event numbers an applet registers for. The values
 * are the API's, so an applet written against this module reads like its Java Card counterpart.
 */
export const EVENT = {
  EVENT_PROFILE_DOWNLOAD: 1,
  EVENT_FORMATTED_SMS_PP_ENV: 2,
  EVENT_FORMATTED_SMS_PP_UPD: 3,
  EVENT_UNFORMATTED_SMS_PP_ENV: 4,
  EVENT_TIMER_EXPIRATION: 12,
  EVENT_EVENT_DOWNLOAD_LOCATION_STATUS: 16,
  EVENT_EVENT_DOWNLOAD_DATA_AVAILABLE: 22,
  EVENT_EVENT_DOWNLOAD_CHANNEL_STATUS: 23,
  EVENT_PROACTIVE_HANDLER_AVAILABLE: 124,
} as const;
export type ToolkitEvent = (typeof EVENT)[keyof typeof EVENT];

/**
 * TS 102 223 §5.2 TERMINAL PROFILE: the facilities the toolkit checks, as byte (1-based) and bit
 * (1 = least significant), each declared once (pySim `cat.py` term_prof_bits).
 */
export const PROFILE_BIT = {
  PROFILE_DOWNLOAD: { byte: 1, bit: 1 },
  SMS_PP_DATA_DOWNLOAD: { byte: 1, bit: 2 },
  TIMER_EXPIRATION: { byte: 1, bit: 6 },
  DISPLAY_TEXT: { byte: 3, bit: 1 },
  REFRESH: { byte: 3, bit: 8 },
  SEND_SHORT_MESSAGE: { byte: 4, bit: 2 },
  PROVIDE_LOCAL_INFORMATION: { byte: 4, bit: 7 },
  SET_UP_EVENT_LIST: { byte: 5, bit: 1 },
  EVENT_LOCATION_STATUS: { byte: 5, bit: 5 },
  TIMER_MANAGEMENT_START_STOP: { byte: 8, bit: 1 },
  TIMER_MANAGEMENT_GET_VALUE: { byte: 8, bit: 2 },
  PLI_ACCESS_TECHNOLOGY: { byte: 9, bit: 8 },
  EVENT_DATA_AVAILABLE: { byte: 6, bit: 3 },
  EVENT_CHANNEL_STATUS: { byte: 6, bit: 4 },
  OPEN_CHANNEL: { byte: 12, bit: 1 },
  CLOSE_CHANNEL: { byte: 12, bit: 2 },
  RECEIVE_DATA: { byte: 12, bit: 3 },
  SEND_DATA: { byte: 12, bit: 4 },
  GET_CHANNEL_STATUS: { byte: 12, bit: 5 },
  /** Byte 17 b1: TCP, UICC in client mode, remote connection. */
  TCP_CLIENT_REMOTE: { byte: 17, bit: 1 },
} as const;
export type ProfileFacility = keyof typeof PROFILE_BIT;

export function profileSupports(profile: Uint8Array, facility: ProfileFacility): boolean {
  const { byte, bit } = PROFILE_BIT[facility];
  return (((profile[byte - 1] ?? 0) >> (bit - 1)) & 1) === 1;
}

export function profileWith(facilities: readonly ProfileFacility[], length = 10): Uint8Array {
  const out = new Uint8Array(length);
  for (const f of facilities) {
    const { byte, bit } = PROFILE_BIT[f];
    if (byte <= length) out[byte - 1] = (out[byte - 1] as number) | (1 << (bit - 1));
  }
  return out;
}

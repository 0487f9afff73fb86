// SMPP v3.4 elements the ESME acts on, declared once as data: the command_status values
// (§5.1.3, Table 5-2) with how the ESME handles each, the message_state values (§5.2.28), and the
// delivery receipt carried in a deliver_sm's short_message (Appendix B). The PDU codec itself is the
// `smpp` npm package; this module decides what its answers mean.

import { decodeError, ok, type Result } from '../../../lib/result.js';
import type { DeliveryState } from './provider.js';

/**
 * - `throttle`: the SMSC is busy (§5.1.3: ESME_RTHROTTLED, ESME_RMSGQFUL) — keep the PDU, wait, send again.
 * - `bind`: the bind was refused for its credentials — retry only after the longest backoff.
 * - `transient`: the submit failed but may work later or through another provider.
 * - `permanent`: the message itself is refused (bad address, bad length) — do not resend it.
 */
export type StatusHandling = 'ok' | 'throttle' | 'bind' | 'transient' | 'permanent';

export const COMMAND_STATUS = {
  ESME_ROK: { value: 0x00, handling: 'ok', description: 'No error' },
  ESME_RINVMSGLEN: { value: 0x01, handling: 'permanent', description: 'Message length is invalid' },
  ESME_RINVCMDLEN: { value: 0x02, handling: 'permanent', description: 'Command length is invalid' },
  ESME_RINVCMDID: { value: 0x03, handling: 'permanent', description: 'Invalid command id' },
  ESME_RINVBNDSTS: {
    value: 0x04,
    handling: 'transient',
    description: 'Incorrect bind status for the command',
  },
  ESME_RALYBND: { value: 0x05, handling: 'transient', description: 'ESME already bound' },
  ESME_RSYSERR: { value: 0x08, handling: 'transient', description: 'System error' },
  ESME_RINVSRCADR: { value: 0x0a, handling: 'permanent', description: 'Invalid source address' },
  ESME_RINVDSTADR: { value: 0x0b, handling: 'permanent', description: 'Invalid destination address' },
  ESME_RBINDFAIL: { value: 0x0d, handling: 'bind', description: 'Bind failed' },
  ESME_RINVPASWD: { value: 0x0e, handling: 'bind', description: 'Invalid password' },
  ESME_RINVSYSID: { value: 0x0f, handling: 'bind', description: 'Invalid system_id' },
  ESME_RMSGQFUL: { value: 0x14, handling: 'throttle', description: 'Message queue full' },
  ESME_RINVESMCLASS: { value: 0x43, handling: 'permanent', description: 'Invalid esm_class' },
  ESME_RSUBMITFAIL: { value: 0x45, handling: 'transient', description: 'submit_sm failed' },
  ESME_RINVSRCTON: { value: 0x48, handling: 'permanent', description: 'Invalid source address TON' },
  ESME_RINVSRCNPI: { value: 0x49, handling: 'permanent', description: 'Invalid source address NPI' },
  ESME_RINVDSTTON: { value: 0x50, handling: 'permanent', description: 'Invalid destination address TON' },
  ESME_RINVDSTNPI: { value: 0x51, handling: 'permanent', description: 'Invalid destination address NPI' },
  ESME_RINVSYSTYP: { value: 0x53, handling: 'bind', description: 'Invalid system_type' },
  ESME_RTHROTTLED: { value: 0x58, handling: 'throttle', description: 'Throttling error: too many messages' },
  ESME_RINVEXPIRY: { value: 0x62, handling: 'permanent', description: 'Invalid validity_period' },
  ESME_RX_T_APPN: { value: 0x64, handling: 'transient', description: 'Temporary application error' },
  ESME_RX_P_APPN: { value: 0x65, handling: 'permanent', description: 'Permanent application error' },
  ESME_RX_R_APPN: { value: 0x66, handling: 'permanent', description: 'Application rejected the message' },
  ESME_RUNKNOWNERR: { value: 0xff, handling: 'transient', description: 'Unknown error' },
} as const satisfies Record<string, { value: number; handling: StatusHandling; description: string }>;

export type CommandStatusName = keyof typeof COMMAND_STATUS;

const BY_VALUE = new Map<number, CommandStatusName>(
  Object.entries(COMMAND_STATUS).map(([name, s]) => [s.value, name as CommandStatusName]),
);

/** The name and handling of a command_status; values outside the table are treated as transient. */
export function commandStatus(value: number): { name: string; handling: StatusHandling } {
  const name = BY_VALUE.get(value);
  return name === undefined
    ? { name: `ESME_0x${value.toString(16).padStart(8, '0')}`, handling: 'transient' }
    : { name, handling: COMMAND_STATUS[name].handling };
}

/** §5.2.28 message_state (TLV 0x0427) → our delivery state. */
export const MESSAGE_STATE: Readonly<Record<number, { name: string; state: DeliveryState }>> = {
  0: { name: 'SCHEDULED', state: 'accepted' },
  1: { name: 'ENROUTE', state: 'accepted' },
  2: { name: 'DELIVERED', state: 'delivered' },
  3: { name: 'EXPIRED', state: 'expired' },
  4: { name: 'DELETED', state: 'failed' },
  5: { name: 'UNDELIVERABLE', state: 'failed' },
  6: { name: 'ACCEPTED', state: 'accepted' },
  7: { name: 'UNKNOWN', state: 'unknown' },
  8: { name: 'REJECTED', state: 'failed' },
  9: { name: 'SKIPPED', state: 'failed' },
};

/** Appendix B `stat:` values (7 characters, abbreviated forms of the message states). */
export const RECEIPT_STAT: Readonly<Record<string, DeliveryState>> = {
  DELIVRD: 'delivered',
  EXPIRED: 'expired',
  DELETED: 'failed',
  UNDELIV: 'failed',
  ACCEPTD: 'accepted',
  UNKNOWN: 'unknown',
  REJECTD: 'failed',
  ENROUTE: 'accepted',
};

export interface DeliveryReceipt {
  readonly id: string;
  readonly stat: string;
  readonly state: DeliveryState;
  readonly err: string | undefined;
}

/**
 * Appendix B: `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
 * stat:DDDDDDD err:E text:…`. Only id and stat are required; the text after `text:` is ignored.
 * Total: any input gives a receipt or a typed error.
 */
export function parseDeliveryReceipt(text: string): Result<DeliveryReceipt> {
  const head = text.split(/\btext:/i)[0] ?? '';
  const id = /(?:^|\s)id:(\S+)/i.exec(head)?.[1];
  const stat = /(?:^|\s)stat:([A-Za-z]+)/.exec(head)?.[1]?.toUpperCase();
  if (id === undefined) return decodeError('SMPP_RECEIPT_ID', 'delivery receipt without id:');
  if (stat === undefined) return decodeError('SMPP_RECEIPT_STAT', 'delivery receipt without stat:');
  const err = /(?:^|\s)err:(\S+)/i.exec(head)?.[1];
  return ok({ id, stat, state: RECEIPT_STAT[stat] ?? 'unknown', err });
}

/**
 * SMSCs write message ids in receipts differently from submit_sm_resp (hex in one, decimal in the
 * other; leading zeros). Both forms are compared through this key.
 */
export function messageIdKeys(id: string): string[] {
  const keys = [id.toLowerCase()];
  if (/^[0-9]+$/.test(id) && id.length <= 15) keys.push(`n:${BigInt(id).toString(16)}`);
  if (/^[0-9a-f]+$/i.test(id) && id.length <= 15) keys.push(`n:${BigInt(`0x${id}`).toString(16)}`);
  return keys;
}

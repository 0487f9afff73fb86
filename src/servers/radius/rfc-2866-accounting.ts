// Accounting-Request (RFC 2866 §4.1, §5; RFC 2869 §5.1–5.3 Gigawords and Event-Timestamp; TS 29.061
// §16.4.3 for what a packet gateway adds) → an AccountingRecord for the platform. Total: a request
// the platform cannot record (no Acct-Status-Type, no Acct-Session-Id, an undecodable attribute) is
// an error naming why, and is dropped, not answered.

import { getAttribute } from '../../lib/radius/attributes.js';
import { ACCT_STATUS_TYPE, ACCT_TERMINATE_CAUSE } from '../../lib/radius/dictionary.js';
import type { RadiusPacket } from '../../lib/radius/rfc-2865-packet.js';
import { accountingOctets } from '../../lib/radius/rfc-2869-gigawords.js';
import type { AccountingKind, AccountingRecord } from '../../platform/aaa/accounting.js';
import { imeiFromReported } from '../../platform/aaa/admission.js';
import { gatewayFacts } from './ts-29-061.js';

const KINDS = new Map<number, AccountingKind>([
  [ACCT_STATUS_TYPE.Start, 'start'],
  [ACCT_STATUS_TYPE['Interim-Update'], 'interim'],
  [ACCT_STATUS_TYPE.Stop, 'stop'],
  [ACCT_STATUS_TYPE['Accounting-On'], 'accounting-on'],
  [ACCT_STATUS_TYPE['Accounting-Off'], 'accounting-off'],
]);

const CAUSE_NAMES = new Map<number, string>(
  Object.entries(ACCT_TERMINATE_CAUSE).map(([name, code]) => [code, name]),
);

export type ParsedAccounting = { ok: true; record: AccountingRecord } | { ok: false; reason: string };

export function parseAccountingRequest(
  packet: RadiusPacket,
  nas: { address: string; operatorId: string },
  now: number,
): ParsedAccounting {
  const status = getAttribute(packet, 'Acct-Status-Type');
  if (!status?.ok) return { ok: false, reason: 'no valid Acct-Status-Type' };
  const kind = KINDS.get(status.value);
  if (kind === undefined) return { ok: false, reason: `Acct-Status-Type ${status.value} is not recorded` };
  const sessionId = getAttribute(packet, 'Acct-Session-Id');
  if (sessionId && !sessionId.ok) return { ok: false, reason: 'Acct-Session-Id is not valid text' };
  const acctSessionId = sessionId?.value ?? '';
  const nasReset = kind === 'accounting-on' || kind === 'accounting-off';
  if (!nasReset && (acctSessionId === '' || acctSessionId.length > 253))
    return { ok: false, reason: 'no Acct-Session-Id' };
  const facts = gatewayFacts(packet);
  if (!facts.ok) return { ok: false, reason: `${facts.attribute} does not decode` };
  const octets = accountingOctets(packet);
  if (!octets.ok) return { ok: false, reason: octets.error.message };
  const inPackets = getAttribute(packet, 'Acct-Input-Packets');
  const outPackets = getAttribute(packet, 'Acct-Output-Packets');
  if ((inPackets && !inPackets.ok) || (outPackets && !outPackets.ok))
    return { ok: false, reason: 'packet counters do not decode' };
  const cause = getAttribute(packet, 'Acct-Terminate-Cause');
  // RFC 2869 §5.3 Event-Timestamp, else now minus RFC 2866 §5.2 Acct-Delay-Time.
  const stamp = getAttribute(packet, 'Event-Timestamp');
  const delay = getAttribute(packet, 'Acct-Delay-Time');
  const time = stamp?.ok ? stamp.value * 1000 : now - (delay?.ok ? delay.value * 1000 : 0);
  const f = facts.value;
  return {
    ok: true,
    record: {
      kind,
      nasAddress: nas.address,
      operatorId: nas.operatorId,
      acctSessionId,
      imsi: f.imsi,
      imei: imeiFromReported(f.imeisv),
      ueIp: f.framedIp,
      apn: f.apn,
      cell: f.cell,
      inputOctets: octets.value.input,
      outputOctets: octets.value.output,
      inputPackets: inPackets?.ok ? inPackets.value : undefined,
      outputPackets: outPackets?.ok ? outPackets.value : undefined,
      terminateCause: cause?.ok ? (CAUSE_NAMES.get(cause.value) ?? String(cause.value)) : undefined,
      time,
    },
  };
}

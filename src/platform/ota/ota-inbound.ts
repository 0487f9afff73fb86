// The platform's receive path for MO SMS from cards (SMPP v3.4 deliver_sm, §4.6.1): a PoR or an
// alert sent by the card's SEND SHORT MESSAGE (SMS-SUBMIT, TP-PID 7F, TP-DCS F6, UDH with IEI 71,
// TS 31.115 §6) reaches the SMSC and comes to the platform as a deliver_sm. This step table turns
// one PDU into an OtaService.receive call:
//
//   check fields → rebuild the user data → reassemble segments → find the SIM → open and verify
//
// Every step is total: anything it does not recognise is dropped with a code and changes nothing.
// The SIM is found by the sender (source_addr): its MSISDN, its IMSI, or its quarantine IMSI.

import { smppUserData } from '../../lib/smpp-short-message.js';
import { decodeUserData, IEI, reassembleSecuredPacket, type UserData } from '../../lib/ts-23-040-sms-tpdu.js';
import type { Store } from '../store/database.js';
import type { OtaService, ReceiveOutcome } from './ota-service.js';
import { appletOfSender } from './ota-store.js';

/** The fields of a deliver_sm as the `smpp` package hands them over (any may be missing or odd). */
export type DeliverSmFields = Readonly<Record<string, unknown>>;

export type InboundOutcome =
  | ReceiveOutcome
  | { readonly kind: 'segment'; readonly received: number; readonly total: number }
  | { readonly kind: 'ignored'; readonly code: string; readonly message: string }
  | { readonly kind: 'esim'; readonly receipt: unknown };

/**
 * The SM-SR's ES5 over SMS (platform/esim/sm-sr/es5-sms.ts): it takes the packets of its eUICCs — PoRs
 * from the ISD-R TAR 000001 and their default notifications (command packets, UDH IEI 70) — and
 * answers undefined for anything else, which then goes to the anti-theft OTA as before.
 */
export interface EsimSmsReceiver {
  receive(sender: string, identifier: number, packet: Uint8Array): Promise<unknown>;
}

const ESM_UDHI = 0x40;
const ESM_RECEIPT_MASK = 0x3c;
/** TS 23.040 §9.2.3.9 / TS 31.115 §6: SIM data download. */
const PID_SIM_DATA = 0x7f;
/** 8-bit data, class 2 (SIM specific): F6; 16 (F2-like) forms with the same meaning are accepted. */
const isSimDataCoding = (dcs: number) => dcs === 0xf6 || dcs === 0x16;
/** An address the platform can hold: 6 to 15 digits, optional '+'. */
const SENDER = /^\+?([0-9]{6,15})$/;
/** Segments of unfinished PoRs kept at most (oldest dropped first) and for at most this long. */
const MAX_PARTIAL = 1000;
const PARTIAL_TTL_MS = 5 * 60_000;

const ignored = (code: string, message: string): InboundOutcome => ({ kind: 'ignored', code, message });

// One of these runs for every MO SMS: prepared (store/prepared.ts).
export class OtaInbound {
  private readonly partial = new Map<string, { segments: UserData[]; total: number; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly ota: OtaService,
    private readonly now: () => number = Date.now,
    private readonly esim?: EsimSmsReceiver,
  ) {}

  async deliverSm(pdu: DeliverSmFields): Promise<InboundOutcome> {
    // check fields
    const esm = pdu.esm_class;
    const pid = pdu.protocol_id;
    const dcs = pdu.data_coding;
    const source = pdu.source_addr;
    if (
      typeof esm !== 'number' ||
      typeof pid !== 'number' ||
      typeof dcs !== 'number' ||
      typeof source !== 'string'
    )
      return ignored('OTA_SMS_FIELDS', 'esm_class, protocol_id, data_coding and source_addr are required');
    if ((esm & ESM_RECEIPT_MASK) !== 0)
      return ignored('OTA_SMS_RECEIPT', 'a delivery receipt, not a card message');
    if (pid !== PID_SIM_DATA || !isSimDataCoding(dcs) || (esm & ESM_UDHI) === 0)
      return ignored('OTA_SMS_NOT_SIM_DATA', 'not SIM data (TP-PID 7F, TP-DCS F6, UDHI)');
    const sender = SENDER.exec(source)?.[1];
    if (sender === undefined) return ignored('OTA_SMS_SENDER', 'source_addr is not 6 to 15 digits');

    // rebuild the user data (the package splits the UDH into elements)
    const ud = smppUserData(pdu.short_message);
    if (ud === undefined)
      return ignored('OTA_SMS_BODY', 'short_message is not binary user data with a header');
    const decoded = decodeUserData(ud, true);
    if (!decoded.ok) return ignored(decoded.error.code, decoded.error.message);

    // reassemble
    const assembled = this.reassemble(sender, decoded.value);
    if ('kind' in assembled) return assembled;

    // an eUICC's packet goes to the SM-SR; card command packets (IEI 70) only come from eUICCs
    if (this.esim !== undefined) {
      const receipt = await this.esim.receive(sender, assembled.identifier, assembled.packet);
      if (receipt !== undefined) return { kind: 'esim', receipt };
    }
    if (assembled.identifier !== IEI.RESPONSE_PACKET)
      return ignored('OTA_SMS_NOT_RESPONSE', 'a card sends response packets (IEI 71)');

    // find the SIM and its applet (one statement), then open and verify
    const [found] = await appletOfSender(this.store.db, { sender });
    if (found === undefined)
      return ignored('OTA_SMS_UNKNOWN_SENDER', 'no SIM has this MSISDN, IMSI or quarantine IMSI');
    const { sender_sim_id: simId, sim_id, operator_id, tar, kvn, report_kvn } = found;
    const applet =
      sim_id === null || operator_id === null || tar === null || kvn === null || report_kvn === null
        ? undefined
        : { operator_id, tar, kvn, report_kvn };
    return this.ota.receiveFrom(simId, applet, assembled.packet);
  }

  private reassemble(
    sender: string,
    ud: UserData,
  ): { packet: Uint8Array; identifier: number } | InboundOutcome {
    const concat = ud.header?.find((e) => e.iei === IEI.CONCATENATION_8BIT && e.data.length === 3);
    if (concat === undefined) {
      const r = reassembleSecuredPacket([ud]);
      if (!r.ok) return ignored(r.error.code, r.error.message);
      return { packet: r.value.packet, identifier: r.value.identifier };
    }
    const [reference, total] = [concat.data[0] as number, concat.data[1] as number];
    const key = `${sender}/${reference}/${total}`;
    const now = this.now();
    for (const [k, p] of this.partial) if (now - p.at > PARTIAL_TTL_MS) this.partial.delete(k);
    const entry = this.partial.get(key) ?? { segments: [], total, at: now };
    entry.segments.push(ud);
    if (entry.segments.length < total) {
      this.partial.delete(key);
      this.partial.set(key, entry);
      while (this.partial.size > MAX_PARTIAL) this.partial.delete(this.partial.keys().next().value as string);
      return { kind: 'segment', received: entry.segments.length, total };
    }
    this.partial.delete(key);
    const r = reassembleSecuredPacket(entry.segments);
    if (!r.ok) return ignored(r.error.code, r.error.message);
    return { packet: r.value.packet, identifier: r.value.identifier };
  }
}

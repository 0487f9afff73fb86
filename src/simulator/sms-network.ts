// The radio side of SMS for the simulated fleet: what a mobile network does between its SMSC and the
// devices' cards, for OTA (TS 31.115, TS 23.040).
//
//   platform ESME ──submit_sm──▶ SMSC ──onSimData──▶ SmsNetwork ──SMS-DELIVER (SIM data download)──▶
//   Fleet.deliverSms(card IMSI) ──▶ the card (ENVELOPE SMS-PP) ──SEND SHORT MESSAGE──▶ onCardSms ──▶
//   SmsNetwork ──deliverMo──▶ SMSC ──deliver_sm──▶ platform ESME
//
// MT SIM data addressed to a device's MSISDN (or to its IMSI, for a card without MSISDN) reaches that
// device's card, whatever IMSI the card uses now: the quarantine identity of a blocked anti-theft SIM
// stays reachable for SMS. MO SMS come from the card's MSISDN; from a blocked card (another IMSI than
// its own) they come from that identity, which is how the network knows it. MO SMS the platform is not
// bound to receive yet are kept (store and forward) and sent when it binds.
//
// The SMSC is `src/servers/smpp/smsc.ts` (or anything with its deliverMo): only its shape is used
// here, so the simulator still reaches the platform only through protocols (SMPP).

import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeTimeStamp,
  encodeUserData,
  internationalAddress,
  simDataDownload,
} from '../lib/ts-23-040-sms-tpdu.js';

/** A binary SMS between the SMSC and a card (the SMSC's SimDataMessage). */
export interface SimDataMessage {
  readonly source: string;
  readonly destination: string;
  readonly protocolId: number;
  readonly dataCoding: number;
  /** UDHL ‖ header ‖ body. */
  readonly userData: Uint8Array;
}

/** What the network needs of the SMSC: hand a mobile-originated SMS to a bound ESME. */
export interface MoSmsc {
  deliverMo(systemId: string, message: SimDataMessage): boolean;
}

/** What the network needs of the fleet (Fleet has it). */
export interface SmsDevices {
  deliverSms(imsi: string, tpdu: Uint8Array): Uint8Array | undefined;
  deviceState(imsi: string): { readonly cardImsi: string; readonly imsi: string };
}

export interface SmsNetworkOptions {
  /** The ESME (system_id) MO SMS go to: the platform's OTA bind. */
  readonly systemId: string;
  /**
   * MO SMS to these numbers go to another ESME (number → system_id), as an SMSC routes by
   * destination: with two platforms bound (two operators' SM-SRs), a card's PoR or notification
   * reaches the one whose number it was sent to. Each ESME's SMS keep their order.
   */
  readonly moRoutes?: Readonly<Record<string, string>>;
  /**
   * The fleet's subscribers: each card's own IMSI and MSISDN, and an eUICC's other profiles with
   * `card`, the IMSI of the card that holds them (its card file's): SMS to such a profile reach that
   * card, and while it is enabled the card's MO SMS come from its MSISDN.
   */
  readonly subscribers: ReadonlyArray<{
    readonly imsi: string;
    readonly msisdn?: string | undefined;
    readonly card?: string;
  }>;
  /** MO SMS kept while no ESME is bound (oldest dropped beyond; default 1000). */
  readonly maxQueued?: number;
  /** How often kept MO SMS are offered again (default 1000 ms). */
  readonly retryMs?: number;
  readonly now?: () => Date;
}

export interface SmsNetworkStats {
  /** MT SIM data delivered to a card. */
  mt: number;
  /** MT SIM data for nobody in the fleet, or that did not decode. */
  mtUndeliverable: number;
  /** MO SMS handed to the platform. */
  mo: number;
  /** MO SMS dropped: not an SMS-SUBMIT, or the store was full. */
  moDropped: number;
}

/** TS 23.040 §9.2.3.11 service centre time stamp of `d` (UTC). */
export function serviceCentreTimeStamp(d: Date): Uint8Array {
  return encodeTimeStamp({
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    timeZoneQuarters: 0,
  });
}

export class SmsNetwork {
  readonly stats: SmsNetworkStats = { mt: 0, mtUndeliverable: 0, mo: 0, moDropped: 0 };
  readonly #o: SmsNetworkOptions;
  /** MSISDN or own IMSI → the card's own IMSI. */
  readonly #cardOf = new Map<string, string>();
  readonly #msisdnOf = new Map<string, string>();
  /** Every subscriber IMSI (a card's own, an eUICC's profiles). */
  readonly #subscribers = new Set<string>();
  readonly #queued: SimDataMessage[] = [];
  #devices: SmsDevices | undefined;
  #smsc: MoSmsc | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: SmsNetworkOptions) {
    this.#o = o;
    for (const s of o.subscribers) {
      const card = s.card ?? s.imsi;
      this.#cardOf.set(s.imsi, card);
      this.#subscribers.add(s.imsi);
      if (s.msisdn !== undefined && s.msisdn !== '') {
        this.#cardOf.set(s.msisdn, card);
        this.#msisdnOf.set(s.imsi, s.msisdn);
      }
    }
  }

  /** Both ends: MT go to `devices`, MO to `smsc`. Kept MO SMS are offered at once. */
  connect(devices: SmsDevices, smsc: MoSmsc): void {
    this.#devices = devices;
    this.#smsc = smsc;
    this.#flush();
  }

  /** MO SMS waiting for the platform to bind. */
  get queued(): number {
    return this.#queued.length;
  }

  /** The SMSC's onSimData: MT SIM data to the card of the addressed subscriber. */
  readonly onSimData = (m: SimDataMessage): void => {
    const imsi = this.#cardOf.get(m.destination);
    const ud = decodeUserData(m.userData, m.userData.length > 0 && (m.userData[0] as number) > 0);
    if (imsi === undefined || this.#devices === undefined || !ud.ok) {
      this.stats.mtUndeliverable++;
      return;
    }
    const tpdu = encodeSmsDeliver(
      simDataDownload({
        originatingAddress: internationalAddress(m.source),
        serviceCentreTimeStamp: serviceCentreTimeStamp(this.#o.now?.() ?? new Date()),
        userData: ud.value,
      }),
    );
    if (!tpdu.ok) {
      this.stats.mtUndeliverable++;
      return;
    }
    // A PoR in the RP-ACK (SPI "PoR in the SMS-DELIVER-REPORT") would go back to the SMSC here; the
    // platform asks for PoRs by SMS-SUBMIT, which arrive through onCardSms.
    try {
      this.#devices.deliverSms(imsi, tpdu.value);
      this.stats.mt++;
    } catch {
      // A device that is gone (fleet stopped): the message is undeliverable, the SMSC carries on.
      this.stats.mtUndeliverable++;
    }
  };

  /** The fleet's onCardSms: a card's SMS-SUBMIT (PoR, alert) to the platform as a deliver_sm. */
  readonly onCardSms = (imsi: string, tpdu: Uint8Array): void => {
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok || s.value.destinationAddress.kind !== 'digits') {
      this.stats.moDropped++;
      return;
    }
    const state = this.#devices?.deviceState(imsi);
    // The identity the card uses now: a subscriber's (its own, an eUICC's enabled profile) comes from
    // its MSISDN; another one (the quarantine IMSI of a blocked card) is how the network knows it.
    const using = state?.imsi ?? imsi;
    const source = this.#subscribers.has(using) ? (this.#msisdnOf.get(using) ?? using) : using;
    this.#queue({
      source,
      destination: s.value.destinationAddress.digits,
      protocolId: s.value.protocolIdentifier,
      dataCoding: s.value.dataCodingScheme,
      userData: encodeUserData(s.value.userData),
    });
  };

  #queue(m: SimDataMessage): void {
    if (this.#queued.length >= (this.#o.maxQueued ?? 1000)) {
      this.#queued.shift();
      this.stats.moDropped++;
    }
    this.#queued.push(m);
    this.#flush();
  }

  #flush(): void {
    const smsc = this.#smsc;
    if (smsc !== undefined && this.#queued.length > 0) {
      // An ESME not bound keeps its SMS (and every later one to it, in order); the others go on.
      const unbound = new Set<string>();
      const kept: SimDataMessage[] = [];
      for (const m of this.#queued) {
        const routes = this.#o.moRoutes;
        const systemId =
          routes !== undefined && Object.hasOwn(routes, m.destination)
            ? (routes[m.destination] as string)
            : this.#o.systemId;
        if (!unbound.has(systemId) && smsc.deliverMo(systemId, m)) {
          this.stats.mo++;
          continue;
        }
        unbound.add(systemId);
        kept.push(m);
      }
      this.#queued.splice(0, this.#queued.length, ...kept);
    }
    if (this.#queued.length > 0 && this.#retry === undefined && !this.#closed) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#flush();
      }, this.#o.retryMs ?? 1000);
    }
  }

  /** Stops offering kept MO SMS. */
  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}

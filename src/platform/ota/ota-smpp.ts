// The platform's SMPP link for OTA (SMPP v3.4, an ESME bound as transceiver, §2.2): command packets
// go out as submit_sm with TP-PID 7F and TP-DCS F6 (SIM data download, TS 31.115 §4; esm_class
// UDHI), one per segment; PoRs and alerts come back as deliver_sm and go to OtaInbound, which
// verifies them. The MFA gateway's SmppProvider sends text OTPs with failover; this link carries
// binary SIM data only, to one SMSC.
//
// A link does not reconnect by itself: when it drops, `closed` resolves. `keepOtaLink` is the owner
// the server runs: it connects, hands the bound link to OtaService, and connects again with
// exponential backoff (0.5 s … 30 s) whenever the link is lost; meanwhile OTA sends answer 503.

import smpp, { type Pdu, type Session } from 'smpp';
import type { InboundOutcome, OtaInbound } from './ota-inbound.js';
import type { OtaService } from './ota-service.js';

export interface OtaSmppOptions {
  /** smpp://host:port */
  readonly url: string;
  readonly systemId: string;
  readonly password: string;
  /** The platform's address the cards answer to (the applet's alert destination). */
  readonly sourceAddr: string;
  readonly responseTimeoutMs?: number;
}

const PID_SIM_DATA = 0x7f;
const DCS_SIM_DATA = 0xf6;
const ESM_UDHI = 0x40;

export class OtaSmppLink {
  /** Resolves when the link is gone (closed, dropped or unbound by the SMSC). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor(
    private readonly session: Session,
    private readonly o: OtaSmppOptions,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /**
   * Connects and binds. Every deliver_sm is answered, then handed to `inbound`; `onOutcome` sees
   * what it turned into (tests and logs).
   */
  static connect(
    o: OtaSmppOptions,
    inbound: OtaInbound,
    onOutcome: (outcome: InboundOutcome) => void = () => undefined,
  ): Promise<OtaSmppLink> {
    return new Promise((resolve, reject) => {
      const session = smpp.connect({ url: o.url, connectTimeout: o.responseTimeoutMs ?? 10_000 });
      const link = new OtaSmppLink(session, o);
      let bound = false;
      session.on('error', (e: Error) => {
        if (!bound) reject(new Error(`OTA SMPP link to ${o.url}: ${e.message}`));
      });
      session.on('close', () => link.markClosed());
      session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
      session.on('unbind', (pdu: Pdu) => {
        session.send(pdu.response());
        session.close();
      });
      session.on('deliver_sm', (pdu: Pdu) => {
        session.send(pdu.response());
        inbound
          .deliverSm(pdu)
          .then(onOutcome, (e: Error) =>
            onOutcome({ kind: 'ignored', code: 'OTA_SMS_ERROR', message: e.message }),
          );
      });
      session.on('connect', () => {
        session.bind_transceiver(
          { system_id: o.systemId, password: o.password, interface_version: 0x34 },
          (pdu: Pdu) => {
            if (pdu.command_status !== 0) {
              session.close();
              reject(new Error(`OTA SMPP bind refused by ${o.url} (status ${pdu.command_status})`));
              return;
            }
            bound = true;
            resolve(link);
          },
        );
      });
    });
  }

  /**
   * Sends each segment's user data to `destination` (an MSISDN); resolves when the SMSC took all.
   * The segments go out back to back, each answered in its own time (SMPP windowing): a
   * submit_sm never waits for the previous one's response, on this link or across callers.
   */
  async send(destination: string, userData: readonly Uint8Array[]): Promise<void> {
    await Promise.all(userData.map((ud) => this.submit(destination, ud)));
  }

  private submit(destination: string, ud: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sent = this.session.submit_sm(
        {
          source_addr_ton: 1,
          source_addr_npi: 1,
          source_addr: this.o.sourceAddr,
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: destination.replace(/^\+/, ''),
          esm_class: ESM_UDHI,
          protocol_id: PID_SIM_DATA,
          data_coding: DCS_SIM_DATA,
          short_message: Buffer.from(ud),
        },
        (pdu: Pdu) =>
          pdu.command_status === 0
            ? resolve()
            : reject(new Error(`submit_sm refused by the SMSC (status ${pdu.command_status})`)),
      );
      if (!sent) reject(new Error('the OTA SMPP link is closed'));
    });
  }

  close(): Promise<void> {
    this.session.close();
    return this.closed;
  }
}

export interface KeptLink {
  /** Stops reconnecting and closes the current link. */
  close(): Promise<void>;
}

/**
 * Keeps one OTA link bound to the SMSC for `ota`: `ota.useLink(link)` while bound, undefined while
 * not. `onEvent` hears binds and losses (the server logs them).
 */
export function keepOtaLink(
  o: OtaSmppOptions,
  ota: OtaService,
  inbound: OtaInbound,
  onEvent: (e: { kind: 'bound' } | { kind: 'lost'; retryMs: number; error?: string }) => void = () =>
    undefined,
  onOutcome?: (outcome: InboundOutcome) => void,
): KeptLink {
  let stopped = false;
  let current: OtaSmppLink | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = 500;
  const retry = (error?: string) => {
    ota.useLink(undefined);
    current = undefined;
    if (stopped) return;
    onEvent({ kind: 'lost', retryMs: delay, ...(error === undefined ? {} : { error }) });
    timer = setTimeout(connect, delay);
    timer.unref();
    delay = Math.min(delay * 2, 30_000);
  };
  const connect = () => {
    OtaSmppLink.connect(o, inbound, onOutcome).then(
      (link) => {
        if (stopped) {
          void link.close();
          return;
        }
        current = link;
        delay = 500;
        ota.useLink(link);
        onEvent({ kind: 'bound' });
        void link.closed.then(() => {
          if (current === link) retry();
        });
      },
      (e: Error) => retry(e.message),
    );
  };
  connect();
  return {
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      ota.useLink(undefined);
      await current?.close();
    },
  };
}

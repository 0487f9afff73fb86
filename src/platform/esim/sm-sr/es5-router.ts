// The SM-SR's choice of ES5 transport per command (SGP.02 §2.4.3/§2.4.4; issue 15: "SMS for small
// ones, HTTPS for the download"). One rule, in this order:
//   1. SCP03t TLVs (84/85/86) for an ISD-P        → HTTPS (raw data cannot ride an SCP80 script)
//   2. an HTTPS session of this eUICC is running  → HTTPS (it is open anyway: no SMS, keeps the order)
//   3. the command script fits `smsMaxScriptBytes` → SMS  (one SCP80 packet in one SMS, no TCP/TLS)
//   4. otherwise                                   → HTTPS (STORE DATA 3A01 with a certificate, …)
// Without HTTPS configured every command goes by SMS (and SCP03t data fails there, ES5_SEND_FAILED).
// HTTPS opens only with an ISD-R SCP81 key set this SM-SR holds for the eUICC (the push names it, the
// card's PSK-TLS needs it): after an SM-SR change the new SM-SR has none until it establishes one —
// and the old SM-SR's is deleted from the card by FinaliseISDRhandover — so until then rule 4 sends
// by SMS (concatenated when the script is long) when `httpsUsable` says no.
// The default 96 bytes: one SMS carries 140 octets of user data; a UDH (3), the SCP80 command header
// (CPL 2, CHL 1, SPI 2, KIc, KID, TAR 3, CNTR 5, PCNTR 1 = 16), the 8-byte AES-CMAC and the AES-CBC
// padding leave at most 112 octets of script, and 96 keeps the usual ES5 commands (CreateISDP,
// Enable/Disable/Delete, GET STATUS, 3A08 confirmations) in one SMS.

import { commandScript } from '../../../lib/ts-102-226-remote-command.js';
import type { Es5Https } from './es5-https.js';
import {
  type Es5Outcome,
  type Es5SendOptions,
  type Es5Transport,
  ISD_R_AID,
  isScp03tTlv,
} from './es5-transport.js';

export const ES5_SMS_MAX_SCRIPT_BYTES = 96;

export type Es5Route = 'sms' | 'https';

export interface Es5RouterOptions {
  readonly sms: Es5Transport;
  /** Absent: everything goes by SMS. */
  readonly https?: Pick<Es5Https, 'send' | 'sessions'>;
  /** Largest expanded command script sent by SMS (default ES5_SMS_MAX_SCRIPT_BYTES). */
  readonly smsMaxScriptBytes?: number;
  /**
   * Whether HTTPS can open for this eUICC: this SM-SR holds an ISD-R SCP81 key set for it. Absent:
   * always (the rule above alone).
   */
  readonly httpsUsable?: (eid: string) => Promise<boolean>;
  /** Each choice, for the log and tests. */
  readonly onRoute?: (eid: string, route: Es5Route, targetAid: string) => void;
}

export class Es5Router implements Es5Transport {
  readonly #o: Es5RouterOptions;

  constructor(options: Es5RouterOptions) {
    this.#o = options;
  }

  /** The transport rule above, for one send. */
  route(eid: string, targetAid: string, commands: readonly Uint8Array[]): Es5Route {
    const https = this.#o.https;
    if (https === undefined) return 'sms';
    if (targetAid.toUpperCase() !== ISD_R_AID && commands.some((c) => isScp03tTlv(c))) return 'https';
    if (!https.sessions.needsPush(eid)) return 'https';
    const max = this.#o.smsMaxScriptBytes ?? ES5_SMS_MAX_SCRIPT_BYTES;
    return commandScript(commands).length <= max ? 'sms' : 'https';
  }

  async send(
    eid: string,
    targetAid: string,
    commands: readonly Uint8Array[],
    options?: Es5SendOptions,
  ): Promise<Es5Outcome> {
    let route = this.route(eid, targetAid, commands);
    // A long ISD-R script while no session can open (no SCP81 key set here): SMS after all.
    if (
      route === 'https' &&
      this.#o.httpsUsable !== undefined &&
      this.#o.https?.sessions.needsPush(eid) !== false &&
      !commands.some((c) => isScp03tTlv(c)) &&
      !(await this.#o.httpsUsable(eid))
    )
      route = 'sms';
    this.#o.onRoute?.(eid, route, targetAid);
    const transport = route === 'https' ? this.#o.https : this.#o.sms;
    return (transport ?? this.#o.sms).send(eid, targetAid, commands, options);
  }
}

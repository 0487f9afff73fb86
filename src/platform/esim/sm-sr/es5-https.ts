// ES5 over HTTPS (SGP.02 §2.4.4, GP Amd B "RAM over HTTP" over PSK-TLS, esim.md §4.5): the C-APDUs
// are queued for the eUICC in the SCP81 sessions (ram-over-http.ts, owned by the scp81 side); when the
// eUICC has no session open, the push SMS is sent — an SCP80 packet to the ISD-R TAR whose secured
// data is the '81' Administration Session Triggering Parameters naming the SM-SR's listener, the
// ISD-R SCP81 key set (PSK identity of SGP.02 Table 4) and the administration URI. The card connects,
// POSTs, gets the script, POSTs its expanded response, and the queued promise resolves.

import { SimtrustError } from '../../../lib/errors.js';
import { type AdminSessionTrigger, AdminSessionTriggerTlv } from '../../../lib/gp-amd-b-ram-over-http.js';
import { type Es5Outcome, type Es5Transport, ISD_R_AID, isScp03tTlv } from './es5-transport.js';
import type { RamOverHttpSessions } from './ram-over-http.js';

export interface Es5HttpsOptions {
  readonly sessions: RamOverHttpSessions;
  /** The Administration Session Triggering Parameters for this eUICC (adminSessionTrigger()). */
  trigger(eid: string): AdminSessionTrigger;
  /** Sends the push: `securedData` in an SCP80 packet to the ISD-R TAR (Es5Sms.push). */
  push(eid: string, securedData: Uint8Array): Promise<Es5Outcome>;
}

export class Es5Https implements Es5Transport {
  readonly #o: Es5HttpsOptions;

  constructor(options: Es5HttpsOptions) {
    this.#o = options;
  }

  async send(eid: string, _targetAid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    // C-APDUs for an ISD-P ride the ISD-R's script (es5-transport.ts); SCP03t TLVs are raw data for
    // the ISD-P, which the sessions' script jobs (always an expanded command script) cannot carry yet.
    if (commands.some((c) => isScp03tTlv(c)))
      return {
        ok: false,
        code: 'ES5_SEND_FAILED',
        message: 'raw SCP03t jobs are not supported by the SCP81 sessions',
      };
    const wasWaiting = this.#o.sessions.pending(eid) > 0;
    const result = this.#o.sessions.queue(eid, ISD_R_AID, commands).then(
      (r): Es5Outcome =>
        r.scriptStatus === 'ok'
          ? { ok: true, responses: r.responses }
          : { ok: false, code: 'ES5_POR_ERROR', message: `X-Admin-Script-Status: ${r.scriptStatus}` },
      (e: unknown): Es5Outcome => ({
        ok: false,
        code:
          e instanceof SimtrustError && e.code === 'ERR_ESIM_RAM_TIMEOUT' ? 'ES5_TIMEOUT' : 'ES5_SEND_FAILED',
        message: e instanceof Error ? e.message : String(e),
      }),
    );
    // One push per wait: scripts queued behind others ride the session the first push opens. A failed
    // push does not end the wait: the script is queued and could still run in a later session, so the
    // answer is whatever the sessions report (its result, or the delivery timeout) — never a guess.
    if (!wasWaiting) await this.#o.push(eid, AdminSessionTriggerTlv.encode(this.#o.trigger(eid)));
    return result;
  }
}

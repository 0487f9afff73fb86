// ES5 over HTTPS (SGP.02 §2.4.4, GP Amd B "RAM over HTTP" over PSK-TLS, esim.md §4.5): the C-APDUs
// are queued for the eUICC in the SCP81 sessions (ram-over-http.ts, owned by the scp81 side); when the
// eUICC has no session open, the push SMS is sent — an SCP80 packet to the ISD-R TAR whose secured
// data is the '81' Administration Session Triggering Parameters naming the SM-SR's listener, the
// ISD-R SCP81 key set (PSK identity of SGP.02 Table 4) and the administration URI. The card connects,
// POSTs, gets the script, POSTs its expanded response, and the queued promise resolves.
//
// Addressing (es5-transport.ts): C-APDUs — for the ISD-R or for an ISD-P — go in a script to the
// ISD-R; SCP03t TLVs (84/85/86) for an ISD-P go raw (queueData, X-Admin-Targeted-Application = the
// ISD-P AID) and their answer is the body the card posts, as one response with SW 9000. A send with
// `moreToDo` (ES3.SendData MoreToDo) keeps the session open for the next one; a job that finds no
// session running (and no push out) sends a push; a session that closes with jobs left waiting gets
// a new push, and so do jobs a push brought no session for within the sessions' repushMs.

import { concatBytes } from '../../../lib/ber-tlv.js';
import { SimtrustError } from '../../../lib/errors.js';
import { type AdminSessionTrigger, AdminSessionTriggerTlv } from '../../../lib/gp-amd-b-ram-over-http.js';
import {
  type Es5Outcome,
  type Es5SendOptions,
  type Es5Transport,
  ISD_R_AID,
  isScp03tTlv,
} from './es5-transport.js';
import type { RamOverHttpSessions } from './ram-over-http.js';

export interface Es5HttpsOptions {
  readonly sessions: RamOverHttpSessions;
  /** The Administration Session Triggering Parameters for this eUICC (adminSessionTrigger()). */
  trigger(eid: string): AdminSessionTrigger;
  /** Sends the push: `securedData` in an SCP80 packet to the ISD-R TAR (Es5Sms.push). */
  push(eid: string, securedData: Uint8Array): Promise<Es5Outcome>;
}

const failure = (e: unknown): Es5Outcome => ({
  ok: false,
  code: e instanceof SimtrustError && e.code === 'ERR_ESIM_RAM_TIMEOUT' ? 'ES5_TIMEOUT' : 'ES5_SEND_FAILED',
  message: e instanceof Error ? e.message : String(e),
});

export class Es5Https implements Es5Transport {
  readonly #o: Es5HttpsOptions;

  constructor(options: Es5HttpsOptions) {
    this.#o = options;
    // The push that brought the last session was spent: jobs it left behind need another.
    options.sessions.onLeftWaiting((eid) => {
      void this.#push(eid);
    });
  }

  /** The SCP81 sessions this transport queues in (the router asks them whether one is running). */
  get sessions(): RamOverHttpSessions {
    return this.#o.sessions;
  }

  async send(
    eid: string,
    targetAid: string,
    commands: readonly Uint8Array[],
    options: Es5SendOptions = {},
  ): Promise<Es5Outcome> {
    const sessions = this.#o.sessions;
    const raw = commands.filter((c) => isScp03tTlv(c)).length;
    const toIsdp = targetAid.toUpperCase() !== ISD_R_AID;
    if (raw > 0 && (raw !== commands.length || !toIsdp))
      return {
        ok: false,
        code: 'ES5_SEND_FAILED',
        message: 'SCP03t data goes alone, to an ISD-P (not mixed with C-APDUs, not to the ISD-R)',
      };
    const needsPush = sessions.needsPush(eid);
    const job = { moreToDo: options.moreToDo === true };
    const result: Promise<Es5Outcome> =
      raw > 0
        ? sessions
            .queueData(eid, targetAid, concatBytes([...commands]), job)
            .then(
              (r): Es5Outcome =>
                r.scriptStatus === 'ok'
                  ? { ok: true, responses: [{ data: r.raw, sw: 0x9000 }] }
                  : { ok: false, code: 'ES5_POR_ERROR', message: `X-Admin-Script-Status: ${r.scriptStatus}` },
              failure,
            )
        : sessions
            .queue(eid, ISD_R_AID, commands, job)
            .then(
              (r): Es5Outcome =>
                r.scriptStatus === 'ok'
                  ? { ok: true, responses: r.responses }
                  : { ok: false, code: 'ES5_POR_ERROR', message: `X-Admin-Script-Status: ${r.scriptStatus}` },
              failure,
            );
    // One push per wait: jobs queued behind others, or while a session runs, ride that session. A
    // failed push does not end the wait: the job is queued and could still run in a later session, so
    // the answer is whatever the sessions report (its result, or the delivery timeout) — never a guess.
    if (needsPush) await this.#push(eid);
    return result;
  }

  async #push(eid: string): Promise<Es5Outcome> {
    try {
      return await this.#o.push(eid, AdminSessionTriggerTlv.encode(this.#o.trigger(eid)));
    } catch (e) {
      return failure(e);
    } finally {
      // Pushed again after repushMs should it bring no session while jobs wait.
      this.#o.sessions.pushed(eid);
    }
  }
}

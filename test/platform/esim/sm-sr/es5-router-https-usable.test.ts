// Issue 16 regression (found by `simtrust esim demo --switch`): right after an SM-SR change the new
// SM-SR holds no ISD-R SCP81 key set for the eUICC (and FinaliseISDRhandover deleted the old SM-SR's
// from the card), so HTTPS cannot open; the router sent its long scripts (STORE DATA 3A01 with
// CERT.SR, establishing that very key set) there anyway and the push failed, leaving the change to
// wait for the delivery timeout. With `httpsUsable` saying no, such scripts go by SMS; SCP03t data and
// an eUICC with an HTTPS session running still go over HTTPS.

import { describe, expect, it } from 'vitest';
import type { Es5Https } from '../../../../src/platform/esim/sm-sr/es5-https.js';
import { Es5Router } from '../../../../src/platform/esim/sm-sr/es5-router.js';
import { type Es5Transport, ISD_R_AID } from '../../../../src/platform/esim/sm-sr/es5-transport.js';

const EID = '89049032123451234512345678901235';
const ISDP = 'A0000005591010FFFFFFFF8900001100';
/** STORE DATA 3A01 with a certificate: a script too long for one SMS. */
const long = Uint8Array.from([0x80, 0xe2, 0x91, 0x00, 0xc8, 0x3a, 0x01, ...new Uint8Array(198)]);
const short = Uint8Array.from([0x80, 0xe2, 0x91, 0x00, 0x03, 0x3a, 0x08, 0x00]);
const scp03t = Uint8Array.from([0x86, 0x03, 1, 2, 3]);

function router(usable: boolean, sessionRunning = false) {
  const used: string[] = [];
  const transport = (name: string): Es5Transport => ({
    send: async () => {
      used.push(name);
      return { ok: true, responses: [] };
    },
  });
  const https = {
    ...transport('https'),
    sessions: { needsPush: () => !sessionRunning },
  } as unknown as Pick<Es5Https, 'send' | 'sessions'>;
  const asked: string[] = [];
  const r = new Es5Router({
    sms: transport('sms'),
    https,
    httpsUsable: async (eid) => {
      asked.push(eid);
      return usable;
    },
  });
  return { r, used, asked };
}

describe('Es5Router.httpsUsable', () => {
  it('a long ISD-R script goes by SMS while no SCP81 key set can open HTTPS, over HTTPS once one can', async () => {
    const without = router(false);
    await without.r.send(EID, ISD_R_AID, [long]);
    expect(without.used).toEqual(['sms']);
    expect(without.asked).toEqual([EID]);
    const withKeys = router(true);
    await withKeys.r.send(EID, ISD_R_AID, [long]);
    expect(withKeys.used).toEqual(['https']);
  });

  it('short scripts go by SMS without asking; SCP03t data and a running session stay on HTTPS', async () => {
    const s = router(false);
    await s.r.send(EID, ISD_R_AID, [short]);
    await s.r.send(EID, ISDP, [scp03t]);
    expect(s.used).toEqual(['sms', 'https']);
    expect(s.asked).toEqual([]);
    const running = router(false, true);
    await running.r.send(EID, ISD_R_AID, [long]);
    expect(running.used).toEqual(['https']);
  });
});

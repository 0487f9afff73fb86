// ES5 over HTTPS end to end on loopback: the SM-SR queues a script, pushes the trigger by SMS (SCP80 to
// the ISD-R TAR), the card opens a BIP channel, the modem relays it over a real TCP socket, Node's
// PSK-TLS runs on both ends, and RAM over HTTP carries the script to the card's RFM and the R-APDUs
// back. Threats covered: a card with the wrong PSK (or an identity the SM-SR does not know) gets no
// session and no script.

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RFM_AID } from '../../../src/card/euicc/scp81-admin-agent.js';
import { PRO_CMD } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { ICCID } from '../fixture.js';
import { type Bench, bench, EID } from './scp81-fixture.js';

let b: Bench | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

const SELECT_ICCID = hex('00A40804022FE2');
const READ_BINARY = hex('00B000000A');

/** EF.ICCID as stored: the ICCID digits in swapped nibbles. */
function iccidBytes(iccid: string): string {
  const digits = iccid.padEnd(20, 'F');
  let out = '';
  for (let i = 0; i < 20; i += 2) out += `${digits[i + 1]}${digits[i]}`;
  return out.toLowerCase();
}

describe('RAM over HTTP through the BIP channel', () => {
  it('runs a queued script against the card RFM and returns its R-APDUs', async () => {
    b = await bench();
    const result = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID, READ_BINARY]);
    const ended = b.ended();
    b.push();
    const r = await result;
    expect(r.scriptStatus).toBe('ok');
    expect(r.responses.map((x) => x.sw.toString(16))).toEqual(['9000', '9000']);
    expect(toHex(r.responses[1]?.data ?? new Uint8Array(0))).toBe(iccidBytes(ICCID));
    expect(await ended).toEqual({ ok: true, scripts: 1 });
    // The card closed its channel, and the modem saw the whole BIP vocabulary.
    await vi.waitFor(() => expect(b?.modem.bip?.open).toBe(false));
    const types = new Set(b.modem.log.map((e) => e.typeOfCommand));
    for (const t of [PRO_CMD.OPEN_CHANNEL, PRO_CMD.SEND_DATA, PRO_CMD.RECEIVE_DATA, PRO_CMD.CLOSE_CHANNEL])
      expect(types).toContain(t);
    expect(b.card.toolkitFaults).toBe(0);
  });

  it('carries several scripts in one session, and the next push opens a fresh one', async () => {
    b = await bench();
    const first = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID]);
    const second = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID, READ_BINARY]);
    const ended = b.ended();
    b.push();
    expect((await first).responses).toHaveLength(1);
    expect((await second).responses).toHaveLength(2);
    expect(await ended).toEqual({ ok: true, scripts: 2 });
    await vi.waitFor(() => expect(b?.agent.busy).toBe(false));
    const third = b.sessions.queue(EID, RFM_AID, [READ_BINARY]);
    b.push();
    // A new session starts with nothing selected: READ BINARY without a current EF fails in the card.
    expect((await third).responses[0]?.sw).not.toBe(0x9000);
  });

  it('an unknown application answers unknown-application', async () => {
    b = await bench();
    const r = b.sessions.queue(EID, 'A0000000871002FF', [SELECT_ICCID]);
    b.push();
    expect((await r).scriptStatus).toBe('unknown-application');
  });

  it('refuses a card whose PSK is wrong: no session, the script stays queued', async () => {
    b = await bench({ cardPsk: hex('00'.repeat(16)) });
    const r = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID]);
    r.catch(() => undefined);
    const ended = b.ended();
    b.push();
    const outcome = await ended;
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toMatch(/^SCP81_TLS_/);
    expect(b.sessions.pending(EID)).toBe(1);
    await vi.waitFor(() => expect(b?.modem.bip?.open).toBe(false));
  });

  it('refuses an identity the SM-SR has no key for', async () => {
    b = await bench({ serverPsk: () => undefined });
    const r = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID]);
    r.catch(() => undefined);
    const ended = b.ended();
    b.push();
    expect((await ended).ok).toBe(false);
    expect(b.refused.length).toBeGreaterThan(0);
    expect(b.sessions.pending(EID)).toBe(1);
  });

  it('a push naming a closed port ends with the link dropped', async () => {
    b = await bench();
    const ended = b.ended();
    b.push({ port: 1 });
    const outcome = await ended;
    expect(outcome.ok).toBe(false);
    await vi.waitFor(() => expect(b?.modem.bip?.open).toBe(false));
  });

  it('a reset during a session ends it, and the next push gets a fresh session', async () => {
    b = await bench();
    // A server that accepts and never answers: the handshake waits.
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const ended = b.ended();
      b.push({ port: (silent.address() as { port: number }).port });
      await vi.waitFor(() => expect(b?.agent.busy).toBe(true));
      b.card.reset();
      expect(b.modem.boot().ok).toBe(true);
      expect(await ended).toEqual({ ok: false, code: 'SCP81_CARD_RESET', scripts: 0 });
      expect(b.agent.busy).toBe(false);
      const r = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID]);
      b.push();
      expect((await r).scriptStatus).toBe('ok');
    } finally {
      silent.close();
    }
  });

  it("'81 00' uses the connection, keyset and URI stored on the card", async () => {
    b = await bench({
      defaults: (port) => ({
        connection: {
          bearer: { bearerType: 0x03, parameters: '' },
          bufferSize: 1400,
          transport: { protocol: 0x02, port },
          address: { type: 'ipv4', address: '127.0.0.1' },
        },
        http: { uri: '/gp/ram' },
        keyset: { kvn: 0x40, kid: 0x01 },
      }),
    });
    const r = b.sessions.queue(EID, RFM_AID, [SELECT_ICCID, READ_BINARY]);
    b.pushData(hex('8100'));
    expect(toHex((await r).responses[1]?.data ?? new Uint8Array(0))).toBe(iccidBytes(ICCID));
  });

  it("'81 00' on a card without stored parameters opens nothing", async () => {
    b = await bench();
    const ended = b.ended();
    b.pushData(hex('8100'));
    expect(await ended).toEqual({ ok: false, code: 'SCP81_NO_CONNECTION_PARAMETERS', scripts: 0 });
  });

  it('a push with a keyset outside KVN 40–4F opens nothing', async () => {
    b = await bench();
    const ended = b.ended();
    b.push({ kvn: 0x01 });
    expect(await ended).toEqual({ ok: false, code: 'SCP81_NO_KEYSET', scripts: 0 });
    expect(b.modem.log.some((e) => e.typeOfCommand === PRO_CMD.OPEN_CHANNEL)).toBe(false);
  });
});

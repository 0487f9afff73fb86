// Fuzz of both BIP ends. The modem's relay takes whatever proactive command a card sends (hostile card),
// and the card's SCP81 agent takes whatever the terminal sends — Data available / Channel status
// envelopes and TERMINAL RESPONSEs to its BIP commands (hostile terminal). Neither may throw: the relay
// answers a general result, the card a status word, and the card's applet-fault counter stays 0.

import { createServer, type Server } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeCommandApdu, parseResponseApdu } from '../../../src/card/iso-7816-4.js';
import { BipRelay } from '../../../src/card/toolkit/ts-102-223-bip-terminal.js';
import { PRO_CMD } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { concatBytes, encodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { encodeComprehensionTlv } from '../../../src/lib/comprehension-tlv.js';
import { type Bench, bench } from './scp81-fixture.js';

const BIP_TAGS = [0x35, 0x36, 0x37, 0x38, 0x39, 0x3c, 0x3e];
const tlvMapArb = fc
  .array(fc.tuple(fc.constantFrom(...BIP_TAGS), fc.uint8Array({ maxLength: 20 })), { maxLength: 6 })
  .map((entries) => new Map(entries));

let echo: Server;
let echoPort = 0;
beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => {
  echo.close();
});

describe('the modem relay under a hostile card', () => {
  it('answers any BIP command with a general result, without a channel and with one open', () => {
    const envelopes: Uint8Array[] = [];
    const host = {
      envelope: (b: Uint8Array) => envelopes.push(b),
      poll: () => undefined,
      eventListHas: () => true,
    };
    const closed = new BipRelay(host, { allow: () => false });
    const open = new BipRelay(host, { allow: (h, p) => h === '127.0.0.1' && p === echoPort });
    const opened = open.handle(
      PRO_CMD.OPEN_CHANNEL,
      1,
      new Map([
        [0x35, Uint8Array.of(0x03)],
        [0x39, Uint8Array.of(0x05, 0x78)],
        [0x3c, Uint8Array.of(0x02, echoPort >> 8, echoPort & 0xff)],
        [0x3e, Uint8Array.of(0x21, 127, 0, 0, 1)],
      ]),
      0x82,
    );
    expect(opened.result).toEqual([0x00]);
    try {
      fc.assert(
        fc.property(
          fc.constantFrom(0x40, 0x42, 0x43, 0x44, 0x45),
          fc.integer({ min: 0, max: 255 }),
          tlvMapArb,
          fc.constantFrom(0x21, 0x22, 0x81, 0x82, 0x00),
          (type, qualifier, tlvs, destination) => {
            for (const relay of [closed, open]) {
              const r = relay.handle(type, qualifier, tlvs, destination);
              expect(r.result.length).toBeGreaterThan(0);
              expect(r.objects.every((o) => o instanceof Uint8Array)).toBe(true);
            }
          },
        ),
        { numRuns: 5000 },
      );
    } finally {
      open.shutdown();
      closed.shutdown();
    }
  });
});

describe('the card agent under a hostile terminal', () => {
  let b: Bench;
  let silent: Server;
  beforeAll(async () => {
    b = await bench();
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    silent.close();
    await b.close();
  });

  const send = (apdu: Uint8Array) => {
    const r = parseResponseApdu(b.card.transmit(apdu));
    if (!r.ok) throw new Error('no status word');
    return r.value;
  };

  const detailsOf = (command: Uint8Array) => {
    const at = command[1] === 0x81 ? 5 : 4;
    return command.subarray(at, at + 3);
  };

  /** Answer whatever the card still has to say with a plain OK, so each case starts from idle. */
  const drain = () => {
    for (let i = 0; i < 16; i++) {
      const r = send(encodeCommandApdu({ cla: 0x80, ins: 0xf2, p1: 0, p2: 0x0c }));
      if (r.sw >> 8 !== 0x91) return;
      const fetched = send(encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: r.sw & 0xff }));
      send(
        encodeCommandApdu({
          cla: 0x80,
          ins: 0x14,
          p1: 0,
          p2: 0,
          data: concatBytes([
            encodeComprehensionTlv(0x01, true, detailsOf(fetched.data)),
            encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
            encodeComprehensionTlv(0x03, true, Uint8Array.of(0x00)),
          ]),
        }),
      );
    }
  };

  it('hostile envelopes and terminal responses give status words and no applet fault', async () => {
    // A session waiting on a server that never answers: the agent has a channel and a TLS engine.
    b.push({ port: (silent.address() as { port: number }).port });
    await vi.waitFor(() => expect(b.agent.busy).toBe(true));
    // From here the test is the terminal: the modem's relay (and its polling) steps aside.
    b.modem.bip?.shutdown();
    let commands = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(0x09, 0x0a),
        // Any channel status but "link dropped", which ends the session (its own case below).
        fc
          .uint8Array({ minLength: 2, maxLength: 2 })
          .map((s) => Uint8Array.of(s[0] as number, s[1] === 5 ? 0 : (s[1] as number))),
        fc.uint8Array({ maxLength: 2 }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 255 }),
            fc.constantFrom(...BIP_TAGS),
            fc.uint8Array({ maxLength: 40 }),
          ),
          {
            maxLength: 3,
          },
        ),
        (event, status, length, answers) => {
          const envelope = encodeBerTlv(
            0xd6,
            concatBytes([
              encodeComprehensionTlv(0x19, true, Uint8Array.of(event)),
              encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
              encodeComprehensionTlv(0x38, true, status),
              encodeComprehensionTlv(0x37, true, length),
            ]),
          );
          drain();
          let r = send(encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: envelope, le: 0 }));
          for (const [result, tag, value] of answers) {
            if (r.sw >> 8 !== 0x91) break;
            commands++;
            const fetched = send(encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: r.sw & 0xff }));
            const details = detailsOf(fetched.data);
            r = send(
              encodeCommandApdu({
                cla: 0x80,
                ins: 0x14,
                p1: 0,
                p2: 0,
                data: concatBytes([
                  encodeComprehensionTlv(0x01, true, details),
                  encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
                  encodeComprehensionTlv(0x03, true, Uint8Array.of(result)),
                  encodeComprehensionTlv(tag, true, value),
                ]),
              }),
            );
          }
          expect(r.sw).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3000 },
    );
    // The agent did answer: RECEIVE DATA (and, as it gives up, CLOSE CHANNEL) were fetched.
    expect(commands).toBeGreaterThan(100);
    expect(b.card.toolkitFaults).toBe(0);
    // Link dropped: the session ends, and the agent closes its channel.
    drain();
    const ended = b.ended();
    const drop = encodeBerTlv(
      0xd6,
      concatBytes([
        encodeComprehensionTlv(0x19, true, Uint8Array.of(0x0a)),
        encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
        encodeComprehensionTlv(0x38, true, Uint8Array.of(0x01, 0x05)),
      ]),
    );
    let close = send(encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: drop, le: 0 }));
    expect([0x90, 0x91]).toContain(close.sw >> 8);
    expect((await ended).ok).toBe(false);
    if (close.sw === 0x9000) close = send(encodeCommandApdu({ cla: 0x80, ins: 0xf2, p1: 0, p2: 0x0c }));
    expect(close.sw >> 8).toBe(0x91);
    const fetched = send(encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: close.sw & 0xff }));
    expect(fetched.data[fetched.data[1] === 0x81 ? 6 : 5]).toBe(PRO_CMD.CLOSE_CHANNEL);
  });
});

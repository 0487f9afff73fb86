// The modem's BIP relay (TS 102 223 §6.4.27–§6.4.31) against a real TCP peer: store mode keeps data
// in the Tx buffer until an immediate SEND DATA, the Tx buffer is bounded by the granted size,
// RECEIVE DATA hands out what arrived and says what is left, fewer bytes than asked is "missing
// information", GET CHANNEL STATUS reports the channel, one channel at a time, and the events go out
// as TS 102 223 §7.5.10/§7.5.11 lay them out.

import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BipAnswer, BipRelay } from '../../../src/card/toolkit/ts-102-223-bip-terminal.js';
import { GENERAL_RESULT, PRO_CMD } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { hex, toHex } from '../../../src/lib/hex.js';

let server: Server;
let peer: Socket | undefined;
let received = '';
let relay: BipRelay;
let envelopes: string[];

beforeEach(async () => {
  received = '';
  peer = undefined;
  envelopes = [];
  server = createServer((s) => {
    peer = s;
    s.on('data', (d: Buffer) => {
      received += d.toString('hex');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relay = new BipRelay(
    { envelope: (b) => envelopes.push(toHex(b)), poll: () => undefined, eventListHas: () => true },
    { maxBufferSize: 8 },
  );
});

afterEach(() => {
  relay.shutdown();
  peer?.destroy();
  server.close();
});

const port = () => (server.address() as { port: number }).port;
const CHANNEL = 0x21;
const tlvs = (entries: [number, string][]) => new Map(entries.map(([t, v]) => [t, hex(v)]));
const open = (): BipAnswer =>
  relay.handle(
    PRO_CMD.OPEN_CHANNEL,
    1,
    tlvs([
      [0x35, '03'],
      [0x39, '0578'],
      [0x3c, `02${port().toString(16).padStart(4, '0')}`],
      [0x3e, '217f000001'],
    ]),
    0x82,
  );

describe('BIP relay', () => {
  it('opens one TCP client channel and grants at most its buffer', async () => {
    const r = open();
    expect(r.result).toEqual([GENERAL_RESULT.OK]);
    // Channel status 81 00 (channel 1, established), bearer echoed, buffer 8 (asked 1400).
    expect(r.objects.map(toHex)).toEqual(['b8028100', 'b50103', 'b9020008']);
    expect(open().result).toEqual([GENERAL_RESULT.BIP_ERROR, 0x01]);
    expect(relay.handle(PRO_CMD.GET_CHANNEL_STATUS, 0, new Map(), 0x82).objects.map(toHex)).toEqual([
      'b8028100',
    ]);
  });

  it('keeps store-mode data until an immediate SEND DATA, within the Tx buffer', async () => {
    open();
    await vi.waitFor(() => expect(peer).toBeDefined());
    const stored = relay.handle(PRO_CMD.SEND_DATA, 0, tlvs([[0x36, '0102']]), CHANNEL);
    expect(stored.result).toEqual([GENERAL_RESULT.OK]);
    expect(stored.objects.map(toHex)).toEqual(['b70106']);
    expect(relay.handle(PRO_CMD.SEND_DATA, 0, tlvs([[0x36, '03040506070809']]), CHANNEL).result).toEqual([
      GENERAL_RESULT.BIP_ERROR,
      0x04,
    ]);
    expect(relay.handle(PRO_CMD.SEND_DATA, 1, tlvs([[0x36, '0304']]), CHANNEL).result).toEqual([
      GENERAL_RESULT.OK,
    ]);
    await vi.waitFor(() => expect(received).toBe('01020304'));
  });

  it('announces data once, hands it out in parts, and says what is left', async () => {
    open();
    await vi.waitFor(() => expect(peer).toBeDefined());
    peer?.write(Buffer.from('a1a2a3a4a5', 'hex'));
    await vi.waitFor(() => expect(envelopes).toHaveLength(1));
    // EVENT DOWNLOAD: event list 09, terminal → UICC, channel status 81 00, channel data length 5.
    expect(envelopes[0]).toBe('d60e99010982028281b8028100b70105');
    const first = relay.handle(PRO_CMD.RECEIVE_DATA, 0, tlvs([[0x37, '03']]), CHANNEL);
    expect(first.objects.map(toHex)).toEqual(['b603a1a2a3', 'b70102']);
    const rest = relay.handle(PRO_CMD.RECEIVE_DATA, 0, tlvs([[0x37, '05']]), CHANNEL);
    expect(rest.result).toEqual([GENERAL_RESULT.MISSING_INFORMATION]);
    expect(rest.objects.map(toHex)).toEqual(['b602a4a5', 'b70100']);
    peer?.write(Buffer.from('b1', 'hex'));
    await vi.waitFor(() => expect(envelopes).toHaveLength(2));
  });

  it('reports a dropped link once, and refuses commands for another channel', async () => {
    open();
    await vi.waitFor(() => expect(peer).toBeDefined());
    expect(relay.handle(PRO_CMD.SEND_DATA, 1, tlvs([[0x36, '01']]), 0x22).result).toEqual([
      GENERAL_RESULT.BIP_ERROR,
      0x03,
    ]);
    peer?.destroy();
    await vi.waitFor(() => expect(envelopes).toContain('d60b99010a82028281b8020105'));
    expect(relay.handle(PRO_CMD.SEND_DATA, 1, tlvs([[0x36, '01']]), CHANNEL).result).toEqual([
      GENERAL_RESULT.BIP_ERROR,
      0x02,
    ]);
    expect(relay.handle(PRO_CMD.CLOSE_CHANNEL, 0, new Map(), CHANNEL).result).toEqual([GENERAL_RESULT.OK]);
    expect(relay.open).toBe(false);
  });

  it('refuses UDP, a port it may not reach, and missing parameters', () => {
    const strict = new BipRelay(
      { envelope: () => undefined, poll: () => undefined, eventListHas: () => false },
      { allow: () => false },
    );
    const base: [number, string][] = [
      [0x35, '03'],
      [0x39, '0578'],
      [0x3e, '217f000001'],
    ];
    expect(strict.handle(PRO_CMD.OPEN_CHANNEL, 1, tlvs([...base, [0x3c, '011000']]), 0x82).result).toEqual([
      GENERAL_RESULT.BIP_ERROR,
      0x06,
    ]);
    expect(strict.handle(PRO_CMD.OPEN_CHANNEL, 1, tlvs([...base, [0x3c, '021000']]), 0x82).result).toEqual([
      GENERAL_RESULT.BIP_ERROR,
      0x07,
    ]);
    expect(strict.handle(PRO_CMD.OPEN_CHANNEL, 1, tlvs(base), 0x82).result).toEqual([
      GENERAL_RESULT.REQUIRED_VALUES_MISSING,
    ]);
  });
});

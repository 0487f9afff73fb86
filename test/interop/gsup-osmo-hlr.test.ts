// Interop: Debian's osmo-hlr (an independent AuC/HLR) spoken to with our IPA/GSUP codec over TCP.
// osmo-hlr picks RAND and SQN itself; every tuple it returns must reproduce with our Milenage (SQN
// recovered from AUTN), and AUTS resynchronisation, UpdateLocation with InsertSubscriberData,
// PurgeMS and an unknown IMSI must behave as libosmocore's own clients see them.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c2Sres, c3Kc } from '../../src/crypto/gsm-milenage.js';
import { buildAuts, milenage, milenageF2345, sqnFromNumber, sqnToNumber } from '../../src/crypto/milenage.js';
import {
  type AuthTuple,
  CN_DOMAIN,
  decodeGsup,
  encodeGsup,
  GMM_CAUSE,
  GSUP_MESSAGE_TYPE,
  type GsupMessage,
  sendAuthInfoRequest,
} from '../../src/lib/gsup/gsup.js';
import {
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IPA_PROTO,
  IpaDeframer,
} from '../../src/lib/gsup/ipa.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { requirePrograms } from '../helpers/external.js';
import { type OsmoHlr, startOsmoHlr } from './helpers/osmo-hlr.js';

const available = requirePrograms({ 'osmo-hlr': 'osmo-hlr', 'osmo-hlr-db-tool': 'osmo-hlr' });

// Milenage test set 20 (reference/cellular.md §1.2), provisioned as in the osmo-hlr lab run (§4.2).
const IMSI = '232010000000000';
const K = hex('90dca4eda45b53cf0f12d7c9c3bc6a89');
const OPC = hex('cb9cccc4b9258e6dca4760379fb82581');
const IND_BITS = 5;

/** A GSUP client as an MSC/SGSN would run it: answers CCM by itself, queues GSUP messages. */
class GsupClient {
  private readonly deframer = new IpaDeframer();
  private readonly queue: GsupMessage[] = [];
  private waiter: ((m: GsupMessage) => void) | undefined;
  readonly errors: string[] = [];
  /**
   * Resolves once our ID_RESP (answering osmo-hlr's ID_GET) is on the wire: GSUP sent before it is
   * dropped by osmo-hlr as "cannot be routed". TCP keeps the order from then on.
   */
  readonly identified: Promise<void>;
  private onIdentified: () => void = () => {};

  private constructor(private readonly socket: Socket) {
    this.identified = new Promise((resolve) => {
      this.onIdentified = resolve;
    });
    socket.on('data', (chunk) => {
      for (const frame of this.deframer.push(new Uint8Array(chunk))) this.onFrame(frame.proto, frame.payload);
    });
  }

  static open(host: string, port: number): Promise<GsupClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new GsupClient(socket)));
      socket.once('error', reject);
    });
  }

  private onFrame(proto: number, payload: Uint8Array): void {
    if (proto === IPA_PROTO.CCM) {
      const ccm = decodeCcm(payload);
      if (!ccm.ok) return void this.errors.push(ccm.error.code);
      if (ccm.value.type === 'ID_GET') {
        const identity = new Map([
          [IPA_ID_TAG.serialNumber, 'SIMTRUST-TEST'],
          [IPA_ID_TAG.unitId, 'SIMTRUST-TEST'],
        ]);
        this.write(encodeCcm({ type: 'ID_RESP', identity }));
        this.onIdentified();
      } else if (ccm.value.type === 'PING') this.write(encodeCcm({ type: 'PONG' }));
      return;
    }
    const gsup = gsupPayload({ proto, payload });
    if (!gsup) return;
    const message = decodeGsup(gsup);
    if (!message.ok) return void this.errors.push(message.error.code);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(message.value);
    } else this.queue.push(message.value);
  }

  private write(frame: { ok: true; value: Uint8Array } | { ok: false; error: { message: string } }): void {
    if (!frame.ok) throw new Error(frame.error.message);
    this.socket.write(frame.value);
  }

  send(message: GsupMessage): void {
    const bytes = encodeGsup(message);
    if (!bytes.ok) throw new Error(bytes.error.message);
    this.write(gsupFrame(bytes.value));
  }

  next(timeoutMs = 5000): Promise<GsupMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no GSUP answer from osmo-hlr')), timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Checks one tuple against Milenage and returns its SQN. */
function checkTuple(tuple: AuthTuple): number {
  const { rand, autn, res, ck, ik, sres, kc } = tuple;
  if (!rand || !autn || !res || !ck || !ik || !sres || !kc)
    throw new Error(`incomplete tuple ${JSON.stringify(Object.keys(tuple))}`);
  const { ak } = milenageF2345(K, OPC, rand);
  const sqn = autn.slice(0, 6).map((x, i) => x ^ (ak[i] ?? 0));
  const amf = autn.slice(6, 8);
  const expected = milenage(K, OPC, rand, sqn, amf);
  expect(toHex(autn.subarray(8))).toBe(toHex(expected.macA));
  expect(toHex(res)).toBe(toHex(expected.res));
  expect(toHex(ck)).toBe(toHex(expected.ck));
  expect(toHex(ik)).toBe(toHex(expected.ik));
  expect(toHex(sres)).toBe(toHex(c2Sres(expected.res)));
  expect(toHex(kc)).toBe(toHex(c3Kc(expected.ck, expected.ik)));
  return sqnToNumber(sqn);
}

describe.skipIf(!available)('GSUP codec ⇄ osmo-hlr', () => {
  let hlr: OsmoHlr;
  let client: GsupClient;

  beforeAll(async () => {
    hlr = await startOsmoHlr([
      { imsi: IMSI, msisdn: '1000', k: toHex(K), opc: toHex(OPC), indBits: IND_BITS },
    ]);
    client = await GsupClient.open(hlr.host, hlr.port);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`osmo-hlr sent no ID_GET\n${hlr.log()}`)), 5000),
    );
    await Promise.race([client.identified, timeout]);
  });

  afterAll(async () => {
    client?.close();
    await hlr?.stop();
  });

  let lastRand: Uint8Array = new Uint8Array(16);

  it('SendAuthInfo returns tuples that reproduce with our Milenage, SQN = SEQ+1 in one IND slot', async () => {
    client.send(sendAuthInfoRequest(IMSI));
    const result = await client.next();
    expect(result.type).toBe(GSUP_MESSAGE_TYPE['SendAuthInfo-Result']);
    expect(result.imsi).toBe(IMSI);
    const tuples = result.authTuple ?? [];
    expect(tuples.length).toBeGreaterThanOrEqual(1);
    const sqns = tuples.map(checkTuple);
    const seqs = sqns.map((s) => Math.floor(s / 2 ** IND_BITS));
    const inds = new Set(sqns.map((s) => s % 2 ** IND_BITS));
    expect(seqs).toEqual(seqs.map((_, i) => 1 + i));
    expect(inds.size).toBe(1);
    lastRand = tuples.at(-1)?.rand ?? lastRand;
    console.info(
      `osmo-hlr returned ${tuples.length} tuples, SQN ${sqns.map((n) => `0x${n.toString(16)}`).join(' ')}`,
    );
    expect(client.errors).toEqual([]);
  });

  it('resynchronises from an AUTS we build (TS 33.102 §6.3.5): the next SQN follows SQN_MS', async () => {
    const sqnMs = 0x1000;
    const auts = buildAuts(K, OPC, lastRand, sqnFromNumber(sqnMs));
    client.send(sendAuthInfoRequest(IMSI, { resync: { auts, rand: lastRand } }));
    const result = await client.next();
    expect(result.type).toBe(GSUP_MESSAGE_TYPE['SendAuthInfo-Result']);
    const first = result.authTuple?.[0];
    if (!first) throw new Error('no tuple after resync');
    const sqn = checkTuple(first);
    expect(Math.floor(sqn / 2 ** IND_BITS)).toBe(Math.floor(sqnMs / 2 ** IND_BITS) + 1);
  });

  it('refuses an AUTS with a wrong MAC-S', async () => {
    const auts = buildAuts(hex('00'.repeat(16)), OPC, lastRand, sqnFromNumber(0x2000));
    client.send(sendAuthInfoRequest(IMSI, { resync: { auts, rand: lastRand } }));
    const answer = await client.next();
    expect(answer.type).toBe(GSUP_MESSAGE_TYPE['SendAuthInfo-Error']);
    expect(answer.cause).toBeDefined();
  });

  it('answers SendAuthInfo for an unknown IMSI with an Error carrying "IMSI unknown in HLR"', async () => {
    client.send(sendAuthInfoRequest('232019999999999'));
    const answer = await client.next();
    expect(answer).toMatchObject({
      type: GSUP_MESSAGE_TYPE['SendAuthInfo-Error'],
      imsi: '232019999999999',
      cause: GMM_CAUSE['IMSI-Unknown-In-HLR'],
    });
  });

  it('UpdateLocation (PS): InsertSubscriberData carries the MSISDN and a PDP context, then the Result', async () => {
    client.send({ type: GSUP_MESSAGE_TYPE['UpdateLocation-Request'], imsi: IMSI, cnDomain: CN_DOMAIN.PS });
    const isd = await client.next();
    expect(isd.type).toBe(GSUP_MESSAGE_TYPE['InsertSubscriberData-Request']);
    expect(isd.msisdn).toBe('1000');
    expect(isd.cnDomain).toBe(CN_DOMAIN.PS);
    expect(isd.pdpInfo?.[0]?.contextId).toBeGreaterThan(0);
    expect(isd.unknownIes).toBeUndefined();
    client.send({ type: GSUP_MESSAGE_TYPE['InsertSubscriberData-Result'], imsi: IMSI });
    const result = await client.next();
    expect(result).toMatchObject({ type: GSUP_MESSAGE_TYPE['UpdateLocation-Result'], imsi: IMSI });
  });

  it('PurgeMS is acknowledged with a Result', async () => {
    client.send({ type: GSUP_MESSAGE_TYPE['PurgeMS-Request'], imsi: IMSI, cnDomain: CN_DOMAIN.PS });
    const result = await client.next();
    expect(result.type).toBe(GSUP_MESSAGE_TYPE['PurgeMS-Result']);
    expect(client.errors).toEqual([]);
  });
});

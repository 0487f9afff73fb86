// SmsNetwork on its own, with a recording fleet and SMSC: addressing (MSISDN or IMSI → the card's own
// IMSI; MO from the MSISDN, or from the quarantine identity of a blocked card), store and forward
// while the platform is not bound, and hostile input from either side (fuzz): never a throw, never a
// delivery to the wrong card.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSmsDeliver,
  encodeSmsSubmit,
  encodeUserData,
  internationalAddress,
  type SmsSubmit,
  userDataLengthFor,
} from '../../src/lib/ts-23-040-sms-tpdu.js';
import { type SimDataMessage, SmsNetwork } from '../../src/simulator/sms-network.js';

const CARD = { imsi: '001010000000001', msisdn: '819000000001' };
const OTHER = { imsi: '001010000000002' };
const QUARANTINE = '001990000000001';

function harness(o: { bound?: boolean; blocked?: boolean } = {}) {
  const delivered: Array<{ imsi: string; tpdu: Uint8Array }> = [];
  const mo: SimDataMessage[] = [];
  let bound = o.bound ?? true;
  const network = new SmsNetwork({ systemId: 'ota', subscribers: [CARD, OTHER], retryMs: 10 });
  network.connect(
    {
      deliverSms: (imsi, tpdu) => {
        delivered.push({ imsi, tpdu });
        return undefined;
      },
      deviceState: (imsi) => ({
        cardImsi: imsi === QUARANTINE ? CARD.imsi : imsi,
        imsi: o.blocked && (imsi === CARD.imsi || imsi === QUARANTINE) ? QUARANTINE : imsi,
      }),
    },
    {
      deliverMo: (_systemId, m) => {
        if (!bound) return false;
        mo.push(m);
        return true;
      },
    },
  );
  return { network, delivered, mo, bind: () => (bound = true) };
}

const userData = encodeUserData({
  header: [{ iei: 0x70, data: new Uint8Array(0) }],
  body: Uint8Array.of(0, 0x10, 1, 2, 3),
});

function submit(destination: string): Uint8Array {
  const ud = { header: [{ iei: 0x71, data: new Uint8Array(0) }], body: Uint8Array.of(9, 9) };
  const tpdu: SmsSubmit = {
    type: 'submit',
    rejectDuplicates: false,
    statusReportRequest: false,
    replyPath: false,
    messageReference: 1,
    destinationAddress: internationalAddress(destination),
    protocolIdentifier: 0x7f,
    dataCodingScheme: 0xf6,
    validityPeriod: { format: 'none' },
    userDataLength: userDataLengthFor(0xf6, ud),
    userData: ud,
  };
  const r = encodeSmsSubmit(tpdu);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('SmsNetwork', () => {
  it('delivers MT SIM data for an MSISDN or an IMSI to that card as a SIM data download', () => {
    const { network, delivered } = harness();
    network.onSimData({
      source: '8170000999',
      destination: CARD.msisdn,
      protocolId: 0x7f,
      dataCoding: 0xf6,
      userData,
    });
    network.onSimData({
      source: '8170000999',
      destination: OTHER.imsi,
      protocolId: 0x7f,
      dataCoding: 0xf6,
      userData,
    });
    network.onSimData({
      source: '8170000999',
      destination: '819099999999',
      protocolId: 0x7f,
      dataCoding: 0xf6,
      userData,
    });
    expect(delivered.map((d) => d.imsi)).toEqual([CARD.imsi, OTHER.imsi]);
    const sms = decodeSmsDeliver(delivered[0]?.tpdu ?? new Uint8Array(0));
    expect(sms.ok && sms.value).toMatchObject({ protocolIdentifier: 0x7f, dataCodingScheme: 0xf6 });
    expect(network.stats).toMatchObject({ mt: 2, mtUndeliverable: 1 });
  });

  it('MO from the MSISDN; from the quarantine identity once the card blocked', () => {
    const ok = harness();
    ok.network.onCardSms(CARD.imsi, submit('8170000999'));
    expect(ok.mo[0]).toMatchObject({ source: CARD.msisdn, destination: '8170000999', protocolId: 0x7f });
    const blocked = harness({ blocked: true });
    blocked.network.onCardSms(QUARANTINE, submit('8170000999'));
    expect(blocked.mo[0]).toMatchObject({ source: QUARANTINE });
  });

  it('keeps MO SMS while the platform is not bound and sends them in order when it binds', async () => {
    const h = harness({ bound: false });
    h.network.onCardSms(CARD.imsi, submit('1111'));
    h.network.onCardSms(CARD.imsi, submit('2222'));
    expect(h.network.queued).toBe(2);
    h.bind();
    for (let i = 0; i < 200 && h.network.queued > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.mo.map((m) => m.destination)).toEqual(['1111', '2222']);
    h.network.close();
  });

  it('moRoutes: MO SMS reach the ESME of the number they were sent to; an unbound one keeps its own, in order', async () => {
    // Two platforms bound to one SMSC (two operators' SM-SRs, issue 16): a PoR to SM-SR 2's number
    // must not reach SM-SR 1, and SM-SR 2 being down must not hold SM-SR 1's SMS back.
    const got: Array<[string, string]> = [];
    let twoBound = false;
    const network = new SmsNetwork({
      systemId: 'ota-1',
      moRoutes: { '819000000002': 'ota-2' },
      subscribers: [CARD],
      retryMs: 10,
    });
    network.connect(
      { deliverSms: () => undefined, deviceState: (imsi) => ({ cardImsi: imsi, imsi }) },
      {
        deliverMo: (systemId, m) => {
          if (systemId === 'ota-2' && !twoBound) return false;
          got.push([systemId, m.destination]);
          return true;
        },
      },
    );
    network.onCardSms(CARD.imsi, submit('819000000002'));
    network.onCardSms(CARD.imsi, submit('819000000001'));
    network.onCardSms(CARD.imsi, submit('819000000002'));
    network.onCardSms(CARD.imsi, submit('819000000003'));
    expect(got).toEqual([
      ['ota-1', '819000000001'],
      ['ota-1', '819000000003'],
    ]);
    expect(network.queued).toBe(2);
    const kept = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (network.queued === 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    twoBound = true;
    await kept;
    expect(got.slice(2)).toEqual([
      ['ota-2', '819000000002'],
      ['ota-2', '819000000002'],
    ]);
    network.close();
  });

  it('moRoutes property: any number reaches its route or the default ESME, never another', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.stringMatching(/^\d{1,15}$/), fc.constant('819000000002'), fc.constant('81900000000')),
        (destination) => {
          const to: string[] = [];
          const network = new SmsNetwork({
            systemId: 'ota-1',
            moRoutes: { '819000000002': 'ota-2' },
            subscribers: [CARD],
          });
          network.connect(
            { deliverSms: () => undefined, deviceState: (imsi) => ({ cardImsi: imsi, imsi }) },
            { deliverMo: (systemId) => to.push(systemId) > 0 },
          );
          network.onCardSms(CARD.imsi, submit(destination));
          network.close();
          expect(to).toEqual([destination === '819000000002' ? 'ota-2' : 'ota-1']);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('fuzz: hostile MT messages and card TPDUs never throw and never reach another card', () => {
    const h = harness();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // The valid user data with one byte changed, cut or extended.
          fc
            .tuple(
              fc.nat(userData.length - 1),
              fc.integer({ min: 0, max: 255 }),
              fc.integer({ min: -3, max: 3 }),
            )
            .map(([i, b, cut]) => {
              const m = new Uint8Array(Math.max(0, userData.length + cut));
              m.set(userData.subarray(0, m.length));
              if (i < m.length) m[i] = b;
              return m;
            }),
        ),
        fc.oneof(fc.constantFrom(CARD.msisdn, CARD.imsi, OTHER.imsi), fc.string({ maxLength: 20 })),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(40), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const t = submit('8170000999');
            if (i < t.length) t[i] = b;
            return t;
          }),
        ),
        (ud, destination, tpdu) => {
          const before = h.delivered.length;
          h.network.onSimData({ source: '1', destination, protocolId: 0x7f, dataCoding: 0xf6, userData: ud });
          const to = h.delivered.slice(before).map((d) => d.imsi);
          const expected = destination === CARD.msisdn || destination === CARD.imsi ? CARD.imsi : OTHER.imsi;
          for (const imsi of to) expect(imsi).toBe(expected);
          h.network.onCardSms(CARD.imsi, tpdu);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

// Roaming in the simulated fleet (issue 16, the device side): two operators' platforms, each with its
// own database, AuC (GSUP) and RADIUS; every device camps on a cell of operator 2's country. A device
// whose IMSI is operator 1's (a Japanese product abroad) attaches through operator 1's AuC and
// RADIUS — the visited network asks the home network by IMSI — and its event says it roams; a device
// with operator 2's IMSI attaches at home, through operator 2. Threat: a simulator that sends a
// subscriber to the wrong operator would let the switch test pass while the device never reached the
// new operator's AuC (or was still admitted by the old one's).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysOf } from '../../src/card/card-file.js';
import { toHex } from '../../src/lib/hex.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { newCards, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import type { Cell } from '../../src/simulator/packet-gateway.js';
import { type CoreNetwork, startCoreNetwork, waitFor } from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';

/** Example PLMNs: operator 1 in Japan (MCC 440), operator 2 where the device is (MCC 310). */
const HOME_1 = '44010';
const HOME_2 = '310410';
const CELL: Cell = { mcc: '310', mnc: '410', tac: 0x2a, eci: 0x2a01 };
const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

describe('roaming: the visited network authenticates at the IMSI’s home network', () => {
  let one: TestApi;
  let two: TestApi;
  let core1: CoreNetwork;
  let core2: CoreNetwork;
  let fleet: Fleet;
  const events: FleetEvent[] = [];
  const card = (imsiPrefix: string) => {
    const c = newCards(1, { imsiPrefix: `${imsiPrefix}${digits(4)}` })[0];
    if (c === undefined) throw new Error('no card');
    return c;
  };
  const cards = { japanese: card(HOME_1), local: card(HOME_2) };

  const sessions = (api: TestApi) =>
    api.platform.store.db.selectFrom('sim_sessions').select(['imsi', 'status']).execute();

  beforeAll(async () => {
    one = await startTestApi();
    two = await startTestApi();
    core1 = await startCoreNetwork(one.platform, one.operator.operatorId);
    core2 = await startCoreNetwork(two.platform, two.operator.operatorId);
    // Each operator's inventory holds its own subscriber only.
    for (const [api, card] of [
      [one, cards.japanese],
      [two, cards.local],
    ] as const) {
      const keys = keysOf(card.file);
      await api.platform.sims.create(systemContext(api.operator.operatorId, 'Sim:createSim', 'test'), {
        iccid: card.file.iccid,
        imsi: card.file.imsi,
        ki: toHex(keys.ki),
        opc: toHex(keys.opc),
      });
    }
    // Operator 2's network is the one the devices are in (the default); operator 1 is a home network.
    fleet = await Fleet.open({
      devices: [cards.japanese, cards.local].map((card, i) => ({
        card,
        imei: simulatedImei(160 + i),
        cell: CELL,
      })),
      ...core2.fleet,
      homeNetworks: [{ imsiPrefix: HOME_1, ...core1.fleet }],
      retrySeconds: 120,
      attachSpreadMs: 0,
      log: (e) => events.push(e),
    });
    await core2.admit(fleet);
    // Operator 1 admits the packet gateway that serves its subscribers (its own CoA port).
    await one.platform.aaa.radiusClients.create(
      systemContext(one.operator.operatorId, 'Radius:createClient', 'test'),
      {
        address: core1.fleet.nasAddress as string,
        secret: core1.fleet.radius.secret,
        coaPort: fleet.coaPortOf(cards.japanese.file.imsi),
        name: 'roaming partner',
      },
    );
    await core1.radius.server.clients.reload();
    fleet.start();
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    await core1?.close();
    await core2?.close();
    await one?.close();
    await two?.close();
  });

  it('operator 1’s subscriber attaches through operator 1 while roaming; operator 2’s at home', async () => {
    const japaneseImsi = cards.japanese.file.imsi;
    const localImsi = cards.local.file.imsi;
    const attached = await waitFor(
      'both devices attached',
      () => events.filter((e) => e.kind === 'attached'),
      (a) => a.length === 2,
      60_000,
    );
    expect(attached.find((e) => e.imsi === japaneseImsi)).toMatchObject({
      roaming: { visited: '310410', home: HOME_1 },
    });
    expect(attached.find((e) => e.imsi === localImsi)).not.toHaveProperty('roaming');
    expect(events.filter((e) => e.kind === 'rejected')).toEqual([]);
    // Each session is at the subscriber's home operator, and only there.
    expect(await sessions(one)).toEqual([{ imsi: japaneseImsi, status: 'online' }]);
    expect(await sessions(two)).toEqual([{ imsi: localImsi, status: 'online' }]);
    expect(fleet.deviceState(japaneseImsi)).toMatchObject({ attached: true, cell: CELL });
  }, 90_000);

  it('a subscriber its home operator does not know is refused there, and the visited operator never sees it', async () => {
    const stranger = card(HOME_1);
    // Not in operator 1's inventory: its AuC refuses it, operator 2 never sees it.
    const before = (await sessions(two)).length;
    const lone = await Fleet.open({
      devices: [{ card: stranger, imei: simulatedImei(170), cell: CELL }],
      ...core2.fleet,
      homeNetworks: [{ imsiPrefix: HOME_1, ...core1.fleet }],
      retrySeconds: 120,
      attachSpreadMs: 0,
    });
    try {
      lone.start();
      const state = await waitFor(
        'the stranger refused',
        () => lone.deviceState(stranger.file.imsi),
        (s) => s.lastRefusal !== undefined,
        60_000,
      );
      expect(state.lastRefusal).toMatch(/SendAuthInfo refused/);
      expect((await sessions(two)).length).toBe(before);
    } finally {
      await lone.stop();
    }
  }, 90_000);
});

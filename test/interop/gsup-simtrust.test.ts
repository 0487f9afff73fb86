// Interop: the simulator's network side (GSUP client + AUTHENTICATE on a software card) against two
// HLR/AuCs holding the same keys — simtrust's GSUP listener (`simtrust serve` with
// SIMTRUST_GSUP_PORT, the SIM imported through the CLI) and Debian's osmo-hlr. The same card
// authenticates against both, in turn; where one AuC's SQN lags behind what the card accepted from
// the other, the card answers AUTS and the AuC resynchronises, as in a real network. Both answer the
// same errors with the same GMM causes.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine, keysOf } from '../../src/card/card-file.js';
import { CN_DOMAIN, GMM_CAUSE } from '../../src/lib/gsup/gsup.js';
import { toHex } from '../../src/lib/hex.js';
import { newCards, type SimulatedCard } from '../../src/simulator/cards.js';
import { GsupClient } from '../../src/simulator/gsup-client.js';
import { authenticateCard, registerLocation } from '../../src/simulator/network.js';
import { requirePrograms } from '../helpers/external.js';
import { type OsmoHlr, startOsmoHlr } from './helpers/osmo-hlr.js';
import { type SimtrustProcess, startSimtrust } from './helpers/simtrust-platform.js';

const available = requirePrograms({ 'osmo-hlr': 'osmo-hlr', 'osmo-hlr-db-tool': 'osmo-hlr' });

describe.skipIf(!available)('one card, two AuCs over GSUP: simtrust and osmo-hlr', () => {
  let simtrust: SimtrustProcess;
  let hlr: OsmoHlr;
  let toSimtrust: GsupClient;
  let toHlr: GsupClient;
  const [card] = newCards(1) as [SimulatedCard];

  beforeAll(async () => {
    const keys = keysOf(card.file);
    hlr = await startOsmoHlr([{ imsi: card.file.imsi, k: toHex(keys.ki), opc: toHex(keys.opc) }]);
    simtrust = await startSimtrust({ gsup: true });
    await simtrust.importSims([csvLine(card.file)]);
    if (simtrust.gsupPort === undefined) throw new Error('no GSUP listener');
    toSimtrust = await GsupClient.open({
      host: '127.0.0.1',
      port: simtrust.gsupPort,
      name: 'SIMTRUST-SIM-SGSN',
    });
    toHlr = await GsupClient.open({ host: hlr.host, port: hlr.port, name: 'SIMTRUST-SIM-SGSN' });
  });

  afterAll(async () => {
    toSimtrust?.close();
    toHlr?.close();
    await hlr?.stop();
    await simtrust?.stop();
  });

  it('authenticates the card against osmo-hlr, then simtrust, then both again', async () => {
    const rounds: Array<{ aucName: string; resyncs: number }> = [];
    for (const [name, client] of [
      ['osmo-hlr', toHlr],
      ['simtrust', toSimtrust],
      ['osmo-hlr', toHlr],
      ['simtrust', toSimtrust],
    ] as const) {
      const r = await authenticateCard(client, card);
      expect(r.ok, `${name}: ${r.ok ? '' : r.error}`).toBe(true);
      if (r.ok) rounds.push({ aucName: name, resyncs: r.value.resyncs });
    }
    // Each AuC needed at most one resynchronisation per round to catch up with the card.
    expect(rounds.every((r) => r.resyncs <= 1)).toBe(true);
  });

  it('UpdateLocation succeeds against both (InsertSubscriberData answered)', async () => {
    expect(await registerLocation(toHlr, card.file.imsi)).toEqual({ ok: true, value: true });
    expect(await registerLocation(toSimtrust, card.file.imsi)).toEqual({ ok: true, value: true });
    expect(toSimtrust.inserted.get(card.file.imsi)?.cnDomain).toBe(CN_DOMAIN.PS);
  });

  it('both refuse an unknown IMSI and an AUTS with a wrong MAC-S with the same causes', async () => {
    const unknown = '001019999999996';
    const a = await toHlr.sendAuthInfo(unknown);
    const b = await toSimtrust.sendAuthInfo(unknown);
    expect(a.ok ? 'ok' : a.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    expect(b.ok ? 'ok' : b.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    const resync = { auts: new Uint8Array(randomBytes(14)), rand: new Uint8Array(randomBytes(16)) };
    const c = await toHlr.sendAuthInfo(card.file.imsi, { resync });
    const d = await toSimtrust.sendAuthInfo(card.file.imsi, { resync });
    expect(c.ok).toBe(false);
    expect(d.ok).toBe(false);
    console.info(
      `bad AUTS: osmo-hlr cause ${c.ok ? 'ok' : c.error.cause}, simtrust cause ${d.ok ? 'ok' : d.error.cause}`,
    );
    expect(d.ok ? 'ok' : d.error.cause).toBe(c.ok ? 'ok' : c.error.cause);
  });
});

// The demo fleet of `simtrust up --demo` (docs/simulator.md): simulated devices carrying the first
// demo SIMs, whose keys the demo seeding wrote to data/demo-fleet/cards.csv. It runs in the `up`
// process but reaches the platform only over GSUP and RADIUS like any simulator; the CLI, where the
// platform and the simulator are composed, registers its packet gateway as a NAS client of the demo
// operator (127.0.0.10) with the CoA port it got.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { demoFleetCardsFile } from '../platform/demo.js';
import { systemContext } from '../platform/iam/principal.js';
import type { Platform } from '../platform/platform.js';
import { cardsFromCsv } from '../simulator/cards.js';
import { Fleet, type FleetSummary } from '../simulator/fleet.js';

/** The demo packet gateway's address (loopback, apart from the platform's own 127.0.0.1). */
export const DEMO_NAS_ADDRESS = '127.0.0.10';

export interface RunningDemoFleet {
  readonly devices: number;
  summary(): FleetSummary;
  stop(): Promise<void>;
}

export async function startDemoFleet(o: {
  platform: Platform;
  operatorId: string;
  gsupPort: number;
  radius: { authPort: number; acctPort: number };
  logger: Logger;
}): Promise<RunningDemoFleet | undefined> {
  const { config } = o.platform;
  const file = demoFleetCardsFile(config.dataDir);
  if (!existsSync(file)) {
    o.logger.warn(
      { file },
      'demo fleet: no card file (data made by an older version); delete the data directory to recreate it',
    );
    return undefined;
  }
  const cards = cardsFromCsv(readFileSync(file, 'utf8'));
  if (!cards.ok) {
    o.logger.error({ file, code: cards.error.code }, `demo fleet: ${cards.error.message}`);
    return undefined;
  }
  const ctx = systemContext(o.operatorId, 'Radius:demoFleet', 'demo');
  const service = o.platform.aaa.radiusClients;
  const known = (await service.loadAll()).clients.find((c) => c.address === `${DEMO_NAS_ADDRESS}/32`);
  const secret = known?.secret.toString() ?? randomBytes(18).toString('base64url');
  const fleetLog = o.logger.child({ component: 'demo-fleet' });
  const fleet = await Fleet.open({
    devices: cards.value.map((card, i) => ({
      card,
      imei: card.extra.imei ?? '',
      cell: { mcc: '001', mnc: '01', tac: 0x10 + (i % 4), eci: 0x1a2b00 + i },
      heavy: i === 0,
    })),
    gsup: { host: config.gsupHost, port: o.gsupPort },
    radius: { host: config.radiusHost, authPort: o.radius.authPort, acctPort: o.radius.acctPort, secret },
    nasAddress: DEMO_NAS_ADDRESS,
    interimSeconds: 30,
    retrySeconds: 60,
    moveEverySeconds: 300,
    attachSpreadMs: 3000,
    log: (event) => {
      if (event.kind === 'rejected') fleetLog.warn({ event }, `demo device refused: ${event.reason}`);
      else if (event.kind !== 'moved') fleetLog.info({ event }, `demo device ${event.kind}`);
    },
  });
  try {
    if (known === undefined) {
      await service.create(ctx, {
        address: DEMO_NAS_ADDRESS,
        secret,
        coaPort: fleet.coaPort,
        name: 'demo-fleet packet gateway',
      });
    } else {
      await service.update(ctx, known.clientId, { coaPort: fleet.coaPort });
    }
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  fleet.start();
  return { devices: cards.value.length, summary: () => fleet.summary(), stop: () => fleet.stop() };
}

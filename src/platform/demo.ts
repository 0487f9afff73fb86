// Demo data for `simtrust up --demo`: the demo operator and, the first time, a small fleet of SIMs
// in two groups. Idempotent: a second start finds them and changes nothing.
//
// The demo fleet (docs/simulator.md): the demo SIMs' Ki/OPc are random and only the platform keeps
// them, sealed. So that simulated devices can carry those SIMs, the seeding writes the keys of the
// first demoFleetDevices SIMs — once, when it creates them — to a demo-only file in the data
// directory, `demo-fleet/cards.csv` (mode 0600, vendor CSV plus each device's IMEI). Real SIM keys
// never go to a file: this exists only in demo mode, for SIMs the demo itself invented.
//
// Anti-theft (docs/anti-theft.md): DEMO_ANTI_THEFT_SIMS fleet SIMs carry the anti-theft applet. Their
// OTA key set is made here and provisioned on both sides at once: sealed in the platform with the SIM
// (the `ota` section of createSim) and written to the same demo-only file (the CSV's OTA columns
// kic,kid,kvn,quarantine_imsi), from which the demo fleet builds their cards.
//
// Event handlers (docs/event-handlers.md): two demo handlers, created at every start when missing
// (by name), so that the demo fleet trips them: the heavy device (demo SIM 1) crosses a small daily
// limit → its speed class drops and the operator is mailed; the IMEI-locked SIM in another device
// (the last fleet SIM) is refused → suspended. The demo starts no mail server: without
// SIMTRUST_SMTP_URL the mail run is recorded as failed, "no SMTP server is configured".

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { luhnCheckDigit } from '../lib/luhn.js';
import { createOperator, findOperatorByEmail } from './iam/operators.js';
import { systemContext } from './iam/principal.js';
import type { Platform } from './platform.js';
import { ensurePrivateDir, ensurePrivateFile } from './private-files.js';

export const DEMO_GROUPS = [
  { name: 'demo-sensors', description: 'Fixed sensors' },
  { name: 'demo-trackers', description: 'Vehicle trackers' },
] as const;

export interface DemoFleet {
  readonly operatorId: string;
  readonly created: boolean;
  readonly simCount: number;
  /** The demo event handlers' ids (when there is a demo fleet to trip them). */
  readonly handlers?: { readonly traffic: string; readonly imei: string };
}

/** A Luhn-correct demo ICCID: 89 (telecom) 999 (test country code) 01 + 11-digit serial. */
export function demoIccid(serial: number): string {
  const body = `8999901${String(serial).padStart(11, '0')}`;
  return body + luhnCheckDigit(body);
}

/** Demo IMSIs use the test PLMN 001/01 (3GPP TS 23.003 test network). */
export const demoImsi = (serial: number) => `00101${String(serial).padStart(10, '0')}`;

/** The IMEI of demo device `serial` (TAC 35840800, TS 23.003 §6.2.1 Luhn check digit). */
export function demoImei(serial: number): string {
  const body = `35840800${String(serial).padStart(6, '0')}`;
  return body + luhnCheckDigit(body);
}

/** How many demo fleet SIMs carry the anti-theft applet: demo SIMs 2, 3, … (see demoAntiTheftSerials). */
export const DEMO_ANTI_THEFT_SIMS = 4;

/**
 * The serials of the anti-theft demo SIMs in a fleet of `fleetSize`: from 2 on (1 is the example SIM),
 * clear of the two IMEI-locked SIMs at the end of the fleet.
 */
export function demoAntiTheftSerials(fleetSize: number): number[] {
  const last = Math.min(1 + DEMO_ANTI_THEFT_SIMS, fleetSize - 2);
  return Array.from({ length: Math.max(0, last - 1) }, (_, i) => i + 2);
}

/** A demo SIM's quarantine identity: its IMSI's digits on test PLMN 001/99 (no subscriber there). */
export const demoQuarantineImsi = (serial: number) => `00199${String(serial).padStart(10, '0')}`;

/** Where the demo fleet's card keys are written (demo mode only). */
export const demoFleetCardsFile = (dataDir: string) => join(dataDir, 'demo-fleet', 'cards.csv');

/** The demo heavy device's daily limit: its first Interim-Update (30 s of heavy traffic) is over it. */
export const DEMO_DAILY_LIMIT_MIB = 10;

/** The demo's event handlers, by name (created when missing). */
export const DEMO_HANDLERS = {
  traffic: `demo: SIM over ${DEMO_DAILY_LIMIT_MIB} MiB today → slow down, mail the operator`,
  imei: 'demo: IMEI mismatch → suspend the SIM',
} as const;

/**
 * Creates the demo handlers that do not exist yet: daily traffic of demo SIM 1 (the heavy device)
 * over DEMO_DAILY_LIMIT_MIB → s1.minimum and a mail to the operator, s1.standard again at the next
 * UTC day; any SIM of the operator refused by its IMEI lock → suspended. Returns their ids.
 */
export async function ensureDemoHandlers(
  platform: Platform,
  operatorId: string,
): Promise<{ traffic: string; imei: string }> {
  const existing = await platform.eventHandlers.list(operatorId, {}, { limit: 100 });
  const ctx = systemContext(operatorId, 'EventHandler:createEventHandler', 'demo');
  const now = { executionDateTimeConst: 'IMMEDIATELY' };
  const wanted = {
    traffic: {
      name: DEMO_HANDLERS.traffic,
      description:
        'The demo heavy device crosses this within a minute of the start (docs/event-handlers.md).',
      status: 'active' as const,
      targetSimId: demoIccid(1),
      ruleConfig: {
        type: 'SimDailyTotalTrafficRule',
        properties: {
          limitTotalTrafficMegaByte: String(DEMO_DAILY_LIMIT_MIB),
          inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY',
        },
      },
      actionConfigList: [
        { type: 'ChangeSpeedClassAction', properties: { speedClass: 's1.minimum', ...now } },
        {
          type: 'SendMailToOperatorAction',
          properties: {
            title: `SIM \${simId} over ${DEMO_DAILY_LIMIT_MIB} MiB today`,
            message: 'SIM ${simId} (IMSI ${imsi}) was slowed down to s1.minimum until 00:00 UTC.',
            ...now,
          },
        },
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.standard', executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY' },
        },
      ],
    },
    imei: {
      name: DEMO_HANDLERS.imei,
      description: 'A SIM refused by its IMEI lock (it is in another device) is suspended.',
      status: 'active' as const,
      targetOperatorId: operatorId,
      ruleConfig: {
        type: 'SimImeiMismatchedRule',
        properties: { inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [{ type: 'SuspendAction', properties: now }],
    },
  };
  const ids = { traffic: '', imei: '' };
  for (const key of ['traffic', 'imei'] as const) {
    const found = existing.items.find((h) => h.name === wanted[key].name);
    ids[key] = found?.handlerId ?? (await platform.eventHandlers.create(ctx, wanted[key])).handlerId;
  }
  return ids;
}

export async function ensureDemoFleet(platform: Platform): Promise<DemoFleet> {
  const { config } = platform;
  const existing = await findOperatorByEmail(platform.store.db, config.demoOperatorEmail);
  const operator =
    existing ??
    (await createOperator(platform.store, platform.clock, {
      email: config.demoOperatorEmail,
      password: config.demoOperatorPassword,
    }));
  const { operatorId } = operator;
  const any = await platform.store.db
    .selectFrom('sims')
    .select('sim_id')
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  if (any) {
    const count = await platform.store.db
      .selectFrom('sims')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('operator_id', '=', operatorId)
      .executeTakeFirstOrThrow();
    const handlers =
      Math.min(config.demoFleetDevices, config.demoSimCount) > 0
        ? await ensureDemoHandlers(platform, operatorId)
        : undefined;
    return { operatorId, created: false, simCount: Number(count.n), ...(handlers ? { handlers } : {}) };
  }

  const ctx = (operationId: string) => systemContext(operatorId, operationId, 'demo');
  const groupIds: string[] = [];
  for (const g of DEMO_GROUPS) {
    const group = await platform.groups.create(ctx('Group:createGroup'), {
      tags: { name: g.name, description: g.description },
    });
    groupIds.push(group.groupId);
  }
  const fleetCards: string[] = [];
  const fleetSize = Math.min(config.demoFleetDevices, config.demoSimCount);
  const antiTheft = new Set(demoAntiTheftSerials(fleetSize));
  for (let i = 1; i <= config.demoSimCount; i++) {
    const groupId = groupIds[i % groupIds.length];
    const ki = randomBytes(16).toString('hex');
    const opc = randomBytes(16).toString('hex');
    const msisdn = `81900${String(i).padStart(7, '0')}`;
    // One AES-128 key set (KVN 1) for the anti-theft SIMs, the same on the card and in the platform.
    const ota = antiTheft.has(i)
      ? {
          kic: randomBytes(16).toString('hex'),
          kid: randomBytes(16).toString('hex'),
          quarantine: demoQuarantineImsi(i),
        }
      : undefined;
    if (i <= fleetSize)
      fleetCards.push(
        [
          demoIccid(i),
          demoImsi(i),
          msisdn,
          ki,
          opc,
          ...(ota === undefined ? ['', '', '', ''] : [ota.kic, ota.kid, '1', ota.quarantine]),
          demoImei(i),
        ].join(','),
      );
    await platform.sims.create(ctx('Sim:createSim'), {
      iccid: demoIccid(i),
      imsi: demoImsi(i),
      msisdn,
      ki,
      opc,
      serialNumber: `DEMO-${String(i).padStart(4, '0')}`,
      groupId,
      tags: {
        name: `demo-device-${String(i).padStart(3, '0')}`,
        site: i % 2 === 0 ? 'tokyo' : 'osaka',
        ...(ota === undefined ? {} : { 'anti-theft': 'on' }),
      },
      ...(ota === undefined
        ? {}
        : {
            ota: {
              keySets: [{ kvn: 1, kic: ota.kic, kid: ota.kid }],
              antiTheft: { quarantineImsi: ota.quarantine },
            },
          }),
    });
  }
  if (config.demoSimCount > fleetSize) {
    // One SIM outside the fleet expires an hour after the demo's first start (docs/sims.md, Expiry):
    // the SIM page shows it, and at that time the expiry job clears it and raises SimExpiredRule.
    await platform.sims.setExpiry(ctx('Sim:setSimExpiryTime'), demoIccid(config.demoSimCount), {
      expiryTime: platform.clock.now() + 3_600_000,
      expiryAction: 'doNothing',
    });
  }
  if (fleetSize > 0) {
    // Two IMEI locks to show the feature: one SIM locked to the device it is in (admitted), and the
    // last fleet SIM locked to a device it is not in (refused: IMEI_MISMATCH in logs and the API).
    if (fleetSize > 1)
      await platform.sims.setImeiLock(
        ctx('Sim:setSimImeiLock'),
        demoIccid(fleetSize - 1),
        demoImei(fleetSize - 1),
      );
    await platform.sims.setImeiLock(
      ctx('Sim:setSimImeiLock'),
      demoIccid(fleetSize),
      demoImei(900_000 + fleetSize),
    );
    // Active, as a SIM in use is: the IMEI-mismatch handler suspends it when its lock refuses it.
    await platform.sims.transition(ctx('Sim:activateSim'), demoIccid(fleetSize), 'activate');
    const file = demoFleetCardsFile(config.dataDir);
    ensurePrivateDir(join(config.dataDir, 'demo-fleet'));
    writeFileSync(
      file,
      `iccid,imsi,msisdn,ki,opc,kic,kid,kvn,quarantine_imsi,imei\n${fleetCards.join('\n')}\n`,
      {
        mode: 0o600,
      },
    );
    ensurePrivateFile(file);
    const handlers = await ensureDemoHandlers(platform, operatorId);
    return { operatorId, created: true, simCount: config.demoSimCount, handlers };
  }
  return { operatorId, created: true, simCount: config.demoSimCount };
}

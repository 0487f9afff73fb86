// Demo data for `simtrust up --demo`: the demo operator and, the first time, a small fleet of SIMs
// in two groups. Idempotent: a second start finds them and changes nothing.

import { randomBytes } from 'node:crypto';
import { luhnCheckDigit } from '../lib/luhn.js';
import { createOperator, findOperatorByEmail } from './iam/operators.js';
import { systemContext } from './iam/principal.js';
import type { Platform } from './platform.js';

export const DEMO_GROUPS = [
  { name: 'demo-sensors', description: 'Fixed sensors' },
  { name: 'demo-trackers', description: 'Vehicle trackers' },
] as const;

export interface DemoFleet {
  readonly operatorId: string;
  readonly created: boolean;
  readonly simCount: number;
}

/** A Luhn-correct demo ICCID: 89 (telecom) 999 (test country code) 01 + 11-digit serial. */
export function demoIccid(serial: number): string {
  const body = `8999901${String(serial).padStart(11, '0')}`;
  return body + luhnCheckDigit(body);
}

/** Demo IMSIs use the test PLMN 001/01 (3GPP TS 23.003 test network). */
export const demoImsi = (serial: number) => `00101${String(serial).padStart(10, '0')}`;

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
    return { operatorId, created: false, simCount: Number(count.n) };
  }

  const ctx = (operationId: string) => systemContext(operatorId, operationId, 'demo');
  const groupIds: string[] = [];
  for (const g of DEMO_GROUPS) {
    const group = await platform.groups.create(ctx('Group:createGroup'), {
      tags: { name: g.name, description: g.description },
    });
    groupIds.push(group.groupId);
  }
  for (let i = 1; i <= config.demoSimCount; i++) {
    const groupId = groupIds[i % groupIds.length];
    await platform.sims.create(ctx('Sim:createSim'), {
      iccid: demoIccid(i),
      imsi: demoImsi(i),
      msisdn: `81900${String(i).padStart(7, '0')}`,
      ki: randomBytes(16).toString('hex'),
      opc: randomBytes(16).toString('hex'),
      serialNumber: `DEMO-${String(i).padStart(4, '0')}`,
      groupId,
      tags: { name: `demo-device-${String(i).padStart(3, '0')}`, site: i % 2 === 0 ? 'tokyo' : 'osaka' },
    });
  }
  return { operatorId, created: true, simCount: config.demoSimCount };
}

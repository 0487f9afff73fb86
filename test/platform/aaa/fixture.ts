// Shared fixture of the AAA tests: a platform on the test database (SQLite or PostgreSQL) and SIMs
// whose Ki/OPc the test knows, so it can play the USIM.

import { randomBytes } from 'node:crypto';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { SimView } from '../../../src/platform/sims/model.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

export interface TestSim {
  readonly simId: string;
  readonly iccid: string;
  readonly imsi: string;
  readonly ki: Buffer;
  readonly opc: Buffer;
  readonly view: SimView;
}

let serial = 0;

/** A SIM with random keys, created through SimService (status `ready`). */
export async function createSim(
  api: TestApi,
  options: { groupId?: string; amf?: string; operatorId?: string } = {},
): Promise<TestSim> {
  serial++;
  const n = `${process.pid % 1000}`.padStart(3, '0') + String(serial).padStart(7, '0');
  const body = `8981100${n.slice(0, 11)}`;
  const iccid = body + luhnCheckDigit(body);
  const imsi = `00101${n}`.slice(0, 15);
  const ki = randomBytes(16);
  const opc = randomBytes(16);
  const ctx = systemContext(options.operatorId ?? api.operator.operatorId, 'Sim:createSim', 'test');
  const view = await api.platform.sims.create(ctx, {
    iccid,
    imsi,
    ki: ki.toString('hex'),
    opc: opc.toString('hex'),
    ...(options.amf ? { amf: options.amf } : {}),
    ...(options.groupId ? { groupId: options.groupId } : {}),
  });
  return { simId: view.simId, iccid, imsi, ki, opc, view };
}

export type { TestApi };
export { startTestApi };

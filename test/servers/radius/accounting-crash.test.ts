// Crash safety of accounting. The threat: usage that was acknowledged to the NAS (so the NAS forgets
// it) lost in a crash, or usage counted twice when the NAS retransmits after the restart. The
// server (`simtrust serve`, its own process) is killed with SIGKILL in the middle of an accounting
// load; after a restart every acknowledged record must be there, and after the NAS retransmits
// everything the usage must equal the final counters exactly.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { loginToken, type ServerProcess, seedOperator, startServeProcess } from '../../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../../helpers/database.js';
import { TestNas } from './nas.js';

const SECRET = 'crash-test-secret';
const SESSIONS = 24;
const STEP_BYTES = 1000;

let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
let server: ServerProcess | undefined;
let token = '';
const sims: Array<{ simId: string; imsi: string }> = [];

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  if (!server) throw new Error('no server');
  const res = await fetch(`${server.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  db = freshDatabaseUrl();
  env = {
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
  };
  server = await startServeProcess(env);
  await seedOperator(db.url, 'crash@example.com', 'crash-password-1');
  token = await loginToken(server.apiUrl, 'crash@example.com', 'crash-password-1');
  expect((await call('POST', '/v1/radius_clients', { address: '127.0.0.1', secret: SECRET })).status).toBe(
    201,
  );
  for (let i = 0; i < SESSIONS; i++) {
    const body = `89811099${String(i).padStart(10, '0')}`;
    const created = await call('POST', '/v1/sims', {
      iccid: body + luhnCheckDigit(body),
      imsi: `00101990${String(i).padStart(7, '0')}`,
      ki: randomBytes(16).toString('hex'),
      opc: randomBytes(16).toString('hex'),
    });
    expect(created.status).toBe(201);
    sims.push({
      simId: (created.json as { simId: string }).simId,
      imsi: `00101990${String(i).padStart(7, '0')}`,
    });
  }
}, 120_000);

afterAll(async () => {
  await server?.stop('SIGKILL');
  await db.drop();
});

const interim = (nas: TestNas, i: number, step: number) =>
  nas.build(
    RADIUS_CODES['Accounting-Request'],
    [
      ['Acct-Status-Type', step === 0 ? 1 : 3],
      ['Acct-Session-Id', `crash-${i}`],
      ['3GPP-IMSI', sims[i]!.imsi],
      ['Framed-IP-Address', `127.64.9.${i + 1}`],
      ['Acct-Input-Octets', step * STEP_BYTES],
      ['Acct-Output-Octets', step * 2 * STEP_BYTES],
    ],
    false,
  );

async function uploaded(simId: string): Promise<{ up: number; down: number }> {
  const now = Math.floor(Date.now() / 1000);
  const r = await call('GET', `/v1/stats/air/sims/${simId}?from=${now - 86400}&to=${now + 86400}&period=day`);
  let up = 0;
  let down = 0;
  for (const row of r.json as Array<{
    dataTrafficStatsMap: Record<string, { uploadByteSizeTotal: number; downloadByteSizeTotal: number }>;
  }>)
    for (const s of Object.values(row.dataTrafficStatsMap)) {
      up += s.uploadByteSizeTotal;
      down += s.downloadByteSizeTotal;
    }
  return { up, down };
}

describe(`accounting survives SIGKILL (${testDialect})`, () => {
  it('loses no acknowledged record and counts nothing twice when the NAS retransmits after the restart', async () => {
    // One NAS socket per session, so each has its own identifier space and the load is concurrent.
    const nases = await Promise.all(sims.map(() => new TestNas(SECRET).start()));
    const acked = new Array<number>(SESSIONS).fill(-1);
    const sent = new Array<number>(SESSIONS).fill(-1);
    let killed = false;
    const load = sims.map(async (_, i) => {
      const nas = nases[i]!;
      for (let step = 0; !killed && step < 10_000; step++) {
        sent[i] = step;
        const answer = await nas
          .send(server!.radius!.acctPort, interim(nas, i, step), 1000)
          .catch(() => undefined);
        if (!answer) return;
        acked[i] = step;
      }
    });
    // Let the load run, then kill the server in the middle of it.
    await new Promise((r) => setTimeout(r, 1500));
    await server!.stop('SIGKILL');
    killed = true;
    await Promise.all(load);
    expect(Math.min(...acked)).toBeGreaterThan(3);

    server = await startServeProcess(env);
    // Every acknowledged Interim is durable: usage covers at least its totals, never more than sent.
    for (let i = 0; i < SESSIONS; i++) {
      const { up, down } = await uploaded(sims[i]!.simId);
      expect(up).toBeGreaterThanOrEqual(acked[i]! * STEP_BYTES);
      expect(up).toBeLessThanOrEqual(sent[i]! * STEP_BYTES);
      expect(down).toBe(2 * up);
    }
    // The NAS retransmits everything it sent (the unacknowledged ones, and some it had an answer
    // for): usage ends exactly at the last totals.
    await Promise.all(
      sims.map(async (_, i) => {
        const nas = nases[i]!;
        for (let step = Math.max(0, acked[i]! - 3); step <= sent[i]!; step++) {
          let answer: Awaited<ReturnType<TestNas['send']>>;
          for (let attempt = 0; attempt < 3 && !answer; attempt++) {
            answer = await nas.send(server!.radius!.acctPort, interim(nas, i, step), 2000);
          }
          expect(answer?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
        }
      }),
    );
    for (let i = 0; i < SESSIONS; i++) {
      expect(await uploaded(sims[i]!.simId)).toEqual({
        up: sent[i]! * STEP_BYTES,
        down: 2 * sent[i]! * STEP_BYTES,
      });
    }
    for (const nas of nases) nas.close();
  });
});

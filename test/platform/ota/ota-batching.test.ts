// Group commit of the OTA send and receive paths (OtaService over store/group-commit.ts): concurrent
// sends share a transaction, yet each gets its own counter — distinct, strictly increasing per
// card, stored with its command before the send resolves — and its own error; a reservation that
// fails in the database fails alone; and a counter handed out is never handed out again, even
// after the process is killed mid-batch. PoRs settled in one batch each settle their own command.
// SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE).

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import {
  decodeUserData,
  encodeSmsDeliver,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { MAX_COUNTER } from '../../../src/lib/ts-102-225-secured-packet.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openStore, type Store } from '../../../src/platform/store/database.js';
import {
  cell,
  type Device,
  device,
  IMEI,
  KIC,
  KID,
  newCard,
  packetOfSubmits,
} from '../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

const OPERATOR = 'OP0000000001';
const clock = new ManualClock();
const masterKey = randomBytes(32);

let t: TestDatabase;
let ota: OtaService;

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, masterKey), clock);
});
afterAll(() => t.cleanup());

let serial = 0;
/** A SIM with a primary profile (MSISDN), the fixture card's key set 1 and the anti-theft applet. */
async function provisionedSim(service: OtaService = ota, store: Store = t.store): Promise<string> {
  serial++;
  const simId = `8981000000007${String(serial).padStart(6, '0')}`;
  await store.db
    .insertInto('sim_profiles')
    .values({
      iccid: simId,
      sim_id: simId,
      operator_id: OPERATOR,
      imsi: `00101700${String(serial).padStart(7, '0')}`,
      msisdn: `81907${String(serial).padStart(7, '0')}`,
      secrets: 'unused',
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
  await service.provision(
    store.db,
    OPERATOR,
    simId,
    [
      {
        kvn: 1,
        kicAlgorithm: 'aes-cbc',
        kic: Buffer.from(KIC, 'hex'),
        kidAlgorithm: 'aes-cmac',
        kid: Buffer.from(KID, 'hex'),
      },
    ],
    { kvn: 1, reportKvn: 1, quarantineImsi: `00101999${String(serial).padStart(7, '0')}` },
  );
  return simId;
}

const storedCounters = async (simId: string, store: Store = t.store) =>
  (
    await store.db
      .selectFrom('ota_commands')
      .select('counter')
      .where('sim_id', '=', simId)
      .orderBy('counter')
      .execute()
  ).map((r) => Number(r.counter));

/** Transport as the SMSC would do it: each segment as an SMS-PP download to the card. */
function deliver(d: Device, userData: readonly Uint8Array[]): void {
  for (const ud of userData) {
    const parsed = decodeUserData(ud, true);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const tpdu = encodeSmsDeliver(
      simDataDownload({
        originatingAddress: internationalAddress('8170000999'),
        serviceCentreTimeStamp: Uint8Array.of(0x62, 0x01, 0x21, 0x11, 0, 0, 0),
        userData: parsed.value,
      }),
    );
    if (!tpdu.ok) throw new Error(tpdu.error.message);
    d.modem.deliverSms(tpdu.value);
  }
}

const ascending = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

describe(`group commit of OTA sends and PoRs on ${testDialect}`, () => {
  it('N parallel sends get N distinct, increasing counters, all stored, in fewer transactions', async () => {
    const sims = [await provisionedSim(), await provisionedSim(), await provisionedSim()];
    const before = { ...ota.writeStats };
    const n = 40;
    const sent = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        ota
          .secureAntiTheftCommands(OPERATOR, sims[i % sims.length] as string, [{ op: 'readState' }])
          .then((s) => ({ simId: sims[i % sims.length] as string, ...s })),
      ),
    );
    for (const simId of sims) {
      const mine = sent.filter((s) => s.simId === simId);
      // Distinct and gap-free: 1..k, each stored with its own command row.
      expect(ascending(mine.map((s) => s.counter))).toEqual(mine.map((_, i) => i + 1));
      expect(await storedCounters(simId)).toEqual(mine.map((_, i) => i + 1));
      // Callers of one SIM get their counters in the order they asked.
      expect(mine.map((s) => s.counter)).toEqual(mine.map((_, i) => i + 1));
    }
    expect(new Set(sent.map((s) => s.commandId)).size).toBe(n);
    const commits = ota.writeStats.commits - before.commits;
    expect(ota.writeStats.operations - before.operations).toBe(n);
    expect(commits).toBeLessThan(n);
  });

  it('a refused send in a batch fails alone and does not split the batch', async () => {
    const good = await provisionedSim();
    const exhausted = await provisionedSim();
    await t.store.db
      .updateTable('ota_key_sets')
      .set({ counter: MAX_COUNTER })
      .where('sim_id', '=', exhausted)
      .execute();
    const before = { ...ota.writeStats };
    const results = await Promise.allSettled([
      ota.secureAntiTheftCommands(OPERATOR, good, [{ op: 'readState' }]),
      ota.secureAntiTheftCommands(OPERATOR, exhausted, [{ op: 'readState' }]),
      ota.secureAntiTheftCommands('OP0000000999', good, [{ op: 'readState' }]),
      ota.secureAntiTheftCommands(OPERATOR, good, [{ op: 'readState' }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_OTA_COUNTER_EXHAUSTED' });
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      code: 'ERR_ANTI_THEFT_NOT_PROVISIONED',
    });
    expect(await storedCounters(good)).toEqual([1, 2]);
    expect(await storedCounters(exhausted)).toEqual([]);
    expect(ota.writeStats.splitBatches).toBe(before.splitBatches);
  });

  it('a send to a SIM without an MSISDN is refused in its batch and spends no counter', async () => {
    const reachable = await provisionedSim();
    const silent = await provisionedSim();
    await t.store.db.updateTable('sim_profiles').set({ msisdn: null }).where('sim_id', '=', silent).execute();
    const sentTo: string[] = [];
    const link = { send: async (destination: string) => void sentTo.push(destination) };
    const results = await Promise.allSettled([
      ota.sendAntiTheftCommands(OPERATOR, silent, [{ op: 'readState' }], link),
      ota.sendAntiTheftCommands(OPERATOR, reachable, [{ op: 'readState' }], link),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain('has no MSISDN');
    expect(sentTo).toHaveLength(1);
    const counter = await t.store.db
      .selectFrom('ota_key_sets')
      .select('counter')
      .where('sim_id', '=', silent)
      .executeTakeFirstOrThrow();
    expect(Number(counter.counter)).toBe(0);
    expect(await storedCounters(silent)).toEqual([]);
  });

  it('a send the database refuses fails alone; the others in its batch commit', async () => {
    const good = [await provisionedSim(), await provisionedSim()];
    const doomed = await provisionedSim();
    // A real database error for one SIM's command row only (a trigger), mid-batch.
    if (testDialect === 'postgres') {
      await sql
        .raw(
          `create function refuse_doomed() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`,
        )
        .execute(t.store.db);
      await sql
        .raw(
          `create trigger refuse_doomed before insert on ota_commands for each row when (new.sim_id = '${doomed}') execute function refuse_doomed()`,
        )
        .execute(t.store.db);
    } else {
      await sql
        .raw(
          `create trigger refuse_doomed before insert on ota_commands when new.sim_id = '${doomed}' begin select raise(abort, 'refused by the test'); end`,
        )
        .execute(t.store.db);
    }
    try {
      const before = { ...ota.writeStats };
      const asks = [good[0], doomed, good[1], good[0], doomed, good[1]] as string[];
      const results = await Promise.allSettled(
        asks.map((simId) => ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }])),
      );
      expect(results.map((r) => r.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      expect(String((results[1] as PromiseRejectedResult).reason)).toContain('refused by the test');
      for (const simId of good) expect(await storedCounters(simId)).toEqual([1, 2]);
      expect(await storedCounters(doomed)).toEqual([]);
      expect(ota.writeStats.splitBatches).toBeGreaterThan(before.splitBatches);
      // The doomed SIM's counter moved only in rolled-back transactions: the next one is 1.
      await sql
        .raw(`drop trigger refuse_doomed${testDialect === 'postgres' ? ' on ota_commands' : ''}`)
        .execute(t.store.db);
      expect((await ota.secureAntiTheftCommands(OPERATOR, doomed, [{ op: 'readState' }])).counter).toBe(1);
    } finally {
      await sql
        .raw(`drop trigger if exists refuse_doomed${testDialect === 'postgres' ? ' on ota_commands' : ''}`)
        .execute(t.store.db);
    }
  });

  it('PoRs settled in one batch each settle their own command', async () => {
    const pairs: Array<{ simId: string; d: Device }> = [];
    for (let i = 0; i < 6; i++) {
      const d = device(newCard(), IMEI, cell(1));
      d.modem.boot();
      pairs.push({ simId: await provisionedSim(), d });
    }
    const sent = await Promise.all(
      pairs.map((p) => ota.secureAntiTheftCommands(OPERATOR, p.simId, [{ op: 'readState' }])),
    );
    const pors = pairs.map((p, i) => {
      deliver(p.d, (sent[i] as (typeof sent)[number]).userData);
      return packetOfSubmits(p.d.sms.splice(0)).packet;
    });
    const before = { ...ota.writeStats };
    // Every PoR twice at once: exactly one of the two settles its command (on PostgreSQL they may
    // be in two batches committing side by side); the other finds nothing pending.
    const outcomes = await Promise.all(
      [...pors, ...pors].map((por, i) =>
        ota.receive((pairs[i % pairs.length] as (typeof pairs)[number]).simId, por),
      ),
    );
    expect(ota.writeStats.commits - before.commits).toBeLessThan(outcomes.length);
    for (const [i, s] of sent.entries()) {
      const both = [outcomes[i], outcomes[i + sent.length]];
      expect(both.filter((o) => o?.kind === 'por')).toEqual([
        expect.objectContaining({ commandId: s.commandId, status: 'applied' }),
      ]);
      expect(both.filter((o) => o?.kind === 'refused')).toEqual([
        expect.objectContaining({ code: 'OTA_POR_UNMATCHED' }),
      ]);
      expect(await ota.command(OPERATOR, s.commandId)).toMatchObject({ status: 'applied' });
    }
  });

  it('property: across restarts, a card never gets a counter twice and counters only grow', async () => {
    const { url } = t;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (rounds) => {
          // Each round is one process life: open the store, send in parallel, close (no drain).
          let store = await openStore(url);
          let service = new OtaService(store, await KeyRing.open(store, masterKey), clock);
          const sims = [
            await provisionedSim(service, store),
            await provisionedSim(service, store),
            await provisionedSim(service, store),
          ];
          const seen = new Map<string, number[]>(sims.map((s) => [s, []]));
          for (const round of rounds) {
            const sent = await Promise.all(
              round.map((i) =>
                service
                  .secureAntiTheftCommands(OPERATOR, sims[i] as string, [{ op: 'readState' }])
                  .then((s) => ({ simId: sims[i] as string, counter: s.counter })),
              ),
            );
            for (const s of sent) {
              const before = seen.get(s.simId) as number[];
              expect(s.counter).toBeGreaterThan(Math.max(0, ...before));
              before.push(s.counter);
            }
            await store.close();
            store = await openStore(url);
            service = new OtaService(store, await KeyRing.open(store, masterKey), clock);
          }
          for (const simId of sims)
            expect(await storedCounters(simId, store)).toEqual(ascending(seen.get(simId) as number[]));
          await store.close();
        },
      ),
      { numRuns: 15 },
    );
  });

  it('a process killed mid-batch: every counter it handed out was stored, none is handed out again', async () => {
    const sims = [await provisionedSim(), await provisionedSim()];
    const child = fork(fileURLToPath(new URL('./ota-send-child.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const handedOut = new Map<string, number[]>(sims.map((s) => [s, []]));
    let received = 0;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (m: { simId: string; counter: number }) => {
        handedOut.get(m.simId)?.push(m.counter);
        received++;
        // Killed while sends are in flight (three lanes per SIM never stop).
        if (received === 300) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.send({ url: t.url, masterKey: masterKey.toString('hex'), operatorId: OPERATOR, simIds: sims });
    });
    await exited;
    for (const simId of sims) {
      const out = handedOut.get(simId) as number[];
      expect(new Set(out).size).toBe(out.length);
      const stored = await storedCounters(simId);
      // Resolved only after its transaction committed: each one is on disk.
      for (const c of out) expect(stored).toContain(c);
      const next = await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }]);
      expect(next.counter).toBeGreaterThan(Math.max(...stored));
    }
  });
});

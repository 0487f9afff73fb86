// `npm run bench -- events-instances [--sims N]`: issue 14's acceptance "two instances over one
// PostgreSQL with 10,000 SIMs crossing a threshold at once → 10,000 actions, none duplicated, none
// lost", with two engines in separate processes (bench/_events-instance.ts) over one database.
// Every SIM's accounting crosses a daily limit before the engines start; both then evaluate the same
// rule and claim from the same runs at once. The action is a signed web request to a server of this
// run, which counts what it receives. Checked exactly, or the run fails (exit code 1): one firing per
// SIM, one action run per firing (idempotency keys are unique in the table), every run succeeded at
// its first attempt, the server received one request per SIM with distinct idempotency keys, and
// both processes did part of the work. The in-suite test with 300 SIMs and two engines is
// test/platform/events/event-handlers-engine.test.ts (SQLite and PostgreSQL).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Config, SETTINGS } from '../src/config/defaults.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { batchRows, flag, fmt, freshDatabase, importBenchSims, prepareBenchOperator } from './_support.js';

const MIB = 1_048_576;

function instance(env: Record<string, string>): Promise<{ firings: number; runs: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./_events-instance.ts', import.meta.url))],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`engine instance exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'));
    });
  });
}

export async function run(args: string[]): Promise<void> {
  const sims = Number(flag(args, '--sims') ?? 10_000);
  const db = await freshDatabase('postgres');
  const masterKey = randomBytes(32);
  try {
    const p = await prepareBenchOperator(db.url, masterKey);
    await importBenchSims(p, sims);
    await p.store.close();
    const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
    const config = Object.freeze({
      ...defaults,
      databaseUrl: db.url,
      masterKey,
      demo: false,
      eventWebRequestAllowedNetworks: '127.0.0.1/32',
    }) as Config;
    // The receiver: every request's idempotency key, counted.
    const received = new Map<string, number>();
    const server = createServer((req, res) => {
      const key = String(req.headers['x-simtrust-idempotency-key']);
      received.set(key, (received.get(key) ?? 0) + 1);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const platform = await openPlatform(config, { masterKey });
    let handlerId: string;
    try {
      const created = await platform.eventHandlers.create(
        systemContext(p.operatorId, 'EventHandler:createEventHandler', 'bench'),
        {
          name: 'crossing',
          status: 'active',
          targetOperatorId: p.operatorId,
          ruleConfig: {
            type: 'SubscriberDailyTrafficRule',
            properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
          },
          actionConfigList: [
            {
              type: 'ExecuteWebRequestAction',
              properties: {
                url,
                httpMethod: 'POST',
                contentType: 'application/json',
                headers: '{}',
                // biome-ignore lint/suspicious/noTemplateCurlyInString: the handler's template variable
                body: '{"imsi":"${imsi}"}',
                executionDateTimeConst: 'IMMEDIATELY',
              },
            },
          ],
        },
      );
      handlerId = created.handlerId;
      const record = (kind: 'start' | 'interim', octets: number) =>
        Promise.all(
          batchRows(0, sims).map((r) =>
            platform.aaa.accounting.record({
              kind,
              nasAddress: '127.0.0.1',
              operatorId: p.operatorId,
              acctSessionId: `x-${r.imsi}`,
              imsi: r.imsi,
              time: Date.now(),
              inputOctets: octets,
              outputOctets: 0,
            }),
          ),
        );
      await record('start', 0);
      await record('interim', 2 * MIB);
      await platform.aaa.drained();
    } finally {
      await platform.close();
    }

    console.log(`\n-- postgres: ${fmt(sims)} SIMs over a daily limit, two engine processes`);
    const started = performance.now();
    const env = {
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
      BENCH_EXPECTED_FIRINGS: String(sims),
      BENCH_HANDLER_ID: handlerId,
    };
    const [a, b] = await Promise.all([instance(env), instance(env)]).finally(() => server.close());
    const seconds = (performance.now() - started) / 1000;

    const check = await openPlatform(config, { masterKey });
    try {
      const q = check.store.db;
      const count = async (query: Promise<{ n: number | string | bigint }>) => Number((await query).n);
      const firings = await count(
        q
          .selectFrom('event_firings')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('handler_id', '=', handlerId)
          .executeTakeFirstOrThrow(),
      );
      const firedSims = await count(
        q
          .selectFrom('event_firings')
          .select((eb) => eb.fn.count<number>('sim_id').distinct().as('n'))
          .where('handler_id', '=', handlerId)
          .executeTakeFirstOrThrow(),
      );
      const runs = await count(
        q
          .selectFrom('event_action_runs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('handler_id', '=', handlerId)
          .executeTakeFirstOrThrow(),
      );
      const keys = await count(
        q
          .selectFrom('event_action_runs')
          .select((eb) => eb.fn.count<number>('idempotency_key').distinct().as('n'))
          .where('handler_id', '=', handlerId)
          .executeTakeFirstOrThrow(),
      );
      const firstAttempt = await count(
        q
          .selectFrom('event_action_runs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('handler_id', '=', handlerId)
          .where('status', '=', 'succeeded')
          .where('attempts', '=', 1)
          .executeTakeFirstOrThrow(),
      );
      const requests = [...received.values()].reduce((sum, n) => sum + n, 0);
      const ran = (x: { runs: Record<string, number> }) => Object.values(x.runs).reduce((s, n) => s + n, 0);
      const rows = [
        ['firings', firings],
        ['SIMs fired', firedSims],
        ['action runs', runs],
        ['distinct idempotency keys', keys],
        ['succeeded at the first attempt', firstAttempt],
        ['requests received', requests],
        ['distinct keys received', received.size],
        ['firings + runs by process A', a.firings + ran(a)],
        ['firings + runs by process B', b.firings + ran(b)],
      ] as const;
      for (const [what, n] of rows) console.log(`${what.padEnd(32)} ${fmt(n)}`);
      const exact = rows.slice(0, 7).every(([, n]) => n === sims) && a.firings + b.firings === sims;
      const shared = a.firings + ran(a) > 0 && b.firings + ran(b) > 0;
      console.log(
        `${exact ? 'exact' : 'NOT EXACT'}: ${fmt(sims)} SIMs → ${fmt(runs)} actions in ${fmt(seconds, 1)} s (both processes, from their start to the last run recorded)${shared ? '' : '; one process did all the work'}`,
      );
      if (!exact) process.exitCode = 1;
    } finally {
      await check.close();
    }
  } finally {
    await db.drop();
  }
}

// One engine instance of bench/events-instances.ts, in its own process: opens the platform on the
// database named in SIMTRUST_DATABASE_URL and ticks the engine (events, traffic rules, actions) until
// every SIM of the run has fired and no action run is pending or running (at most 110 s). Prints what
// it did as JSON.

import { type Config, SETTINGS } from '../src/config/defaults.js';
import { openPlatform } from '../src/platform/platform.js';

const expected = Number(process.env.BENCH_EXPECTED_FIRINGS);
const handlerId = process.env.BENCH_HANDLER_ID ?? '';
const masterKey = Buffer.from(process.env.SIMTRUST_MASTER_KEY ?? '', 'base64');
const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
const config = Object.freeze({
  ...defaults,
  databaseUrl: process.env.SIMTRUST_DATABASE_URL,
  masterKey,
  demo: false,
  // The receiving web server of the run listens on loopback.
  eventWebRequestAllowedNetworks: '127.0.0.1/32',
}) as Config;
const platform = await openPlatform(config, { masterKey });
const mine = { firings: 0, runs: {} as Record<string, number>, ticks: 0 };
const db = platform.store.db;
const deadline = Date.now() + 110_000;
try {
  for (;;) {
    // As `simtrust serve`: the full traffic sweep every 10th tick.
    const counts = await platform.events.tick({ traffic: mine.ticks % 10 === 0 });
    mine.ticks++;
    mine.firings += counts.firings;
    for (const [k, n] of Object.entries(counts.runs)) mine.runs[k] = (mine.runs[k] ?? 0) + n;
    const fired = await db
      .selectFrom('event_firings')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('handler_id', '=', handlerId)
      .executeTakeFirstOrThrow();
    const open = await db
      .selectFrom('event_action_runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('handler_id', '=', handlerId)
      .where('status', 'in', ['pending', 'running'])
      .executeTakeFirstOrThrow();
    if (Number(fired.n) >= expected && Number(open.n) === 0) break;
    if (Date.now() > deadline) throw new Error(`gave up: ${fired.n} firings, ${open.n} open runs`);
  }
  console.log(JSON.stringify(mine));
} finally {
  await platform.close();
}

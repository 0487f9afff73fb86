// npm run bench -- console [--sims N] [--db sqlite|postgres] [--runs R]
//
// The operator console's SIM list (web/, issue 12) on an N-SIM database (default 1,000,000, imported
// through the platform's CSV importer), in Debian's Chromium signed in through the console's own
// sign-in page, beside the bare API call for the same page measured with undici in the same run:
//
// 1. First row: from the start of a navigation to /console/sims to the first animation frame after
//    the first SIM row (`tr[data-sim-id]`) is in the document, read from the page's own clock
//    (performance.now(), whose origin is the navigation start). Cold: the browser's HTTP cache is
//    cleared first (Network.clearBrowserCache), so index.html, the bundle and the CSS are fetched
//    and compiled again; warm: the same navigation again with the cache kept. The session cookie
//    stays in both, so the page resumes the session (GET /console/api/session) before it lists.
// 2. Page 5,000: the console keeps its page keys in memory (KeysetPager), not in the URL, so the
//    benchmark walks the API to the key that starts page 4,999, then loads /console/sims with its
//    first list request rewritten (Playwright route, removed once that page is shown, as a route
//    turns Chromium's HTTP cache off) to carry that key: the list shows page 4,999. What is
//    measured is the click on "Next page" there, from the click (in the page) to the first
//    animation frame after the first SIM of page 5,000 is in the document — the console's own
//    request with the API's X-Soracom-Next-Key, unmodified, its JSON and the render of the page.
//    With fewer SIMs than 5,000 pages the last full page is used (and named).
// 3. The bare API: GET /v1/sims with the console's page size, first page and that page, over a
//    keep-alive undici connection with a bearer token, the whole body read.
//
// Median and p95 over R runs (default 10), ratios console/API of the medians, the bytes each
// navigation fetched over the network (so a warm run is seen to be warm), and the console bundle's
// size (web/dist/assets, raw and gzip). Needs `npm run build:console` and /usr/bin/chromium.

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Browser, chromium, type Page, type Route } from 'playwright-core';
import { Pool } from 'undici';
import {
  type BenchDialect,
  flag,
  fmt,
  freshDatabase,
  importBenchSims,
  prepareBenchOperator,
  startServer,
  table,
} from './_support.js';

const DIST = join('web', 'dist');
const CHROMIUM = '/usr/bin/chromium';
/** The launch flags of the browser tests (test/e2e/gateway-browser.ts). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TARGET_PAGE = 5000;

/**
 * Runs before any script of every document: the time (page clock) of the first animation frame after
 * a `tr[data-sim-id]` is in the document, and a helper that clicks "Next page" and resolves with the
 * milliseconds to the frame after the row `want` appears. A string: bench/ is type-checked without
 * the DOM library, and init scripts run over the DevTools protocol, outside the page's CSP.
 */
const INIT_SCRIPT = `(() => {
  const seen = (sel, done) => {
    const check = () => {
      if (!document.querySelector(sel)) return false;
      requestAnimationFrame(() => done(performance.now()));
      return true;
    };
    if (check()) return;
    const mo = new MutationObserver(() => { if (check()) mo.disconnect(); });
    mo.observe(document, { childList: true, subtree: true });
  };
  window.__benchFirstRow = new Promise((resolve) => seen('tr[data-sim-id]', resolve));
  window.__benchNext = (want) => new Promise((resolve) => {
    const next = [...document.querySelectorAll('nav.pager button')].at(-1);
    const t0 = performance.now();
    seen('tr[data-sim-id="' + want + '"]', (t) => resolve(t - t0));
    next.click();
  });
})();`;

interface PageKeys {
  /** The key that starts page n (undefined for page 1). */
  readonly after: string | undefined;
  /** Its first SIM. */
  readonly firstSim: string;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const ms = (n: number) => fmt(n, 1);

function bundleSize(): Array<Record<string, string>> {
  const assets = join(DIST, 'assets');
  const byType = new Map<string, { files: number; raw: number; gzip: number }>();
  for (const name of readdirSync(assets)) {
    const path = join(assets, name);
    if (!statSync(path).isFile()) continue;
    const data = readFileSync(path);
    const type = extname(name).slice(1) || 'other';
    const t = byType.get(type) ?? { files: 0, raw: 0, gzip: 0 };
    byType.set(type, { files: t.files + 1, raw: t.raw + data.length, gzip: t.gzip + gzipSync(data).length });
  }
  const rows = [...byType.entries()].sort().map(([type, t]) => ({ type, ...t }));
  const total = rows.reduce(
    (a, r) => ({ files: a.files + r.files, raw: a.raw + r.raw, gzip: a.gzip + r.gzip }),
    {
      files: 0,
      raw: 0,
      gzip: 0,
    },
  );
  return [...rows, { type: 'total', ...total }].map((r) => ({
    'web/dist/assets': r.type,
    files: String(r.files),
    'raw KiB': fmt(r.raw / 1024, 1),
    'gzip KiB': fmt(r.gzip / 1024, 1),
  }));
}

async function signIn(page: Page, base: string, email: string, password: string): Promise<number> {
  // The console's first list request names its page size; the API reference uses the same.
  const firstList = page.waitForRequest((r) => new URL(r.url()).pathname === '/v1/sims');
  await page.goto(`${base}/console/sims`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const limit = Number(new URL((await firstList).url()).searchParams.get('limit'));
  await page.locator('tr[data-sim-id]').first().waitFor();
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error('the console sent no page size in its SIM list request');
  return limit;
}

/** Navigates to /console/sims and returns the page-clock time of the frame after the first SIM row. */
async function firstRow(page: Page, base: string): Promise<number> {
  await page.goto(`${base}/console/sims`);
  // Evaluated over the DevTools protocol (the page's CSP allows no eval): awaits the init script's promise.
  return (await page.evaluate('window.__benchFirstRow')) as number;
}

export async function run(args: string[]): Promise<void> {
  const count = Number(flag(args, '--sims') ?? 1_000_000);
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const runs = Number(flag(args, '--runs') ?? 10);
  if (!Number.isInteger(count) || count < 1)
    throw new Error('--sims takes a whole number of SIMs, e.g. --sims 20000');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number, e.g. --runs 5');
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--db takes sqlite or postgres');
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error(
      'web/dist is missing: run `npm run build:console` first (the console is served from its build)',
    );
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package`);

  console.log(`\n-- ${dialect}: ${fmt(count)} SIMs, ${runs} runs`);
  table(bundleSize());

  const masterKey = randomBytes(32);
  const db = await freshDatabase(dialect);
  const p = await prepareBenchOperator(db.url, masterKey);
  const importRate = await importBenchSims(p, count);
  await p.store.close();
  console.log(`imported through the platform importer at ${fmt(importRate)} SIMs/s`);

  const server = await startServer({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
  });
  const api = new Pool(server.url, { connections: 1 });
  let browser: Browser | undefined;
  try {
    const auth = (await (
      await fetch(`${server.url}/v1/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: p.email, password: p.password }),
      })
    ).json()) as { token: string };
    const headers = { authorization: `Bearer ${auth.token}` };
    const get = async (path: string) => {
      const r = await api.request({ method: 'GET', path, headers });
      const body = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`GET ${path}: ${r.statusCode} ${body}`);
      return { body, nextKey: r.headers['x-soracom-next-key'] as string | undefined };
    };
    const timed = async (path: string) => {
      const t0 = performance.now();
      await get(path);
      return performance.now() - t0;
    };

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    await context.addInitScript({ content: INIT_SCRIPT });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    // Bytes that came over the network (not from the cache), to show that "warm" is warm.
    await cdp.send('Network.enable');
    let transferred = 0;
    cdp.on('Network.loadingFinished', (e) => {
      transferred += e.encodedDataLength;
    });
    const limit = await signIn(page, server.url, p.email, p.password);
    const listPath = (after?: string) =>
      `/v1/sims?limit=${limit}${after === undefined ? '' : `&last_evaluated_key=${encodeURIComponent(after)}`}`;

    // The keys of the last two pages walked to, page by page, through the API (the console's keys).
    const lastPage = Math.min(TARGET_PAGE, Math.floor(count / limit));
    if (lastPage < 2) throw new Error(`--sims must give at least two pages of ${limit} SIMs`);
    const walkStarted = performance.now();
    let after: string | undefined;
    const keys: PageKeys[] = [];
    for (let n = 1; n <= lastPage; n++) {
      const { body, nextKey } = await get(listPath(after));
      if (n >= lastPage - 1) {
        const first = (JSON.parse(body) as Array<{ simId: string }>)[0];
        if (first === undefined) throw new Error(`page ${n} is empty`);
        keys.push({ after, firstSim: first.simId });
      }
      after = nextKey;
      if (after === undefined && n < lastPage) throw new Error(`the API gave no next key after page ${n}`);
    }
    const [before, deep] = keys as [PageKeys, PageKeys];
    console.log(
      `console page size ${limit}; walked ${fmt(lastPage)} pages through the API in ${fmt((performance.now() - walkStarted) / 1000, 1)} s`,
    );

    // Page `lastPage - 1` in the console: its first list request after navigation carries the key.
    // Only while it loads: Playwright turns the HTTP cache off while a route is set, and the click
    // that is measured must go out untouched.
    let rewrite = false;
    const isList = (url: URL) => url.pathname === '/v1/sims';
    const rewriteFirst = async (route: Route) => {
      const url = new URL(route.request().url());
      if (rewrite && !url.searchParams.has('last_evaluated_key') && before.after !== undefined) {
        rewrite = false;
        url.searchParams.set('last_evaluated_key', before.after);
        return route.continue({ url: url.toString() });
      }
      return route.continue();
    };

    const samples = { cold: [] as number[], warm: [] as number[], deep: [] as number[] };
    const bytes = { cold: [] as number[], warm: [] as number[] };
    const apiSamples = { first: [] as number[], deep: [] as number[] };
    for (let i = 0; i < runs; i++) {
      await cdp.send('Network.clearBrowserCache');
      transferred = 0;
      samples.cold.push(await firstRow(page, server.url));
      bytes.cold.push(transferred);
      transferred = 0;
      samples.warm.push(await firstRow(page, server.url));
      bytes.warm.push(transferred);

      rewrite = true;
      await page.route(isList, rewriteFirst);
      await page.goto(`${server.url}/console/sims`);
      await page.locator(`tr[data-sim-id="${before.firstSim}"]`).waitFor({ timeout: 120_000 });
      await page.unroute(isList, rewriteFirst);
      await page.locator('nav.pager button:last-child:enabled').waitFor();
      samples.deep.push(
        (await page.evaluate(`window.__benchNext(${JSON.stringify(deep.firstSim)})`)) as number,
      );

      apiSamples.first.push(await timed(listPath()));
      apiSamples.deep.push(await timed(listPath(deep.after)));
    }

    const row = (name: string, xs: number[], ref: number[], kib?: number[]) => ({
      case: name,
      'KiB over network': kib === undefined ? '' : fmt(median(kib) / 1024, 1),
      'median ms': ms(median(xs)),
      'p95 ms': ms(quantile(xs, 0.95)),
      'API median ms': ms(median(ref)),
      'API p95 ms': ms(quantile(ref, 0.95)),
      'console / API': `${fmt(median(xs) / median(ref), 1)}×`,
    });
    table([
      row('first SIM row, navigation, cold cache', samples.cold, apiSamples.first, bytes.cold),
      row('first SIM row, navigation, warm cache', samples.warm, apiSamples.first, bytes.warm),
      row(`page ${fmt(lastPage)}, "Next page" click to its first row`, samples.deep, apiSamples.deep),
    ]);
  } finally {
    await browser?.close();
    await api.close();
    await server.stop();
    await db.drop();
  }
}

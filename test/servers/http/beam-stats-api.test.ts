// Beam/Funnel/Funk usage through the API (issue 17): SORACOM's Stats shapes per subscriber, the
// operator's CSV export (sync and async, download URL without credentials), the SIM's last delivery
// and error, and /metrics. Threats: another operator reading or exporting a tenant's usage, hostile
// from/to/period/imsi values reaching a query (500s, unbounded ranges), a download URL that outlives
// its token or is guessed, a formula smuggled into a spreadsheet through an exported value.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import type { BeamUsageEvent } from '../../../src/platform/beam/usage.js';
import { registerBeamUsageMetrics } from '../../../src/servers/beam-usage-job.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

const T = Date.UTC(2026, 2, 10, 9, 15);
const DAY = 86_400_000;
const sec = (ms: number) => Math.floor(ms / 1000);

let api: TestApi;
let clock: ManualClock;
let dataDir: string;
let mine: { simId: string; imsi: string };
let theirs: { simId: string; imsi: string };
let other: { operatorId: string; token: string };

async function importOne(token: string | undefined, start: number) {
  const { rows } = vendorCsv(1, { start });
  const r = rows[0]!;
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: `iccid,imsi,ki,opc\n${r.iccid},${r.imsi},${r.ki},${r.opc}\n`,
    ...(token === undefined ? {} : { token }),
  });
  expect(res.statusCode, res.body).toBe(200);
  return { simId: r.iccid, imsi: r.imsi };
}

const use = (sim: { simId: string; imsi: string }, operatorId: string, over: Partial<BeamUsageEvent>) =>
  api.platform.beamUsage.record({
    service: 'beam',
    entryPoint: 'http',
    operatorId,
    simId: sim.simId,
    imsi: sim.imsi,
    bytesUp: 100,
    bytesDown: 10,
    outcome: 'delivered',
    destination: 'https',
    ...over,
  });

const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

beforeAll(async () => {
  // Logged in on the second day, so the tokens are valid on both days of usage recorded below.
  clock = new ManualClock(T + DAY);
  dataDir = mkdtempSync(join(tmpdir(), 'simtrust-exports-'));
  api = await startTestApi({ clock, config: { dataDir } });
  other = await api.newOperator();
  mine = await importOne(undefined, 0);
  theirs = await importOne(other.token, 900);
  const me = api.operator.operatorId;
  clock.set(T);
  for (let i = 0; i < 3; i++) use(mine, me, {});
  use(mine, me, { outcome: 'failed', error: 'destination answered 502', bytesDown: 0 });
  use(mine, me, { entryPoint: 'mqtt', destination: 'mqtts', bytesUp: 7, bytesDown: 0 });
  use(mine, me, { service: 'funnel', destination: 'amqp' });
  use(mine, me, { service: 'funk', entryPoint: 'udp', destination: 'function' });
  // The next day, one more Beam request.
  clock.set(T + DAY);
  use(mine, me, { outcome: 'refused', destination: undefined, error: 'no SoracomBeam entry for http' });
  // The other operator's SIM has usage of its own.
  use(theirs, other.operatorId, { bytesUp: 999 });
  await api.platform.beamUsage.flush();
});

afterAll(async () => {
  await api?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /v1/stats/{beam,funnel,funk}/subscribers/{imsi}', () => {
  it('answers SORACOM’s shapes per day, hour and month', async () => {
    const q = `from=${sec(T - DAY)}&to=${sec(T + 2 * DAY)}`;
    const day = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?${q}&period=day`,
    });
    expect(day.statusCode, day.body).toBe(200);
    const dayStart = Math.floor(T / DAY) * DAY;
    expect(day.json()).toEqual([
      {
        date: '20260310',
        unixtime: sec(dayStart),
        beamStatsMap: {
          inHttp: {
            count: 4,
            uploadByteSizeTotal: 400,
            downloadByteSizeTotal: 30,
            refusedCount: 0,
            failedCount: 1,
          },
          outHttps: { count: 3 },
          inMqtt: {
            count: 1,
            uploadByteSizeTotal: 7,
            downloadByteSizeTotal: 0,
            refusedCount: 0,
            failedCount: 0,
          },
          outMqtts: { count: 1 },
        },
      },
      {
        date: '20260311',
        unixtime: sec(dayStart + DAY),
        beamStatsMap: {
          inHttp: {
            count: 1,
            uploadByteSizeTotal: 100,
            downloadByteSizeTotal: 10,
            refusedCount: 1,
            failedCount: 0,
          },
        },
      },
    ]);
    const hour = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?${q}&period=minutes`,
    });
    expect(hour.json().map((e: { date: string }) => e.date)).toEqual(['2026031009', '2026031109']);
    const month = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?${q}&period=month`,
    });
    expect(month.json()).toHaveLength(1);
    expect(month.json()[0]).toMatchObject({ date: '202603', beamStatsMap: { inHttp: { count: 5 } } });

    const funnel = await api.call({
      method: 'GET',
      url: `/v1/stats/funnel/subscribers/${mine.imsi}?${q}&period=day`,
    });
    expect(funnel.json()).toEqual([
      {
        unixtime: sec(dayStart),
        funnelStatsMap: {
          inHttp: {
            count: 1,
            uploadByteSizeTotal: 100,
            downloadByteSizeTotal: 10,
            refusedCount: 0,
            failedCount: 0,
          },
          outAmqp: { count: 1 },
        },
      },
    ]);
    const funk = await api.call({
      method: 'GET',
      url: `/v1/stats/funk/subscribers/${mine.imsi}?${q}&period=day`,
    });
    expect(funk.json()[0].funkStatsMap).toMatchObject({ inUdp: { count: 1 }, outFunction: { count: 1 } });
  });

  it('answers 404 for another operator’s IMSI, in both directions', async () => {
    const q = `from=${sec(T - DAY)}&to=${sec(T + 2 * DAY)}&period=day`;
    const a = await api.call({ method: 'GET', url: `/v1/stats/beam/subscribers/${theirs.imsi}?${q}` });
    expect(a.statusCode).toBe(404);
    const b = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?${q}`,
      token: other.token,
    });
    expect(b.statusCode).toBe(404);
    expect(b.body).not.toContain('inHttp');
    const own = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${theirs.imsi}?${q}`,
      token: other.token,
    });
    expect(own.json()[0].beamStatsMap.inHttp.uploadByteSizeTotal).toBe(999);
  });

  it('refuses hostile imsi/from/to/period with 400 or 404, never more, never another tenant’s data', async () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        '',
        '-1',
        '1e999',
        'Infinity',
        'NaN',
        '0x10',
        '9'.repeat(30),
        '1.5',
        ' 1',
        '%00',
        '__proto__',
      ),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    );
    const imsi = fc.oneof(
      fc.constantFrom(mine.imsi, theirs.imsi, '..', '../../sims', '%2e%2e', "' or 1=1 --", '0'.repeat(16)),
      fc.stringMatching(/^[0-9]{1,20}$/),
      fc.string({ maxLength: 30 }),
    );
    const period = fc.oneof(
      fc.constantFrom('minutes', 'hour', 'day', 'month', 'year', 'DAY', ''),
      fc.string({ maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(imsi, hostile, hostile, period, async (i, from, to, p) => {
        const res = await api.call({
          method: 'GET',
          url: `/v1/stats/beam/subscribers/${encodeURIComponent(i)}?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&period=${encodeURIComponent(p)}`,
          token: other.token,
        });
        if (res.statusCode === 200) {
          // Only the caller's own IMSI, with a sane range.
          expect(i).toBe(theirs.imsi);
          expect(res.body).not.toContain('"count":3');
        } else {
          expect([400, 404], `${res.statusCode} ${res.body}`).toContain(res.statusCode);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('bounds the range per period', async () => {
    const long = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?from=0&to=${sec(T)}&period=hour`,
    });
    expect(long.statusCode).toBe(400);
    expect(long.json().message).toMatch(/too long for period=hour/);
    const backwards = await api.call({
      method: 'GET',
      url: `/v1/stats/beam/subscribers/${mine.imsi}?from=${sec(T)}&to=${sec(T) - 1}&period=day`,
    });
    expect(backwards.statusCode).toBe(400);
  });
});

describe('POST /v1/stats/{service}/operators/{operator_id}/export', () => {
  const body = { from: sec(T - DAY), to: sec(T + 2 * DAY), period: 'day' };

  it('sync: answers a URL that serves the CSV without credentials, until it expires', async () => {
    const res = await api.call({
      method: 'POST',
      url: `/v1/stats/beam/operators/${api.operator.operatorId}/export`,
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    const { url } = res.json() as { url: string };
    expect(url).toMatch(/^http:\/\/.+\/v1\/files\/exported\/ef-[0-9a-f]{24}\/download\?token=/);
    const csv = await api.call({ method: 'GET', url: pathOf(url), token: null });
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(
      /attachment; filename="beam-stats-20260309-20260312-day\.csv"/,
    );
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe(
      'imsi,date,soracomBeamType,count,simId,uploadByteSizeTotal,downloadByteSizeTotal,refusedCount,failedCount',
    );
    expect(lines.slice(1)).toEqual([
      `${mine.imsi},20260310,beam_inHttp,4,${mine.simId},400,30,0,1`,
      `${mine.imsi},20260310,beam_inMqtt,1,${mine.simId},7,0,0,0`,
      `${mine.imsi},20260310,beam_outHttps,3,${mine.simId},,,,`,
      `${mine.imsi},20260310,beam_outMqtts,1,${mine.simId},,,,`,
      `${mine.imsi},20260311,beam_inHttp,1,${mine.simId},100,10,1,0`,
    ]);
    // Another operator's usage is not in it.
    expect(csv.body).not.toContain(theirs.imsi);

    // A guessed or altered token, and the right one once expired, get the same 404.
    const u = new URL(url);
    const wrong = `${u.pathname}?token=${'A'.repeat(43)}`;
    expect((await api.call({ method: 'GET', url: wrong, token: null })).statusCode).toBe(404);
    clock.advance(api.platform.config.exportUrlTtlSeconds * 1000 + 1);
    expect((await api.call({ method: 'GET', url: pathOf(url), token: null })).statusCode).toBe(404);
  });

  it('async: answers exportedFileId; getExportedFile gives the URL once written, to its operator only', async () => {
    const res = await api.call({
      method: 'POST',
      url: `/v1/stats/funnel/operators/${api.operator.operatorId}/export?export_mode=async`,
      payload: { ...body, period: 'month' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const { exportedFileId, exportedFilePath } = res.json() as {
      exportedFileId: string;
      exportedFilePath: string;
    };
    expect(exportedFilePath).toBe(`exports/${exportedFileId}/funnel-stats-20260309-20260312-month.csv`);
    await api.platform.exports.drained();
    const state = await api.call({ method: 'GET', url: `/v1/files/exported/${exportedFileId}` });
    expect(state.statusCode, state.body).toBe(200);
    expect(state.json()).toMatchObject({ exportedFileId, status: 'exported', rows: 2 });
    const csv = await api.call({ method: 'GET', url: pathOf(state.json().url), token: null });
    expect(csv.body).toContain(`${mine.imsi},202603,funnel_inHttp,1,`);
    expect(csv.body).toContain(`${mine.imsi},202603,funnel_outAmqp,1,`);
    // Another operator can neither see the export nor get a URL for it.
    const b = await api.call({
      method: 'GET',
      url: `/v1/files/exported/${exportedFileId}`,
      token: other.token,
    });
    expect(b.statusCode).toBe(404);
  });

  it('refuses another operator’s operator_id and hostile bodies', async () => {
    const theirsExport = await api.call({
      method: 'POST',
      url: `/v1/stats/beam/operators/${api.operator.operatorId}/export`,
      payload: body,
      token: other.token,
    });
    expect(theirsExport.statusCode).toBe(404);
    for (const bad of [
      { ...body, period: 'hour' },
      { ...body, from: body.to + 1 },
      { ...body, from: 0, period: 'day', to: sec(T) },
      { ...body, from: -1 },
      { ...body, extra: 1 },
      { from: '1', to: body.to, period: 'day' },
    ]) {
      const r = await api.call({
        method: 'POST',
        url: `/v1/stats/beam/operators/${api.operator.operatorId}/export`,
        payload: bad,
      });
      expect(r.statusCode, JSON.stringify(bad)).toBe(400);
    }
    const mode = await api.call({
      method: 'POST',
      url: `/v1/stats/beam/operators/${api.operator.operatorId}/export?export_mode=later`,
      payload: body,
    });
    expect(mode.statusCode).toBe(400);
  });

  it('bounds hostile export ranges (fast-check): 200 only for a sane range, else 400', async () => {
    const n = fc.oneof(
      fc.integer({ min: -10, max: 2 ** 31 }),
      fc.constantFrom(0, sec(T), sec(T) + 86_400, 8_640_000_000_000, 8_640_000_000_001, -1, 2 ** 53),
      fc.double(),
      fc.constantFrom('1', null, true, [], {}),
    );
    const p = fc.oneof(
      fc.constantFrom('day', 'month', 'hour', 'minutes', '', 'DAY'),
      fc.string({ maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(n, n, p, async (from, to, period) => {
        const r = await api.call({
          method: 'POST',
          url: `/v1/stats/funk/operators/${other.operatorId}/export?export_mode=async`,
          payload: { from, to, period },
          token: other.token,
        });
        if (r.statusCode === 200) {
          // What was accepted (after the schema's coercion of numeric text) is a sane, bounded range.
          const row = await api.platform.store.db
            .selectFrom('exported_files')
            .select('params')
            .where('file_id', '=', r.json().exportedFileId)
            .executeTakeFirstOrThrow();
          const stored = JSON.parse(row.params) as { from: number; to: number; period: string };
          expect(Number.isSafeInteger(stored.from) && Number.isSafeInteger(stored.to)).toBe(true);
          const days = (stored.to - stored.from) / 86_400;
          expect(
            days >= 0 && days <= (stored.period === 'day' ? 3 * 366 : 10 * 366),
            JSON.stringify(stored),
          ).toBe(true);
        } else {
          expect(r.statusCode, r.body).toBe(400);
        }
      }),
      { numRuns: 120 },
    );
    await api.platform.exports.drained();
  });

  it('refuses hostile exported_file_id and token values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom('..', '../../etc/passwd', 'ef-', `ef-${'0'.repeat(24)}`),
        ),
        fc.string({ maxLength: 200 }),
        async (id, token) => {
          const r = await api.call({
            method: 'GET',
            url: `/v1/files/exported/${encodeURIComponent(id)}/download?token=${encodeURIComponent(token)}`,
            token: null,
          });
          // 401: a path that normalises onto another route (`..`), which needs credentials.
          expect([400, 401, 404], r.body).toContain(r.statusCode);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('GET /v1/sims/{sim_id}/beam_status', () => {
  it('shows the last delivery and the last error per service, to the SIM’s operator only', async () => {
    const res = await api.call({ method: 'GET', url: `/v1/sims/${mine.simId}/beam_status` });
    expect(res.statusCode, res.body).toBe(200);
    const beam = res.json().services.find((s: { service: string }) => s.service === 'beam');
    expect(beam).toEqual({
      service: 'beam',
      imsi: mine.imsi,
      lastDeliveryTime: T,
      lastDeliveryEntryPoint: 'mqtt',
      lastErrorTime: T + DAY,
      lastError: 'no SoracomBeam entry for http',
      lastErrorEntryPoint: 'http',
    });
    expect(res.json().services.map((s: { service: string }) => s.service)).toEqual([
      'beam',
      'funk',
      'funnel',
    ]);
    const b = await api.call({
      method: 'GET',
      url: `/v1/sims/${mine.simId}/beam_status`,
      token: other.token,
    });
    expect(b.statusCode).toBe(404);
  });
});

describe('/metrics', () => {
  it('counts per service, entry point and outcome, and keeps per-SIM series bounded', async () => {
    const registry = new Registry();
    registerBeamUsageMetrics(api.platform, registry);
    const text = await registry.metrics();
    expect(text).toContain(
      'simtrust_beam_requests_total{service="beam",entry_point="http",outcome="delivered"} 4',
    );
    expect(text).toContain(
      'simtrust_beam_requests_total{service="beam",entry_point="http",outcome="failed"} 1',
    );
    expect(text).toContain('simtrust_beam_bytes_total{service="beam",entry_point="mqtt",direction="up"} 7');
    expect(text).toContain(
      `simtrust_beam_sim_requests_total{sim_id="${mine.simId}",service="funnel",outcome="delivered"} 1`,
    );
    // A second scrape reports the same totals (set, not added again).
    expect(await registry.metrics()).toContain(
      'simtrust_beam_requests_total{service="beam",entry_point="http",outcome="delivered"} 4',
    );
  });
});

// The console's files go out precompressed (issue 12: a cold load was ~411 KiB uncompressed): the
// build writes .br and .gz beside each text file (web/precompress.ts) and the console plugin sends
// the encoding the browser accepts, with Content-Encoding and Vary. Threats: a client that did not
// ask for brotli (curl, an old proxy) handed compressed bytes as text; a cache mixing the encodings
// for different clients (Vary); a .br/.gz of the build reachable as a file of its own.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../../../src/servers/http/plugins/console.js';
import { precompressDir } from '../../../web/precompress.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
let app: FastifyInstance;
let dist: string;
const SCRIPT = `export const rows = [${Array.from({ length: 400 }, (_, i) => `{ id: ${i}, name: "sim-${i}" }`).join(', ')}];\n`;
const INDEX =
  '<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';

beforeAll(async () => {
  api = await startTestApi();
  dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), SCRIPT);
  writeFileSync(join(dist, 'assets', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  const sizes = precompressDir(dist);
  expect([...sizes.keys()].sort()).toEqual(['assets/index-abc123.js', 'index.html']);
  const js = sizes.get('assets/index-abc123.js')!;
  expect(js.br).toBeLessThan(js.gzip);
  expect(js.gzip).toBeLessThan(js.raw / 4);
  app = Fastify();
  await registerConsole(app, api.platform, { dist });
});
afterAll(async () => {
  await app.close();
  await api.close();
});

const get = (url: string, acceptEncoding?: string) =>
  app.inject({
    method: 'GET',
    url,
    headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
  });

describe('console files, precompressed', () => {
  it('Accept-Encoding: br gets brotli bytes that decompress to the file, with Vary', async () => {
    const res = await get('/console/assets/index-abc123.js', 'br');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.rawPayload).toEqual(readFileSync(join(dist, 'assets', 'index-abc123.js.br')));
    expect(brotliDecompressSync(res.rawPayload).toString()).toBe(SCRIPT);
    expect(res.rawPayload.length).toBeLessThan(SCRIPT.length / 4);
  });

  it("Chromium's header gets brotli; gzip-only gets gzip; none or identity gets the file as it is", async () => {
    const chromium = await get('/console/assets/index-abc123.js', 'gzip, deflate, br, zstd');
    expect(chromium.headers['content-encoding']).toBe('br');
    const gz = await get('/console/assets/index-abc123.js', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(SCRIPT);
    for (const header of [undefined, '', 'identity', 'br;q=0, gzip;q=0', 'deflate']) {
      const plain = await get('/console/assets/index-abc123.js', header);
      expect(plain.headers['content-encoding'], String(header)).toBeUndefined();
      expect(plain.headers.vary).toMatch(/accept-encoding/i);
      expect(plain.body).toBe(SCRIPT);
    }
  });

  it('the page for client routes is compressed too; an image is sent as it is', async () => {
    const page = await get('/console/sims/123', 'br');
    expect(page.headers['content-encoding']).toBe('br');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(brotliDecompressSync(page.rawPayload).toString()).toBe(INDEX);
    const png = await get('/console/assets/logo.png', 'br');
    expect(png.headers['content-encoding']).toBeUndefined();
    expect(png.headers.vary).toBeUndefined();
  });

  it('the .br and .gz files are encodings, not files of the console', async () => {
    for (const url of ['/console/assets/index-abc123.js.br', '/console/assets/index-abc123.js.gz'])
      expect((await get(url, 'br')).statusCode).toBe(404);
    // Not under assets/: the client-route fallback answers with the page, never the raw encoding.
    const res = await get('/console/index.html.br');
    expect(res.body).toBe(INDEX);
  });
});

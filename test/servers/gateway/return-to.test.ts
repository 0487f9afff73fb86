// Threat: an open redirect (CWE-601) — a sign-in link whose return_to sends the user, after a real
// login, to a phishing site. The guard must judge the value as the browser will follow it, after
// URL resolution (dot segments, `%2e%2e`, backslashes, dropped tabs) and after every
// percent-decoding an upstream could apply, and emit only the re-serialised result.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentDecode } from '../../../src/lib/redirect-target.js';
import { gatewayApplications } from '../../../src/servers/gateway/applications.js';
import { safeReturnTo } from '../../../src/servers/gateway/return-to.js';
import { testConfig } from '../../helpers/app.js';
import { EVIL_HOSTS, hostileRedirect, plainSegment } from '../../helpers/hostile-urls.js';

const GW = 'https://gw.example';
const RUNS = 20_000;

/** What the browser does with a Location header, and what a decoding upstream makes of the path. */
function assertStaysHome(out: string, prefix: string): void {
  expect(out.startsWith('/'), out).toBe(true);
  expect(out[1] !== '/' && out[1] !== '\\', out).toBe(true);
  const landed = new URL(out, GW);
  expect(landed.origin, out).toBe(GW);
  let path = landed.pathname;
  for (let i = 0; i < 4; i++) {
    expect(path.startsWith('//'), out).toBe(false);
    expect(path.includes('\\'), out).toBe(false);
    expect(path.startsWith(prefix) || `${path}/` === prefix, out).toBe(true);
    expect(path === '/.simtrust' || path.startsWith('/.simtrust/'), out).toBe(false);
    path = percentDecode(path);
  }
}

describe('return_to (issue 11: open redirect after dot-segment removal)', () => {
  const root = { prefix: '/' };
  const wiki = { prefix: '/wiki/' };

  it.each([
    '/..//evil.example/phish',
    '/%2e%2e//evil.example/phish',
    '/%2E%2E//evil.example/phish',
    '/.%2e//evil.example/phish',
    '/./..//evil.example/phish',
    '/a/../..//evil.example/phish',
    '/wiki/..//evil.example',
    '/%2f/evil.example',
    '/%2F%2Fevil.example',
    '/%5cevil.example',
    '/%5c%5cevil.example',
    '/%252f/evil.example',
    '/%09/evil.example',
    '/%0d%0a//evil.example',
    '/..%2f..%2fevil.example',
    '/..;/evil.example',
  ])('issue 11: %s does not leave the gateway', (raw) => {
    expect(safeReturnTo(raw, root)).toBeUndefined();
  });

  it('keeps what a real application needs, re-serialised', () => {
    expect(safeReturnTo('/wiki/page?a=1&b=%2F', wiki)).toBe('/wiki/page?a=1&b=%2F');
    expect(safeReturnTo('/wiki/a/./b/../c', wiki)).toBe('/wiki/a/c');
    expect(safeReturnTo('/wiki/My%20Page', wiki)).toBe('/wiki/My%20Page');
    expect(safeReturnTo('/wiki/日本語?q=é', wiki)).toBe('/wiki/%E6%97%A5%E6%9C%AC%E8%AA%9E?q=%C3%A9');
    expect(safeReturnTo('/wiki/100%25', wiki)).toBe('/wiki/100%25');
    expect(safeReturnTo('/wiki/a#frag', wiki)).toBe('/wiki/a');
    expect(safeReturnTo('/', root)).toBe('/');
  });

  it(`property: no output of ${RUNS} hostile values leaves the origin, the prefix or lands on /.simtrust`, () => {
    for (const app of [root, wiki]) {
      fc.assert(
        fc.property(hostileRedirect, (raw) => {
          const out = safeReturnTo(raw, app);
          if (out === undefined) return;
          assertStaysHome(out, app.prefix);
          // The emitted value is already normal: checking it again changes nothing.
          expect(safeReturnTo(out, app)).toBe(out);
        }),
        { numRuns: RUNS, seed: 11 },
      );
    }
  });

  it('property: a plain path inside the application is always kept as it was', () => {
    fc.assert(
      fc.property(fc.array(plainSegment, { maxLength: 6 }), fc.option(plainSegment), (segments, query) => {
        const raw = `/wiki/${segments.join('/')}${query === null ? '' : `?q=${query}`}`;
        expect(safeReturnTo(raw, wiki)).toBe(raw);
      }),
      { numRuns: 2000, seed: 11 },
    );
  });

  it('absolute URLs only on the application’s returnToOrigins, re-serialised', () => {
    const app = { prefix: '/', returnToOrigins: ['https://app.example.com'] };
    expect(safeReturnTo('https://app.example.com/x/../y?z=1', app)).toBe('https://app.example.com/y?z=1');
    expect(safeReturnTo('https://APP.example.com:443/y', app)).toBe('https://app.example.com/y');
    for (const evil of [
      'https://app.example.com.evil.example/',
      'https://app.example.com@evil.example/',
      'https://evil.example\\@app.example.com/',
      'https://app.example.com:8443/',
      'http://app.example.com/',
      'https://user:pw@app.example.com/',
      'https://app.example.com/..%2f..%2f',
      'javascript://app.example.com/%0aalert(1)',
      'https://evil.example/',
    ]) {
      expect(safeReturnTo(evil, app), evil).toBeUndefined();
    }
    fc.assert(
      fc.property(hostileRedirect, (raw) => {
        const out = safeReturnTo(raw, app);
        if (out === undefined || out.startsWith('/')) {
          if (out !== undefined) assertStaysHome(out, '/');
          return;
        }
        expect(new URL(out).origin, raw).toBe('https://app.example.com');
        for (const host of EVIL_HOSTS) expect(new URL(out).host).not.toBe(host);
      }),
      { numRuns: RUNS, seed: 12 },
    );
  });

  it('returnToOrigins must be plain origins (checked at start)', () => {
    const entry = (returnToOrigins: string[]) =>
      gatewayApplications(
        testConfig({
          gatewayApplications: [
            {
              name: 'wiki',
              prefix: '/',
              upstream: 'http://127.0.0.1:3000',
              users: { platform: true },
              returnToOrigins,
            },
          ],
        }),
      );
    expect(entry(['https://app.example.com'])[0]?.returnToOrigins).toEqual(['https://app.example.com']);
    for (const bad of [
      'https://app.example.com/',
      'https://app.example.com/x',
      '*',
      'ftp://a.example',
      'x',
    ]) {
      expect(() => entry([bad]), bad).toThrow(/returnToOrigins entry/);
    }
  });
});

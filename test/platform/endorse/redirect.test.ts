// Threat: an open redirect (CWE-601) in the token listener's redirect flow — a redirect_url that
// passes the group's authorizedRedirectUrls check as text but takes the device, with its SIM token
// in the query, somewhere else: through userinfo (`https://good@evil`), backslashes, dot segments in
// any encoding, encoded slashes an application decodes again, or characters URL parsing drops.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentDecode } from '../../../src/lib/redirect-target.js';
import { authorizedRedirect, validateEndorseParameter } from '../../../src/platform/endorse/config.js';
import { hostileRedirect, plainSegment } from '../../helpers/hostile-urls.js';

const APP = 'https://app.example.com';
const AUTHORIZED = [new URL(`${APP}/login`), new URL('http://127.0.0.1:3000/')];

/** Every layer of the path a server could see is inside `base`. */
function within(path: string, base: string): boolean {
  const dir = base.endsWith('/') ? base : `${base}/`;
  return path === base || path.startsWith(dir);
}

describe('redirect_url against authorizedRedirectUrls (issue 11)', () => {
  it.each([
    `${APP}/login/..//evil.example/`,
    `${APP}/login/%2e%2e/admin`,
    `${APP}/login/..%2fadmin`,
    `${APP}/login/..%2Fadmin`,
    `${APP}/login/%252e%252e%252fadmin`,
    `${APP}/login/..%5cadmin`,
    `${APP}/login\\..\\admin`,
    `${APP}/login/..;/admin`,
    `${APP}/login/%00`,
    `${APP}/login/\t`,
    `${APP}/login/%0d%0aSet-Cookie:x`,
    `${APP}@evil.example/login`,
    'https://app.example.com%2f@evil.example/login',
    'https://app.example.com\\@evil.example/login',
    `https://user:pw@${APP.slice(8)}/login`,
    `${APP}.evil.example/login`,
    ` ${APP}/login`,
    `${APP}/login2`,
    `${APP}/`,
    'http://app.example.com/login',
    '//app.example.com/login',
    'javascript://app.example.com/login%0aalert(1)',
  ])('issue 11: refuses %s', (raw) => {
    expect(authorizedRedirect(raw, AUTHORIZED)).toBeUndefined();
  });

  it('keeps authorised targets and re-serialises them', () => {
    expect(authorizedRedirect(`${APP}/login`, AUTHORIZED)?.href).toBe(`${APP}/login`);
    expect(authorizedRedirect(`${APP}/login/cb?state=a%2Fb`, AUTHORIZED)?.href).toBe(
      `${APP}/login/cb?state=a%2Fb`,
    );
    expect(authorizedRedirect(`${APP}/login/a/../cb`, AUTHORIZED)?.href).toBe(`${APP}/login/cb`);
    expect(authorizedRedirect('HTTP://127.0.0.1:3000/x', AUTHORIZED)?.href).toBe('http://127.0.0.1:3000/x');
  });

  it('property: every accepted target of 20000 hostile values stays on an authorised origin and path', () => {
    const prefixes = ['', APP, `${APP}/login`, `${APP}/login/`, 'http://127.0.0.1:3000'];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), hostileRedirect, (prefix, tail) => {
        const url = authorizedRedirect(`${prefix}${tail}`, AUTHORIZED);
        if (url === undefined) return;
        const followed = new URL(url.toString());
        const entry = AUTHORIZED.find((e) => e.origin === followed.origin);
        expect(entry, followed.href).toBeDefined();
        expect(followed.username + followed.password).toBe('');
        let path = followed.pathname;
        for (let i = 0; i < 4; i++) {
          expect(within(path, entry?.pathname ?? '/'), followed.href).toBe(true);
          expect(path.startsWith('//') || path.includes('\\'), followed.href).toBe(false);
          path = percentDecode(path);
        }
      }),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('property: a plain path below an entry is always accepted', () => {
    fc.assert(
      fc.property(fc.array(plainSegment, { maxLength: 5 }), (segments) => {
        const raw = `${APP}/login/${segments.join('/')}`;
        expect(authorizedRedirect(raw, AUTHORIZED)?.href).toBe(raw);
      }),
      { numRuns: 2000, seed: 11 },
    );
  });

  it('an entry whose own path hides dot segments or encoded slashes is refused when written', () => {
    for (const entry of [`${APP}/a/..%2fb`, `${APP}/%2e%2e%2f`, `${APP}/%5c`]) {
      expect(() => validateEndorseParameter('authorizedRedirectUrls', [entry]), entry).toThrow(
        /encoded slashes or dot segments/,
      );
    }
    expect(() => validateEndorseParameter('authorizedRedirectUrls', [`${APP}/login/cb`])).not.toThrow();
  });
});

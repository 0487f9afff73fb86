// The threat: an open redirect — a sign-in link such as /console/sign-in?next=//evil.example that
// sends the operator, just authenticated, to a look-alike site (or runs javascript:). The console
// follows `next` only when it is a same-origin path inside /console/ (web/src/auth/next.ts).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NEXT, safeNext } from '../../web/src/auth/next.js';

const ORIGIN = 'https://console.example';

/** Where a browser at ORIGIN would go for `target`, as pushState/location would resolve it. */
const resolved = (target: string) => new URL(target, `${ORIGIN}/console/sign-in`);

const HOSTILE = [
  '//evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/console//evil.example',
  '/console/\\evil.example',
  '%2f%2fevil.example',
  '/%2f%2fevil.example',
  '/console/%2f%2fevil.example',
  '/console/%5c%5cevil.example',
  '/console/../evil',
  '/console/%2e%2e/evil',
  '/console/..%2f..%2fevil',
  '/console/%252e%252e/',
  '/console/%25252f%25252fevil.example',
  '/console/%2525252e%2525252e/x',
  '/console/./../../x',
  '/\tconsole/x',
  '/console/\t/evil',
  '\t//evil.example',
  ' /console/sims',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'https://evil.example/console/sims',
  'http:/console/sims',
  '/console/api/session',
  '/console/sims#@evil.example',
  '',
  null,
  undefined,
];

describe('safeNext', () => {
  it('keeps console paths with their query', () => {
    expect(safeNext('/console/sims/123')).toBe('/console/sims/123');
    expect(safeNext('/console/sims?status=active&groupId=g-1')).toBe(
      '/console/sims?status=active&groupId=g-1',
    );
  });

  it.each(HOSTILE)('refuses %j', (value) => {
    expect(safeNext(value)).toBe(DEFAULT_NEXT);
  });

  it('never leaves the console of this origin, whatever the value', () => {
    const pieces = fc.constantFrom(
      '/',
      '//',
      '\\',
      '/\\',
      '.',
      '..',
      '%2f',
      '%2F',
      '%5c',
      '%2e',
      '%2e%2e',
      '\t',
      '\n',
      ' ',
      '@',
      ':',
      '#',
      '?',
      'javascript:',
      'http:',
      'evil.example',
      'console',
      '/console/',
      'sims',
      '%00',
      '\u2028',
      '\uff0f',
    );
    const value = fc.oneof(
      fc.string(),
      fc.array(pieces, { maxLength: 8 }).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(value, (raw) => {
        const next = safeNext(raw);
        const url = resolved(next);
        expect(url.origin).toBe(ORIGIN);
        expect(url.pathname.startsWith('/console/')).toBe(true);
        expect(url.pathname.startsWith('/console/api/')).toBe(false);
        expect(decodeURIComponent(url.pathname)).not.toMatch(/\/\/|\\|(^|\/)\.\.(\/|$)/);
      }),
      { numRuns: 2000 },
    );
  });
});

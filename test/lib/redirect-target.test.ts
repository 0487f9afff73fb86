// Threat: open redirect (CWE-601) through a value that looks like a path until it is decoded —
// `%2f%2f` host starts, `%5c` backslashes, `%2e%2e` segments an upstream resolves after decoding.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRawRedirect, pathLayers, pathWithin, percentDecode } from '../../src/lib/redirect-target.js';

describe('percentDecode', () => {
  it('decodes valid escapes as UTF-8 and leaves the rest', () => {
    expect(percentDecode('/a%2Fb%2fc')).toBe('/a/b/c');
    expect(percentDecode('/%E6%97%A5')).toBe('/日');
    expect(percentDecode('/100%')).toBe('/100%');
    expect(percentDecode('/%zz%4')).toBe('/%zz%4');
    expect(percentDecode('/%ff')).toBe('/\ufffd');
  });

  it('is total: any string decodes without throwing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(typeof percentDecode(s)).toBe('string');
      }),
      { numRuns: 5000, seed: 11 },
    );
  });
});

describe('pathLayers', () => {
  it('follows every decoding and keeps plain paths', () => {
    expect(pathLayers('/a/b')).toEqual({ ok: true, value: ['/a/b'] });
    expect(pathLayers('/a%2Fb')).toEqual({ ok: true, value: ['/a%2Fb', '/a/b'] });
    expect(pathLayers('/a%2520b')).toEqual({ ok: true, value: ['/a%2520b', '/a%20b', '/a b'] });
  });

  it.each([
    ['//evil', 'REDIRECT_AUTHORITY'],
    ['/%2fevil', 'REDIRECT_AUTHORITY'],
    ['/%252f/evil', 'REDIRECT_AUTHORITY'],
    ['/%5cevil', 'REDIRECT_BACKSLASH'],
    ['/a/..%2fb', 'REDIRECT_DOT_SEGMENT'],
    ['/a/%2e%2e', 'REDIRECT_DOT_SEGMENT'],
    ['/a/..;x/b', 'REDIRECT_DOT_SEGMENT'],
    ['/a%00', 'REDIRECT_CONTROL'],
    ['/a%0d%0a', 'REDIRECT_CONTROL'],
    ['/%25252525', 'REDIRECT_ENCODING'],
    ['a', 'REDIRECT_NOT_A_PATH'],
  ])('refuses %s (%s)', (path, code) => {
    const r = pathLayers(path);
    expect(r.ok ? undefined : r.error.code).toBe(code);
  });
});

describe('checkRawRedirect', () => {
  it.each([
    ['', 'REDIRECT_EMPTY'],
    [42, 'REDIRECT_EMPTY'],
    ['/a\tb', 'REDIRECT_CONTROL'],
    [' /a', 'REDIRECT_CONTROL'],
    ['/a\u0085', 'REDIRECT_CONTROL'],
    ['/a\u3000', 'REDIRECT_CONTROL'],
    ['/\\evil', 'REDIRECT_BACKSLASH'],
    [`/${'a'.repeat(2048)}`, 'REDIRECT_TOO_LONG'],
  ])('refuses %j (%s)', (raw, code) => {
    const r = checkRawRedirect(raw);
    expect(r.ok ? undefined : r.error.code).toBe(code);
  });
});

describe('pathWithin', () => {
  it('matches at a / boundary, never by string prefix', () => {
    expect(pathWithin('/app', '/app')).toBe(true);
    expect(pathWithin('/app/x', '/app')).toBe(true);
    expect(pathWithin('/app', '/app/')).toBe(true);
    expect(pathWithin('/app2', '/app')).toBe(false);
    expect(pathWithin('/app2', '/app/')).toBe(false);
    expect(pathWithin('/anything', '/')).toBe(true);
  });
});

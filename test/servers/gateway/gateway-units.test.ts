// The gateway's pure parts: the return URL guard, language negotiation, the applications'
// configuration checks, phone numbers, header and cookie rewriting for the upstream.

import { describe, expect, it } from 'vitest';
import { maskPhone, nationalJp, parseE164 } from '../../../src/platform/mfa/phone.js';
import { gatewayApplications } from '../../../src/servers/gateway/applications.js';
import { stripOwnCookies, upstreamHeaders } from '../../../src/servers/gateway/gateway.js';
import { negotiateLanguage } from '../../../src/servers/gateway/i18n.js';
import { escapeHtml } from '../../../src/servers/gateway/pages.js';
import { safeReturnTo } from '../../../src/servers/gateway/return-to.js';
import { testConfig } from '../../helpers/app.js';

describe('return_to (no open redirect, CWE-601)', () => {
  const app = { prefix: '/wiki/' };
  it.each([
    ['/wiki/page?a=1', '/wiki/page?a=1'],
    ['/wiki/', '/wiki/'],
    ['/wiki', '/wiki'],
    ['/wiki/a/../b', '/wiki/b'],
  ])('keeps %s', (raw, expected) => expect(safeReturnTo(raw, app)).toBe(expected));
  it.each([
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    'https://evil.example/wiki/',
    'javascript:alert(1)',
    '/wiki/\u0000x',
    '/wiki/\tx',
    ' /wiki/',
    '/other/',
    '/wiki/../other',
    '/.simtrust/logout',
    '',
    42,
    undefined,
    `/wiki/${'a'.repeat(3000)}`,
  ])('refuses %s', (raw) => expect(safeReturnTo(raw, app)).toBeUndefined());
});

describe('Accept-Language (RFC 9110 §12.5.4)', () => {
  it.each([
    [undefined, 'en'],
    ['ja', 'ja'],
    ['ja-JP,ja;q=0.9,en-US;q=0.8', 'ja'],
    ['en-US,en;q=0.9,ja;q=0.8', 'en'],
    ['fr, ja;q=0.5', 'ja'],
    ['ja;q=0, en;q=0.1', 'en'],
    ['de, fr', 'en'],
    ['ja;q=abc', 'en'],
  ])('%s → %s', (header, lang) => expect(negotiateLanguage(header)).toBe(lang));
});

describe('phone numbers (E.164)', () => {
  it('normalises and refuses', () => {
    expect(parseE164('+81 90-1234-5678')).toEqual({ ok: true, value: '+819012345678' });
    expect(parseE164('(+1) 415.555.0100')).toEqual({ ok: true, value: '+14155550100' });
    for (const bad of ['09012345678', '+0123', '+8190123456789012', '+81x', ''])
      expect(parseE164(bad).ok).toBe(false);
    expect(maskPhone('+819012345678')).toBe('+81…78');
    expect(nationalJp('+819012345678')).toBe('09012345678');
  });
});

describe('gateway applications', () => {
  const base = {
    gatewayApplications: [],
    gatewayUpstream: undefined,
    gatewayDirectory: undefined,
    gatewayFactors: 'sms-otp',
  };

  it('turns --upstream into one application at /', () => {
    const [app] = gatewayApplications({ ...base, gatewayUpstream: 'http://127.0.0.1:3000/' });
    expect(app).toMatchObject({
      name: 'default',
      prefix: '/',
      upstream: 'http://127.0.0.1:3000',
      users: { platform: true },
    });
    expect(app?.policy).toEqual([{ factors: ['sms-otp'] }]);
  });

  it.each([
    [{ name: 'x', prefix: 'wiki', upstream: 'http://a', users: { directory: 'd' } }, /prefix/],
    [{ name: 'x', prefix: '/', upstream: 'ftp://a', users: { directory: 'd' } }, /upstream/],
    [{ name: 'x', prefix: '/', upstream: 'http://a', users: {} }, /users/],
    [
      {
        name: 'x',
        prefix: '/',
        upstream: 'http://a',
        users: { directory: 'd' },
        policy: [{ factors: ['sms'] }],
      },
      /policy/,
    ],
    [{ name: 'x', prefix: '/.simtrust/', upstream: 'http://a', users: { directory: 'd' } }, /\/\.simtrust\//],
    [
      { name: 'x', prefix: '/', upstream: 'http://a', users: { directory: 'd' }, extra: 1 },
      /gatewayApplications\[0\]/,
    ],
  ])('refuses %j', (entry, message) => {
    expect(() => gatewayApplications({ ...base, gatewayApplications: [entry] })).toThrow(message);
  });

  it('refuses an unknown factor in gatewayFactors', () => {
    expect(() =>
      gatewayApplications({ ...base, gatewayUpstream: 'http://a', gatewayFactors: 'sms-otp,voice' }),
    ).toThrow(/voice/);
  });

  it('has a default configuration that starts no gateway', () => {
    expect(gatewayApplications(testConfig())).toEqual([]);
  });
});

describe('what the upstream receives', () => {
  it('drops the gateway cookies and every client-sent identity header', () => {
    expect(stripOwnCookies('a=1; simtrust-session=s; __Host-simtrust-session=t; simtrust-csrf=c; b=2')).toBe(
      'a=1; b=2',
    );
    expect(stripOwnCookies('simtrust-session=s')).toBeUndefined();
    const out = upstreamHeaders(
      {
        host: 'gw',
        cookie: 'simtrust-session=s; app=1',
        'x-simtrust-user': 'root',
        'X-SIMTRUST-ASSERTION': 'x',
        accept: '*/*',
      },
      { user: 'alice', assertion: 'jwt' },
    );
    expect(out).toEqual({
      host: 'gw',
      cookie: 'app=1',
      accept: '*/*',
      'x-simtrust-user': 'alice',
      'x-simtrust-assertion': 'jwt',
    });
  });

  it('escapes everything it writes into HTML', () => {
    expect(escapeHtml(`<script>"'&`)).toBe('&lt;script&gt;&quot;&#39;&amp;');
  });
});

describe('prototype-named client headers (issue 11)', () => {
  // Threat: a client sends a header named `__proto__`/`constructor`; copied onto a plain object it
  // would be lost or replace the object's prototype instead of being forwarded as a header.
  it('forwards them as own headers and leaves every prototype untouched', () => {
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      const headers: Record<string, string> = Object.create(null);
      headers[name] = 'v';
      headers.accept = '*/*';
      const out = upstreamHeaders(headers, undefined);
      expect(Object.hasOwn(out, name)).toBe(true);
      expect(out[name]).toBe('v');
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).v).toBeUndefined();
    }
  });
});

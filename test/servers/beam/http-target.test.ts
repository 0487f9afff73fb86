// Threat: a device's request path is request data that becomes the path of a request the platform
// makes with the group's credentials. A crafted path must not leave the destination's origin or the
// path prefix the group configured (`..`, `%2e%2e`, `//host`, `@`, backslashes, control characters,
// encodings a destination would decode again), whatever prefix the entry point matched.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathLayers, pathWithin } from '../../../src/lib/redirect-target.js';
import { beamConfig, httpEntryFor } from '../../../src/platform/beam/beam-config.js';
import { deviceTarget, upstreamTarget } from '../../../src/servers/beam/http-entry.js';
import { hostileRedirect, plainSegment } from '../../helpers/hostile-urls.js';

const config = beamConfig({
  'http://beam.soracom.io:8888/': { destination: 'https://root.example/base' },
  'http://beam.soracom.io:8888/in': { destination: 'https://in.example:8443/api/v1/?key=abc' },
  'http://beam.soracom.io:8888/in/deep/': { destination: 'http://deep.example/' },
});

/** Where a forwarded request lands: each path reading must stay below the destination's path. */
function staysInside(raw: string): void {
  const target = deviceTarget(raw);
  if (target === undefined) return;
  const entry = httpEntryFor(config, target.path);
  if (entry === undefined) return;
  const up = upstreamTarget(entry, target.path, target.query);
  if (up === undefined) return;
  expect(up.startsWith('/'), up).toBe(true);
  expect(up.startsWith('//'), up).toBe(false);
  const landed = new URL(up, entry.destination.origin);
  expect(landed.origin).toBe(entry.destination.origin);
  // The path as sent and as any decoding of it reads: plain, and below the destination's path.
  expect(landed.pathname).toBe(up.split('?')[0]);
  const layers = pathLayers(landed.pathname);
  expect(layers.ok, up).toBe(true);
  const base = entry.destination.pathname;
  if (layers.ok)
    for (const layer of layers.value) expect(pathWithin(layer, base), `${raw} → ${up}`).toBe(true);
  // The destination's own query comes first and is kept.
  if (entry.destination.search !== '') expect(landed.search.startsWith(entry.destination.search)).toBe(true);
}

describe('device path → destination path', () => {
  it('joins the rest of the path after the destination path, and the queries', () => {
    const to = (raw: string) => {
      const t = deviceTarget(raw);
      if (!t) return undefined;
      const e = httpEntryFor(config, t.path);
      return e && `${e.destination.origin}${upstreamTarget(e, t.path, t.query)}`;
    };
    expect(to('/')).toBe('https://root.example/base/');
    expect(to('/x/y?z=1')).toBe('https://root.example/base/x/y?z=1');
    expect(to('/in')).toBe('https://in.example:8443/api/v1/?key=abc');
    expect(to('/in/a?b=2')).toBe('https://in.example:8443/api/v1/a?key=abc&b=2');
    expect(to('/inner')).toBe('https://root.example/base/inner');
    expect(to('/in/deep')).toBe('http://deep.example/');
    expect(to('/in/deep/x')).toBe('http://deep.example/x');
  });

  it('refuses targets that are not plain origin-form paths', () => {
    for (const raw of [
      '',
      '*',
      'http://evil.example/x',
      'evil.example:443',
      '//evil.example/x',
      '/a/../b',
      '/a/%2e%2e/b',
      '/a/%252e%252e/b',
      '/a\\b',
      '/a%5cb',
      '/a%00b',
      '/a%0d%0aX-Injected:%201',
      '/a#frag',
      '/%2f%2fevil.example',
      `/${'a'.repeat(9000)}`,
    ]) {
      expect(deviceTarget(raw), raw).toBeUndefined();
    }
  });

  it('never leaves the destination origin or its path (hostile paths)', () => {
    fc.assert(
      fc.property(hostileRedirect, (raw) => staysInside(raw.startsWith('/') ? raw : `/${raw}`)),
      { numRuns: 5000 },
    );
  });

  it('never leaves it for hostile pieces after a configured prefix', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('/in', '/in/', '/in/deep', '/in/deep/', '/', '/other'),
        hostileRedirect,
        fc.array(plainSegment, { maxLength: 3 }),
        (prefix, hostile, plain) => staysInside(`${prefix}${hostile}/${plain.join('/')}`),
      ),
      { numRuns: 5000 },
    );
  });
});

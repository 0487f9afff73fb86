// The card's HTTP/1.1 response reader (RAM over HTTP): Content-Length and chunked bodies, responses
// split anywhere by the BIP channel, bounded sizes. Threat: a hostile or broken server must not make
// the card throw or buffer without bound — every input gives a response, "more", or a typed error.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeRequest,
  MAX_BODY_BYTES,
  parseResponse,
  ResponseReader,
} from '../../../src/card/euicc/scp81-http-client.js';
import { toHex } from '../../../src/lib/hex.js';

const enc = (s: string) => new TextEncoder().encode(s);

const RESPONSE_200 =
  'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.globalplatform.card-content-mgt;version=1.0\r\n' +
  'X-Admin-Next-URI: /gp/ram/1/1\r\nContent-Length: 4\r\n\r\n\xaa\x02\x22\x00';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nAE\r\n3;x=y\r\n800\r\n0\r\n\r\n';

const latin1 = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));

describe('HTTP response reader', () => {
  it('reads a Content-Length body and the admin headers', () => {
    const r = parseResponse(latin1(RESPONSE_200));
    if (!r.ok || r.value === undefined) throw new Error('no response');
    expect(r.value.response.status).toBe(200);
    expect(r.value.response.headers.get('x-admin-next-uri')).toBe('/gp/ram/1/1');
    expect(toHex(r.value.response.body)).toBe('aa022200');
  });

  it('reads a chunked body', () => {
    const r = parseResponse(enc(CHUNKED));
    expect(r.ok && r.value !== undefined && new TextDecoder().decode(r.value.response.body)).toBe('AE800');
  });

  it('a 204 without length has no body', () => {
    const r = parseResponse(enc('HTTP/1.1 204 No Content\r\n\r\n'));
    expect(r.ok && r.value?.response.status).toBe(204);
  });

  it('gives the same responses however the stream is split', () => {
    const stream = latin1(RESPONSE_200 + CHUNKED + RESPONSE_200);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const reader = new ResponseReader();
        const got: number[] = [];
        let from = 0;
        for (const at of [...points, stream.length]) {
          reader.push(stream.subarray(from, at));
          from = at;
          for (;;) {
            const r = reader.next();
            if (!r.ok) throw new Error(r.error.message);
            if (r.value === undefined) break;
            got.push(r.value.body.length);
          }
        }
        expect(got).toEqual([4, 5, 4]);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses oversized bodies and headers with a typed error', () => {
    const big = parseResponse(enc(`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`));
    expect(!big.ok && big.error.code).toBe('HTTP_BODY_TOO_LARGE');
    const header = parseResponse(enc(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(5000)}`));
    expect(!header.ok && header.error.code).toBe('HTTP_HEADER_TOO_LARGE');
  });

  it('fuzz: mutated and random responses never throw', () => {
    const seeds = [latin1(RESPONSE_200), enc(CHUNKED), enc('HTTP/1.1 204 No Content\r\n\r\n')];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (seed, flips) => {
          const b = seed.slice();
          for (const [at, v] of flips) b[at % b.length] = v;
          const r = parseResponse(b);
          if (!r.ok) expect(r.error.code).toMatch(/^HTTP_[A-Z_]+$|^[A-Z_]+$/);
        },
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void parseResponse(b)),
      { numRuns: 5000 },
    );
  });

  it('writes a POST with the admin headers and Content-Length', () => {
    const text = new TextDecoder().decode(
      encodeRequest({
        uri: '/gp/ram',
        host: 'smsr',
        headers: [['X-Admin-Protocol', 'globalplatform-remote-admin/1.0']],
        body: enc('ab'),
      }),
    );
    expect(text).toBe(
      'POST /gp/ram HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\nContent-Length: 2\r\n\r\nab',
    );
  });
});

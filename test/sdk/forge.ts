// Forged and doctored tokens for the security tests: each one is what an attacker could present
// to a verifier. Built by hand (no JWT library) so the library under test cannot "help".

import { createHmac, type KeyObject } from 'node:crypto';
import { type EndorseAlgorithm, signCompact } from '../../src/platform/endorse/rfc-7515-jws.js';

export interface DecodedToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

export function decode(token: string): DecodedToken {
  const [h = '', p = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}

const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export interface ForgeContext {
  /** A genuine token of the platform under test. */
  readonly genuine: string;
  /** The platform's signing key (to make well-signed tokens with bad claims). */
  readonly platformKey: {
    readonly kid: string;
    readonly alg: EndorseAlgorithm;
    readonly privateKey: KeyObject;
  };
  /** The platform's public key in PEM, as anyone can download it. */
  readonly publicKeyPem: string;
  /** Another platform's key. */
  readonly otherKey: { readonly kid: string; readonly privateKey: KeyObject };
}

/** Every forgery of the acceptance list, by name. */
export function forgeries(c: ForgeContext): Record<string, string> {
  const { header, payload } = decode(c.genuine);
  const now = Math.floor(Date.now() / 1000);
  const signed = (p: Record<string, unknown>, h: Record<string, unknown> = header) =>
    signCompact(c.platformKey.alg, c.platformKey.privateKey, h, p);
  const [h, , signature] = c.genuine.split('.');
  const claim = Object.keys(payload).find((k) => k.endsWith('-endorse-claim')) ?? 'simtrust-endorse-claim';
  const hmacInput = `${part({ alg: 'HS256', kid: header.kid })}.${part(payload)}`;
  return {
    'alg none': `${part({ alg: 'none', kid: header.kid })}.${part(payload)}.`,
    'HS256 keyed with the public key': `${hmacInput}.${createHmac('sha256', c.publicKeyPem).update(hmacInput).digest('base64url')}`,
    expired: signed({ ...payload, iat: now - 7200, nbf: now - 7260, exp: now - 3600 }),
    'not yet valid': signed({ ...payload, iat: now + 3600, nbf: now + 3540, exp: now + 7200 }),
    'wrong aud': signed({ ...payload, aud: 'someone-else' }),
    'wrong iss': signed({ ...payload, iss: 'https://evil.example' }),
    'tampered payload': `${h}.${part({ ...payload, [claim]: { ...(payload[claim] as object), imsi: '001019999999999' } })}.${signature}`,
    'unknown kid': signed(payload, { ...header, kid: 'no-such-kid' }),
    "another platform's key": signCompact(
      'RS256',
      c.otherKey.privateKey,
      { kid: c.otherKey.kid, alg: 'RS256' },
      payload,
    ),
    "another platform's key under our kid": signCompact('RS256', c.otherKey.privateKey, header, payload),
  };
}

// Hostile redirect targets for property tests (CWE-601): paths and URLs assembled from the pieces
// open-redirect bypasses are made of — dot segments in every encoding, encoded and literal slashes
// and backslashes, `//` and `/\` authority starts, tabs and newlines that browsers drop, userinfo,
// foreign host names, schemes — mixed with harmless segments so some of them pass.

import fc from 'fast-check';

/** Host names an attacker would send the browser to. */
export const EVIL_HOSTS = ['evil.example', 'gw.example.evil.example', 'evil.example:443', '127.0.0.2'];

const PIECES = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2e.',
  '%2e',
  '%252e%252e',
  '%2f',
  '%2F',
  '%252f',
  '%5c',
  '%5C',
  '\\',
  '/',
  '//',
  '/\\',
  '\\/',
  '\t',
  '\n',
  '\r',
  ' ',
  '%09',
  '%0d%0a',
  '%00',
  '\u0000',
  '\u00a0',
  '..;',
  ';',
  '@',
  ':',
  '?',
  '#',
  '&',
  '%3f',
  '%23',
  '\u3002',
  '．．',
  '％２ｅ',
  'https:',
  'http:',
  'javascript:',
  'wiki',
  'page',
  'a',
  '.simtrust',
  'login',
  'gw.example',
  ...EVIL_HOSTS,
];

const STARTS = [
  '/',
  '//',
  '///',
  '/\\',
  '\\\\',
  '/\t/',
  ' /',
  '/%2f',
  '/%5c',
  '/..//',
  '/%2e%2e//',
  '/wiki/..//',
  '/wiki/',
  'https://',
  'http://',
  'https:',
  'https://gw.example@',
  'https://gw.example%2f@',
  'https:/\\',
  '',
];

/** A return_to / redirect_url value an attacker might try (thousands of combinations). */
export const hostileRedirect: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...STARTS),
    fc.array(
      fc.oneof(
        fc.constantFrom(...PIECES),
        fc.constantFrom(...PIECES).map((p) => `${p}/`),
      ),
      {
        maxLength: 8,
      },
    ),
  )
  .map(([start, pieces]) => `${start}${pieces.join('')}`);

/** A plain path segment nobody could read as anything else. */
export const plainSegment: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/);

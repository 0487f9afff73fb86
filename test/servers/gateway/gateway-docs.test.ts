// docs/mfa-gateway.md keeps step with the code: every SMS provider kind and every error code a
// provider can record is documented there, and the doc lists no code that does not exist.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SMS_PROVIDER_KINDS } from '../../../src/platform/mfa/sms-providers/dispatcher.js';
import { FACTORS } from '../../../src/platform/mfa/subject.js';

const doc = readFileSync('docs/mfa-gateway.md', 'utf8');

describe('docs/mfa-gateway.md', () => {
  it('documents every provider kind and each of its error codes with its provider-down flag', () => {
    for (const [kind, spec] of SMS_PROVIDER_KINDS) {
      expect(doc).toContain(`### \`${kind}\``);
      for (const [code, e] of Object.entries(spec.errorCodes)) {
        expect(doc).toContain(`| \`${code}\` | ${e.providerDown ? 'yes' : 'no'} | ${e.description} |`);
      }
    }
  });

  it('lists no provider error code that does not exist', () => {
    const known = new Set([...SMS_PROVIDER_KINDS.values()].flatMap((k) => Object.keys(k.errorCodes)));
    const listed = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (?:yes|no) \|/gm)].map((m) => m[1]);
    expect(listed.filter((c) => !known.has(c as string))).toEqual([]);
  });

  it('names every factor', () => {
    for (const f of FACTORS) expect(doc).toContain(`\`${f}\``);
  });
});

// The console's permission editor judges a document in the page (web/src/sam/policy.ts) before it is
// saved. The threat is drift from the platform's compiler (src/platform/iam/policy/policy.ts): an
// editor that calls a document fine which the API then refuses — or, worse, shows a different reading
// of it than the engine applies. On generated documents, well-formed and hostile, the page's verdict,
// message and position must be the compiler's (conditions are valid ones: the page leaves their
// grammar to the API).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/platform/iam/policy/policy.js';
import { checkPolicy, EXAMPLE_POLICY } from '../../web/src/sam/policy.js';

const verdicts = (text: string) => {
  const page = checkPolicy(text);
  const platform = compilePolicy(text);
  return {
    page: page.ok ? 'ok' : `${page.line}:${page.column} ${page.message}`,
    platform: platform.ok
      ? 'ok'
      : `${platform.error.line}:${platform.error.column} ${platform.error.message}`,
  };
};

const api = fc.oneof(
  fc.constantFrom(
    '*',
    'Sim:*',
    'Sim:list*',
    'Sim:getSim',
    'sim:getSim',
    'Sim:',
    'Sim:GetSim',
    'Sim:get**',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
const statement = fc.record(
  {
    effect: fc.oneof(fc.constantFrom('allow', 'deny', 'alow', 'Allow'), fc.integer()),
    api: fc.oneof(api, fc.array(api, { maxLength: 3 }), fc.integer(), fc.constant(null)),
    condition: fc.oneof(
      fc.constantFrom('true', "ipAddress('10.0.0.0/24')", 'currentDate >= date(2023, 02, 01)'),
      fc.integer(),
    ),
    extra: fc.string({ maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const document = fc.oneof(
  fc.record({ statements: fc.array(statement, { maxLength: 4 }) }, { requiredKeys: [] }),
  fc.record({ statements: fc.anything(), other: fc.anything() }, { requiredKeys: [] }),
  fc.jsonValue(),
);

describe('console permission editor agrees with the platform compiler', () => {
  it('on generated documents, pretty or compact', () => {
    fc.assert(
      fc.property(document, fc.constantFrom(0, 2), (doc, indent) => {
        const v = verdicts(JSON.stringify(doc, null, indent) ?? 'null');
        expect(v.page).toBe(v.platform);
      }),
      { numRuns: 5000 },
    );
  });

  it('on broken JSON (syntax errors with their line and column)', () => {
    const piece = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"statements"',
      ':',
      ',',
      '"effect"',
      '"allow"',
      ' ',
      '\n',
      '"a',
      '\\u00',
      'tru',
      '1e',
      '-',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 16 }), (pieces) => {
        const v = verdicts(pieces.join(''));
        expect(v.page).toBe(v.platform);
      }),
      { numRuns: 5000 },
    );
    const v = verdicts('{"statements":[{"effect":"allow","effect":"deny","api":"*"}]}');
    expect(v.page).toBe(v.platform);
  });

  it('accepts the example it offers', () => {
    expect(checkPolicy(EXAMPLE_POLICY)).toEqual({ ok: true, statements: 1, conditions: 0 });
    expect(compilePolicy(EXAMPLE_POLICY).ok).toBe(true);
  });
});

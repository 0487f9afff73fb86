// The event handler vocabulary (src/platform/events/vocabulary.ts) is the one declaration the platform
// and the console's form both run, so it must stay browser-safe and judge as the platform did. The
// threats: a Node-only import or global slipping in (the console build would pull Node into the page
// or break), a byte limit counted differently from the UTF-8 the platform stores and sends (lone
// surrogates, multi-byte characters), and checkHandlerConfig throwing anything but the vocabulary's
// first problem with its code.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimtrustError } from '../../../src/lib/errors.js';
import { checkHandlerConfig } from '../../../src/platform/events/rules.js';
import {
  ACTION_TYPE_NAMES,
  handlerConfigProblems,
  MAX_WEB_REQUEST_BODY,
  RULE_TYPE_NAMES,
  TARGET_KINDS,
  valueProblem,
} from '../../../src/platform/events/vocabulary.js';

const ROOT = resolve(import.meta.dirname, '../../..');

/** The modules a file loads at run time (type-only imports are erased), followed transitively. */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
    const [, typeOnly, spec] = m;
    if (typeOnly !== undefined || spec === undefined) continue;
    if (!spec.startsWith('.')) {
      seen.add(spec);
      continue;
    }
    runtimeImports(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), seen);
  }
  return seen;
}

describe('event handler vocabulary', () => {
  it('loads only pure project modules, without Node globals (the console imports it)', () => {
    const files = [...runtimeImports(resolve(ROOT, 'src/platform/events/vocabulary.ts'))];
    expect(files.filter((f) => !f.startsWith(`${ROOT}/src/`))).toEqual([]);
    expect(files.map((f) => f.slice(ROOT.length + 1)).sort()).toEqual([
      'src/platform/events/vocabulary.ts',
      'src/platform/sims/statuses.ts',
    ]);
    for (const f of files) expect(readFileSync(f, 'utf8')).not.toMatch(/\b(Buffer|process|require)\b[.(]/);
  });

  it('counts text limits in UTF-8 bytes, as Node does, for any string', () => {
    const spec = { kind: 'text', maxBytes: 64 } as const;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          fc.string({ maxLength: 80 }),
          // Lone surrogates: both sides write them as U+FFFD (3 bytes).
          fc
            .array(fc.integer({ min: 0xd800, max: 0xdfff }), { maxLength: 30 })
            .map((c) => String.fromCharCode(...c)),
        ),
        (s) => {
          const fits = Buffer.byteLength(s, 'utf8') <= spec.maxBytes;
          expect(valueProblem(spec, s)).toBe(fits ? undefined : 'must be at most 64 bytes');
        },
      ),
      { numRuns: 2000 },
    );
    const body = { kind: 'text', maxBytes: MAX_WEB_REQUEST_BODY } as const;
    expect(valueProblem(body, 'é'.repeat(MAX_WEB_REQUEST_BODY / 2))).toBeUndefined();
    expect(valueProblem(body, `${'é'.repeat(MAX_WEB_REQUEST_BODY / 2)}x`)).toBe(
      'must be at most 16384 bytes',
    );
  });

  it('checkHandlerConfig throws the first problem with its code, and accepts what has none', () => {
    const props = fc.dictionary(
      fc.constantFrom(
        'limitTotalTrafficMegaByte',
        'inactiveTimeoutDateConst',
        'inactiveTimeoutOffsetMinutes',
        'hasImei',
        'sessionStatus',
        'executionDateTimeConst',
        'speedClass',
        'to',
        'title',
        'message',
        'body',
        'httpMethod',
        'bogus',
      ),
      fc.constantFrom('', '1', '100', 'NEVER', 'IMMEDIATELY', 'BEGINNING_OF_NEXT_DAY', 'true', 'Created'),
      { maxKeys: 5 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...TARGET_KINDS),
        fc.record({ type: fc.constantFrom(...RULE_TYPE_NAMES, 'NoSuchRule'), properties: props }),
        fc.array(
          fc.record({ type: fc.constantFrom(...ACTION_TYPE_NAMES, 'NoSuchAction'), properties: props }),
          {
            maxLength: 6,
          },
        ),
        (target, rule, actions) => {
          const [first] = handlerConfigProblems(target, rule, actions);
          let thrown: unknown;
          try {
            const checked = checkHandlerConfig(target, rule, actions);
            expect(checked).toEqual({ rule, actions });
          } catch (e) {
            thrown = e;
          }
          if (first === undefined) expect(thrown).toBeUndefined();
          else {
            expect(thrown).toBeInstanceOf(SimtrustError);
            expect((thrown as SimtrustError).code).toBe(first.code);
            expect((thrown as SimtrustError).message).toBe(first.message);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// The threat: a permission document that does not say what its author thinks — a typo that turns a
// deny into nothing, a condition that silently never matches, a parser that crashes the API on a
// hostile document. Every document is compiled when saved: defects are refused with their line and
// column, and no input, however malformed, makes the parser throw.

import { describe, expect, it } from 'vitest';
import { parseCondition } from '../../../src/platform/iam/policy/condition.js';
import { compilePolicy } from '../../../src/platform/iam/policy/policy.js';
import { fuzz, seededRandom } from '../../helpers/fuzz.js';

const VALID: ReadonlyArray<readonly [string, string]> = [
  ['empty statement list', '{"statements":[]}'],
  ['one API as a string', '{"statements":[{"effect":"allow","api":"Sim:listSims"}]}'],
  ['wildcards', '{"statements":[{"effect":"allow","api":["Sim:listSims","Group:*","Sim:list*","*"]}]}'],
  ['deny with a condition', '{"statements":[{"effect":"deny","api":"Sim:terminateSim","condition":"true"}]}'],
  [
    'the SORACOM example',
    '{"statements":[{"effect":"allow","api":["Sim:listSims","Group:*"],"condition":"currentDate >= date(2023, 02, 01) and ipAddress(\'10.0.0.0/24\')"},{"effect":"deny","api":["Operator:generateSupportToken"]}]}',
  ],
  ['whitespace and newlines', '{\n  "statements": [\n    { "effect": "allow", "api": ["*"] }\n  ]\n}'],
  [
    'escaped quotes in a condition',
    '{"statements":[{"effect":"allow","api":"*","condition":"pathVariable(\\"sim_id\\") == \\"8942\\""}]}',
  ],
];

const INVALID: ReadonlyArray<readonly [string, string, RegExp, number, number]> = [
  // [name, document, message, line, column]
  ['not JSON', '{statements}', /property name/, 1, 2],
  ['trailing comma', '{"statements":[{"effect":"allow","api":"*"},]}', /expected a value/, 1, 45],
  ['unterminated', '{"statements":[', /expected a value/, 1, 16],
  ['not an object', '[]', /JSON object/, 1, 1],
  ['missing statements', '{}', /missing "statements"/, 1, 1],
  ['unknown top-level key', '{"statements":[],"Version":1}', /unknown property "Version"/, 1, 18],
  ['statements not an array', '{"statements":{}}', /must be an array/, 1, 15],
  [
    'misspelt effect',
    '{"statements":[{"effect":"alow","api":"*"}]}',
    /effect must be "allow" or "deny"/,
    1,
    26,
  ],
  ['missing api', '{"statements":[{"effect":"allow"}]}', /needs "api"/, 1, 16],
  ['missing effect', '{"statements":[{"api":"*"}]}', /needs "effect"/, 1, 16],
  ['empty api list', '{"statements":[{"effect":"allow","api":[]}]}', /at least one API/, 1, 40],
  ['api without a tag', '{"statements":[{"effect":"allow","api":["listSims"]}]}', /Tag:operationId/, 1, 41],
  [
    'api with an inner wildcard',
    '{"statements":[{"effect":"allow","api":"Sim:*Sims"}]}',
    /Tag:operationId/,
    1,
    40,
  ],
  [
    'unknown statement key',
    '{"statements":[{"effect":"allow","api":"*","Principal":"x"}]}',
    /unknown property "Principal"/,
    1,
    44,
  ],
  [
    'duplicate key',
    '{"statements":[{"effect":"deny","effect":"allow","api":"*"}]}',
    /duplicate property "effect"/,
    1,
    33,
  ],
  [
    'unbalanced parenthesis in a condition',
    '{"statements":[{"effect":"allow","api":"*","condition":"(true and false"}]}',
    /expected '\)'/,
    1,
    72,
  ],
  [
    'unknown function',
    '{"statements":[{"effect":"allow","api":"*","condition":"sourceIp(\'10.0.0.1\')"}]}',
    /unknown function 'sourceIp'/,
    1,
    57,
  ],
  [
    'bad CIDR',
    '{"statements":[{"effect":"allow","api":"*","condition":"ipAddress(\'10.0.0.0/33\')"}]}',
    /not an IP address or CIDR/,
    1,
    67,
  ],
  [
    'impossible date',
    '{"statements":[{"effect":"allow","api":"*","condition":"currentDate >= date(2026, 2, 30)"}]}',
    /not a valid date/,
    1,
    72,
  ],
  [
    'type mismatch',
    '{"statements":[{"effect":"allow","api":"*","condition":"currentDate == \'2026-01-01\'"}]}',
    /compares a time with a string/,
    1,
    69,
  ],
  [
    'ordering strings',
    '{"statements":[{"effect":"allow","api":"*","condition":"samUserName < \'m\'"}]}',
    /orders dates and numbers only/,
    1,
    69,
  ],
  [
    'single equals',
    '{"statements":[{"effect":"allow","api":"*","condition":"pathVariable(\'sim_id\') = \'1\'"}]}',
    /compare with '=='/,
    1,
    80,
  ],
  [
    'condition on the second line',
    '{"statements":[\n{"effect":"allow","api":"*","condition":"httpMethod(\'FETCH\')"}]}',
    /not an HTTP method/,
    2,
    53,
  ],
  [
    'non-boolean condition',
    '{"statements":[{"effect":"allow","api":"*","condition":"samUserName"}]}',
    /needs a true\/false value/,
    1,
    57,
  ],
  ['empty condition', '{"statements":[{"effect":"allow","api":"*","condition":""}]}', /empty/, 1, 57],
];

describe('policy parser: valid documents', () => {
  for (const [name, text] of VALID) {
    it(name, () => {
      const r = compilePolicy(text);
      expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    });
  }
});

describe('policy parser: invalid documents are refused with their position', () => {
  for (const [name, text, message, line, column] of INVALID) {
    it(name, () => {
      const r = compilePolicy(text);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.message).toMatch(message);
      expect({ line: r.error.line, column: r.error.column }).toEqual({ line, column });
    });
  }
});

describe('condition language', () => {
  const ctx = {
    now: Date.UTC(2026, 5, 15, 12, 0, 0),
    sourceIp: '10.1.2.3',
    method: 'GET',
    pathVariables: { sim_id: '8942', user_name: 'alice' },
    userName: 'alice',
  };
  const cases: ReadonlyArray<readonly [string, boolean]> = [
    ['true', true],
    ['not true', false],
    ['true and false or true', true],
    ['true and (false or false)', false],
    ['not (true and false)', true],
    ['not not true', true],
    ["ipAddress('10.0.0.0/8')", true],
    ["ipAddress('192.168.0.0/16', '10.1.2.3')", true],
    ["ipAddress('192.168.0.0/16')", false],
    ["ipAddress('::1')", false],
    ["httpMethod('get', 'POST')", true],
    ["httpMethod('DELETE')", false],
    ["pathVariable('sim_id') == '8942'", true],
    ["pathVariable('sim_id') != '8942'", false],
    ["pathVariable('group_id') == ''", false],
    ["pathVariable('group_id') != 'x'", true],
    ["pathVariable('user_name') == samUserName", true],
    ['currentDate >= date(2026, 1, 1)', true],
    ['currentDate == date(2026, 6, 15)', true],
    ['currentDate < date(2026, 06, 15)', false],
    ['currentDateTime > dateTime(2026, 6, 15, 11, 59, 59)', true],
    ['currentDateTime < dateTime(2026, 6, 15, 12, 0, 0)', false],
    ['1 < 2', true],
  ];
  for (const [source, expected] of cases) {
    it(`${source} → ${expected}`, () => {
      const c = parseCondition(source);
      expect(c.ok, c.ok ? '' : c.error.message).toBe(true);
      if (c.ok) expect(c.value.evaluate(ctx)).toBe(expected);
    });
  }

  it('issue 11: names are looked up as own names — constructor, toString, __proto__ are unknown', () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'prototype']) {
      const c = parseCondition(`${name} == ${name}`);
      expect(c.ok, name).toBe(false);
      if (!c.ok)
        expect(c.error.message).toBe(
          `unknown name '${name}' (known: currentDate, currentDateTime, samUserName)`,
        );
    }
  });

  it('matches IPv4 clients seen through a dual-stack listener', () => {
    const c = parseCondition("ipAddress('127.0.0.0/8')");
    expect(c.ok && c.value.evaluate({ ...ctx, sourceIp: '::ffff:127.0.0.1' })).toBe(true);
  });
});

describe('policy parser fuzz', () => {
  const seeds = [...VALID.map(([, t]) => t), ...INVALID.map(([, t]) => t)].map((t) =>
    new TextEncoder().encode(t),
  );

  it('10,000 mutated and random documents never throw past the parser', () => {
    const decoder = new TextDecoder();
    let refused = 0;
    const { runs } = fuzz(seeds, 10_000, (bytes) => {
      const r = compilePolicy(decoder.decode(bytes));
      if (!r.ok) {
        refused++;
        expect(r.error.line).toBeGreaterThanOrEqual(1);
        expect(r.error.column).toBeGreaterThanOrEqual(1);
      }
    });
    expect(runs).toBe(10_000);
    expect(refused).toBeGreaterThan(5000);
  });

  it('10,000 random condition strings from the language alphabet never throw', () => {
    const random = seededRandom(0xc0de);
    const atoms = [
      'and',
      'or',
      'not',
      '(',
      ')',
      ',',
      '==',
      '!=',
      '<',
      '<=',
      '>',
      '>=',
      'true',
      'false',
      "'10.0.0.0/8'",
      "'x'",
      '"y"',
      '2026',
      '01',
      'ipAddress',
      'httpMethod',
      'pathVariable',
      'date',
      'dateTime',
      'currentDate',
      'currentDateTime',
      'samUserName',
      "'",
      '\\',
      '=',
      '!',
      ' ',
    ];
    let ok = 0;
    for (let i = 0; i < 10_000; i++) {
      const n = Math.floor(random() * 12);
      let s = '';
      for (let j = 0; j < n; j++) s += `${atoms[Math.floor(random() * atoms.length)]} `;
      const r = parseCondition(s);
      if (r.ok) {
        ok++;
        expect(typeof r.value.evaluate({ now: 0, pathVariables: {} })).toBe('boolean');
      } else expect(r.error.offset).toBeGreaterThanOrEqual(0);
    }
    expect(ok).toBeGreaterThan(0);
  });

  it('refuses pathological nesting without a stack overflow', () => {
    const deep = `${'('.repeat(5000)}true${')'.repeat(5000)}`;
    const r = parseCondition(deep);
    expect(r.ok).toBe(false);
    const json = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    expect(compilePolicy(json).ok).toBe(false);
  });
});

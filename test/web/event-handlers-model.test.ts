// The console's event handler form (web/src/event-handlers/model.ts) checks every value in the page
// with the API's own vocabulary and checks (src/platform/events/vocabulary.ts, which the platform's
// rules.ts also runs) and builds the body it sends. The threat is a form that sends what the API
// would take wrongly (a second target, a property of another type, a rule on a target it cannot
// watch, a name or value outside the route's schema), or that places the API's answer on the wrong
// field. The page and the platform (rules.ts checkHandlerConfig, the route's TypeBox body schema) run
// on the same generated values, hostile ones included.

import fc from 'fast-check';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import {
  checkHandlerConfig,
  ACTION_TYPES as PLATFORM_ACTIONS,
  RULE_TYPES as PLATFORM_RULES,
  type TargetKind,
} from '../../src/platform/events/rules.js';
import { EventHandlerBody } from '../../src/servers/http/schemas/event-handlers.js';
import {
  ACTION_TYPE_NAMES,
  type ActionForm,
  type ActionType,
  actionSpec,
  actionTypesFor,
  configProblems,
  fieldOfMessage,
  fromHandler,
  type HandlerForm,
  type HandlerModel,
  MASK,
  RULE_TYPE_NAMES,
  type RuleType,
  ruleSpec,
  ruleTypesFor,
  TARGET_FIELD,
  TARGET_KINDS,
  toBody,
  type ValueSpec,
} from '../../web/src/event-handlers/model.js';

const OPERATOR = 'OP0012345678';
const RUNS = { numRuns: 400 };

/** The platform's verdict on a rule and actions: undefined when accepted, else its message. */
function platformVerdict(
  target: TargetKind,
  rule: { type: string; properties: Record<string, string> },
  actions: Array<{ type: string; properties: Record<string, string> }>,
): string | undefined {
  try {
    checkHandlerConfig(target, rule, actions);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const SPECS: ValueSpec[] = [
  ...Object.values(PLATFORM_RULES).flatMap((r) => Object.values(r.properties).map((p) => p.value)),
  ...Object.values(PLATFORM_ACTIONS).flatMap((a) => Object.values(a.properties).map((p) => p.value)),
];

/** Values a hostile or careless operator types: near-valid numbers, enum values, JSON, URLs, control characters. */
const hostileValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: -5, max: 2_147_483_650 }).map(String),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '01',
    '1e3',
    '0x10',
    '1.5',
    '-1',
    '525601',
    '2147483648',
    'true',
    'false',
    'TRUE',
  ),
  fc.constantFrom(...new Set(SPECS.flatMap((s) => (s.kind === 'enum' ? s.values : [])))),
  fc.constantFrom('a@b.co', 'a b@c.de', 'x@localhost', 'u@exa_mple.com', `${'a'.repeat(65)}@b.co`),
  fc.constantFrom(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a template variable the platform fills in
    'https://example.com/hook?imsi=${imsi}',
    'http://user:pw@example.com/',
    'ftp://example.com/',
    'javascript:alert(1)',
    '//example.com',
    `https://example.com/${'a'.repeat(2050)}`,
  ),
  fc.constantFrom(
    '{}',
    '{"X-Key":"v"}',
    '{"Bad Name":"v"}',
    '{"X":"a\\r\\nb"}',
    '[]',
    'null',
    '{"X":1}',
    '{',
  ),
  fc.string({ minLength: 16, maxLength: 300 }),
  fc.constantFrom('x'.repeat(16_385), 'é'.repeat(8_193)),
);

describe('event handler form model', () => {
  const propertiesOf = (names: readonly string[]) =>
    fc.dictionary(fc.constantFrom(...names, 'bogus', '__proto__', 'constructor'), hostileValue, {
      maxKeys: 6,
    });
  const allRuleProps = [...new Set(Object.values(PLATFORM_RULES).flatMap((r) => Object.keys(r.properties)))];
  const allActionProps = [
    ...new Set(Object.values(PLATFORM_ACTIONS).flatMap((a) => Object.keys(a.properties))),
  ];
  const anyConfig = fc.record({
    target: fc.constantFrom(...TARGET_KINDS),
    rule: fc.record({
      type: fc.oneof(fc.constantFrom(...RULE_TYPE_NAMES), fc.constantFrom('NoSuchRule', 'toString')),
      properties: propertiesOf(allRuleProps),
    }),
    actions: fc.array(
      fc.record({
        type: fc.oneof(fc.constantFrom(...ACTION_TYPE_NAMES), fc.constant('hasOwnProperty')),
        properties: propertiesOf(allActionProps),
      }),
      { maxLength: 6 },
    ),
  });

  it('finds first the problem the API answers with, and places the API message on that field', () => {
    fc.assert(
      fc.property(anyConfig, ({ target, rule, actions }) => {
        const page = configProblems(target, rule, actions);
        const api = platformVerdict(target, rule, actions);
        expect(page[0]?.message).toBe(api);
        if (api !== undefined) expect(fieldOfMessage(api)).toBe(page[0]?.field);
      }),
      RUNS,
    );
  });

  /** A form as an operator could leave it: any name, any target text, values valid or not. */
  const anyForm: fc.Arbitrary<HandlerForm> = fc
    .record({
      name: fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('', '   ', 'a'.repeat(257), 'daily > 100 MiB'),
      ),
      description: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('d'.repeat(1025))),
      status: fc.constantFrom('active', 'inactive') as fc.Arbitrary<'active' | 'inactive'>,
      targetKind: fc.constantFrom(...TARGET_KINDS),
      targetId: fc.oneof(
        fc.string({ maxLength: 70 }),
        fc.constantFrom('440100000000001', '4401', '44010000000000123', 'g-1', `${'x'.repeat(65)}`),
      ),
      ruleType: fc.constantFrom(...RULE_TYPE_NAMES),
      ruleProperties: propertiesOf(allRuleProps),
      actions: fc.array(
        fc.record({
          type: fc.constantFrom(...ACTION_TYPE_NAMES),
          properties: propertiesOf(allActionProps),
          storedSecretAt: fc.option(fc.nat(5), { nil: undefined }),
        }),
        { maxLength: 6 },
      ),
    })
    .map((f) => ({
      ...f,
      actions: f.actions.map(
        (a): ActionForm => (a.storedSecretAt === undefined ? { type: a.type, properties: a.properties } : a),
      ),
    }));

  it('never builds a body the API would take wrongly; what it builds, the API takes as meant', () => {
    fc.assert(
      fc.property(anyForm, (form) => {
        const result = toBody(form, OPERATOR);
        if (!result.ok) {
          expect(result.problems.length).toBeGreaterThan(0);
          return;
        }
        const body = result.body;
        expect(Value.Check(EventHandlerBody, body)).toBe(true);
        const targets = Object.values(TARGET_FIELD).filter((f) => body[f] !== undefined);
        expect(targets).toEqual([TARGET_FIELD[form.targetKind]]);
        if (form.targetKind === 'operator') expect(body.targetOperatorId).toBe(OPERATOR);
        expect(body.name.trim()).not.toBe('');
        // The stored secret's mask is only sent where the API keeps the stored secret.
        body.actionConfigList.forEach((a, i) => {
          if (a.properties.signingSecret === MASK) expect(form.actions[i]?.storedSecretAt).toBe(i);
        });
        const checked = body.actionConfigList.map((a) =>
          a.properties.signingSecret === MASK
            ? { ...a, properties: { ...a.properties, signingSecret: 's'.repeat(16) } }
            : a,
        );
        expect(platformVerdict(form.targetKind, body.ruleConfig, checked)).toBeUndefined();
        // Nothing typed for another type slips in.
        for (const k of Object.keys(body.ruleConfig.properties))
          expect(Object.hasOwn(ruleSpec(body.ruleConfig.type).properties, k)).toBe(true);
      }),
      RUNS,
    );
  });

  /** A valid value for a property (the round trip starts from what the API stores). */
  function validValue(spec: ValueSpec): fc.Arbitrary<string> {
    switch (spec.kind) {
      case 'enum':
        return fc.constantFrom(...spec.values);
      case 'integer':
        return fc.integer({ min: spec.min, max: Math.min(spec.max, 10_000_000) }).map(String);
      case 'boolean':
        return fc.constantFrom('true', 'false');
      case 'text':
        return fc.string({ minLength: Math.max(spec.minLength ?? 0, 1), maxLength: 40 });
      case 'email':
        return fc.constantFrom('ops@example.com', 'a.b+c@mail.example.jp');
      case 'url':
        return fc.webPath().map((p) => `https://hooks.example.com${p.startsWith('/') ? p : `/${p}`}`);
      case 'headers':
        return fc.constantFrom('{}', '{"X-Api-Key":"k-1"}');
    }
  }
  const validProps = (specs: Readonly<Record<string, { value: ValueSpec; required: boolean }>>) =>
    fc.record(Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, validValue(s.value)])), {
      requiredKeys: Object.entries(specs).flatMap(([k, s]) => (s.required ? [k] : [])),
    }) as fc.Arbitrary<Record<string, string>>;

  const storedHandler: fc.Arbitrary<HandlerModel> = fc
    .constantFrom(...TARGET_KINDS)
    .chain((kind) =>
      fc.constantFrom(...ruleTypesFor(kind)).chain((ruleType: RuleType) =>
        fc.record({
          handlerId: fc.uuid(),
          name: fc.string({ minLength: 1, maxLength: 60 }).filter((n) => n.trim() !== ''),
          description: fc.string({ maxLength: 60 }),
          status: fc.constantFrom('active', 'inactive'),
          target: fc.constant(kind),
          targetId:
            kind === 'imsi' ? fc.stringMatching(/^[0-9]{15}$/) : fc.stringMatching(/^[a-z0-9-]{1,64}$/),
          ruleConfig: fc.record({
            type: fc.constant(ruleType),
            properties: validProps(ruleSpec(ruleType).properties),
          }),
          actionConfigList: fc.array(
            fc
              .constantFrom(...actionTypesFor(ruleType))
              .chain((t: ActionType) =>
                fc.record({ type: fc.constant(t), properties: validProps(actionSpec(t).properties) }),
              ),
            { minLength: 1, maxLength: 5 },
          ),
        }),
      ),
    )
    .map(({ target, targetId, ...h }): HandlerModel & { target: TargetKind } => ({
      ...h,
      target,
      [TARGET_FIELD[target]]: target === 'operator' ? OPERATOR : targetId,
      // The API's answer masks the signing secret.
      actionConfigList: h.actionConfigList.map((a) =>
        a.properties.signingSecret === undefined
          ? a
          : { ...a, properties: { ...a.properties, signingSecret: MASK } },
      ),
    }))
    .filter((h) => {
      const unmasked = h.actionConfigList.map((a) =>
        a.properties.signingSecret === MASK
          ? { ...a, properties: { ...a.properties, signingSecret: 's'.repeat(16) } }
          : a,
      );
      return platformVerdict(h.target, h.ruleConfig, unmasked) === undefined;
    })
    .map(({ target: _, ...h }) => h);

  it('round-trips a stored handler through the form: saving it unchanged sends what is stored', () => {
    fc.assert(
      fc.property(storedHandler, (h) => {
        const form = fromHandler(h);
        expect(form).toBeDefined();
        const result = toBody(form!, OPERATOR);
        expect(result.ok ? undefined : result.problems).toBeUndefined();
        if (!result.ok) return;
        const { handlerId: _, description, ...stored } = h;
        expect(result.body).toEqual({ ...stored, ...(description === '' ? {} : { description }) });
      }),
      { numRuns: 150 },
    );
  });

  it('offers only rule and action types the API runs on that target', () => {
    for (const kind of TARGET_KINDS) {
      for (const rule of ruleTypesFor(kind)) {
        const props = Object.fromEntries(
          Object.entries(ruleSpec(rule).properties).flatMap(([k, s]) =>
            s.required ? [[k, s.value.kind === 'enum' ? s.value.values.at(-1)! : '1']] : [],
          ),
        );
        for (const action of actionTypesFor(rule)) {
          const aProps = Object.fromEntries(
            Object.entries(actionSpec(action).properties).flatMap(([k, s]) =>
              s.required
                ? [
                    [
                      k,
                      s.value.kind === 'enum'
                        ? s.value.values[0]!
                        : s.value.kind === 'email'
                          ? 'a@b.co'
                          : s.value.kind === 'url'
                            ? 'https://e.example/'
                            : s.value.kind === 'headers'
                              ? '{}'
                              : 'x',
                    ],
                  ]
                : [],
            ),
          );
          const withImei = rule === 'SubscriberSessionStatusRule' ? { ...props, hasImei: 'true' } : props;
          expect(
            platformVerdict(kind, { type: rule, properties: withImei }, [
              { type: action, properties: aProps },
            ]),
          ).toBeUndefined();
        }
      }
    }
  });

  it('names the field of API messages that are not about the rule tables', () => {
    expect(fieldOfMessage('no group g-404')).toBe('target');
    expect(
      fieldOfMessage(
        'give exactly one target: targetImsi, targetSimId, targetGroupId or targetOperatorId (got none)',
      ),
    ).toBe('target');
    expect(fieldOfMessage('body/name must NOT have fewer than 1 characters')).toBe('name');
    expect(
      fieldOfMessage(
        'actionConfigList[2].properties.url: 10.0.0.1 is private; web requests may not reach it',
      ),
    ).toBe('actions.2.url');
    expect(
      fieldOfMessage('the group g-1 already has 10 event handlers; delete one or change an existing one'),
    ).toBeUndefined();
  });
});

// The event handler form as a pure model: the form's state, the body it sends, the checks the API
// makes (the same tables — vocabulary.ts, generated from src/platform/events/rules.ts — and the same
// order and wording as checkHandlerConfig, so the first problem here is the API's; fast-check keeps
// the two equal in test/web/event-handlers-model.test.ts), a handler read back into the form, and an
// API error message placed on the field it names.

import {
  ACTION_TYPES,
  type HANDLER_STATUSES,
  MAX_ACTIONS,
  RULE_TYPES,
  type TARGET_KINDS,
} from './vocabulary.js';

export type RuleType = keyof typeof RULE_TYPES;
export type ActionType = keyof typeof ACTION_TYPES;
export type TargetKind = (typeof TARGET_KINDS)[number];
export type HandlerStatus = (typeof HANDLER_STATUSES)[number];

export type ValueSpec =
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'text'; readonly maxBytes: number; readonly minLength?: number }
  | { readonly kind: 'email' }
  | { readonly kind: 'url' }
  | { readonly kind: 'headers'; readonly maxBytes: number };
export interface PropertySpec {
  readonly value: ValueSpec;
  readonly required: boolean;
  readonly description: string;
}
interface TypeSpec {
  readonly summary: string;
  readonly properties: Readonly<Record<string, PropertySpec>>;
  readonly unsupported?: string;
}
export interface RuleSpec extends TypeSpec {
  readonly family: string;
  readonly targets: readonly TargetKind[];
}
export interface ActionSpec extends TypeSpec {
  readonly needsSim: boolean;
}

export const RULE_TYPE_NAMES = Object.keys(RULE_TYPES) as RuleType[];
export const ACTION_TYPE_NAMES = Object.keys(ACTION_TYPES) as ActionType[];
export const ruleSpec = (type: RuleType): RuleSpec => RULE_TYPES[type];
export const actionSpec = (type: ActionType): ActionSpec => ACTION_TYPES[type];
export const isRuleType = (t: string): t is RuleType => Object.hasOwn(RULE_TYPES, t);
export const isActionType = (t: string): t is ActionType => Object.hasOwn(ACTION_TYPES, t);

/** The masked secret an answer shows and a PUT may send back to keep it (event-handlers.ts MASK). */
export const MASK = '********';
export const WEB_REQUEST = 'ExecuteWebRequestAction';

/** The rule types the form offers for a target: the ones simtrust runs and the target allows. */
export const ruleTypesFor = (target: TargetKind): RuleType[] =>
  RULE_TYPE_NAMES.filter(
    (t) => ruleSpec(t).unsupported === undefined && ruleSpec(t).targets.includes(target),
  );
/** The action types the form offers with a rule (SIM actions not with a group's or operator's total). */
export const actionTypesFor = (rule: RuleType): ActionType[] =>
  ACTION_TYPE_NAMES.filter(
    (t) =>
      actionSpec(t).unsupported === undefined &&
      !(actionSpec(t).needsSim && ruleSpec(rule).family === 'total-traffic') &&
      (t !== 'ImeiLockAction' || rule === 'SubscriberSessionStatusRule'),
  );

const utf8Length = (s: string) => new TextEncoder().encode(s).length;
// As in rules.ts: RFC 9110 §5.6.2 token names, values without control characters, a plain address.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const HEADER_VALUE = /^[^\p{Cc}]*$/u;
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/u;

/** Why `value` does not fit `spec` (the API's words), or undefined when it fits. */
export function valueProblem(spec: ValueSpec, value: string): string | undefined {
  switch (spec.kind) {
    case 'enum':
      return spec.values.includes(value) ? undefined : `must be one of ${spec.values.join(', ')}`;
    case 'integer': {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(value)) return 'must be a decimal integer as a string, e.g. "1024"';
      const n = Number(value);
      return n >= spec.min && n <= spec.max ? undefined : `must be between ${spec.min} and ${spec.max}`;
    }
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'must be "true" or "false"';
    case 'text':
      if (value.length < (spec.minLength ?? 0)) {
        return spec.minLength === 1 ? 'must not be empty' : `must be at least ${spec.minLength} characters`;
      }
      return utf8Length(value) <= spec.maxBytes ? undefined : `must be at most ${spec.maxBytes} bytes`;
    case 'email':
      return value.length <= 254 && EMAIL.test(value) ? undefined : 'must be one email address';
    case 'url': {
      if (value.length > 2048) return 'must be at most 2048 characters';
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return 'must be an absolute http or https URL';
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
      if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
      return undefined;
    }
    case 'headers': {
      if (utf8Length(value) > spec.maxBytes) return `must be at most ${spec.maxBytes} bytes`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return 'must be a JSON object as a string, e.g. "{\\"X-Key\\":\\"v\\"}"';
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return 'must be a JSON object of header name → value';
      }
      for (const [name, v] of Object.entries(parsed)) {
        if (!HEADER_NAME.test(name)) return `has an invalid header name ${JSON.stringify(name)}`;
        if (typeof v !== 'string' || !HEADER_VALUE.test(v)) {
          return `header ${name} must have a string value without control characters`;
        }
      }
      return undefined;
    }
  }
}

/** A field of the form: `name`, `target`, `rule.<property>`, `actions.<i>.<property>`, … */
export type Field = string;
export interface Problem {
  readonly field: Field;
  readonly message: string;
}

export interface RuleConfig {
  readonly type: string;
  readonly properties: Readonly<Record<string, string>>;
}

function propertyProblems(
  where: string,
  field: string,
  type: string,
  specs: Readonly<Record<string, PropertySpec>>,
  properties: Readonly<Record<string, string>>,
): Problem[] {
  const out: Problem[] = [];
  for (const name of Object.keys(properties)) {
    if (!Object.hasOwn(specs, name)) {
      const allowed = Object.keys(specs);
      out.push({
        field: `${field}.${name}`,
        message: `${where}.properties.${name} is not a property of ${type} (allowed: ${allowed.join(', ') || 'none'})`,
      });
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (value === undefined) {
      if (spec.required)
        out.push({
          field: `${field}.${name}`,
          message: `${where}.properties.${name} is required for ${type}`,
        });
      continue;
    }
    const problem = valueProblem(spec.value, value);
    if (problem !== undefined)
      out.push({ field: `${field}.${name}`, message: `${where}.properties.${name} ${problem}` });
  }
  return out;
}

/**
 * Every problem of a rule and its actions, in the order checkHandlerConfig (rules.ts) meets them:
 * the first is the one the API answers with. Fields are the form's (`rule.x`, `actions.0.y`).
 */
export function configProblems(
  target: TargetKind,
  rule: RuleConfig,
  actions: readonly RuleConfig[],
): Problem[] {
  if (!isRuleType(rule.type)) {
    return [{ field: 'rule.type', message: `ruleConfig.type must be one of ${RULE_TYPE_NAMES.join(', ')}` }];
  }
  const type = rule.type;
  const spec = ruleSpec(type);
  const out = propertyProblems('ruleConfig', 'rule', type, spec.properties, rule.properties);
  if (
    rule.properties.inactiveTimeoutDateConst === 'NEVER' &&
    rule.properties.inactiveTimeoutOffsetMinutes !== undefined
  ) {
    out.push({
      field: 'rule.inactiveTimeoutOffsetMinutes',
      message: 'ruleConfig.properties.inactiveTimeoutOffsetMinutes cannot be combined with NEVER',
    });
  }
  if (!spec.targets.includes(target)) {
    out.push({
      field: 'rule.type',
      message: `${type} watches ${spec.targets.join(' or ')} targets, not a ${target} target`,
    });
  }
  if (spec.unsupported !== undefined)
    out.push({ field: 'rule.type', message: `${type}: ${spec.unsupported}` });
  if (actions.length < 1 || actions.length > MAX_ACTIONS) {
    out.push({ field: 'actions', message: `actionConfigList must have 1 to ${MAX_ACTIONS} actions` });
    return out;
  }
  actions.forEach((action, i) => {
    const where = `actionConfigList[${i}]`;
    const field = `actions.${i}`;
    if (!isActionType(action.type)) {
      out.push({
        field: `${field}.type`,
        message: `${where}.type must be one of ${ACTION_TYPE_NAMES.join(', ')}`,
      });
      return;
    }
    const aType = action.type;
    const aSpec = actionSpec(aType);
    out.push(...propertyProblems(where, field, aType, aSpec.properties, action.properties));
    if (aSpec.needsSim && spec.family === 'total-traffic') {
      out.push({
        field: `${field}.type`,
        message: `${where}: ${aType} acts on one SIM, but ${type} watches the total of a ${target}; use SendMailAction, SendMailToOperatorAction or ExecuteWebRequestAction`,
      });
    }
    if (
      aType === 'ImeiLockAction' &&
      !(type === 'SubscriberSessionStatusRule' && rule.properties.hasImei === 'true')
    ) {
      out.push({
        field: `${field}.type`,
        message: `${where}: ImeiLockAction is allowed only with SubscriberSessionStatusRule and hasImei "true"`,
      });
    }
    if (
      aType === WEB_REQUEST &&
      action.properties.body !== undefined &&
      action.properties.httpMethod !== 'POST' &&
      action.properties.httpMethod !== 'PUT'
    ) {
      out.push({
        field: `${field}.body`,
        message: `${where}.properties.body is allowed only with httpMethod POST or PUT`,
      });
    }
    if (aSpec.unsupported !== undefined) {
      out.push({ field: `${field}.type`, message: `${where}: ${aType}: ${aSpec.unsupported}` });
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The form

export interface ActionForm {
  readonly type: ActionType;
  /** Every property of the type as typed; empty means "not given". */
  readonly properties: Readonly<Record<string, string>>;
  /**
   * The index this action had in the stored handler when its signing secret is stored (shown as
   * MASK): an empty secret field then keeps the stored one, as long as the action stays there.
   */
  readonly storedSecretAt?: number;
}

export interface HandlerForm {
  readonly name: string;
  readonly description: string;
  readonly status: HandlerStatus;
  readonly targetKind: TargetKind;
  /** IMSI, SIM id or group id (the operator target is the signed-in operator). */
  readonly targetId: string;
  readonly ruleType: RuleType;
  readonly ruleProperties: Readonly<Record<string, string>>;
  readonly actions: readonly ActionForm[];
}

/** The body of POST / PUT /v1/event_handlers (SORACOM's CreateEventHandlerRequest). */
export interface HandlerBody {
  name: string;
  description?: string;
  status: HandlerStatus;
  targetImsi?: string;
  targetSimId?: string;
  targetGroupId?: string;
  targetOperatorId?: string;
  ruleConfig: { type: RuleType; properties: Record<string, string> };
  actionConfigList: Array<{ type: ActionType; properties: Record<string, string> }>;
}

/** An answer of the API (EventHandlerModel), as the form reads it. */
export interface HandlerModel {
  readonly handlerId: string;
  readonly name: string;
  readonly description: string;
  readonly status: string;
  readonly targetImsi?: string;
  readonly targetSimId?: string;
  readonly targetGroupId?: string;
  readonly targetOperatorId?: string;
  readonly ruleConfig: { readonly type: string; readonly properties: Readonly<Record<string, string>> };
  readonly actionConfigList: ReadonlyArray<{
    readonly type: string;
    readonly properties: Readonly<Record<string, string>>;
  }>;
}

export const TARGET_FIELD = {
  imsi: 'targetImsi',
  sim: 'targetSimId',
  group: 'targetGroupId',
  operator: 'targetOperatorId',
} as const satisfies Record<TargetKind, keyof HandlerBody>;

export function newAction(type: ActionType = 'ChangeSpeedClassAction'): ActionForm {
  return { type, properties: { executionDateTimeConst: 'IMMEDIATELY' } };
}

export function emptyForm(targetKind: TargetKind = 'group'): HandlerForm {
  return {
    name: '',
    description: '',
    status: 'active',
    targetKind,
    targetId: '',
    ruleType: 'SubscriberDailyTrafficRule',
    ruleProperties: { inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
    actions: [newAction()],
  };
}

/** The properties a type takes, keeping the values the form had for the ones it shares. */
export const keepProperties = (
  specs: Readonly<Record<string, PropertySpec>>,
  values: Readonly<Record<string, string>>,
): Record<string, string> =>
  Object.fromEntries(Object.keys(specs).flatMap((k) => (values[k] ? [[k, values[k]]] : [])));

/** The values given: properties of the type only, empty ones left out (the API takes absence). */
function given(specs: Readonly<Record<string, PropertySpec>>, values: Readonly<Record<string, string>>) {
  const out: Record<string, string> = {};
  for (const k of Object.keys(specs)) {
    const v = Object.hasOwn(values, k) ? values[k] : undefined;
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

const IMSI = /^[0-9]{6,15}$/;

/** The body the form sends, or the problems that keep it from being sent (each on its field). */
export function toBody(
  form: HandlerForm,
  operatorId: string,
): { ok: true; body: HandlerBody } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  if (form.name.trim() === '' || form.name.length > 256)
    problems.push({ field: 'name', message: 'name must be 1 to 256 characters' });
  if (form.description.length > 1024)
    problems.push({ field: 'description', message: 'description must be at most 1024 characters' });
  const targetId = form.targetKind === 'operator' ? operatorId : form.targetId.trim();
  if (form.targetKind === 'imsi' ? !IMSI.test(targetId) : targetId === '' || targetId.length > 64)
    problems.push({
      field: 'target',
      message:
        form.targetKind === 'imsi' ? 'the IMSI must be 6 to 15 digits' : `choose the ${form.targetKind}`,
    });
  const rule = {
    type: form.ruleType,
    properties: given(ruleSpec(form.ruleType).properties, form.ruleProperties),
  };
  const actions = form.actions.map((a, i) => {
    const properties = given(actionSpec(a.type).properties, a.properties);
    if (a.type === WEB_REQUEST && properties.signingSecret === undefined && a.storedSecretAt === i)
      properties.signingSecret = MASK;
    return { type: a.type, properties };
  });
  // The stored secret stands in for a secret the form does not know: the API checks what it keeps.
  const checked = actions.map((a) =>
    a.properties.signingSecret === MASK
      ? { ...a, properties: { ...a.properties, signingSecret: 'x'.repeat(16) } }
      : a,
  );
  problems.push(...configProblems(form.targetKind, rule, checked));
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    body: {
      name: form.name,
      ...(form.description === '' ? {} : { description: form.description }),
      status: form.status,
      [TARGET_FIELD[form.targetKind]]: targetId,
      ruleConfig: rule,
      actionConfigList: actions,
    },
  };
}

/** A stored handler in the form (for editing); undefined for a type this console does not know. */
export function fromHandler(h: HandlerModel): HandlerForm | undefined {
  const kind = (Object.keys(TARGET_FIELD) as TargetKind[]).find((k) => h[TARGET_FIELD[k]] !== undefined);
  if (kind === undefined || !isRuleType(h.ruleConfig.type)) return undefined;
  if (!h.actionConfigList.every((a) => isActionType(a.type))) return undefined;
  return {
    name: h.name,
    description: h.description,
    status: h.status === 'inactive' ? 'inactive' : 'active',
    targetKind: kind,
    targetId: kind === 'operator' ? '' : (h[TARGET_FIELD[kind]] ?? ''),
    ruleType: h.ruleConfig.type,
    ruleProperties: { ...h.ruleConfig.properties },
    actions: h.actionConfigList.map((a, i) => {
      const { signingSecret, ...rest } = a.properties;
      return signingSecret === MASK
        ? { type: a.type as ActionType, properties: rest, storedSecretAt: i }
        : { type: a.type as ActionType, properties: { ...a.properties } };
    }),
  };
}

/** The target of a stored handler: its kind and id. */
export function targetOf(h: HandlerModel): { kind: TargetKind; id: string } | undefined {
  for (const kind of Object.keys(TARGET_FIELD) as TargetKind[]) {
    const id = h[TARGET_FIELD[kind]];
    if (id !== undefined) return { kind, id };
  }
  return undefined;
}

/**
 * The form field an API error message names (`ruleConfig.properties.x …` → `rule.x`,
 * `actionConfigList[1].properties.url …` → `actions.1.url`, a schema error on `/name` → `name`), or
 * undefined when it names none: the message is then shown above the form.
 */
export function fieldOfMessage(message: string): Field | undefined {
  const rule = /ruleConfig\.properties\.([^\s.]+)/.exec(message);
  if (rule) return `rule.${rule[1]}`;
  const action = /actionConfigList\[(\d+)\](?:\.properties\.([^\s.:]+))?/.exec(message);
  if (action) return action[2] ? `actions.${action[1]}.${action[2]}` : `actions.${action[1]}.type`;
  if (/^actionConfigList must\b/.test(message)) return 'actions';
  if (/^(body\/)?\/?ruleConfig\b|watches .* targets/.test(message)) return 'rule.type';
  const typePrefix = /^([A-Za-z]+):/.exec(message)?.[1];
  if (typePrefix !== undefined && isRuleType(typePrefix)) return 'rule.type';
  if (
    /\b(targetImsi|targetSimId|targetGroupId|targetOperatorId)\b|^no (SIM|subscriber|group)\b|exactly one target/.test(
      message,
    )
  )
    return 'target';
  const top = /^(?:body\/|\/)?(name|description)\b/.exec(message);
  return top ? top[1] : undefined;
}

/** Field ids in the page (`rule.x` → `eh-rule-x`), for labels and aria-describedby. */
export const fieldId = (field: Field) => `eh-${field.replace(/\./g, '-')}`;

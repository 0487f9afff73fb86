// The event handler form as a pure model: the form's state, the body it sends, the checks the API
// makes (the platform's own vocabulary and checks, src/platform/events/vocabulary.ts, pure and
// browser-safe: the first problem found here is the one the API answers with), a handler read back
// into the form, and an API error message placed on the field it names.

import {
  ACTION_TYPE_NAMES,
  ACTION_TYPES,
  type ActionSpec,
  type ActionType,
  type ConfigField,
  type HandlerStatus,
  handlerConfigProblems,
  isActionType,
  isRuleType,
  type PropertySpec,
  RULE_TYPE_NAMES,
  RULE_TYPES,
  type RuleSpec,
  type RuleType,
  type TargetKind,
} from '../../../src/platform/events/vocabulary.js';

export {
  ACTION_TYPE_NAMES,
  type ActionSpec,
  type ActionType,
  type HandlerStatus,
  isActionType,
  isRuleType,
  MAX_ACTIONS,
  type PropertySpec,
  RULE_TYPE_NAMES,
  type RuleSpec,
  type RuleType,
  TARGET_KINDS,
  type TargetKind,
  type ValueSpec,
  valueProblem,
} from '../../../src/platform/events/vocabulary.js';

export const ruleSpec = (type: RuleType): RuleSpec => RULE_TYPES[type];
export const actionSpec = (type: ActionType): ActionSpec => ACTION_TYPES[type];

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

/** A field of the form: `name`, `target`, `rule.<property>`, `actions.<i>.<property>`, … */
export type Field = ConfigField | 'name' | 'description' | 'target';
export interface Problem {
  readonly field: Field;
  readonly message: string;
}

export interface RuleConfig {
  readonly type: string;
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * Every problem of a rule and its actions (the vocabulary's handlerConfigProblems, which the API's
 * checkHandlerConfig runs too): the first is the one the API answers with. Fields are the form's
 * (`rule.x`, `actions.0.y`).
 */
export function configProblems(
  target: TargetKind,
  rule: RuleConfig,
  actions: readonly RuleConfig[],
): Problem[] {
  return handlerConfigProblems(target, rule, actions).map(({ field, message }) => ({ field, message }));
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

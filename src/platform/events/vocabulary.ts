// The event handler's vocabulary, declared once as data: SORACOM's 20 rule types
// (`RuleConfig.type`) and 10 action types (`ActionConfig.type`), each with the properties it takes,
// and the checks of a handler's configuration built from those tables, returning the problems as
// values. Pure and browser-safe (no Node-only globals or imports): the platform (rules.ts, which
// throws the first problem as a SimtrustError) and the console's form (web/src/event-handlers/) both
// import this one module.
//
// SORACOM API (soracom-api.en.yaml, tag EventHandler; docs "Event Handler"): every property value is
// a string ("1024", "true"); every rule needs `inactiveTimeoutDateConst`, every action
// `executionDateTimeConst`; at most 5 actions per handler.

import type { ErrorCode } from '../../lib/errors.js';
import { SIM_STATUSES, SPEED_CLASSES } from '../sims/statuses.js';

/** A handler is run (`active`) or kept without running (`inactive`). */
export const HANDLER_STATUSES = ['active', 'inactive'] as const;
export type HandlerStatus = (typeof HANDLER_STATUSES)[number];

/** When a fired rule is armed again for a target (`inactiveTimeoutDateConst`). */
export const INACTIVE_TIMEOUTS = [
  'IMMEDIATELY',
  'BEGINNING_OF_NEXT_DAY',
  'BEGINNING_OF_NEXT_MONTH',
  'AFTER_ONE_DAY',
  'NEVER',
] as const;
export type InactiveTimeout = (typeof INACTIVE_TIMEOUTS)[number];

/** When an action runs after its rule fired (`executionDateTimeConst`). */
export const EXECUTION_TIMES = [
  'IMMEDIATELY',
  'BEGINNING_OF_NEXT_DAY',
  'BEGINNING_OF_NEXT_MONTH',
  'AFTER_ONE_DAY',
  'NEVER',
] as const;
export type ExecutionTime = (typeof EXECUTION_TIMES)[number];

/** The longest offset SORACOM accepts, in minutes (one year). */
export const MAX_OFFSET_MINUTES = 525_600;
export const MAX_ACTIONS = 5;
/** Handlers per target (one SIM, one IMSI, one group, or the operator itself). */
export const MAX_HANDLERS_PER_TARGET = 10;
/** Size limits of the web request action (bytes of UTF-8). */
export const MAX_WEB_REQUEST_BODY = 16_384;
export const MAX_WEB_REQUEST_HEADERS = 8_192;

/** How one property value (always a string on the wire) is checked. */
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

const enumOf = (values: readonly string[]): ValueSpec => ({ kind: 'enum', values });
const req = (value: ValueSpec, description: string): PropertySpec => ({ value, required: true, description });
const opt = (value: ValueSpec, description: string): PropertySpec => ({
  value,
  required: false,
  description,
});

const TRAFFIC_TIMEOUTS = [
  'BEGINNING_OF_NEXT_DAY',
  'BEGINNING_OF_NEXT_MONTH',
  'AFTER_ONE_DAY',
  'NEVER',
] as const;

/** What a rule watches; the engine (slice 2 of issue 14) reads this to know which events feed it. */
export type RuleFamily =
  | 'first-traffic'
  | 'traffic'
  | 'total-traffic'
  | 'status'
  | 'speed-class'
  | 'expiry'
  | 'imei-mismatch'
  | 'ota-status'
  | 'session'
  | 'anti-theft'
  | 'charge';

export interface RuleSpec {
  readonly family: RuleFamily;
  readonly summary: string;
  /** Allowed `inactiveTimeoutDateConst` values. */
  readonly inactiveTimeouts: readonly InactiveTimeout[];
  readonly properties: Readonly<Record<string, PropertySpec>>;
  /** Targets the rule can watch; a total of a group or the operator has no single SIM or IMSI. */
  readonly targets: readonly TargetKind[];
  /** Why simtrust refuses the rule, when it cannot evaluate it. */
  readonly unsupported?: string;
}

export const TARGET_KINDS = ['operator', 'imsi', 'sim', 'group'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
const ALL_TARGETS = TARGET_KINDS;

const timeoutProps = (allowed: readonly InactiveTimeout[]) => ({
  inactiveTimeoutDateConst: req(
    enumOf(allowed),
    'When the rule is armed again for the target after it fired.',
  ),
  inactiveTimeoutOffsetMinutes: opt(
    { kind: 'integer', min: 0, max: MAX_OFFSET_MINUTES },
    'Minutes added to inactiveTimeoutDateConst (not with NEVER).',
  ),
});
const runOnce = {
  runOnceAmongTarget: opt(
    { kind: 'boolean' },
    '"true": fire once for the whole group or operator target until re-armed, not once per SIM.',
  ),
};
const limitMiB = {
  limitTotalTrafficMegaByte: req(
    { kind: 'integer', min: 1, max: 2_147_483_647 },
    'Threshold in MiB (upload + download).',
  ),
};

const traffic = (summary: string, withRunOnce: boolean): RuleSpec => ({
  family: 'traffic',
  summary,
  inactiveTimeouts: TRAFFIC_TIMEOUTS,
  properties: { ...limitMiB, ...timeoutProps(TRAFFIC_TIMEOUTS), ...(withRunOnce ? runOnce : {}) },
  targets: ALL_TARGETS,
});

const attribute = (
  family: RuleFamily,
  summary: string,
  properties: Record<string, PropertySpec>,
  extra: Partial<RuleSpec> = {},
): RuleSpec => ({
  family,
  summary,
  inactiveTimeouts: INACTIVE_TIMEOUTS,
  properties: { ...properties, ...timeoutProps(INACTIVE_TIMEOUTS), ...runOnce },
  targets: ALL_TARGETS,
  ...extra,
});

const statusProps = {
  sourceStatus: opt(enumOf(SIM_STATUSES), 'The status the SIM leaves (any when absent).'),
  targetStatus: req(enumOf(SIM_STATUSES), 'The status the SIM enters.'),
};
const speedProps = { targetSpeedClass: req(enumOf(SPEED_CLASSES), 'The speed class the SIM is changed to.') };

/**
 * The anti-theft applet's events (docs/anti-theft.md) that SimAntiTheftRule watches: the alerts the
 * card sends when it blocks itself, and the unblock its PoR confirms (table anti_theft_alerts).
 */
export const ANTI_THEFT_EVENTS = [
  'ANTITHEFT_IMEI_BLOCKED',
  'ANTITHEFT_CELL_BLOCKED',
  'ANTITHEFT_REMOTE_BLOCKED',
  'ANTITHEFT_UNBLOCKED',
] as const;

/**
 * SORACOM's `RuleConfig.type` enum (20 values), and simtrust's own rule types after it (marked as
 * extensions in docs/event-handlers.md): SimAntiTheftRule.
 */
export const RULE_TYPES = {
  SubscriberFirstTrafficRule: {
    family: 'first-traffic',
    summary: 'The first traffic of the subscriber.',
    inactiveTimeouts: ['NEVER'],
    properties: timeoutProps(['NEVER']),
    targets: ALL_TARGETS,
  },
  SubscriberDailyTrafficRule: traffic('Traffic of the subscriber today (UTC) over the limit.', false),
  SubscriberMonthlyTrafficRule: traffic('Traffic of the subscriber this month (UTC) over the limit.', false),
  SubscriberCumulativeTrafficRule: traffic(
    'Traffic of the subscriber since it exists over the limit.',
    false,
  ),
  SimDailyTotalTrafficRule: traffic('Traffic of the SIM today (UTC) over the limit.', true),
  SimMonthlyTotalTrafficRule: traffic('Traffic of the SIM this month (UTC) over the limit.', true),
  SimCumulativeTotalTrafficRule: traffic('Traffic of the SIM since it exists over the limit.', true),
  DailyTotalTrafficRule: {
    ...traffic('Total traffic of the group or operator today (UTC) over the limit.', true),
    family: 'total-traffic',
    targets: ['group', 'operator'],
  },
  MonthlyTotalTrafficRule: {
    ...traffic('Total traffic of the group or operator this month (UTC) over the limit.', true),
    family: 'total-traffic',
    targets: ['group', 'operator'],
  },
  SubscriberStatusAttributeRule: attribute('status', 'The subscriber changes status.', statusProps),
  SimStatusAttributeRule: attribute('status', 'The SIM changes status.', statusProps),
  SubscriberSpeedClassAttributeRule: attribute(
    'speed-class',
    'The subscriber changes speed class.',
    speedProps,
  ),
  SimSpeedClassAttributeRule: attribute('speed-class', 'The SIM changes speed class.', speedProps),
  SubscriberExpiredRule: attribute('expiry', 'The subscriber reaches its expiry time.', {}),
  SimExpiredRule: attribute('expiry', 'The SIM reaches its expiry time.', {}),
  SubscriberImeiMismatchedRule: attribute(
    'imei-mismatch',
    'The IMEI lock refuses a connection of the subscriber.',
    {},
  ),
  SimImeiMismatchedRule: attribute('imei-mismatch', 'The IMEI lock refuses a connection of the SIM.', {}),
  SimSubscriptionStatusRule: attribute('ota-status', 'An OTA subscription change starts, ends or fails.', {
    targetOtaStatus: req(enumOf(['started', 'finished', 'failed']), 'The OTA status reached.'),
    // simtrust extension: which eSIM operations (a switch of carrier, issue 16, is kind `switch`).
    operationKind: opt(
      enumOf(['download', 'enable', 'disable', 'delete', 'audit', 'switch']),
      'simtrust: only eSIM operations of this kind (any when absent); `switch` is the switch of carrier.',
    ),
  }),
  SubscriberSessionStatusRule: attribute('session', 'A session of the subscriber is created or deleted.', {
    sessionStatus: req(enumOf(['Created', 'Deleted']), 'Which session event.'),
    hasImei: opt({ kind: 'boolean' }, '"true": only sessions that carry an IMEI.'),
  }),
  MonthlyChargeRule: {
    family: 'charge',
    summary: 'The monthly charge of the operator over an amount.',
    inactiveTimeouts: INACTIVE_TIMEOUTS,
    properties: {
      limitTotalAmount: req({ kind: 'integer', min: 1, max: 2_147_483_647 }, 'Amount (JPY or USD).'),
      ...timeoutProps(INACTIVE_TIMEOUTS),
      ...runOnce,
    },
    targets: ['operator'],
    unsupported: 'simtrust does no billing, so there is no monthly charge to watch',
  },
  // simtrust extension (SORACOM has no anti-theft applet): an event of the SIM's anti-theft applet.
  SimAntiTheftRule: attribute(
    'anti-theft',
    "simtrust: the SIM's anti-theft applet blocked itself (an alert came over OTA) or was unblocked.",
    { targetEvent: req(enumOf(ANTI_THEFT_EVENTS), 'The anti-theft event that fires the rule.') },
  ),
} as const satisfies Record<string, RuleSpec>;

/** Rule types that are simtrust's own, not SORACOM's. */
export const SIMTRUST_RULE_TYPES: readonly string[] = ['SimAntiTheftRule'];

export type RuleType = keyof typeof RULE_TYPES;
export const RULE_TYPE_NAMES = Object.keys(RULE_TYPES) as RuleType[];

export interface ActionSpec {
  readonly summary: string;
  readonly properties: Readonly<Record<string, PropertySpec>>;
  /** Acts on one SIM: not allowed with rules on a group's or operator's total. */
  readonly needsSim: boolean;
  readonly unsupported?: string;
}

const timing = {
  executionDateTimeConst: req(enumOf(EXECUTION_TIMES), 'When the action runs after the rule fired (UTC).'),
  executionOffsetMinutes: opt(
    { kind: 'integer', min: 0, max: MAX_OFFSET_MINUTES },
    'Minutes added to executionDateTimeConst.',
  ),
};
const TITLE = { kind: 'text', maxBytes: 256, minLength: 1 } as const;
const MESSAGE = { kind: 'text', maxBytes: 16_384 } as const;
const statusAction = (summary: string): ActionSpec => ({ summary, properties: timing, needsSim: true });

/** SORACOM's `ActionConfig.type` enum (10 values). */
export const ACTION_TYPES = {
  ChangeSpeedClassAction: {
    summary: 'Change the SIM speed class (a live session gets a RADIUS CoA).',
    properties: { speedClass: req(enumOf(SPEED_CLASSES), 'The new speed class.'), ...timing },
    needsSim: true,
  },
  SendMailAction: {
    summary: 'Send a mail to one address.',
    properties: {
      to: req({ kind: 'email' }, 'One address.'),
      title: req(TITLE, 'Subject (template variables are replaced; docs/event-handlers.md).'),
      message: req(MESSAGE, 'Body (template variables are replaced).'),
      ...timing,
    },
    needsSim: false,
  },
  SendMailToOperatorAction: {
    summary: "Send a mail to the operator's email address.",
    properties: {
      title: req(TITLE, 'Subject (template variables are replaced; docs/event-handlers.md).'),
      message: req(MESSAGE, 'Body (template variables are replaced).'),
      ...timing,
    },
    needsSim: false,
  },
  ActivationAction: statusAction('Activate the SIM.'),
  DeactivationAction: statusAction('Deactivate the SIM.'),
  StandbyAction: statusAction('Put the SIM on standby.'),
  SuspendAction: statusAction('Suspend the SIM (a live session is disconnected).'),
  ExecuteWebRequestAction: {
    summary: 'Send an HTTP request, signed with HMAC-SHA256.',
    properties: {
      url: req({ kind: 'url' }, 'http or https URL (template variables are replaced).'),
      httpMethod: req(enumOf(['GET', 'POST', 'PUT', 'DELETE']), 'HTTP method.'),
      contentType: req({ kind: 'text', maxBytes: 256, minLength: 1 }, 'Content-Type of the body.'),
      headers: req(
        { kind: 'headers', maxBytes: MAX_WEB_REQUEST_HEADERS },
        'A JSON object of header name → value, as a string ("{}" for none).',
      ),
      body: opt({ kind: 'text', maxBytes: MAX_WEB_REQUEST_BODY }, 'Body (POST and PUT only).'),
      signingSecret: opt(
        { kind: 'text', maxBytes: 256, minLength: 16 },
        'simtrust: the HMAC-SHA256 key of the X-Simtrust-Signature header (16+ characters); stored encrypted, shown as ********.',
      ),
      ...timing,
    },
    needsSim: false,
  },
  InvokeAWSLambdaAction: {
    summary: 'Invoke an AWS Lambda function.',
    properties: {
      endpoint: req({ kind: 'url' }, 'Lambda endpoint.'),
      functionName: req({ kind: 'text', maxBytes: 256, minLength: 1 }, 'Function name.'),
      credentialsId: req({ kind: 'text', maxBytes: 256, minLength: 1 }, 'Credential set id.'),
      parameter1: opt({ kind: 'text', maxBytes: 1024 }, 'Parameter 1.'),
      parameter2: opt({ kind: 'text', maxBytes: 1024 }, 'Parameter 2.'),
      parameter3: opt({ kind: 'text', maxBytes: 1024 }, 'Parameter 3.'),
      parameter4: opt({ kind: 'text', maxBytes: 1024 }, 'Parameter 4.'),
      parameter5: opt({ kind: 'text', maxBytes: 1024 }, 'Parameter 5.'),
      ...timing,
    },
    needsSim: false,
    unsupported:
      'simtrust has no AWS Lambda client (credential sets exist: GET /v1/credentials, but nothing invokes Lambda with them); use ExecuteWebRequestAction',
  },
  ImeiLockAction: {
    summary: 'Lock the SIM to the IMEI of the session (SubscriberSessionStatusRule with hasImei=true only).',
    properties: timing,
    needsSim: true,
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionType = keyof typeof ACTION_TYPES;
export const ACTION_TYPE_NAMES = Object.keys(ACTION_TYPES) as ActionType[];

export interface RuleConfig {
  readonly type: RuleType;
  readonly properties: Readonly<Record<string, string>>;
}
export interface ActionConfig {
  readonly type: ActionType;
  readonly properties: Readonly<Record<string, string>>;
}

// UTF-8 length without Node's Buffer (this module also runs in the browser).
const utf8Length = (s: string) => new TextEncoder().encode(s).length;
// A header name is an RFC 9110 §5.6.2 token; a value has no control characters (no CR/LF injection).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const HEADER_VALUE = /^[^\p{Cc}]*$/u;
// Deliberately plain: one @, no spaces or control characters, a dot in the domain.
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/u;

/** Why `value` does not fit `spec`, or undefined when it fits. */
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

/** A field of a handler's configuration: `rule.type`, `rule.<property>`, `actions`, `actions.<i>.type`, `actions.<i>.<property>`. */
export type ConfigField = string;

/** One problem of a handler's configuration: the error code the API answers with, the field, its words. */
export interface ConfigProblem {
  readonly code: Extract<ErrorCode, 'ERR_VALIDATION' | 'ERR_EVENT_HANDLER_UNSUPPORTED'>;
  readonly field: ConfigField;
  readonly message: string;
}

const invalid = (field: ConfigField, message: string): ConfigProblem => ({
  code: 'ERR_VALIDATION',
  field,
  message,
});

function propertyProblems(
  where: string,
  field: string,
  type: string,
  specs: Readonly<Record<string, PropertySpec>>,
  properties: Readonly<Record<string, string>>,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const name of Object.keys(properties)) {
    if (!Object.hasOwn(specs, name)) {
      const allowed = Object.keys(specs);
      out.push(
        invalid(
          `${field}.${name}`,
          `${where}.properties.${name} is not a property of ${type} (allowed: ${allowed.join(', ') || 'none'})`,
        ),
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (value === undefined) {
      if (spec.required)
        out.push(invalid(`${field}.${name}`, `${where}.properties.${name} is required for ${type}`));
      continue;
    }
    const problem = valueProblem(spec.value, value);
    if (problem !== undefined)
      out.push(invalid(`${field}.${name}`, `${where}.properties.${name} ${problem}`));
  }
  return out;
}

export const isRuleType = (t: string): t is RuleType => Object.hasOwn(RULE_TYPES, t);
export const isActionType = (t: string): t is ActionType => Object.hasOwn(ACTION_TYPES, t);

/**
 * Every problem of a rule and its actions against the tables above and the combinations SORACOM
 * forbids, in the order they are met: the first is the one the API answers with (rules.ts
 * checkHandlerConfig); the console marks them all on their fields. An unknown rule type, a wrong
 * number of actions and an unknown action type stop the checks that depend on them.
 */
export function handlerConfigProblems(
  target: TargetKind,
  rule: { readonly type: string; readonly properties: Readonly<Record<string, string>> },
  actions: ReadonlyArray<{ readonly type: string; readonly properties: Readonly<Record<string, string>> }>,
): ConfigProblem[] {
  if (!isRuleType(rule.type)) {
    return [invalid('rule.type', `ruleConfig.type must be one of ${RULE_TYPE_NAMES.join(', ')}`)];
  }
  const ruleType = rule.type;
  const ruleSpec: RuleSpec = RULE_TYPES[ruleType];
  const out = propertyProblems('ruleConfig', 'rule', ruleType, ruleSpec.properties, rule.properties);
  if (
    rule.properties.inactiveTimeoutDateConst === 'NEVER' &&
    rule.properties.inactiveTimeoutOffsetMinutes !== undefined
  ) {
    out.push(
      invalid(
        'rule.inactiveTimeoutOffsetMinutes',
        'ruleConfig.properties.inactiveTimeoutOffsetMinutes cannot be combined with NEVER',
      ),
    );
  }
  if (!ruleSpec.targets.includes(target)) {
    out.push(
      invalid(
        'rule.type',
        `${ruleType} watches ${ruleSpec.targets.join(' or ')} targets, not a ${target} target`,
      ),
    );
  }
  if (ruleSpec.unsupported !== undefined) {
    out.push({
      code: 'ERR_EVENT_HANDLER_UNSUPPORTED',
      field: 'rule.type',
      message: `${ruleType}: ${ruleSpec.unsupported}`,
    });
  }
  if (actions.length < 1 || actions.length > MAX_ACTIONS) {
    out.push(invalid('actions', `actionConfigList must have 1 to ${MAX_ACTIONS} actions`));
    return out;
  }
  actions.forEach((action, i) => {
    const where = `actionConfigList[${i}]`;
    const field = `actions.${i}`;
    if (!isActionType(action.type)) {
      out.push(invalid(`${field}.type`, `${where}.type must be one of ${ACTION_TYPE_NAMES.join(', ')}`));
      return;
    }
    const actionType = action.type;
    const spec: ActionSpec = ACTION_TYPES[actionType];
    out.push(...propertyProblems(where, field, actionType, spec.properties, action.properties));
    if (spec.needsSim && ruleSpec.family === 'total-traffic') {
      out.push(
        invalid(
          `${field}.type`,
          `${where}: ${actionType} acts on one SIM, but ${ruleType} watches the total of a ${target}; use SendMailAction, SendMailToOperatorAction or ExecuteWebRequestAction`,
        ),
      );
    }
    if (
      actionType === 'ImeiLockAction' &&
      !(ruleType === 'SubscriberSessionStatusRule' && rule.properties.hasImei === 'true')
    ) {
      out.push(
        invalid(
          `${field}.type`,
          `${where}: ImeiLockAction is allowed only with SubscriberSessionStatusRule and hasImei "true"`,
        ),
      );
    }
    if (
      actionType === 'ExecuteWebRequestAction' &&
      action.properties.body !== undefined &&
      action.properties.httpMethod !== 'POST' &&
      action.properties.httpMethod !== 'PUT'
    ) {
      out.push(
        invalid(`${field}.body`, `${where}.properties.body is allowed only with httpMethod POST or PUT`),
      );
    }
    if (spec.unsupported !== undefined) {
      out.push({
        code: 'ERR_EVENT_HANDLER_UNSUPPORTED',
        field: `${field}.type`,
        message: `${where}: ${actionType}: ${spec.unsupported}`,
      });
    }
  });
  return out;
}

// Event handler bodies and answers in SORACOM's shapes (CreateEventHandlerRequest,
// EventHandlerModel). The route schema checks the outer shape and the type names; the properties of
// each rule and action type are checked by the tables in platform/events/rules.ts, which name the
// offending field in the error.

import { Type } from '@fastify/type-provider-typebox';
import { HANDLER_STATUSES } from '../../../platform/events/event-handlers.js';
import {
  ACTION_TYPE_NAMES,
  ACTION_TYPES,
  MAX_ACTIONS,
  RULE_TYPE_NAMES,
  RULE_TYPES,
  TARGET_KINDS,
} from '../../../platform/events/rules.js';

const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

const describe = (table: Record<string, { summary: string; properties: Record<string, unknown> }>) =>
  Object.entries(table)
    .map(([type, spec]) => `${type} (${Object.keys(spec.properties).join(', ')}): ${spec.summary}`)
    .join(' | ');

/** Property name → string value (SORACOM sends numbers and booleans as strings too). */
const Properties = Type.Record(
  Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9]*$' }),
  Type.String({ maxLength: 20_000 }),
  { maxProperties: 16 },
);

export const RuleConfig = Type.Object(
  {
    type: literals(RULE_TYPE_NAMES),
    properties: Properties,
  },
  { additionalProperties: false, description: `Rule types and their properties: ${describe(RULE_TYPES)}` },
);

export const ActionConfig = Type.Object(
  {
    type: literals(ACTION_TYPE_NAMES),
    properties: Properties,
  },
  {
    additionalProperties: false,
    description: `Action types and their properties: ${describe(ACTION_TYPES)}`,
  },
);

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

export const EventHandlerBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    status: literals(HANDLER_STATUSES),
    targetImsi: Type.Optional(
      Type.String({ pattern: '^[0-9]{6,15}$', description: 'An IMSI of your SIMs.' }),
    ),
    targetSimId: Type.Optional(Id('One of your SIMs.')),
    targetGroupId: Type.Optional(Id('One of your groups: evaluated per SIM.')),
    targetOperatorId: Type.Optional(Id('Your operator id: every SIM, evaluated per SIM.')),
    ruleConfig: RuleConfig,
    actionConfigList: Type.Array(ActionConfig, { minItems: 1, maxItems: MAX_ACTIONS }),
  },
  {
    additionalProperties: false,
    description: 'Exactly one of targetImsi, targetSimId, targetGroupId, targetOperatorId.',
  },
);

export const EventHandler = Type.Object(
  {
    handlerId: Type.String(),
    name: Type.String(),
    description: Type.String(),
    status: literals(HANDLER_STATUSES),
    targetImsi: Type.Optional(Type.String()),
    targetSimId: Type.Optional(Type.String()),
    targetGroupId: Type.Optional(Type.String()),
    targetOperatorId: Type.Optional(Type.String()),
    ruleConfig: Type.Object({ type: Type.String(), properties: Type.Record(Type.String(), Type.String()) }),
    actionConfigList: Type.Array(
      Type.Object({ type: Type.String(), properties: Type.Record(Type.String(), Type.String()) }),
    ),
  },
  { $id: 'EventHandler' },
);

export const HandlerIdParams = Type.Object({
  handler_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z-]+$' }),
});

export const Imsi = Type.String({ pattern: '^[0-9]{6,15}$', description: 'IMSI (digits).' });

export const TargetQuery = literals(TARGET_KINDS);

/** One firing of a handler and its action runs (GET /v1/event_handlers/{handler_id}/executions). */
/** One action run of an execution (and the answer of its retry). */
export const ExecutionAction = Type.Object({
  actionIndex: Type.Integer(),
  type: Type.String(),
  status: Type.Union(
    ['pending', 'running', 'succeeded', 'failed', 'dead', 'skipped', 'cancelled'].map((s) => Type.Literal(s)),
  ),
  scheduledTime: Type.Integer({ description: 'When it runs or ran (or its next attempt), Unix ms.' }),
  attempts: Type.Integer(),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  updatedTime: Type.Integer(),
});

export const Execution = Type.Object({
  executionId: Type.Integer(),
  time: Type.Integer({ description: 'When the rule fired (Unix ms).' }),
  simId: Type.Union([Type.String(), Type.Null()], { description: 'null for a group or operator total.' }),
  ruleType: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown(), {
    description: 'What fired it: the event (old and new status, session, IMEI) or the usage.',
  }),
  actions: Type.Array(ExecutionAction),
});

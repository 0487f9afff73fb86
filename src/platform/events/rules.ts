// The platform's side of the event handler's vocabulary (vocabulary.ts, pure and shared with the
// console): the same declarations, and checkHandlerConfig, which throws the first problem the
// vocabulary finds as a SimtrustError (ERR_VALIDATION naming the field, or
// ERR_EVENT_HANDLER_UNSUPPORTED for a type simtrust cannot run).

import { SimtrustError } from '../../lib/errors.js';
import { type ActionConfig, handlerConfigProblems, type RuleConfig, type TargetKind } from './vocabulary.js';

export * from './vocabulary.js';

/**
 * Checks a rule and its actions against the vocabulary's tables and the combinations SORACOM
 * forbids; throws the first problem (handlerConfigProblems), or returns the typed configuration.
 */
export function checkHandlerConfig(
  target: TargetKind,
  rule: { type: string; properties: Readonly<Record<string, string>> },
  actions: ReadonlyArray<{ type: string; properties: Readonly<Record<string, string>> }>,
): { rule: RuleConfig; actions: ActionConfig[] } {
  const [first] = handlerConfigProblems(target, rule, actions);
  if (first !== undefined) throw new SimtrustError(first.code, first.message);
  // No problem: every type is one of the tables' (handlerConfigProblems checked them).
  return {
    rule: { type: rule.type as RuleConfig['type'], properties: rule.properties },
    actions: actions.map((a) => ({ type: a.type as ActionConfig['type'], properties: a.properties })),
  };
}

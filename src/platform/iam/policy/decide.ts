// The permission decision (SORACOM SAM semantics, reference/soracom.md §3.1): statements from every
// source — the user's own permission, each attached role, the operator's default permissions — are
// pooled; a matching `deny` wins over any `allow`; with no matching `allow` the answer is deny.
// A statement matches when one of its API patterns names the operation and its condition (if
// any) holds for this request.

import type { ConditionContext } from './condition.js';
import type { Effect, Policy } from './policy.js';

export interface PolicySource {
  /** `user`, `role:<roleId>` or `default`. */
  readonly source: string;
  readonly policy: Policy;
}

export interface MatchedStatement {
  readonly source: string;
  readonly index: number;
  readonly effect: Effect;
  readonly statement: unknown;
}

export type DecisionReason = 'root' | 'allowed' | 'explicit-deny' | 'implicit-deny';

export interface Decision {
  readonly allowed: boolean;
  readonly reason: DecisionReason;
  /** The statement that decided: the first matching deny, else the first matching allow. */
  readonly statement?: MatchedStatement | undefined;
}

export interface EvaluatedStatement extends MatchedStatement {
  readonly apiMatched: boolean;
  /** null when the API did not match (the condition was not looked at) or there is no condition. */
  readonly conditionMet: boolean | null;
}

export interface Explanation extends Decision {
  readonly evaluated: readonly EvaluatedStatement[];
}

/** Decides `operation` (`Tag:operationId`) for a request. With `explain`, lists every statement. */
export function decide(
  sources: readonly PolicySource[],
  operation: string,
  context: ConditionContext,
  explain = false,
): Explanation {
  let allow: MatchedStatement | undefined;
  let deny: MatchedStatement | undefined;
  const evaluated: EvaluatedStatement[] = [];
  for (const { source, policy } of sources) {
    for (const s of policy.statements) {
      const apiMatched = s.matchesApi(operation);
      const conditionMet = apiMatched && s.condition !== undefined ? s.condition.evaluate(context) : null;
      const matched = apiMatched && conditionMet !== false;
      const ref = { source, index: s.index, effect: s.effect, statement: s.source };
      if (explain) evaluated.push({ ...ref, apiMatched, conditionMet });
      if (!matched) continue;
      if (s.effect === 'deny') {
        deny ??= ref;
        // Nothing can overturn a deny; keep walking only to explain.
        if (!explain) return { allowed: false, reason: 'explicit-deny', statement: deny, evaluated };
      } else allow ??= ref;
    }
  }
  if (deny) return { allowed: false, reason: 'explicit-deny', statement: deny, evaluated };
  if (allow) return { allowed: true, reason: 'allowed', statement: allow, evaluated };
  return { allowed: false, reason: 'implicit-deny', evaluated };
}

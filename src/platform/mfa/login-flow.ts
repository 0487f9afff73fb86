// The first half of an MFA login (seed 003 steps ①–②): the user's ID and password are checked and
// the policy answers which second factor is needed. Written as a table of small steps (STYLE.md
// #4); each opens with what it enforces. The second half is the factor check in engine.ts.
//
//   limit address    ASVS 6.3.1: attempts per source address per minute, across accounts
//   check lock       NIST SP 800-63B §5.2.2: a locked account is refused before its password is read
//   verify password  scrypt, equal time for unknown users; a failure counts towards the lock
//   apply policy     the application's rule for the user's groups, narrowed to enrolled factors
//   begin            a login transaction bound to user, application and return URL

import { SimtrustError } from '../../lib/errors.js';
import type { LoginTransaction, MfaEngine, StepContext } from './engine.js';
import {
  enrolledFactors,
  type Factor,
  type PolicyRule,
  policyFactors,
  type Subject,
  type SubjectSource,
} from './subject.js';

export interface PasswordStepInput {
  readonly source: SubjectSource;
  readonly application: { readonly name: string; readonly policy: readonly PolicyRule[] };
  readonly login: string;
  readonly password: string;
  /** Already checked to be a same-origin path by the caller. */
  readonly returnTo: string;
  readonly ctx: StepContext;
}

export interface PasswordStepResult {
  readonly transactionId: string;
  readonly transaction: LoginTransaction;
  readonly subject: Subject;
  readonly factors: readonly Factor[];
}

interface State {
  readonly input: PasswordStepInput;
  readonly subjectKey: string;
  subject?: Subject;
  factors?: Factor[];
  result?: PasswordStepResult;
}

type Step = (engine: MfaEngine, s: State) => Promise<void>;

const gatewayActor = (s: State) => ({
  operatorId: s.subject?.operatorId ?? s.input.source.operatorId ?? 'platform',
  principal: s.subject?.principal ?? {
    operatorId: s.input.source.operatorId ?? 'platform',
    kind: 'system' as const,
    id: 'mfa-gateway',
  },
});

const detail = (s: State, more: Record<string, unknown> = {}) => ({
  application: s.input.application.name,
  userId: s.input.login.slice(0, 128),
  source: s.input.source.id,
  ...more,
});

/** Runs a check; a refusal is audited as a denied login (with `reason`) before it propagates. */
async function deniedUnless(
  engine: MfaEngine,
  s: State,
  reason: string,
  check: () => Promise<unknown>,
): Promise<void> {
  try {
    await check();
  } catch (e) {
    await engine.audit(gatewayActor(s), 'login', 'denied', s.input.ctx, detail(s, { reason }));
    throw e;
  }
}

/** ASVS 6.3.1: a source address gets a bounded number of attempts per minute across all accounts. */
const limitAddress: Step = (engine, s) =>
  deniedUnless(engine, s, 'address limit', () => engine.limitAddress(s.input.ctx.sourceIp));

/** NIST SP 800-63B §5.2.2: while an account is locked its password is not even checked. */
const checkLock: Step = (engine, s) =>
  deniedUnless(engine, s, 'account locked', () => engine.assertNotLocked(s.subjectKey));

/** The password, in equal time for unknown users; every failure counts towards the account's lock. */
const verifyPassword: Step = async (engine, s) => {
  const subject = await s.input.source.authenticate(s.input.login, s.input.password);
  if (subject === undefined) {
    const { lockedForSeconds } = await engine.recordFailure(s.subjectKey);
    await engine.audit(gatewayActor(s), 'login', 'failure', s.input.ctx, {
      ...detail(s, { reason: 'wrong user id or password' }),
      ...(lockedForSeconds === undefined ? {} : { lockedForSeconds }),
    });
    throw new SimtrustError('ERR_INVALID_CREDENTIALS', 'invalid user id or password');
  }
  s.subject = subject;
};

/** The first policy rule for the user's groups names the factors; only enrolled ones are offered. */
const applyPolicy: Step = async (engine, s) => {
  const subject = s.subject as Subject;
  const allowed = policyFactors(s.input.application.policy, subject);
  const factors = enrolledFactors(subject, allowed);
  if (factors.length === 0) {
    await engine.audit(
      gatewayActor(s),
      'login',
      'denied',
      s.input.ctx,
      detail(s, { reason: 'no enrolled factor', allowed }),
    );
    throw new SimtrustError(
      'ERR_MFA_NO_FACTOR',
      'no second factor the application accepts is set up for this user',
    );
  }
  s.factors = factors;
};

/** The login transaction: the only state between the password and the second factor. */
const begin: Step = async (engine, s) => {
  const subject = s.subject as Subject;
  const factors = s.factors as Factor[];
  const { id, transaction } = await engine.begin({
    subject,
    application: s.input.application.name,
    factors,
    returnTo: s.input.returnTo,
    sourceIp: s.input.ctx.sourceIp,
  });
  await engine.audit(
    gatewayActor(s),
    'login',
    'success',
    s.input.ctx,
    detail(s, { step: 'password', factors }),
  );
  s.result = { transactionId: id, transaction, subject, factors };
};

export const PASSWORD_STEPS: ReadonlyArray<readonly [string, Step]> = [
  ['limit address', limitAddress],
  ['check lock', checkLock],
  ['verify password', verifyPassword],
  ['apply policy', applyPolicy],
  ['begin', begin],
];

export async function passwordStep(engine: MfaEngine, input: PasswordStepInput): Promise<PasswordStepResult> {
  const state: State = { input, subjectKey: input.source.keyFor(input.login) };
  for (const [, step] of PASSWORD_STEPS) await step(engine, state);
  return state.result as PasswordStepResult;
}

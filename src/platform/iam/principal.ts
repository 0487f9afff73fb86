// Who is calling: resolved from a token by the auth layer and passed to every domain call, so the
// audit log can say who did what (operator, user, key id) and permissions can be decided.

export type PrincipalKind = 'root' | 'user' | 'authKey' | 'system';

export interface Principal {
  readonly operatorId: string;
  readonly kind: PrincipalKind;
  /** Email for root, user name for sub-users, key id for auth keys, a component name for system. */
  readonly id: string;
  /** The sub-user acting, also when acting through one of their auth keys. */
  readonly userName?: string | undefined;
  /** The auth key the token was issued for. */
  readonly authKeyId?: string | undefined;
}

/** Root (by password or a root auth key) and the system act with every permission. */
export const isRootPrincipal = (p: Principal): boolean => p.userName === undefined;

/** The permission decision recorded beside an audited call (see policy/decide.ts). */
export interface AuthorizationNote {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly statement?: { readonly source: string; readonly index: number; readonly statement: unknown };
}

/** The request facts an audit record keeps beside the principal. */
export interface AuditContext {
  readonly principal: Principal;
  readonly operationId: string;
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  readonly params?: Readonly<Record<string, string>> | undefined;
  readonly authorization?: AuthorizationNote | undefined;
}

export const systemContext = (
  operatorId: string,
  operationId: string,
  component = 'simtrust',
): AuditContext => ({
  principal: { operatorId, kind: 'system', id: component },
  operationId,
});

/**
 * The audit "operator" of login attempts that name no existing operator (unknown email, operator
 * id or key id). Operator ids are `OP` + 10 digits, so no tenant can ever list these records; the
 * platform's administrators read them with `simtrust admin audit-logs --platform`.
 */
export const PLATFORM_AUDIT_OPERATOR = 'platform';

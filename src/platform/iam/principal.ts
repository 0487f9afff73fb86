// Who is calling: resolved from a token by the auth layer and passed to every domain call, so the
// audit log can say who did what. Sub-users and auth keys (the access-management issue) add kinds.

export type PrincipalKind = 'root' | 'user' | 'authKey' | 'system';

export interface Principal {
  readonly operatorId: string;
  readonly kind: PrincipalKind;
  /** Email for root, user name for sub-users, key id for auth keys, a component name for system. */
  readonly id: string;
  readonly userName?: string;
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
}

export const systemContext = (
  operatorId: string,
  operationId: string,
  component = 'simtrust',
): AuditContext => ({
  principal: { operatorId, kind: 'system', id: component },
  operationId,
});

// The listener side of the ES ports: SoapHandlers that hand each decoded request to a local port
// implementation bound to the calling partner — the SM-SR service for ES1/ES3/ES4, the SM-DP for
// ES2 and the ES3 notifications, the operator layer for ES2/ES4 notifications. The same port
// objects serve in-process callers, so a function runs the same code whoever calls it.
//
// What each step enforces, in order:
//   1. the TLS client certificate named a configured partner (SoapNode, before the body is read);
//   2. that partner's role may call this function (an SM-DP calls ES3, an operator ES2/ES4, an EUM
//      ES1, an SM-SR ES7; notifications come from an SM-SR on ES3/ES4 and from an SM-DP on ES2) — else FAILED
//      1.1 / 1.2 (requester not allowed);
//   3. this deployment provides the function for that partner (the factory gives a port) — else
//      FAILED 1.2 / 3.1 (unsupported);
//   4. the port runs; its response's FunctionExecutionStatus and outputs become the `*Response`
//      (the endpoint adds processing times and turns a late answer into EXPIRED).
import type {
  Es1Port,
  Es3NotificationPort,
  Es3Port,
  Es4NotificationPort,
  Es4Port,
} from '../../platform/esim/es-ports.js';
import type { MessageBodies } from '../../platform/esim/es-soap/sgp-02-messages.js';
import { failed, REASON_CODES, SUBJECT_CODES } from '../../platform/esim/es-soap/sgp-02-status-codes.js';
import type {
  HandlerContext,
  HandlerOutcome,
  NotificationElement,
  RequestElement,
  SoapHandlers,
} from '../../platform/esim/es-soap/soap-endpoint.js';
import type { PartnerRole } from '../../platform/esim/partners/partners-registry.js';
import type { Es2NotificationPort, Es2Port } from '../../platform/esim/sm-dp/sm-dp-service.js';
import type { Es4SmSrChangePort, Es7Port } from '../../platform/esim/sm-sr-change/sm-sr-change-service.js';

export type { PartnerRole } from '../../platform/esim/partners/partners-registry.js';

/** Who called, as the partners registry knows them. */
export interface PeerIdentity {
  /** Entity identifier (OID): SM-DP id, SM-SR id, MNO id, EUM id. */
  readonly entityId: string;
  readonly role: PartnerRole;
}

/** Local port implementations, each bound to the calling partner (undefined: not for this peer). */
export interface LocalPorts {
  readonly es1?: (peer: PeerIdentity, context: HandlerContext) => Es1Port | undefined;
  readonly es2?: (peer: PeerIdentity, context: HandlerContext) => Es2Port | undefined;
  readonly es3?: (peer: PeerIdentity, context: HandlerContext) => Es3Port | undefined;
  readonly es4?: (peer: PeerIdentity, context: HandlerContext) => Es4Port | undefined;
  /** ES4 PrepareSMSRChange / SMSRChange (SmSrChange.es4For the calling operator). */
  readonly es4Change?: (peer: PeerIdentity, context: HandlerContext) => Es4SmSrChangePort | undefined;
  /** ES7 (SmSrChange.es7For the calling SM-SR). */
  readonly es7?: (peer: PeerIdentity, context: HandlerContext) => Es7Port | undefined;
  readonly es2Notifications?: (peer: PeerIdentity) => Es2NotificationPort | undefined;
  readonly es3Notifications?: (peer: PeerIdentity) => Es3NotificationPort | undefined;
  readonly es4Notifications?: (peer: PeerIdentity) => Es4NotificationPort | undefined;
}

type RequestPortKey = 'es1' | 'es2' | 'es3' | 'es4' | 'es4Change' | 'es7';
type NotificationPortKey = 'es2Notifications' | 'es3Notifications' | 'es4Notifications';

/** Every request function we serve: which port, which method, which caller role (SGP.02 §5). */
export const REQUEST_ROUTES: Readonly<
  Partial<Record<RequestElement, { port: RequestPortKey; method: string; from: PartnerRole }>>
> = {
  'ES1-RegisterEISRequest': { port: 'es1', method: 'registerEIS', from: 'eum' },
  'ES2-GetEISRequest': { port: 'es2', method: 'getEIS', from: 'operator' },
  'ES2-DownloadProfileRequest': { port: 'es2', method: 'downloadProfile', from: 'operator' },
  'ES2-UpdatePolicyRulesRequest': { port: 'es2', method: 'updatePolicyRules', from: 'operator' },
  'ES2-UpdateSubscriptionAddressRequest': {
    port: 'es2',
    method: 'updateSubscriptionAddress',
    from: 'operator',
  },
  'ES2-EnableProfileRequest': { port: 'es2', method: 'enableProfile', from: 'operator' },
  'ES2-DisableProfileRequest': { port: 'es2', method: 'disableProfile', from: 'operator' },
  'ES2-DeleteProfileRequest': { port: 'es2', method: 'deleteProfile', from: 'operator' },
  'ES3-GetEISRequest': { port: 'es3', method: 'getEIS', from: 'sm-dp' },
  'ES3-AuditEISRequest': { port: 'es3', method: 'auditEIS', from: 'sm-dp' },
  'ES3-CreateISDPRequest': { port: 'es3', method: 'createISDP', from: 'sm-dp' },
  'ES3-SendDataRequest': { port: 'es3', method: 'sendData', from: 'sm-dp' },
  'ES3-ProfileDownloadCompletedRequest': { port: 'es3', method: 'profileDownloadCompleted', from: 'sm-dp' },
  'ES3-UpdatePolicyRulesRequest': { port: 'es3', method: 'updatePolicyRules', from: 'sm-dp' },
  'ES3-UpdateSubscriptionAddressRequest': { port: 'es3', method: 'updateSubscriptionAddress', from: 'sm-dp' },
  'ES3-EnableProfileRequest': { port: 'es3', method: 'enableProfile', from: 'sm-dp' },
  'ES3-DisableProfileRequest': { port: 'es3', method: 'disableProfile', from: 'sm-dp' },
  'ES3-DeleteISDPRequest': { port: 'es3', method: 'deleteISDP', from: 'sm-dp' },
  'ES4-GetEISRequest': { port: 'es4', method: 'getEIS', from: 'operator' },
  'ES4-AuditEISRequest': { port: 'es4', method: 'auditEIS', from: 'operator' },
  'ES4-UpdatePolicyRulesRequest': { port: 'es4', method: 'updatePolicyRules', from: 'operator' },
  'ES4-UpdateSubscriptionAddressRequest': {
    port: 'es4',
    method: 'updateSubscriptionAddress',
    from: 'operator',
  },
  'ES4-EnableProfileRequest': { port: 'es4', method: 'enableProfile', from: 'operator' },
  'ES4-DisableProfileRequest': { port: 'es4', method: 'disableProfile', from: 'operator' },
  'ES4-DeleteProfileRequest': { port: 'es4', method: 'deleteProfile', from: 'operator' },
  // SM-SR change (SGP.02 §3.8): the operator prepares at the new SM-SR, asks the current one; the
  // two SM-SRs talk ES7.
  'ES4-PrepareSMSRChangeRequest': { port: 'es4Change', method: 'prepareSMSRChange', from: 'operator' },
  'ES4-SMSRChangeRequest': { port: 'es4Change', method: 'smsrChange', from: 'operator' },
  'ES7-HandoverEUICCRequest': { port: 'es7', method: 'handoverEUICC', from: 'sm-sr' },
  'ES7-AuthenticateSMSRRequest': { port: 'es7', method: 'authenticateSMSR', from: 'sm-sr' },
  'ES7-CreateAdditionalKeySetRequest': { port: 'es7', method: 'createAdditionalKeySet', from: 'sm-sr' },
};

/**
 * Every notification we take: which port, which method, which sender role. HandleSMSRChange-
 * Notification (SGP.02 §3.8 steps 31–32) comes from the new SM-SR on ES3 (to an SM-DP) and ES4 (to an
 * operator), and from the SM-DP relaying it on ES2 (to an operator); a port without that method drops
 * it with a warning.
 */
export const NOTIFICATION_ROUTES: Readonly<
  Partial<Record<NotificationElement, { port: NotificationPortKey; method: string; from: PartnerRole }>>
> = Object.fromEntries([
  ...(['ES2', 'ES3', 'ES4'] as const).flatMap((iface) =>
    (['Enabled', 'Disabled', 'Deleted'] as const).map((what) => [
      `${iface}-HandleProfile${what}Notification`,
      {
        port: `${iface.toLowerCase()}Notifications` as NotificationPortKey,
        method: `handleProfile${what}Notification`,
        from: iface === 'ES2' ? 'sm-dp' : 'sm-sr',
      },
    ]),
  ),
  ...(['ES2', 'ES3', 'ES4'] as const).map((iface) => [
    `${iface}-HandleSMSRChangeNotification`,
    {
      port: `${iface.toLowerCase()}Notifications` as NotificationPortKey,
      method: 'handleSMSRChangeNotification',
      from: iface === 'ES2' ? 'sm-dp' : 'sm-sr',
    },
  ]),
]);

export interface DispatchLog {
  warn(object: Record<string, unknown>, message: string): void;
}

/**
 * SoapHandlers for a SoapNode: only functions whose port factory is given are offered (others get
 * SOAP_FUNCTION_UNSUPPORTED from the endpoint). `peerOf` maps the node's partner name to the
 * registry's identity — or identities, one per role, when one certificate is a party in several
 * roles; the function's role picks one (undefined: the partner vanished since the connection was
 * accepted).
 */
export function soapHandlersFor(
  ports: LocalPorts,
  peerOf: (partnerName: string) => PeerIdentity | readonly PeerIdentity[] | undefined,
  log?: DispatchLog,
): SoapHandlers {
  const inRole = (name: string, role: PartnerRole): PeerIdentity | undefined => {
    const peers = peerOf(name);
    if (peers === undefined) return undefined;
    return (Array.isArray(peers) ? (peers as readonly PeerIdentity[]) : [peers as PeerIdentity]).find(
      (p) => p.role === role,
    );
  };
  const handlers: Record<string, unknown> = {};
  for (const [element, route] of Object.entries(REQUEST_ROUTES)) {
    if (route === undefined) continue;
    const factory = ports[route.port];
    if (factory === undefined) continue;
    handlers[element] = async (
      body: MessageBodies[RequestElement],
      context: HandlerContext,
    ): Promise<HandlerOutcome<RequestElement>> => {
      const peer = inRole(context.peer, route.from);
      if (peer === undefined) {
        return {
          status: failed(
            SUBJECT_CODES.FUNCTION_REQUESTER,
            REASON_CODES.NOT_ALLOWED,
            `${element.slice(0, 3)} is called by the ${route.from}, not by this partner`,
          ),
        };
      }
      const port = factory(peer, context) as Record<string, (b: unknown) => Promise<unknown>> | undefined;
      const fn = port?.[route.method];
      if (fn === undefined) {
        return {
          status: failed(
            SUBJECT_CODES.FUNCTION_PROVIDER,
            REASON_CODES.UNSUPPORTED,
            `${element} is not provided for ${peer.entityId}`,
          ),
        };
      }
      const response = (await fn.call(port, body)) as Record<string, unknown> & {
        functionExecutionStatus: HandlerOutcome<RequestElement>['status'];
      };
      // The endpoint stamps processing times and the validity check itself.
      const {
        functionExecutionStatus,
        processingStart: _start,
        processingEnd: _end,
        acceptableValidityPeriod: _avp,
        ...output
      } = response;
      // A failed answer carries only the outputs it has: the in-process ports' '' for "none" (e.g.
      // CreateISDP's Isd-p-aid) is not a schema value and would cost the partner the real status.
      if (functionExecutionStatus.status === 'FAILED' || functionExecutionStatus.status === 'EXPIRED')
        for (const [key, value] of Object.entries(output)) if (value === '') delete output[key];
      return { status: functionExecutionStatus, output } as HandlerOutcome<RequestElement>;
    };
  }
  for (const [element, route] of Object.entries(NOTIFICATION_ROUTES)) {
    if (route === undefined) continue;
    const factory = ports[route.port];
    if (factory === undefined) continue;
    handlers[element] = async (body: unknown, context: HandlerContext): Promise<void> => {
      const peer = inRole(context.peer, route.from);
      const port =
        peer !== undefined
          ? (factory(peer) as Record<string, (b: unknown) => Promise<void>> | undefined)
          : undefined;
      const fn = port?.[route.method];
      if (fn === undefined) {
        // Acknowledged on the wire (a notification has no response), dropped here.
        log?.warn(
          { element, peer: context.peer },
          'SGP.02 notification from a partner not allowed to send it',
        );
        return;
      }
      await fn.call(port, body);
    };
  }
  return handlers as SoapHandlers;
}

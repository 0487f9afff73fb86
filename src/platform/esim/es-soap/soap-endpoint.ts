// The provider side of the SGP.02 SOAP binding (Annex B), without sockets: a received message is
// read, checked and routed by its Action to a handler; requests are acknowledged at once and their
// result travels later as a `*Response` call to the requester's ReplyTo (RelatesTo = MessageID).
// The steps, in order:
//   decode (total, bounded)  → refuse replays (MessageID seen from this partner)
//   → responses: hand to the caller waiting for them;  notifications: acknowledge, run the handler
//   → requests: a handler exists, ReplyTo is allowed for this partner  → acknowledge
//   → validity period (SGP.02 §5.1.1.2) not yet passed → run the handler → still within the period
//     → `*Response` with the handler's status, else EXPIRED.
import type { Element } from '@xmldom/xmldom';
import type { Clock } from '../../../lib/clock.js';
import type { XmlLimits } from '../../../lib/safe-xml.js';
import type { BaseResponse, MessageBodies, MessageElement, MessageSpec } from './sgp-02-messages.js';
import { responseSpecOf } from './sgp-02-messages.js';
import {
  EXPIRED,
  type FunctionExecutionStatus,
  failed,
  isExpired,
  REASON_CODES,
  SUBJECT_CODES,
} from './sgp-02-status-codes.js';
import type { Eis } from './sgp-02-xml-types.js';
import {
  type DecodedSoapMessage,
  decodeSoapMessage,
  newMessageId,
  type SoapFault,
  type SoapMessage,
  statusForDecodeError,
  WSA_ANONYMOUS,
  type WsAddressing,
} from './soap-envelope.js';

export type RequestElement = Extract<MessageElement, `${string}Request`>;
export type ResponseElement = Extract<MessageElement, `${string}Response`>;
export type NotificationElement = Extract<MessageElement, `${string}Notification`>;
export type ResponseOf<R extends RequestElement> = R extends `${infer P}Request`
  ? Extract<`${P}Response`, ResponseElement>
  : never;
/** The function's own outputs (the response body without the BaseResponseType part). */
export type ResponseOutput<R extends RequestElement> = Omit<MessageBodies[ResponseOf<R>], keyof BaseResponse>;

export interface HandlerContext {
  /** Name of the partner whose client certificate authenticated the connection. */
  readonly peer: string;
  readonly addressing: WsAddressing;
  /** EIS elements as received, for verifyEisSignature. */
  readonly eisElements: ReadonlyArray<{ readonly eis: Eis; readonly element: Element }>;
  readonly receivedAtMs: number;
}

export type HandlerOutcome<R extends RequestElement> =
  | {
      readonly status: FunctionExecutionStatus & { status: 'EXECUTED_SUCCESS' | 'EXECUTED_WITHWARNING' };
      readonly output: ResponseOutput<R>;
    }
  | {
      readonly status: FunctionExecutionStatus & { status: 'FAILED' | 'EXPIRED' };
      readonly output?: Partial<ResponseOutput<R>>;
    };

export type RequestHandler<R extends RequestElement> = (
  body: MessageBodies[R],
  context: HandlerContext,
) => Promise<HandlerOutcome<R>>;
export type NotificationHandler<N extends NotificationElement> = (
  body: MessageBodies[N],
  context: HandlerContext,
) => Promise<void>;

export type SoapHandlers = { readonly [R in RequestElement]?: RequestHandler<R> } & {
  readonly [N in NotificationElement]?: NotificationHandler<N>;
};

export interface SoapEndpointOptions {
  readonly clock: Clock;
  readonly handlers: SoapHandlers;
  /** Our own address, sent as wsa:From of the responses. */
  readonly selfAddress: string;
  /** May an asynchronous response to `peer` go to `replyTo`? (the transport pins it to the partner) */
  readonly replyToAllowed: (peer: string, replyTo: string) => boolean;
  /** A `*Response` arrived (the answer to one of our calls). */
  readonly onResponse: (message: DecodedSoapMessage, peer: string) => void;
  readonly xmlLimits?: XmlLimits;
  /** How many recent MessageIDs are remembered per endpoint to refuse replays. */
  readonly replayMemory?: number;
  /** May `peer` call functions of this interface? (default: yes) — e.g. only the EUM uses ES1. */
  readonly allowed?: (peer: string, spec: MessageSpec) => boolean;
  /** A handler threw: the error (for the log; the partner sees a generic FAILED status). */
  readonly onHandlerError?: (error: unknown, element: MessageElement) => void;
}

export type Acceptance =
  | {
      readonly kind: 'accepted';
      readonly spec: MessageSpec;
      /** Resolves with the `*Response` message to send to ReplyTo (none for notifications and responses). */
      readonly work: Promise<SoapMessage | undefined>;
    }
  | { readonly kind: 'refused'; readonly fault: SoapFault };

export class SoapEndpoint {
  private readonly seen = new Set<string>();
  private readonly replayMemory: number;

  constructor(private readonly options: SoapEndpointOptions) {
    this.replayMemory = options.replayMemory ?? 10_000;
  }

  /** Take one received message from an authenticated partner. Never throws. */
  accept(text: string, peer: string): Acceptance {
    const receivedAtMs = this.options.clock.now();
    const decoded = decodeSoapMessage(text, this.options.xmlLimits);
    if (!decoded.ok) {
      return refuse(
        'Sender',
        decoded.error.code,
        decoded.error.message,
        statusForDecodeError(decoded.error),
        decoded.error.addressing?.messageId,
      );
    }
    const message = decoded.value;
    const { addressing, spec } = message;
    const replayKey = `${peer}\u0000${addressing.messageId}`;
    if (this.seen.has(replayKey)) {
      return refuse(
        'Sender',
        'SOAP_REPLAY',
        'this MessageID was already received',
        failed(SUBJECT_CODES.FUNCTION, REASON_CODES.ALREADY_IN_USE, 'duplicate MessageID'),
        addressing.messageId,
      );
    }
    this.remember(replayKey);
    if (this.options.allowed !== undefined && !this.options.allowed(peer, spec)) {
      return refuse(
        'Sender',
        'SOAP_NOT_ALLOWED',
        `${peer} may not use ${spec.iface}`,
        failed(
          SUBJECT_CODES.FUNCTION_REQUESTER,
          REASON_CODES.NOT_ALLOWED,
          `${spec.iface} is not allowed for this requester`,
        ),
        addressing.messageId,
      );
    }
    const context: HandlerContext = { peer, addressing, eisElements: message.eisElements, receivedAtMs };

    if (spec.kind === 'response') {
      this.options.onResponse(message, peer);
      return { kind: 'accepted', spec, work: Promise.resolve(undefined) };
    }
    const handler = (this.options.handlers as Record<string, unknown>)[spec.element] as
      | ((body: unknown, context: HandlerContext) => Promise<unknown>)
      | undefined;
    if (handler === undefined) {
      return refuse(
        'Sender',
        'SOAP_FUNCTION_UNSUPPORTED',
        `${spec.element} is not provided by this endpoint`,
        failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.UNSUPPORTED, `${spec.element} is not supported`),
        addressing.messageId,
      );
    }
    if (spec.kind === 'notification') {
      const work = handler(message.message.body, context).then(
        () => undefined,
        (e: unknown) => {
          this.options.onHandlerError?.(e, spec.element);
          return undefined;
        },
      );
      return { kind: 'accepted', spec, work };
    }
    const replyTo = addressing.replyTo;
    if (replyTo === undefined || replyTo === WSA_ANONYMOUS || !this.options.replyToAllowed(peer, replyTo)) {
      return refuse(
        'Sender',
        'SOAP_REPLY_TO_REFUSED',
        'a request needs a wsa:ReplyTo at the partner’s own configured endpoint (the response is asynchronous)',
        failed(SUBJECT_CODES.FUNCTION_REQUESTER, REASON_CODES.INVALID, 'wsa:ReplyTo refused'),
        addressing.messageId,
      );
    }
    const responseSpec = responseSpecOf(spec) as MessageSpec;
    const work = this.run(handler, message, context, responseSpec, replyTo);
    return { kind: 'accepted', spec, work };
  }

  private async run(
    handler: (body: unknown, context: HandlerContext) => Promise<unknown>,
    message: DecodedSoapMessage,
    context: HandlerContext,
    responseSpec: MessageSpec,
    replyTo: string,
  ): Promise<SoapMessage> {
    const body = message.message.body as { validityPeriod?: number };
    const expired = () => isExpired(body.validityPeriod, context.receivedAtMs, this.options.clock.now());
    const processingStart = new Date(this.options.clock.now());
    let status: FunctionExecutionStatus;
    let output: Record<string, unknown> = {};
    if (expired()) {
      status = EXPIRED;
    } else {
      try {
        const outcome = (await handler(message.message.body, context)) as HandlerOutcome<RequestElement>;
        status = outcome.status;
        output = (outcome.output ?? {}) as Record<string, unknown>;
      } catch (e) {
        this.options.onHandlerError?.(e, message.spec.element);
        status = failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.EXECUTION_ERROR, 'Execution error');
        output = {};
      }
      if (expired() && status.status !== 'FAILED') {
        status = EXPIRED;
        output = {};
      }
    }
    return {
      addressing: {
        action: responseSpec.action,
        messageId: newMessageId(),
        to: replyTo,
        from: this.options.selfAddress,
        relatesTo: message.addressing.messageId,
      },
      message: {
        element: responseSpec.element,
        body: {
          ...output,
          processingStart,
          processingEnd: new Date(this.options.clock.now()),
          functionExecutionStatus: status,
        },
      } as SoapMessage['message'],
    };
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > this.replayMemory) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

function refuse(
  side: 'Sender' | 'Receiver',
  code: string,
  reason: string,
  status: FunctionExecutionStatus,
  relatesTo: string | undefined,
): Acceptance {
  return {
    kind: 'refused',
    fault: { side, code, reason, status, ...(relatesTo === undefined ? {} : { relatesTo }) },
  };
}

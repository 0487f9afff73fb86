// SendMailAction and SendMailToOperatorAction over real SMTP (nodemailer): `smtpUrl` names the server
// (smtp://user:password@host:587 uses STARTTLS when offered; smtps://…:465 is TLS from the start).
// Title and message get the template variables; the Message-ID is derived from the run's
// idempotency key, so a retried run sends a mail the receiver can recognise as the same one. A
// permanent SMTP refusal (5xx, a refused recipient) fails the run; anything else is retried with
// backoff by the engine.

import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Clock } from '../../lib/clock.js';
import type { Store } from '../store/database.js';
import type { ActionExecutor, ActionResult, ActionRun } from './engine.js';
import { fillTemplate, IDEMPOTENCY_HEADER } from './web-request.js';

export interface MailOptions {
  readonly smtpUrl: string | undefined;
  readonly from: string;
  readonly store: Store;
  readonly clock: Clock;
  readonly timeoutMs: number;
}

/** A subject is one line: line breaks would start new headers. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

export function mailExecutor(o: MailOptions): ActionExecutor {
  let transport: Transporter | undefined;
  const transporter = () => {
    transport ??= nodemailer.createTransport(
      o.smtpUrl as string,
      {
        connectionTimeout: o.timeoutMs,
        greetingTimeout: o.timeoutMs,
        socketTimeout: o.timeoutMs,
      } as never,
    );
    return transport;
  };
  return async (run: ActionRun): Promise<ActionResult> => {
    if (o.smtpUrl === undefined) {
      return {
        outcome: 'failed',
        detail: { error: `${run.type} cannot send: no SMTP server is configured (set SIMTRUST_SMTP_URL)` },
      };
    }
    let to = run.properties.to;
    if (run.type === 'SendMailToOperatorAction') {
      const operator = await o.store.db
        .selectFrom('operators')
        .select('email')
        .where('operator_id', '=', run.operatorId)
        .executeTakeFirst();
      to = operator?.email;
    }
    if (to === undefined) return { outcome: 'failed', detail: { error: 'no recipient' } };
    const vars = run.variables;
    const id = createHash('sha256').update(run.idempotencyKey).digest('hex').slice(0, 32);
    try {
      const info = await transporter().sendMail({
        from: o.from,
        to,
        subject: oneLine(fillTemplate(run.properties.title ?? '', vars, (s) => s)),
        text: fillTemplate(run.properties.message ?? '', vars, (s) => s),
        messageId: `<${id}@simtrust.event-handler>`,
        date: new Date(o.clock.now()),
        headers: { [IDEMPOTENCY_HEADER]: run.idempotencyKey },
      });
      return {
        outcome: 'succeeded',
        detail: { to, messageId: info.messageId, response: String(info.response) },
      };
    } catch (e) {
      const err = e as Error & { responseCode?: number; code?: string };
      const permanent =
        (err.responseCode !== undefined && err.responseCode >= 500) || err.code === 'EENVELOPE';
      return {
        outcome: permanent ? 'failed' : 'retry',
        detail: { to, error: err.message, ...(err.responseCode ? { smtpCode: err.responseCode } : {}) },
      };
    }
  };
}

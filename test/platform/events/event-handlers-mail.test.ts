// SendMailAction and SendMailToOperatorAction (issue 14) against a real SMTP server started by the
// test (smtp-server, parsed with mailparser): the mail arrives with the variables filled in, the
// operator's address for SendMailToOperatorAction, a stable Message-ID and idempotency header; a
// line break in a title cannot add a header; a 4xx answer is retried and a 5xx fails; without
// SIMTRUST_SMTP_URL the run fails with a clear message. SQLite and PostgreSQL.

import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { EventEngine } from '../../../src/platform/events/engine.js';
import { mailExecutor } from '../../../src/platform/events/mail.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../aaa/fixture.js';

const clock = new ManualClock(Date.UTC(2026, 7, 3, 9));
let api: TestApi;
let smtp: SMTPServer;
const mails: ParsedMail[] = [];
/** SMTP reply codes to give the next DATA commands (default: accept). */
const refusals: number[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      const code = refusals.shift();
      if (code !== undefined) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error(`refused ${code}`), { responseCode: code })));
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          callback();
        },
        (e: Error) => callback(e),
      );
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  api = await startTestApi({
    clock,
    config: { smtpUrl: `smtp://127.0.0.1:${port}`, smtpFrom: 'fleet <eh@simtrust.test>' },
  });
});
afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await api.close();
});

const at = { executionDateTimeConst: 'IMMEDIATELY' };

async function suspendWith(actions: object[]) {
  const s = await createSim(api);
  await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/activate` });
  const res = await api.call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: {
      name: 'mail',
      status: 'active',
      targetSimId: s.simId,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      },
      actionConfigList: actions,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  await api.call({ method: 'POST', url: `/v1/sims/${s.simId}/suspend` });
  return { s, handlerId: res.json().handlerId as string };
}

const runs = async (handlerId: string) =>
  (await api.call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` })).json()[0].actions;

describe(`mail actions over SMTP (${testDialect})`, () => {
  it('delivers to the given address and to the operator, with variables, Message-ID and idempotency key', async () => {
    mails.length = 0;
    const { s, handlerId } = await suspendWith([
      {
        type: 'SendMailAction',
        properties: {
          to: 'noc@example.com',
          title: 'SIM ${simId} is ${newStatus}\r\nBcc: victim@example.com',
          message: 'IMSI ${imsi} went from ${oldStatus} to ${newStatus}.',
          ...at,
        },
      },
      {
        type: 'SendMailToOperatorAction',
        properties: { title: 'Suspended: ${imsi}', message: 'see SIM ${simId}', ...at },
      },
    ]);
    await api.platform.events.tick({ traffic: false });
    expect((await runs(handlerId)).map((r: { status: string }) => r.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    expect(mails).toHaveLength(2);
    const [toNoc, toOperator] = [
      mails.find((m) => m.to && JSON.stringify(m.to).includes('noc@example.com')),
      mails.find((m) => JSON.stringify(m.to).includes(api.operator.email)),
    ];
    expect(toNoc?.subject).toBe(`SIM ${s.simId} is suspended Bcc: victim@example.com`);
    expect(toNoc?.headers.has('bcc')).toBe(false);
    expect(toNoc?.text?.trim()).toBe(`IMSI ${s.imsi} went from active to suspended.`);
    expect(toNoc?.from?.value[0]).toMatchObject({ name: 'fleet', address: 'eh@simtrust.test' });
    expect(toNoc?.messageId).toMatch(/^<[0-9a-f]{32}@simtrust\.event-handler>$/);
    expect(String(toNoc?.headers.get('x-simtrust-idempotency-key'))).toMatch(
      new RegExp(`^${handlerId}:${s.simId}:\\d+:0$`),
    );
    expect(toOperator?.subject).toBe(`Suspended: ${s.imsi}`);
  });

  it('retries a temporary refusal (4xx) and fails a permanent one (5xx)', async () => {
    mails.length = 0;
    refusals.push(451);
    const { handlerId } = await suspendWith([
      { type: 'SendMailAction', properties: { to: 'a@example.com', title: 't', message: 'm', ...at } },
    ]);
    await api.platform.events.tick({ traffic: false });
    expect((await runs(handlerId))[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      result: { smtpCode: 451 },
    });
    clock.advance(10_000);
    await api.platform.events.tick({ traffic: false });
    expect((await runs(handlerId))[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(mails).toHaveLength(1);

    refusals.push(554);
    const second = await suspendWith([
      { type: 'SendMailAction', properties: { to: 'b@example.com', title: 't', message: 'm', ...at } },
    ]);
    await api.platform.events.tick({ traffic: false });
    expect((await runs(second.handlerId))[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      result: { smtpCode: 554 },
    });
  });

  it('fails with a clear message when no SMTP server is configured', async () => {
    const engine = new EventEngine(api.db.store, clock, api.platform.sims);
    engine.useExecutor(
      'SendMailAction',
      mailExecutor({ smtpUrl: undefined, from: 'x <x@x.test>', store: api.db.store, clock, timeoutMs: 1000 }),
    );
    const { handlerId } = await suspendWith([
      { type: 'SendMailAction', properties: { to: 'c@example.com', title: 't', message: 'm', ...at } },
    ]);
    await engine.tick({ traffic: false });
    expect((await runs(handlerId))[0]).toMatchObject({
      status: 'failed',
      result: { error: 'SendMailAction cannot send: no SMTP server is configured (set SIMTRUST_SMTP_URL)' },
    });
  });
});

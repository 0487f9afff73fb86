// The provider side without sockets: routing by Action, asynchronous *Response with RelatesTo,
// ValidityPeriod → EXPIRED (injectable clock, no sleeping), replays, ReplyTo pinning, unsupported
// functions and handler failures that must not leak their message to the partner.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/lib/clock.js';
import {
  MESSAGE_BY_ELEMENT,
  type MessageBodies,
} from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import { SUCCESS } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  SoapEndpoint,
  type SoapEndpointOptions,
  type SoapHandlers,
} from '../../../../src/platform/esim/es-soap/soap-endpoint.js';
import { encodeSoapMessage, newMessageId } from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import { EID } from './fixtures.js';

const PEER = 'sm-dp-1';
const PEER_URL = 'https://sm-dp-1.example/esim/soap';

function endpoint(
  handlers: SoapHandlers,
  clock = new ManualClock(),
  extra: Partial<SoapEndpointOptions> = {},
) {
  const responses: unknown[] = [];
  const errors: unknown[] = [];
  const ep = new SoapEndpoint({
    clock,
    handlers,
    selfAddress: 'https://sm-sr.example/esim/soap',
    replyToAllowed: (peer, url) => peer === PEER && url === PEER_URL,
    onResponse: (m) => responses.push(m.message),
    onHandlerError: (e) => errors.push(e),
    ...extra,
  });
  return { ep, responses, errors, clock };
}

function sendData(
  body: Partial<MessageBodies['ES3-SendDataRequest']> = {},
  messageId = newMessageId(),
  replyTo = PEER_URL,
) {
  const spec = MESSAGE_BY_ELEMENT.get('ES3-SendDataRequest');
  return encodeSoapMessage({
    addressing: { action: spec?.action ?? '', messageId, to: 'https://sm-sr.example/esim/soap', replyTo },
    message: {
      element: 'ES3-SendDataRequest',
      body: {
        functionCallIdentifier: 'c1',
        eid: EID,
        sdAid: 'A0000005591010FFFFFFFF8900001000',
        data: new Uint8Array([1, 2]),
        ...body,
      },
    },
  });
}

describe('SoapEndpoint', () => {
  it('acknowledges, runs the handler, and produces the *Response to ReplyTo with RelatesTo', async () => {
    const seen: unknown[] = [];
    const { ep } = endpoint({
      'ES3-SendDataRequest': async (body, ctx) => {
        seen.push([body.data, ctx.peer]);
        return { status: SUCCESS, output: { euiccResponseData: new Uint8Array([0x90, 0x00]) } };
      },
    });
    const id = newMessageId();
    const acceptance = ep.accept(sendData({}, id), PEER);
    expect(acceptance.kind).toBe('accepted');
    if (acceptance.kind !== 'accepted') return;
    const response = await acceptance.work;
    expect(seen).toEqual([[new Uint8Array([1, 2]), PEER]]);
    expect(response?.addressing).toMatchObject({
      action: 'http://gsma.com/ES3/ProfileManagementCallBack/ES3-SendData',
      to: PEER_URL,
      relatesTo: id,
      from: 'https://sm-sr.example/esim/soap',
    });
    expect(response?.message.element).toBe('ES3-SendDataResponse');
    expect(response?.message.body).toMatchObject({
      functionExecutionStatus: { status: 'EXECUTED_SUCCESS' },
      euiccResponseData: new Uint8Array([0x90, 0x00]),
    });
  });

  it('ValidityPeriod: a function that outlives it answers EXPIRED (1.6 / 5.3), without its outputs', async () => {
    const clock = new ManualClock();
    const { ep } = endpoint(
      {
        'ES3-SendDataRequest': async () => {
          clock.advance(10_001);
          return { status: SUCCESS, output: { euiccResponseData: new Uint8Array([0x90, 0x00]) } };
        },
      },
      clock,
    );
    const acceptance = ep.accept(sendData({ validityPeriod: 10 }), PEER);
    if (acceptance.kind !== 'accepted') throw new Error('refused');
    const response = await acceptance.work;
    expect(response?.message.body).toMatchObject({
      functionExecutionStatus: { status: 'EXPIRED', statusCodeData: { subject: '1.6', reason: '5.3' } },
    });
    expect(response?.message.body).not.toHaveProperty('euiccResponseData');
    // The response still encodes (its outputs may be absent when EXPIRED).
    expect(() => encodeSoapMessage(response as never)).not.toThrow();
  });

  it('ValidityPeriod 0: already expired when it arrives, the handler does not run', async () => {
    let ran = false;
    const { ep } = endpoint({
      'ES3-SendDataRequest': async () => {
        ran = true;
        return { status: SUCCESS, output: {} };
      },
    });
    const acceptance = ep.accept(sendData({ validityPeriod: 0 }), PEER);
    if (acceptance.kind !== 'accepted') throw new Error('refused');
    expect((await acceptance.work)?.message.body).toMatchObject({
      functionExecutionStatus: { status: 'EXPIRED' },
    });
    expect(ran).toBe(false);
  });

  it('a handler that throws gives FAILED 1.2 / 4.2 "Execution error", its message stays inside', async () => {
    const { ep, errors } = endpoint({
      'ES3-SendDataRequest': async () => {
        throw new Error('database password is hunter2');
      },
    });
    const acceptance = ep.accept(sendData(), PEER);
    if (acceptance.kind !== 'accepted') throw new Error('refused');
    const response = await acceptance.work;
    expect(response?.message.body).toMatchObject({
      functionExecutionStatus: {
        status: 'FAILED',
        statusCodeData: { subject: '1.2', reason: '4.2', message: 'Execution error' },
      },
    });
    expect(JSON.stringify(response)).not.toContain('hunter2');
    expect(errors).toHaveLength(1);
  });

  it('refuses replays, unsupported functions, and a ReplyTo that is not the partner’s endpoint', () => {
    const { ep } = endpoint({ 'ES3-SendDataRequest': async () => ({ status: SUCCESS, output: {} }) });
    const id = newMessageId();
    expect(ep.accept(sendData({}, id), PEER).kind).toBe('accepted');
    const replay = ep.accept(sendData({}, id), PEER);
    expect(replay.kind === 'refused' && replay.fault.code).toBe('SOAP_REPLAY');
    const elsewhere = ep.accept(sendData({}, newMessageId(), 'https://169.254.169.254/latest'), PEER);
    expect(elsewhere.kind === 'refused' && elsewhere.fault.code).toBe('SOAP_REPLY_TO_REFUSED');
    const spec = MESSAGE_BY_ELEMENT.get('ES3-DeleteISDPRequest');
    const unsupported = ep.accept(
      encodeSoapMessage({
        addressing: { action: spec?.action ?? '', messageId: newMessageId(), to: 'x:y', replyTo: PEER_URL },
        message: {
          element: 'ES3-DeleteISDPRequest',
          body: { functionCallIdentifier: 'd', eid: EID, iccid: '8988211000000467285' },
        },
      }),
      PEER,
    );
    expect(unsupported.kind === 'refused' && unsupported.fault).toMatchObject({
      code: 'SOAP_FUNCTION_UNSUPPORTED',
      status: { status: 'FAILED', statusCodeData: { subject: '1.2', reason: '3.1' } },
    });
    const garbage = ep.accept('<not-soap/>', PEER);
    expect(garbage.kind === 'refused' && garbage.fault.status.status).toBe('FAILED');
  });

  it('responses go to the waiting caller; notifications run their handler', async () => {
    const notified: unknown[] = [];
    const { ep, responses } = endpoint({
      'ES3-HandleProfileEnabledNotification': async (body) => {
        notified.push(body.iccid);
      },
    });
    const n = MESSAGE_BY_ELEMENT.get('ES3-HandleProfileEnabledNotification');
    const a = ep.accept(
      encodeSoapMessage({
        addressing: { action: n?.action ?? '', messageId: newMessageId(), to: 'x:y' },
        message: {
          element: 'ES3-HandleProfileEnabledNotification',
          body: { eid: EID, iccid: '8988211000000467285', mnoId: '1.2.3', completionTimestamp: new Date(0) },
        },
      }),
      PEER,
    );
    if (a.kind !== 'accepted') throw new Error('refused');
    expect(await a.work).toBeUndefined();
    expect(notified).toEqual(['8988211000000467285']);
    const r = MESSAGE_BY_ELEMENT.get('ES3-SendDataResponse');
    ep.accept(
      encodeSoapMessage({
        addressing: {
          action: r?.action ?? '',
          messageId: newMessageId(),
          to: 'x:y',
          relatesTo: 'urn:uuid:1',
        },
        message: { element: 'ES3-SendDataResponse', body: { functionExecutionStatus: SUCCESS } },
      }),
      PEER,
    );
    expect(responses).toEqual([
      { element: 'ES3-SendDataResponse', body: { functionExecutionStatus: { status: 'EXECUTED_SUCCESS' } } },
    ]);
  });
});

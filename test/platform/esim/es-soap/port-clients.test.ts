// The port contract across the wire (port-clients.ts) and the listener's dispatch to local ports
// (soap-dispatch.ts), without sockets: a SOAP caller that answers, refuses, breaks or never answers.
// Threats: a partner of the wrong role calling a function (an operator on ES3, an SM-DP on ES4) is
// refused by the dispatch although TLS authenticated it; a notification from a party that may not
// send it is dropped; the port never rejects, whatever the transport does.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimtrustError } from '../../../../src/lib/errors.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import {
  type SoapCaller,
  soapEs2Notifications,
  soapEs3Notifications,
  soapEs3Port,
  soapEs4Notifications,
  soapEs4Port,
  soapFunction,
} from '../../../../src/platform/esim/es-soap/port-clients.js';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { HandlerContext } from '../../../../src/platform/esim/es-soap/soap-endpoint.js';
import {
  NOTIFICATION_ROUTES,
  REQUEST_ROUTES,
  soapHandlersFor,
} from '../../../../src/servers/esim/soap-dispatch.js';

const EID = '89049032123451234512345678901235';

function caller(call: SoapCaller['call'], notify: SoapCaller['notify'] = async () => {}): SoapCaller {
  return { call, notify };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SOAP port clients', () => {
  it('pass the partner, the element and the body, and resolve with the response', async () => {
    const seen: unknown[] = [];
    const port = soapEs3Port(
      caller(async (partner, element, body) => {
        seen.push([partner, element, body]);
        return { functionExecutionStatus: SUCCESS, euiccResponseData: Uint8Array.of(0x90, 0x00) } as never;
      }),
      { partner: 'sm-sr-1' },
    );
    const body = { functionCallIdentifier: 'f1', eid: EID, sdAid: 'A0', data: Uint8Array.of(1) };
    const r = await port.sendData(body);
    expect(r).toEqual({ functionExecutionStatus: SUCCESS, euiccResponseData: Uint8Array.of(0x90, 0x00) });
    expect(seen).toEqual([['sm-sr-1', 'ES3-SendDataRequest', body]]);
  });

  it('every port function names a request of its own interface', async () => {
    const elements: string[] = [];
    const c = caller(async (_p, element) => {
      elements.push(element);
      return { functionExecutionStatus: SUCCESS } as never;
    });
    for (const [iface, port] of [
      ['ES3', soapEs3Port(c, { partner: 'x' })],
      ['ES4', soapEs4Port(c, { partner: 'x' })],
    ] as const) {
      elements.length = 0;
      for (const fn of Object.values(port)) await (fn as (b: unknown) => Promise<unknown>)({});
      expect(new Set(elements).size).toBe(Object.keys(port).length);
      for (const e of elements) {
        expect(e.startsWith(`${iface}-`)).toBe(true);
        expect(REQUEST_ROUTES[e as keyof typeof REQUEST_ROUTES]).toBeDefined();
      }
    }
  });

  it('a refusal by the partner becomes FAILED with the fault status', async () => {
    const status = failed(
      SUBJECT_CODES.FUNCTION_REQUESTER,
      REASON_CODES.UNKNOWN_REQUESTER,
      'SOAP_PEER_UNKNOWN',
    );
    const port = soapEs3Port(
      caller(async () => {
        throw new SimtrustError('ERR_ESIM_SOAP_REJECTED', 'refused', {
          details: { httpStatus: 403, status },
        });
      }),
      { partner: 'sm-sr-1' },
    );
    expect((await port.getEIS({ functionCallIdentifier: 'f', eid: EID })).functionExecutionStatus).toEqual(
      status,
    );
  });

  it('an unreachable partner or a bug below becomes FAILED 1.2 / 3.7, never a rejection', async () => {
    for (const error of [
      new SimtrustError('ERR_ESIM_SOAP_TRANSPORT', 'ECONNREFUSED'),
      new TypeError('boom'),
    ]) {
      const port = soapEs3Port(
        caller(async () => {
          throw error;
        }),
        { partner: 'sm-sr-1' },
      );
      const r = await port.createISDP({
        functionCallIdentifier: 'f',
        eid: EID,
        iccid: '8944000000000005557',
        mnoId: '1.2.3',
        requiredMemory: 1,
      });
      expect(r.functionExecutionStatus.status).toBe('FAILED');
      expect(r.functionExecutionStatus.statusCodeData).toMatchObject({
        subject: SUBJECT_CODES.FUNCTION_PROVIDER,
        reason: REASON_CODES.UNAVAILABLE,
      });
      expect(r.functionExecutionStatus.statusCodeData?.message).toContain('sm-sr-1');
    }
  });

  it('no answer within ValidityPeriod + grace: EXPIRED; the node is told to wait longer than that', async () => {
    vi.useFakeTimers();
    let timeoutMs: number | undefined;
    const fn = soapFunction(
      caller((_p, _e, _b, options) => {
        timeoutMs = options?.timeoutMs;
        return new Promise(() => {});
      }),
      'ES3-GetEISRequest',
      { partner: 'sm-sr-1', graceMs: 2_000 },
    );
    let result: unknown;
    void fn({ functionCallIdentifier: 'f', eid: EID, validityPeriod: 10 }).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(11_999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toMatchObject({ functionExecutionStatus: { status: 'EXPIRED' } });
    expect(timeoutMs).toBeGreaterThan(12_000);
  });

  it('an answer within the period is returned as is', async () => {
    const fn = soapFunction(
      caller(async () => ({ functionExecutionStatus: SUCCESS }) as never),
      'ES3-GetEISRequest',
      { partner: 'p' },
    );
    expect(await fn({ functionCallIdentifier: 'f', eid: EID, validityPeriod: 10 })).toEqual({
      functionExecutionStatus: SUCCESS,
    });
  });
});

const ctx = (peer: string): HandlerContext => ({
  peer,
  addressing: { action: 'a', messageId: 'm', to: 't' },
  eisElements: [],
  receivedAtMs: 0,
});

describe('SOAP dispatch to local ports', () => {
  const calls: string[] = [];
  const es3 = (smdpId: string) =>
    new Proxy({} as Es3Port, {
      get: (_t, name) => async () => {
        calls.push(`${smdpId}.${String(name)}`);
        return {
          functionExecutionStatus: SUCCESS,
          processingStart: new Date(0),
          processingEnd: new Date(0),
          euiccResponseData: Uint8Array.of(0x61),
        };
      },
    });
  const peers: Record<string, { entityId: string; role: 'sm-dp' | 'operator' | 'sm-sr' }> = {
    dp: { entityId: '1.1.1', role: 'sm-dp' },
    mno: { entityId: '3.3.3', role: 'operator' },
    sr: { entityId: '2.2.2', role: 'sm-sr' },
  };
  const handlers = soapHandlersFor({ es3: (p) => es3(p.entityId) }, (name) => peers[name]) as Record<
    string,
    (body: unknown, c: HandlerContext) => Promise<{ status: unknown; output?: unknown }>
  >;

  it('hands an SM-DP’s ES3 request to the port bound to that SM-DP; processing times are the endpoint’s', async () => {
    calls.length = 0;
    const send = handlers['ES3-SendDataRequest'];
    const r = await send?.({ functionCallIdentifier: 'f' }, ctx('dp'));
    expect(calls).toEqual(['1.1.1.sendData']);
    expect(r).toEqual({ status: SUCCESS, output: { euiccResponseData: Uint8Array.of(0x61) } });
  });

  it('refuses ES3 from an operator, an SM-SR or a partner gone from the registry, without running the port', async () => {
    calls.length = 0;
    for (const peer of ['mno', 'sr', 'gone']) {
      const r = await handlers['ES3-CreateISDPRequest']?.({ functionCallIdentifier: 'f' }, ctx(peer));
      expect(r?.status).toMatchObject({
        status: 'FAILED',
        statusCodeData: { subject: SUBJECT_CODES.FUNCTION_REQUESTER, reason: REASON_CODES.NOT_ALLOWED },
      });
    }
    expect(calls).toEqual([]);
  });

  it('offers only what the deployment provides', () => {
    expect(handlers['ES3-SendDataRequest']).toBeDefined();
    expect(handlers['ES4-EnableProfileRequest']).toBeUndefined();
    expect(handlers['ES2-DownloadProfileRequest']).toBeUndefined();
    expect(handlers['ES1-RegisterEISRequest']).toBeUndefined();
  });

  it('a port that does not serve this peer answers FAILED 1.2 / 3.1', async () => {
    const h = soapHandlersFor({ es4: () => undefined }, () => ({
      entityId: '3',
      role: 'operator',
    })) as typeof handlers;
    const r = await h['ES4-GetEISRequest']?.({ functionCallIdentifier: 'f' }, ctx('mno'));
    expect(r?.status).toMatchObject({
      status: 'FAILED',
      statusCodeData: { subject: SUBJECT_CODES.FUNCTION_PROVIDER, reason: REASON_CODES.UNSUPPORTED },
    });
  });

  it('every notification a client sends has a route to the same port method, from the role that sends it', async () => {
    const sent: string[] = [];
    const n = caller(
      async () => ({ functionExecutionStatus: SUCCESS }) as never,
      async (_p, element) => void sent.push(element),
    );
    for (const [iface, port, from] of [
      ['ES2', soapEs2Notifications(n, { partner: 'x' }), 'sm-dp'],
      ['ES3', soapEs3Notifications(n, { partner: 'x' }), 'sm-sr'],
      ['ES4', soapEs4Notifications(n, { partner: 'x' }), 'sm-sr'],
    ] as const) {
      for (const [method, fn] of Object.entries(port)) {
        sent.length = 0;
        await (fn as (b: unknown) => Promise<void>)({});
        const element = sent[0] as keyof typeof NOTIFICATION_ROUTES;
        expect(element.startsWith(`${iface}-`)).toBe(true);
        expect(NOTIFICATION_ROUTES[element]).toEqual({
          port: `${iface.toLowerCase()}Notifications`,
          method,
          from,
        });
      }
      // SGP.02 §3.8 steps 31–32: the SM-SR change notification is among them.
      expect(Object.keys(port)).toContain('handleSMSRChangeNotification');
    }
  });

  it('takes notifications only from the role that sends them (ES3/ES4 from an SM-SR, ES2 from an SM-DP)', async () => {
    expect(NOTIFICATION_ROUTES['ES3-HandleProfileEnabledNotification']?.from).toBe('sm-sr');
    expect(NOTIFICATION_ROUTES['ES4-HandleProfileDeletedNotification']?.from).toBe('sm-sr');
    expect(NOTIFICATION_ROUTES['ES2-HandleProfileDisabledNotification']?.from).toBe('sm-dp');
    const got: string[] = [];
    const warned: string[] = [];
    const h = soapHandlersFor(
      {
        es3Notifications: (p) => ({
          handleProfileEnabledNotification: async (b) => void got.push(`${p.entityId}:${b.iccid}`),
          handleProfileDisabledNotification: async () => {},
          handleProfileDeletedNotification: async () => {},
        }),
      },
      (name) => peers[name],
      { warn: (o) => void warned.push(String(o.peer)) },
    ) as typeof handlers;
    await h['ES3-HandleProfileEnabledNotification']?.({ iccid: '1' }, ctx('sr'));
    await h['ES3-HandleProfileEnabledNotification']?.({ iccid: '2' }, ctx('dp'));
    await h['ES3-HandleProfileEnabledNotification']?.({ iccid: '3' }, ctx('gone'));
    expect(got).toEqual(['2.2.2:1']);
    expect(warned).toEqual(['dp', 'gone']);
  });
});

// The SM-SR's RAM-over-HTTP sessions (GP Amd B §3.3–§3.5) without a network: each check a request
// must pass, in order. Threats: a card authenticated as one EID speaking for another, a client that
// skips the protocol header or invents URIs, a session that drops with a script in flight, and a
// script nobody collects.

import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ADMIN_PROTOCOL,
  AdminSessionTriggerTlv,
  adminFrom,
  CONTENT_TYPE_COMMAND,
  CONTENT_TYPE_RESPONSE,
  decodeAdminSessionTrigger,
  decodePskIdentity,
} from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { responseScript } from '../../../src/lib/ts-102-226-remote-command.js';
import {
  type AdminRequest,
  adminSessionTrigger,
  RamOverHttpSessions,
} from '../../../src/platform/esim/sm-sr/ram-over-http.js';

const EID = '89049032123451234512345678901235';
const OTHER = '89086030202200000022000023022943';
const ISD_R = 'A0000005591010FFFFFFFF8900000100';
const APDU = hex('80F24002024F00');

const post = (
  path: string,
  o: Partial<AdminRequest> & { from?: string; status?: string } = {},
): AdminRequest => ({
  method: 'POST',
  path,
  body: o.body ?? new Uint8Array(0),
  headers: {
    'x-admin-protocol': ADMIN_PROTOCOL,
    'x-admin-from': o.from ?? adminFrom(EID, ISD_R),
    ...(o.status === undefined
      ? {}
      : { 'x-admin-script-status': o.status, 'content-type': CONTENT_TYPE_RESPONSE }),
    ...o.headers,
  },
});

function openSession(s: RamOverHttpSessions, eid: string) {
  const session = s.open(eid);
  if (session === undefined) throw new Error('a session is already open');
  return session;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RAM over HTTP sessions (SM-SR)', () => {
  it('hands out queued scripts one per response and resolves each with its R-APDUs', async () => {
    const s = new RamOverHttpSessions();
    const first = s.queue(EID, ISD_R, [APDU]);
    const second = s.queue(EID, ISD_R, [APDU, APDU]);
    const session = openSession(s, EID);
    const r1 = session.handle(post('/gp/ram'));
    expect(r1.status).toBe(200);
    expect(r1.headers['Content-Type']).toBe(CONTENT_TYPE_COMMAND);
    expect(r1.headers['X-Admin-Targeted-Application']).toBe('//aid/A000000559/1010FFFFFFFF8900000100');
    expect(toHex(r1.body)).toBe(`aa09220780f24002024f00`);
    const next = r1.headers['X-Admin-Next-URI'] as string;
    const answer = responseScript([{ data: hex('E3024F00'), statusWord: hex('9000') }]);
    const r2 = session.handle(post(next, { status: 'ok', body: answer }));
    expect(r2.status).toBe(200);
    expect(await first).toEqual({
      scriptStatus: 'ok',
      responses: [{ data: hex('E3024F00'), sw: 0x9000 }],
      raw: answer,
    });
    const r3 = session.handle(
      post(r2.headers['X-Admin-Next-URI'] as string, { status: 'ok', body: responseScript([]) }),
    );
    // Nothing left: 204 without X-Admin-Next-URI ends the session.
    expect(r3.status).toBe(204);
    expect(r3.headers['X-Admin-Next-URI']).toBeUndefined();
    expect((await second).responses).toEqual([]);
    expect(s.pending(EID)).toBe(0);
  });

  it('refuses a card speaking for another EID than its PSK identity', () => {
    const s = new RamOverHttpSessions();
    void s.queue(EID, ISD_R, [APDU]).catch(() => undefined);
    const r = openSession(s, OTHER).handle(post('/gp/ram'));
    expect(r.status).toBe(403);
    expect(s.pending(EID)).toBe(1);
  });

  it('refuses a request without the admin protocol, another method, or a URI it did not give', () => {
    const s = new RamOverHttpSessions();
    void s.queue(EID, ISD_R, [APDU]).catch(() => undefined);
    const session = openSession(s, EID);
    expect(
      session.handle({ ...post('/gp/ram'), headers: { 'x-admin-from': adminFrom(EID, ISD_R) } }).status,
    ).toBe(400);
    expect(session.handle({ ...post('/gp/ram'), method: 'GET' }).status).toBe(405);
    expect(session.handle(post('/gp/ram/other')).status).toBe(404);
    expect(s.pending(EID)).toBe(1);
  });

  it('a session that ends with a script in flight fails that script with ERR_ESIM_RAM_SESSION_FAILED', async () => {
    const s = new RamOverHttpSessions();
    const job = s.queue(EID, ISD_R, [APDU]);
    const session = openSession(s, EID);
    expect(session.handle(post('/gp/ram')).status).toBe(200);
    session.close();
    await expect(job).rejects.toMatchObject({ code: 'ERR_ESIM_RAM_SESSION_FAILED' });
  });

  it('an answer without a script status fails the script', async () => {
    const s = new RamOverHttpSessions();
    const job = s.queue(EID, ISD_R, [APDU]);
    const session = openSession(s, EID);
    const next = session.handle(post('/gp/ram')).headers['X-Admin-Next-URI'] as string;
    expect(session.handle(post(next)).status).toBe(400);
    await expect(job).rejects.toMatchObject({ code: 'ERR_ESIM_RAM_SESSION_FAILED' });
  });

  it('a script nobody collects fails with ERR_ESIM_RAM_TIMEOUT and leaves the queue', async () => {
    vi.useFakeTimers();
    const s = new RamOverHttpSessions({ deliveryMs: 1000 });
    const job = s.queue(EID, ISD_R, [APDU]);
    const failed = expect(job).rejects.toMatchObject({ code: 'ERR_ESIM_RAM_TIMEOUT' });
    vi.advanceTimersByTime(1000);
    await failed;
    expect(s.pending(EID)).toBe(0);
  });

  it('bounds the queue per eUICC', async () => {
    const s = new RamOverHttpSessions({ maxQueuedPerEid: 1 });
    void s.queue(EID, ISD_R, [APDU]).catch(() => undefined);
    await expect(s.queue(EID, ISD_R, [APDU])).rejects.toMatchObject({ code: 'ERR_ESIM_RAM_TIMEOUT' });
  });

  it('allows one session per eUICC at a time (no parallel sessions)', () => {
    const s = new RamOverHttpSessions();
    const first = openSession(s, EID);
    expect(s.open(EID)).toBeUndefined();
    expect(s.open(OTHER)).toBeDefined();
    first.close();
    expect(s.open(EID)).toBeDefined();
  });

  it('builds the push: connection to the listener, SGP.02 PSK identity, admin URI', () => {
    const t = adminSessionTrigger({
      eid: EID,
      isdRAid: ISD_R,
      kvn: 0x40,
      kid: 1,
      address: '192.0.2.7',
      port: 4443,
      adminUri: '/gp/ram',
    });
    const decoded = decodeAdminSessionTrigger(AdminSessionTriggerTlv.encode(t));
    expect(decoded).toEqual({ ok: true, value: t });
    const identity = Buffer.from(t.security?.pskIdentity ?? '', 'hex').toString('latin1');
    expect(decodePskIdentity(identity)).toEqual({
      ok: true,
      value: { eid: EID, aid: ISD_R, kvn: 0x40, kid: 1 },
    });
    expect(t.connection?.address).toEqual({ type: 'ipv4', address: '192.0.2.7' });
  });
});

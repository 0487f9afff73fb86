// The SM-SR's SCP81 sessions carrying the SM-DP's download (SGP.02 §2.4.4, §4.1.3.3): raw SCP03t jobs
// for an ISD-P, MoreToDo holding the session open between back-to-back SendData, the per-session job
// bound, and the push decisions of Es5Https and the SMS/HTTPS choice of Es5Router. No network here
// (the end-to-end test is download-over-es5.test.ts). Threats: raw data reaching the ISD-R or mixed
// into a script, a held answer outliving its connection, a job stranded behind a spent push, and
// hostile requests into a session holding data jobs (always an HTTP answer, every job settled).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_PROTOCOL,
  adminFrom,
  CONTENT_TYPE_RESPONSE,
} from '../../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex, toHex } from '../../../../src/lib/hex.js';
import { responseScript } from '../../../../src/lib/ts-102-226-remote-command.js';
import { Es5Https } from '../../../../src/platform/esim/sm-sr/es5-https.js';
import { Es5Router } from '../../../../src/platform/esim/sm-sr/es5-router.js';
import type { Es5Outcome, Es5Transport } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import {
  type AdminRequest,
  type AdminResponse,
  type AdminSession,
  adminSessionTrigger,
  RamOverHttpSessions,
} from '../../../../src/platform/esim/sm-sr/ram-over-http.js';

const EID = '89049032123451234512345678901235';
const ISD_R = 'A0000005591010FFFFFFFF8900000100';
const ISD_P = 'A0000005591010FFFFFFFF8900001100';
const APDU = hex('80F24002024F00');
const IU = hex('8408300000112233445566778899'); // an SCP03t TLV: 84 L …
const SEGMENT = hex('8604AABBCCDD');

const post = (path: string, o: { status?: string; body?: Uint8Array } = {}): AdminRequest => ({
  method: 'POST',
  path,
  body: o.body ?? new Uint8Array(0),
  headers: {
    'x-admin-protocol': ADMIN_PROTOCOL,
    'x-admin-from': adminFrom(EID, ISD_R),
    ...(o.status === undefined
      ? {}
      : { 'x-admin-script-status': o.status, 'content-type': CONTENT_TYPE_RESPONSE }),
  },
});

function open(s: RamOverHttpSessions): AdminSession {
  const session = s.open(EID);
  if (session === undefined) throw new Error('a session is already open');
  return session;
}

const nextUri = (r: AdminResponse) => r.headers['X-Admin-Next-URI'] as string;

/** Lets promise callbacks and immediates run. */
const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('RAM over HTTP: raw SCP03t jobs and MoreToDo', () => {
  it('a raw job goes as it is to the ISD-P named in X-Admin-Targeted-Application; the posted body comes back as it is', async () => {
    const s = new RamOverHttpSessions();
    const job = s.queueData(EID, ISD_P, IU);
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    expect(r1.status).toBe(200);
    expect(r1.headers['X-Admin-Targeted-Application']).toBe('//aid/A000000559/1010FFFFFFFF8900001100');
    expect(toHex(r1.body)).toBe(toHex(IU)); // not wrapped in an AA script
    // The card's answer TLVs are not a response script: they are not decoded, only returned.
    const answer = hex('8410000102030405060708090A0B0C0D0E0F');
    const r2 = await session.respond(post(nextUri(r1), { status: 'ok', body: answer }));
    expect(r2.status).toBe(204);
    expect(await job).toEqual({ scriptStatus: 'ok', raw: answer });
  });

  it('MoreToDo: the answer to the POST waits for the next job and carries it in the same session; the last job ends it', async () => {
    const s = new RamOverHttpSessions();
    const first = s.queueData(EID, ISD_P, IU, { moreToDo: true });
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    let held: AdminResponse | undefined;
    const pending = session.respond(post(nextUri(r1), { status: 'ok', body: hex('8400') })).then((r) => {
      held = r;
      return r;
    });
    expect(toHex((await first).raw)).toBe('8400');
    await turns();
    expect(held).toBeUndefined(); // held open, not ended
    expect(session.running).toBe(true);
    expect(s.needsPush(EID)).toBe(false); // the running session will take the next job: no push
    const second = s.queueData(EID, ISD_P, SEGMENT, { moreToDo: false });
    const r2 = await pending;
    expect(r2.status).toBe(200);
    expect(toHex(r2.body)).toBe(toHex(SEGMENT));
    const r3 = await session.respond(post(nextUri(r2), { status: 'ok', body: hex('8600') }));
    expect(r3.status).toBe(204); // MoreToDo false and nothing queued: the session ends at once
    expect(toHex((await second).raw)).toBe('8600');
    expect(session.running).toBe(false);
    expect(s.needsPush(EID)).toBe(true);
  });

  it('a hold with nothing coming ends the session with 204 once holdMs passes', async () => {
    const s = new RamOverHttpSessions({ holdMs: 1 });
    const job = s.queueData(EID, ISD_P, IU, { moreToDo: true });
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    const r2 = await session.respond(post(nextUri(r1), { status: 'ok', body: hex('8400') }));
    expect(r2.status).toBe(204);
    expect(r2.headers['X-Admin-Next-URI']).toBeUndefined();
    expect((await job).scriptStatus).toBe('ok');
  });

  it('a connection that closes during a hold releases the held answer (400) and the EID can open a new session', async () => {
    const s = new RamOverHttpSessions({ holdMs: 600_000 });
    void s.queueData(EID, ISD_P, IU, { moreToDo: true });
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    const held = session.respond(post(nextUri(r1), { status: 'ok', body: hex('8400') }));
    await turns();
    session.close();
    expect((await held).status).toBe(400);
    expect(s.open(EID)).toBeDefined();
  });

  it('a session ends after maxScriptsPerSession jobs; closing with jobs left announces the EID for a new push', async () => {
    const s = new RamOverHttpSessions({ maxScriptsPerSession: 2, holdMs: 1 });
    const left: string[] = [];
    s.onLeftWaiting((eid) => left.push(eid));
    const jobs = [1, 2, 3].map(() => s.queueData(EID, ISD_P, SEGMENT, { moreToDo: true }));
    const session = open(s);
    let r = await session.respond(post('/gp/ram'));
    r = await session.respond(post(nextUri(r), { status: 'ok', body: hex('8600') }));
    expect(r.status).toBe(200);
    r = await session.respond(post(nextUri(r), { status: 'ok', body: hex('8600') }));
    expect(r.status).toBe(204);
    await Promise.all(jobs.slice(0, 2));
    expect(s.pending(EID)).toBe(1);
    expect(left).toEqual([]);
    session.close();
    expect(left).toEqual([EID]);
    // The next session carries the third.
    const next = open(s);
    const r4 = await next.respond(post('/gp/ram'));
    expect(toHex(r4.body)).toBe(toHex(SEGMENT));
    await next.respond(post(nextUri(r4), { status: 'ok', body: hex('8600') }));
    expect((await jobs[2])?.scriptStatus).toBe('ok');
  });

  it('scripts keep their meaning: an R-APDU answer of a script job is decoded, with MoreToDo too', async () => {
    const s = new RamOverHttpSessions();
    const job = s.queue(EID, ISD_R, [APDU], { moreToDo: true });
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    const answer = responseScript([{ data: hex('E3024F00'), statusWord: hex('9000') }]);
    void session.respond(post(nextUri(r1), { status: 'ok', body: answer }));
    expect((await job).responses).toEqual([{ data: hex('E3024F00'), sw: 0x9000 }]);
    session.close();
  });

  it('property: hostile requests into a session holding raw jobs always get an HTTP answer, and every job settles once the connection closes', async () => {
    const request = fc.record({
      method: fc.constantFrom('POST', 'GET', 'PUT'),
      path: fc.oneof(fc.constant('/gp/ram'), fc.constant('/gp/ram/1/1'), fc.string({ maxLength: 12 })),
      protocol: fc.oneof(fc.constant(ADMIN_PROTOCOL), fc.string({ maxLength: 8 })),
      from: fc.oneof(fc.constant(adminFrom(EID, ISD_R)), fc.string({ maxLength: 20 })),
      status: fc.option(fc.constantFrom('ok', 'unknown-application', 'bogus'), { nil: undefined }),
      body: fc.uint8Array({ maxLength: 64 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        async (requests, more) => {
          const s = new RamOverHttpSessions({ holdMs: 1 });
          const settled: string[] = [];
          const jobs = more.map((m) =>
            s.queueData(EID, ISD_P, SEGMENT, { moreToDo: m }).then(
              () => settled.push('ok'),
              (e: { code?: string }) => settled.push(e.code ?? '?'),
            ),
          );
          const session = open(s);
          for (const q of requests) {
            const r = await session.respond({
              method: q.method,
              path: q.path,
              body: q.body,
              headers: {
                'x-admin-protocol': q.protocol,
                'x-admin-from': q.from,
                ...(q.status === undefined ? {} : { 'x-admin-script-status': q.status }),
              },
            });
            expect([200, 204, 400, 403, 404, 405]).toContain(r.status);
          }
          session.close();
          // Jobs never handed out wait for a later session (they stay queued); the rest settled.
          await turns(5);
          expect(settled.length + s.pending(EID)).toBe(more.length);
          for (const code of settled) expect(['ok', 'ERR_ESIM_RAM_SESSION_FAILED']).toContain(code);
          void jobs;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Es5Https and Es5Router: which transport, and when a push goes', () => {
  const trigger = (eid: string) =>
    adminSessionTrigger({
      eid,
      isdRAid: ISD_R,
      kvn: 0x40,
      kid: 1,
      address: '192.0.2.10',
      port: 8443,
      adminUri: '/gp/ram',
    });

  function https(s: RamOverHttpSessions) {
    const pushes: string[] = [];
    const t = new Es5Https({
      sessions: s,
      trigger,
      push: async (eid) => {
        pushes.push(eid);
        return { ok: true, responses: [] };
      },
    });
    return { t, pushes };
  }

  it('refuses SCP03t data to the ISD-R or mixed with C-APDUs, before anything is queued or pushed', async () => {
    const s = new RamOverHttpSessions();
    const { t, pushes } = https(s);
    expect(await t.send(EID, ISD_R, [IU])).toMatchObject({ ok: false, code: 'ES5_SEND_FAILED' });
    expect(await t.send(EID, ISD_P, [IU, APDU])).toMatchObject({ ok: false, code: 'ES5_SEND_FAILED' });
    expect(pushes).toEqual([]);
    expect(s.pending(EID)).toBe(0);
  });

  it('back-to-back SendData with MoreToDo: one push, one session; the answer is the posted body with SW 9000', async () => {
    const s = new RamOverHttpSessions();
    const { t, pushes } = https(s);
    const first = t.send(EID, ISD_P, [IU], { moreToDo: true });
    await turns();
    expect(pushes).toEqual([EID]);
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    const held = session.respond(post(nextUri(r1), { status: 'ok', body: hex('8400') }));
    expect(await first).toEqual({ ok: true, responses: [{ data: hex('8400'), sw: 0x9000 }] });
    const second = t.send(EID, ISD_P, [SEGMENT], { moreToDo: false });
    const r2 = await held;
    expect(toHex(r2.body)).toBe(toHex(SEGMENT));
    const r3 = await session.respond(post(nextUri(r2), { status: 'ok', body: hex('8600') }));
    expect(r3.status).toBe(204);
    expect(await second).toEqual({ ok: true, responses: [{ data: hex('8600'), sw: 0x9000 }] });
    expect(pushes).toEqual([EID]); // the second rode the held session
    session.close();
  });

  it('the card not knowing the ISD-P (unknown-application) is ES5_POR_ERROR; a dropped session is ES5_SEND_FAILED', async () => {
    const s = new RamOverHttpSessions();
    const { t } = https(s);
    const refused = t.send(EID, ISD_P, [IU]);
    await turns();
    const session = open(s);
    const r1 = await session.respond(post('/gp/ram'));
    await session.respond(post(nextUri(r1), { status: 'unknown-application' }));
    expect(await refused).toMatchObject({ ok: false, code: 'ES5_POR_ERROR' });
    session.close();
    const dropped = t.send(EID, ISD_P, [SEGMENT]);
    await turns();
    const again = open(s);
    expect((await again.respond(post('/gp/ram'))).status).toBe(200);
    again.close();
    expect(await dropped).toMatchObject({ ok: false, code: 'ES5_SEND_FAILED' });
  });

  it('Es5Router: SCP03t → HTTPS, small scripts → SMS, large scripts → HTTPS, anything while a session runs → HTTPS, no HTTPS → SMS', async () => {
    const s = new RamOverHttpSessions();
    const { t } = https(s);
    const smsSent: number[] = [];
    const sms: Es5Transport = {
      send: async (_e, _a, cmds): Promise<Es5Outcome> => {
        smsSent.push(cmds.length);
        return { ok: true, responses: [] };
      },
    };
    const router = new Es5Router({ sms, https: t });
    const big = new Uint8Array(200).fill(0x11);
    big.set([0x80, 0xe2, 0x09, 0x00, 0xc3]);
    expect(router.route(EID, ISD_P, [IU])).toBe('https');
    expect(router.route(EID, ISD_R, [APDU])).toBe('sms');
    expect(router.route(EID, ISD_P, [big])).toBe('https');
    // SCP03t-looking bytes for the ISD-R are a C-APDU there, not raw data.
    expect(router.route(EID, ISD_R, [hex('8400')])).toBe('sms');
    const session = open(s);
    expect(router.route(EID, ISD_R, [APDU])).toBe('https');
    session.close();
    expect(router.route(EID, ISD_R, [APDU])).toBe('sms');
    expect(new Es5Router({ sms }).route(EID, ISD_P, [IU])).toBe('sms');
    await router.send(EID, ISD_R, [APDU]);
    expect(smsSent).toEqual([1]);
  });

  it('property: the router sends every command by exactly one transport, SCP03t data to an ISD-P always by HTTPS', () => {
    const s = new RamOverHttpSessions();
    const { t } = https(s);
    const sms: Es5Transport = { send: async () => ({ ok: true, responses: [] }) };
    const router = new Es5Router({ sms, https: t });
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(ISD_R, ISD_P),
        (cmds, aid) => {
          const route = router.route(EID, aid, cmds);
          expect(['sms', 'https']).toContain(route);
          if (aid === ISD_P && cmds.some((c) => [0x84, 0x85, 0x86].includes(c[0] ?? 0)))
            expect(route).toBe('https');
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ES5 over HTTPS (SCP81) for the SM-SR's procedures: the script is queued in the RAM-over-HTTP
// sessions, one push (the '81' trigger naming the SM-SR's listener and the ISD-R SCP81 key set) makes
// the card connect, and the card's side of the GP Amd B exchange runs the script on the software
// eUICC's ISD-R. (The TLS and BIP layers are the scp81 tests' subject; here the exchange is driven
// in process, request by request, as the listener hands it over.)

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import { runIsdrScript } from '../../../../src/card/euicc/isd-r-ota.js';
import {
  ADMIN_HEADER,
  ADMIN_PROTOCOL,
  adminFrom,
  decodeAdminSessionTrigger,
  decodePskIdentity,
} from '../../../../src/lib/gp-amd-b-ram-over-http.js';
import { Es5Https } from '../../../../src/platform/esim/sm-sr/es5-https.js';
import {
  adminSessionTrigger,
  RamOverHttpSessions,
} from '../../../../src/platform/esim/sm-sr/ram-over-http.js';
import type { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { type Bench, bench, EID, ICCID, MNO_ID, SMDP_ID } from './fixture.js';

const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
let b: Bench;
let smsr: SmSr;
let sessions: RamOverHttpSessions;
const pushes: { eid: string; data: Uint8Array }[] = [];
let n = 0;
const call = () => ({ functionCallIdentifier: `https-${++n}` });

/** The card's side: connect as the pushed identity, POST, run each script on the ISD-R, POST its answer. */
function cardSession(eid: string): void {
  cardSessionOn(sessions, eid);
}

function cardSessionOn(sessions: RamOverHttpSessions, eid: string): void {
  const session = sessions.open(eid);
  if (session === undefined) throw new Error('a session is already open');
  const headers = { [ADMIN_HEADER.PROTOCOL]: ADMIN_PROTOCOL, [ADMIN_HEADER.FROM]: adminFrom(eid, ISD_R_AID) };
  let r = session.handle({ method: 'POST', path: sessions.adminUri, headers, body: new Uint8Array(0) });
  while (r.status === 200) {
    const { response } = runIsdrScript(euiccOf(b.card), r.body);
    r = session.handle({
      method: 'POST',
      path: r.headers['X-Admin-Next-URI'] as string,
      headers: { ...headers, [ADMIN_HEADER.SCRIPT_STATUS]: 'ok' },
      body: response,
    });
  }
  session.close();
}

beforeEach(async () => {
  b = await bench();
  pushes.length = 0;
  sessions = new RamOverHttpSessions();
  smsr = b.restart(
    new Es5Https({
      sessions,
      trigger: (eid) =>
        adminSessionTrigger({
          eid,
          isdRAid: ISD_R_AID,
          kvn: 0x40,
          kid: 1,
          address: '192.0.2.10',
          port: 8443,
          adminUri: sessions.adminUri,
        }),
      async push(eid, data) {
        pushes.push({ eid, data });
        setImmediate(() => cardSession(eid));
        return { ok: true, responses: [] };
      },
    }),
  );
});
afterEach(() => b.db.cleanup());

describe('ES5 over HTTPS (SCP81)', () => {
  it('CreateISDP and AuditEIS: one push each, naming the eUICC and the SCP81 key set; the card runs the script', async () => {
    const created = await smsr.es3For(SMDP_ID).createISDP({
      ...call(),
      eid: EID,
      iccid: '8944000000000000028',
      mnoId: MNO_ID,
      requiredMemory: 20_000,
    });
    expect(created.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(
      euiccOf(b.card)
        .snapshot()
        .isdps.find((i) => i.aid === created.isdPAid)?.state,
    ).toBe(LIFE_CYCLE.SELECTABLE);
    expect(pushes).toHaveLength(1);
    const trigger = decodeAdminSessionTrigger(pushes[0]?.data ?? new Uint8Array(0));
    if (!trigger.ok) throw new Error(trigger.error.message);
    const identity = decodePskIdentity(
      Buffer.from(trigger.value.security?.pskIdentity ?? '', 'hex').toString('latin1'),
    );
    expect(identity.ok && identity.value).toMatchObject({ eid: EID, kvn: 0x40 });
    expect(trigger.value.http?.uri).toBe(sessions.adminUri);

    const audit = await smsr.es4For(MNO_ID).auditEIS({ ...call(), eid: EID, iccids: [] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(audit.eis?.profiles.map((p) => [p.iccid, p.state])).toEqual([
      [ICCID, 'Enabled'],
      ['8944000000000000028', 'Created'],
    ]);
    expect(pushes).toHaveLength(2);
  });

  it('a script the card reports as not run is a FAILED status, the EIS unchanged', async () => {
    const refusing = new RamOverHttpSessions();
    const s = b.restart(
      new Es5Https({
        sessions: refusing,
        trigger: () =>
          adminSessionTrigger({
            eid: EID,
            isdRAid: ISD_R_AID,
            kvn: 0x40,
            kid: 1,
            address: '192.0.2.10',
            port: 8443,
            adminUri: refusing.adminUri,
          }),
        async push(eid) {
          setImmediate(() => {
            const session = refusing.open(eid);
            if (session === undefined) return;
            const headers = {
              [ADMIN_HEADER.PROTOCOL]: ADMIN_PROTOCOL,
              [ADMIN_HEADER.FROM]: adminFrom(eid, ISD_R_AID),
            };
            const r = session.handle({
              method: 'POST',
              path: refusing.adminUri,
              headers,
              body: new Uint8Array(0),
            });
            session.handle({
              method: 'POST',
              path: r.headers['X-Admin-Next-URI'] as string,
              headers: { ...headers, [ADMIN_HEADER.SCRIPT_STATUS]: 'security-error' },
              body: new Uint8Array(0),
            });
            session.close();
          });
          return { ok: true, responses: [] };
        },
      }),
    );
    const r = await s.es3For(SMDP_ID).createISDP({
      ...call(),
      eid: EID,
      iccid: '8944000000000000028',
      mnoId: MNO_ID,
      requiredMemory: 20_000,
    });
    expect(r.functionExecutionStatus.status).toBe('FAILED');
    expect(r.functionExecutionStatus.statusCodeData?.message).toContain('ES5_POR_ERROR');
    expect(
      (await s.es4For(MNO_ID).getEIS({ ...call(), eid: EID })).eis?.profiles.map((p) => p.iccid),
    ).toEqual([ICCID]);
  });
  it('a push that brings no session goes again after repushMs while scripts wait: both the script it was for and one queued behind it run', async () => {
    const again = new RamOverHttpSessions({ repushMs: 50 });
    const sent: number[] = [];
    const https = new Es5Https({
      sessions: again,
      trigger: (eid) =>
        adminSessionTrigger({
          eid,
          isdRAid: ISD_R_AID,
          kvn: 0x40,
          kid: 1,
          address: '192.0.2.10',
          port: 8443,
          adminUri: again.adminUri,
        }),
      async push(eid) {
        sent.push(Date.now());
        // The first push SMS is lost (the device out of coverage); the next one reaches the card.
        if (sent.length > 1) setImmediate(() => cardSessionOn(again, eid));
        return { ok: true, responses: [] };
      },
    });
    const getStatus = Uint8Array.from([0x80, 0xf2, 0x40, 0x02, 0x02, 0x4f, 0x00, 0x00]);
    const [first, second] = await Promise.all([
      https.send(EID, ISD_R_AID, [getStatus]),
      https.send(EID, ISD_R_AID, [getStatus]),
    ]);
    expect(first.ok && first.responses[0]?.sw).toBe(0x9000);
    expect(second.ok && second.responses[0]?.sw).toBe(0x9000);
    // One push for both, lost; one again, which brought the session for both.
    expect(sent).toHaveLength(2);
    expect(again.pending(EID)).toBe(0);
  });
});

// Fuzz of the SM-SR's inputs from outside (issue 15 acceptance: "≥ 100,000 mutated … into the SM-SR:
// no crash, every answer a status"). Threats: anyone who can send an MO SMS, or who holds a TCP
// connection to the SCP81 listener, trying to settle, forge or derail a procedure; and a card (or
// whatever sits before it) answering ES5 commands with garbage.
//
// 100,000 mutated inputs at the decode/verify boundary, with the SM-SR's state set up once (SQLite
// :memory:, whatever the suite's database):
//   - 50,000 MO SMS into the real receive path (OtaInbound.deliverSm → Es5Sms.receive) while an
//     AuditEIS waits for its PoR: the card's real PoR and default notification mutated (bytes, UDH,
//     concatenation headers that lie, segments dropped, repeated and reordered, deliver_sm fields),
//     notifications authenticated under the eUICC's keys with a mutated E1 inside, random bytes;
//   - 50,000 HTTP requests into the SCP81 session (RamOverHttpSessions → AdminSession.respond, what
//     the PSK-TLS listener calls) while a script is in flight through Es5Https: mutated methods,
//     paths, X-Admin headers, script statuses and response scripts.
// Every input must give an outcome (a dropped-with-code, a receipt, an HTTP status), never a throw;
// nothing but the genuine answer settles the waiting command; the EIS and procedures stay as they were.
// "Genuine" is judged on what the PoR's meaning rests on — the reassembled secured packet from the
// eUICC's MSISDN, every octet of which the CC covers — not on the SMS bytes: a mutation can hand the
// genuine packet over in other framing (the smpp package's {udh, message} form, a one-part
// concatenation, another UDH), and the SM-SR rightly accepts it.
// The seeds are fixed (a failure reproduces); SIMTRUST_FUZZ_SEED=<n> runs another, a failure prints it.
// A smaller DB-backed run (suite's database: SQLite or PostgreSQL) drives the ES3/ES4 procedures
// through a transport that mutates the real card's answers: every call ends with a status carrying
// Subject and Reason, no procedure is left running, and a clean audit finds the EIS agreeing with
// the card.

import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { runIsdrScript } from '../../../../src/card/euicc/isd-r-ota.js';
import { isdpAid } from '../../../../src/card/euicc/sgp-02-annex-h.js';
import { hex } from '../../../../src/lib/hex.js';
import { encodeNotification, getStatusApdu } from '../../../../src/lib/sgp-02-es5.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeUserData,
  IEI,
  reassembleSecuredPacket,
  type UserData,
} from '../../../../src/lib/ts-23-040-sms-tpdu.js';
import { secureCommandPacket } from '../../../../src/lib/ts-102-225-secured-packet.js';
import { commandScript, decodeResponseScript } from '../../../../src/lib/ts-102-226-remote-command.js';
import {
  EXECUTION_STATUSES,
  type FunctionExecutionStatus,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { runningProcedures } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { Es5Https } from '../../../../src/platform/esim/sm-sr/es5-https.js';
import { Es5Sms, ISD_R_TAR } from '../../../../src/platform/esim/sm-sr/es5-sms.js';
import {
  type Es5Outcome,
  type Es5Response,
  type Es5Transport,
  ISD_R_AID,
} from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import {
  adminSessionTrigger,
  RamOverHttpSessions,
} from '../../../../src/platform/esim/sm-sr/ram-over-http.js';
import type { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { type EsimSmsReceiver, OtaInbound } from '../../../../src/platform/ota/ota-inbound.js';
import type { OtaService } from '../../../../src/platform/ota/ota-service.js';
import { openStore } from '../../../../src/platform/store/database.js';
import { booted, euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { KIC, KID, simDataDeliver } from '../../../card/toolkit/fixture.js';
import { type TestDatabase, testDialect } from '../../../helpers/database.js';
import { mutate, type Random, randomBytes, seededRandom } from '../../../helpers/fuzz.js';
import { hostile } from '../fuzz-mutations.js';
import { type Bench, bench, EID, ICCID, MNO_ID, SMDP_ID, settle } from './fixture.js';

/** The SM-SR's state for the 100,000 runs: in memory, whatever the suite's database. */
async function memoryDatabase(): Promise<TestDatabase> {
  const store = await openStore('sqlite::memory:');
  return { url: 'sqlite::memory:', store, cleanup: () => store.close() };
}

/** The fixed seed, or SIMTRUST_FUZZ_SEED; a failing test prints the seed it ran with. */
function seedOf(fixed: number): number {
  const env = process.env.SIMTRUST_FUZZ_SEED;
  const seed = env === undefined || env === '' ? fixed : Number(env);
  onTestFailed(() => {
    console.error(`sm-sr-fuzz: seed ${seed} (rerun: SIMTRUST_FUZZ_SEED=${seed})`);
  });
  return seed;
}

type Tally = Record<string, number>;
const count = (t: Tally, key: string) => {
  t[key] = (t[key] ?? 0) + 1;
};
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const MSISDN = '817000000001';
const NOTIFICATION_SPI = {
  integrity: 'cc',
  ciphering: true,
  counter: 'none',
  por: 'none',
  porIntegrity: 'none',
  porCiphered: false,
  porViaSubmit: false,
} as const;

/** A default notification secured as the eUICC secures it (ISD-R keys, TAR 000001). */
function securedNotification(e1: Uint8Array): Uint8Array {
  const p = secureCommandPacket({
    spi: NOTIFICATION_SPI,
    kic: 0x12,
    kid: 0x12,
    tar: hex(ISD_R_TAR),
    counter: 0,
    keys: { kic: { algorithm: 'aes-cbc', key: hex(KIC) }, kid: { algorithm: 'aes-cmac', key: hex(KID) } },
    data: e1,
  });
  if (!p.ok) throw new Error(p.error.message);
  return p.value;
}

/** deliver_sm fields as the smpp package hands a SIM data download MO SMS over. */
const pdu = (shortMessage: unknown, source = MSISDN): Record<string, unknown> => ({
  esm_class: 0x40,
  protocol_id: 0x7f,
  data_coding: 0xf6,
  source_addr: source,
  short_message: shortMessage,
});

const udOf = (iei: number, body: Uint8Array, concat?: Uint8Array): Uint8Array =>
  encodeUserData({
    header: [
      ...(concat === undefined ? [] : [{ iei: IEI.CONCATENATION_8BIT, data: concat }]),
      { iei, data: new Uint8Array(0) },
    ],
    body,
  });

const INBOUND_KINDS = new Set(['ignored', 'segment', 'esim', 'received', 'report', 'por']);

describe('SM-SR fuzz at the decode/verify boundary (SQLite :memory:, 100,000 inputs)', () => {
  it('50,000 hostile MO SMS while an AuditEIS waits for its PoR: each dropped with a code or answered, only the genuine PoR settles it', async () => {
    const b = await bench({ database: memoryDatabase });
    try {
      const d = booted(b.card);
      d.sms.length = 0;
      let linkUp = true;
      let smsr: SmSr | undefined;
      const sms = new Es5Sms({
        store: b.db.store,
        keyRing: b.keyRing,
        porTimeoutMs: 3_600_000,
        notifications: (eid, e1) => (smsr as SmSr).handleNotification(eid, e1),
        link: {
          async send(_destination, userData) {
            // After the audit left, the SMSC refuses: a confirmation a notification asks for fails fast.
            if (!linkUp) throw new Error('SMSC: throttled');
            for (const ud of userData) {
              const decoded = decodeUserData(ud, true);
              if (!decoded.ok) throw new Error(decoded.error.message);
              const r = d.modem.deliverSms(simDataDeliver(decoded.value));
              if (!r.ok) throw new Error(r.error.message);
            }
          },
        },
      });
      smsr = b.restart(sms);
      // The genuine PoR (its secured packet from the eUICC, however framed) is held back until the
      // end: the audit must still be waiting then. Every other packet reaches Es5Sms.receive.
      let genuinePacket: string | undefined;
      const receiver: EsimSmsReceiver = {
        async receive(sender, identifier, packet) {
          if (
            identifier === IEI.RESPONSE_PACKET &&
            Buffer.from(packet).toString('hex') === genuinePacket &&
            (await sms.eidOfSender(sender)) === EID
          )
            return { kind: 'genuine-held-back' };
          return sms.receive(sender, identifier, packet);
        },
      };
      const inbound = new OtaInbound(b.db.store, {} as OtaService, Date.now, receiver);
      const states = async () =>
        (
          (await (smsr as SmSr).es4For(MNO_ID).getEIS({ functionCallIdentifier: 'st', eid: EID })).eis
            ?.profiles ?? []
        ).map((p) => `${p.iccid}:${p.state}`);
      const before = await states();
      const notificationsBefore = await b.db.store.db
        .selectFrom('esim_sr_notifications')
        .selectAll()
        .execute();

      // The audit leaves; the card's PoR (one or more MO SMS) is held back.
      let settled: FunctionExecutionStatus | undefined;
      const auditing = smsr
        .es4For(MNO_ID)
        .auditEIS({ functionCallIdentifier: 'fuzz-audit', eid: EID, iccids: [] })
        .then((r) => {
          settled = r.functionExecutionStatus;
          return r;
        });
      await settle(async () => d.sms.length > 0);
      linkUp = false;
      const porParts: UserData[] = d.sms.splice(0).map((tpdu) => {
        const s = decodeSmsSubmit(tpdu);
        if (!s.ok) throw new Error(s.error.message);
        return s.value.userData;
      });
      const porUds = porParts.map((ud) => encodeUserData(ud));
      const porPacket = porParts.map((ud) => ud.body);
      const reassembled = reassembleSecuredPacket(porParts);
      if (!reassembled.ok) throw new Error(reassembled.error.message);
      genuinePacket = Buffer.from(reassembled.value.packet).toString('hex');
      const e1 = encodeNotification({ eid: EID, type: 2, aid: isdpAid(0x10), seq: 7 });
      if (!e1.ok) throw new Error('encode');
      const notification = securedNotification(e1.value);

      const random = seededRandom(seedOf(0x5e5f));
      const t: Tally = {};
      const deliver = async (fields: Record<string, unknown>) => {
        const o = await inbound.deliverSm(fields);
        const kind = (o as { kind?: string }).kind ?? '?';
        const receipt = (
          o as { receipt?: { kind?: string; code?: string; status?: FunctionExecutionStatus } }
        ).receipt;
        count(
          t,
          receipt === undefined ? `${kind}:${(o as { code?: string }).code ?? ''}` : `esim:${receipt.kind}`,
        );
        const fine =
          INBOUND_KINDS.has(kind) &&
          (kind !== 'ignored' || typeof (o as { code?: unknown }).code === 'string') &&
          // Nothing but the genuine PoR settles the audit; a verified notification answers a status.
          receipt?.kind !== 'esim-por' &&
          (receipt?.kind !== 'esim-notification' ||
            EXECUTION_STATUSES.includes(receipt.status?.status as never)) &&
          (receipt?.kind !== 'ignored' || typeof receipt.code === 'string');
        if (!fine)
          expect({
            o,
            input: Buffer.isBuffer(fields.short_message)
              ? fields.short_message.toString('hex')
              : fields.short_message,
            genuine: porUds.map((u) => Buffer.from(u).toString('hex')),
          }).toBe('an inbound outcome with a code; never a settled PoR from garbage');
      };

      for (let i = 0; i < 50_000; i++) {
        const k = i % 10;
        if (k <= 2) {
          // The PoR: bytes of one part mutated (UDH and packet), the others as they were.
          const at = Math.floor(random() * porUds.length);
          for (const [j, ud] of porUds.entries())
            await deliver(pdu(Buffer.from(j === at ? hostile(random, ud) : ud)));
        } else if (k === 3) {
          // The PoR's packet mutated, re-framed (single SMS or a lying concatenation header).
          const packet = hostile(random, porPacket[Math.floor(random() * porPacket.length)] as Uint8Array);
          const concat =
            random() < 0.5
              ? Uint8Array.of(
                  Math.floor(random() * 256),
                  1 + Math.floor(random() * 4),
                  Math.floor(random() * 6),
                )
              : undefined;
          await deliver(pdu(Buffer.from(udOf(IEI.RESPONSE_PACKET, packet, concat))));
        } else if (k === 4) {
          // Parts dropped, repeated or reordered.
          const parts = [...porUds];
          const op = Math.floor(random() * 3);
          if (op === 0) parts.splice(Math.floor(random() * parts.length), 1);
          else if (op === 1) parts.push(parts[Math.floor(random() * parts.length)] as Uint8Array);
          else parts.reverse();
          for (const ud of parts) await deliver(pdu(Buffer.from(random() < 0.5 ? ud : mutate(random, ud))));
        } else if (k <= 6) {
          // A default notification, its secured packet mutated.
          await deliver(pdu(Buffer.from(udOf(IEI.COMMAND_PACKET, hostile(random, notification)))));
        } else if (k === 7) {
          // Authenticated garbage: the eUICC's keys around a mutated E1.
          await deliver(
            pdu(Buffer.from(udOf(IEI.COMMAND_PACKET, securedNotification(hostile(random, e1.value, 40))))),
          );
        } else if (k === 8) {
          // deliver_sm fields as a broken SMSC or smpp package might hand them over.
          const base = pdu(Buffer.from(porUds[0] as Uint8Array));
          const field = pick(random, [
            'esm_class',
            'protocol_id',
            'data_coding',
            'source_addr',
            'short_message',
          ]);
          const value = pick(random, [
            undefined,
            null,
            -1,
            0,
            0x7f,
            0xff,
            2 ** 53,
            '',
            '+817000000001',
            '00817000000001',
            `81700000000${Math.floor(random() * 10)}`,
            'x'.repeat(300),
            {
              udh: [Buffer.of(0x71, 0x00)],
              message: Buffer.from(mutate(random, porPacket[0] as Uint8Array)),
            },
            { udh: 'no', message: 1 },
            Buffer.alloc(0),
            Buffer.alloc(70_000, 0x71),
          ]);
          await deliver({ ...base, [field]: value });
        } else {
          await deliver(pdu(Buffer.from(randomBytes(random, 160))));
        }
      }
      // The garbage settled nothing and changed nothing.
      expect(settled).toBeUndefined();
      expect(await states()).toEqual(before);
      expect(await b.db.store.db.selectFrom('esim_sr_notifications').selectAll().execute()).toEqual(
        notificationsBefore,
      );
      // The genuine PoR still settles the audit that waited through all of it.
      genuinePacket = undefined;
      for (const ud of porUds) await inbound.deliverSm(pdu(Buffer.from(ud)));
      expect((await auditing).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(await states()).toEqual(before);
      expect(await runningProcedures(b.db.store.db)).toEqual([]);
      expect(t['esim:esim-notification'] ?? 0).toBeGreaterThan(0);
      expect(t['segment:'] ?? 0).toBeGreaterThan(0);
      // The genuine packet came back among the mutations (its own bytes, or in other framing) and was held.
      expect(t['esim:genuine-held-back'] ?? 0).toBeGreaterThan(0);
    } finally {
      await b.db.cleanup();
    }
  }, 120_000);

  it('50,000 hostile SCP81 requests while a script is in flight: an HTTP status each, the job settled only by an answer the card may give', async () => {
    const b = await bench({ database: memoryDatabase, register: false });
    try {
      const euicc = euiccOf(b.card);
      const genuine = runIsdrScript(euicc, commandScript([getStatusApdu()])).response;
      const card = decodeResponseScript(genuine);
      if (!card.ok) throw new Error('card');
      const sessions = new RamOverHttpSessions({ deliveryMs: 3_600_000, holdMs: 1 });
      const https = new Es5Https({
        sessions,
        trigger: (eid) =>
          adminSessionTrigger({
            eid,
            isdRAid: ISD_R_AID,
            kvn: 0x40,
            kid: 1,
            address: '127.0.0.1',
            port: 1,
            adminUri: sessions.adminUri,
          }),
        push: async () => ({ ok: true, responses: [] }),
      });
      const from = `//se-id/eid/${EID};//aa-id/aid/${ISD_R_AID}`;
      const headersOf = (status?: string): Record<string, string | undefined> => ({
        'x-admin-protocol': 'globalplatform-remote-admin/1.0',
        'x-admin-from': from,
        'content-type': 'application/vnd.globalplatform.card-content-mgt-response;version=1.0',
        ...(status === undefined ? {} : { 'x-admin-script-status': status }),
      });
      const random = seededRandom(seedOf(0x5c81));
      const t: Tally = {};
      const FAILURES = new Set([
        'ES5_TIMEOUT',
        'ES5_POR_ERROR',
        'ES5_NO_KEYSET',
        'ES5_SEND_FAILED',
        'ES5_BAD_RESPONSE',
      ]);

      let outcome: Es5Outcome | undefined;
      let session = sessions.open(EID);
      let next = '';
      /** A new script in flight: the job queued through Es5Https, the card's first POST takes it. */
      const fresh = async () => {
        session?.close();
        outcome = undefined;
        void https.send(EID, ISD_R_AID, [getStatusApdu()]).then((o) => {
          outcome = o;
        });
        session = sessions.open(EID);
        const first = await session?.respond({
          method: 'POST',
          path: sessions.adminUri,
          headers: headersOf(),
          body: new Uint8Array(0),
        });
        if (first?.status !== 200) throw new Error(`no script: ${first?.status}`);
        next = first.headers['X-Admin-Next-URI'] ?? '';
      };
      await fresh();
      const check = (o: Es5Outcome): boolean =>
        o.ok
          ? o.responses.every(
              (r) => r.data instanceof Uint8Array && Number.isInteger(r.sw) && r.sw >= 0 && r.sw <= 0xffff,
            )
          : FAILURES.has(o.code) && typeof o.message === 'string';
      let settledByGarbage = 0;
      for (let i = 0; i < 50_000; i++) {
        const r = random();
        const status =
          r < 0.55
            ? 'ok'
            : r < 0.7
              ? pick(random, ['unknown-application', 'not-a-security-domain', 'security-error'])
              : r < 0.8
                ? undefined
                : pick(random, ['OK', 'ok ', '', 'x'.repeat(2000), 'security-error,ok']);
        const headers = headersOf(status);
        if (random() < 0.15)
          headers['x-admin-protocol'] = pick(random, [
            '',
            'globalplatform-remote-admin/2.0',
            undefined,
            'GLOBALPLATFORM-REMOTE-ADMIN/1.0',
          ]);
        if (random() < 0.15)
          headers['x-admin-from'] = pick(random, [
            '',
            `//se-id/eid/${'8'.repeat(32)};//aa-id/aid/${ISD_R_AID}`,
            `${from};${from}`,
            from.toLowerCase(),
            Buffer.from(mutate(random, new TextEncoder().encode(from))).toString('latin1'),
          ]);
        const path =
          random() < 0.8
            ? next
            : pick(random, [
                '',
                '/',
                sessions.adminUri,
                `${next}/`,
                `${next}?x=1`,
                next.toUpperCase(),
                '/gp/ram/../ram',
              ]);
        const method = random() < 0.92 ? 'POST' : pick(random, ['GET', 'PUT', 'post', '']);
        const body = random() < 0.1 ? genuine : hostile(random, genuine, 200);
        const res = await (session as NonNullable<typeof session>).respond({ method, path, headers, body });
        count(t, String(res.status));
        if (![200, 204, 400, 403, 404, 405].includes(res.status))
          expect(res.status).toBe('a status the listener knows');
        // Refusals before the script status (method, protocol, EID, URI) leave the job where it was.
        await new Promise((resolve) => setImmediate(resolve));
        if ([403, 404, 405].includes(res.status) && outcome !== undefined)
          expect(outcome).toBe('unsettled: a refused request does not touch the script in flight');
        if (outcome !== undefined) {
          if (!check(outcome)) expect(outcome).toBe('an Es5Outcome: R-APDUs or a failure code');
          count(t, outcome.ok ? 'settled:ok' : `settled:${outcome.code}`);
          if (outcome.ok && body !== genuine) settledByGarbage++;
          await fresh();
        } else if (
          res.status === 204 ||
          (res.status === 400 && !(session as NonNullable<typeof session>).running)
        ) {
          await fresh();
        }
      }
      // The card's own answer, after all of it, gives the card's R-APDUs.
      const last = await (session as NonNullable<typeof session>).respond({
        method: 'POST',
        path: next,
        headers: headersOf('ok'),
        body: genuine,
      });
      expect(last.status).toBe(204);
      await new Promise((resolve) => setImmediate(resolve));
      expect(outcome).toEqual({
        ok: true,
        responses: card.value.items.flatMap((x) =>
          x.type === 'r-apdu'
            ? [{ data: x.data, sw: ((x.statusWord[0] ?? 0) << 8) | (x.statusWord[1] ?? 0) }]
            : [],
        ),
      });
      expect(t['404'] ?? 0).toBeGreaterThan(100);
      expect(t['403'] ?? 0).toBeGreaterThan(100);
      expect(t['settled:ES5_POR_ERROR'] ?? 0).toBeGreaterThan(100);
      // Mutated scripts that still decode are the card's word (the PSK-TLS session authenticates it).
      expect(settledByGarbage).toBeGreaterThanOrEqual(0);
    } finally {
      await b.db.cleanup();
    }
  }, 120_000);
});

// --- DB-backed: procedures over a transport that mutates the real card's answers -----------------------

/** Runs each ES5 command on the real card, then hands the SM-SR a hostile version of its answer. */
class HostileCard implements Es5Transport {
  hostile = false;
  constructor(
    private readonly b: Bench,
    private readonly random: Random,
  ) {}

  async send(eid: string, _aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const script = decodeResponseScript(
      runIsdrScript(euiccOf(this.b.card), commandScript(commands)).response,
    );
    if (!script.ok) return { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code };
    const responses: Es5Response[] = script.value.items.flatMap((i) =>
      i.type === 'r-apdu'
        ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
        : [],
    );
    if (eid !== EID || !this.hostile || this.random() < 0.25) return { ok: true, responses };
    const r = this.random();
    if (r < 0.1)
      return {
        ok: false,
        code: pick(this.random, ['ES5_TIMEOUT', 'ES5_POR_ERROR', 'ES5_BAD_RESPONSE'] as const),
        message: 'fuzz',
      };
    if (r < 0.2) return { ok: true, responses: [] };
    return {
      ok: true,
      responses: responses.map((x) => ({
        data: this.random() < 0.7 ? hostile(this.random, x.data, 64) : x.data,
        sw:
          this.random() < 0.6
            ? x.sw
            : pick(
                this.random,
                [0x9000, 0x6a88, 0x6a84, 0x69e1, 0x6985, 0x6f00, 0x6100, 0x6310, 0x0000, 0xffff],
              ),
      })),
    };
  }
}

describe(`SM-SR fuzz, procedures over hostile card answers on ${testDialect}`, () => {
  let b: Bench;
  beforeAll(async () => {
    b = await bench();
  });
  afterAll(() => b.db.cleanup());

  it('every ES3/ES4 call ends with a status with Subject and Reason, no procedure left running, the EIS agreeing with the card after an audit', async () => {
    const random = seededRandom(seedOf(testDialect === 'postgres' ? 0xdb12 : 0xdb11));
    const card = new HostileCard(b, random);
    const smsr = b.restart(card);
    const es3 = smsr.es3For(SMDP_ID);
    const es4 = smsr.es4For(MNO_ID);
    // A second profile, installed and Disabled, for Enable/Disable/Delete to act on.
    const second = SECOND_PROFILE.identity.iccid;
    const created = await es3.createISDP({
      functionCallIdentifier: 'c0',
      eid: EID,
      iccid: second,
      mnoId: MNO_ID,
      requiredMemory: 32_000,
    });
    expect(created.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    euiccOf(b.card).installProfile(created.isdPAid, SECOND_PROFILE);
    const done = await es3.profileDownloadCompleted({
      functionCallIdentifier: 'c1',
      eid: EID,
      iccid: second,
      subscriptionAddress: { imsi: SECOND_PROFILE.identity.imsi },
    });
    expect(done.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    card.hostile = true;
    const runs = testDialect === 'postgres' ? 120 : 300;
    const t: Tally = {};
    let n = 0;
    for (let i = 0; i < runs; i++) {
      const id = `f-${++n}`;
      const iccid = pick(random, [ICCID, second, `8944000000000${String(100 + (i % 50)).padStart(6, '0')}`]);
      const fn = pick(random, [
        'audit',
        'create',
        'delete',
        'completed',
        'send',
        'enable',
        'disable',
      ] as const);
      let call: Promise<{ functionExecutionStatus: FunctionExecutionStatus }>;
      if (fn === 'audit') call = es4.auditEIS({ functionCallIdentifier: id, eid: EID, iccids: [] });
      else if (fn === 'create')
        call = es3.createISDP({
          functionCallIdentifier: id,
          eid: EID,
          iccid,
          mnoId: MNO_ID,
          requiredMemory: 1000 + Math.floor(random() * 4000),
        });
      else if (fn === 'delete') call = es3.deleteISDP({ functionCallIdentifier: id, eid: EID, iccid });
      else if (fn === 'completed')
        call = es3.profileDownloadCompleted({ functionCallIdentifier: id, eid: EID, iccid });
      else if (fn === 'send') {
        const aid =
          (await es4.getEIS({ functionCallIdentifier: `${id}g`, eid: EID })).eis?.profiles.find(
            (p) => p.iccid === iccid,
          )?.isdPAid ?? isdpAid(0x12);
        call = es3.sendData({
          functionCallIdentifier: id,
          eid: EID,
          sdAid: aid,
          data: hostile(random, hex('80E6200016000010A0000005591010FFFFFFFF8900001000000000')),
        });
      } else if (fn === 'enable') call = es4.enableProfile({ functionCallIdentifier: id, eid: EID, iccid });
      else call = es4.disableProfile({ functionCallIdentifier: id, eid: EID, iccid });
      let result: FunctionExecutionStatus | undefined;
      void call.then((r) => {
        result = r.functionExecutionStatus;
      });
      // A profile change the card says it ran waits for the default notification: the card's real
      // notifications come (when it switched), else the validity period runs out.
      await settle(async () => {
        if (result !== undefined) return true;
        const running = await runningProcedures(b.db.store.db);
        return running.some((p) => p.step === 'awaiting-notification');
      }, 5000);
      if (result === undefined) {
        await b.attach(smsr);
        await new Promise((resolve) => setImmediate(resolve));
        if (result === undefined) {
          b.clock.advance(3_600_000);
          await smsr.expireProcedures();
        }
      }
      const s = (await call).functionExecutionStatus;
      count(t, `${fn}:${s.status}`);
      expect(EXECUTION_STATUSES).toContain(s.status);
      if (s.status !== 'EXECUTED_SUCCESS') {
        expect(s.statusCodeData?.subject).toMatch(/^[0-9.]+$/);
        expect(s.statusCodeData?.reason).toMatch(/^[0-9.]+$/);
      }
      // Notifications the card still holds (a switch the garbage hid) come at its next attach.
      if (random() < 0.2) await b.attach(smsr);
      expect(await runningProcedures(b.db.store.db)).toEqual([]);
    }
    // Clean answers again: the audit brings the EIS in line with the card.
    card.hostile = false;
    await b.attach(smsr);
    const audit = await es4.auditEIS({ functionCallIdentifier: 'final', eid: EID, iccids: [] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const onCard = euiccOf(b.card).snapshot().isdps;
    const eisProfiles =
      (await es3.getEIS({ functionCallIdentifier: 'final-g', eid: EID })).eis?.profiles ?? [];
    const all = [...eisProfiles, ...(audit.eis?.profiles ?? [])];
    for (const p of all) expect(onCard.some((x) => x.aid === p.isdPAid)).toBe(true);
    expect(onCard.filter((x) => x.state === 0x3f).map((x) => x.aid)).toEqual(
      (audit.eis?.profiles ?? []).filter((p) => p.state === 'Enabled').map((p) => p.isdPAid),
    );
    expect(Object.keys(t).some((k) => k.endsWith(':FAILED'))).toBe(true);
  }, 120_000);
});

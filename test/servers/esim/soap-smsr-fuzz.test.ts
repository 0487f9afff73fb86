// Fuzz (issue 15): mutated ES3/ES4 SOAP requests through the SM-SR's real SOAP listener
// (EsimSoapListener: mutual TLS, partners registry, SoapEndpoint, soap-dispatch) in front of a real
// SmSr on the suite's database (SQLite or PostgreSQL) with the software eUICC behind it. The callers
// are two registered partners: an SM-DP on ES3 and an operator on ES4, each a real TLS client whose
// own HTTPS server takes the asynchronous *Response at its wsa:ReplyTo.
//
// The seeds are real requests on the registered EID (and a CreateISDP on an EID the SM-SR does not
// know) that the SM-SR must refuse or only read: the SM-DP owns no ISD-P and the operator owns no
// profile. Every mutated body must get a SOAP fault (an HTTP error with a decodable fault), or a 202
// and then a *Response with a FunctionExecutionStatus (FAILED with Subject and Reason); no handler
// may throw. Afterwards the EIS, the card and the procedures are as before: nothing running, no
// profile row changed, the same ISD-Ps on the card, and a genuine request is still answered.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  type FunctionExecutionStatus,
  REASON_CODES,
  SUBJECT_CODES,
} from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  decodeSoapMessage,
  encodeSoapMessage,
  newMessageId,
} from '../../../src/platform/esim/es-soap/soap-envelope.js';
import { EsimPartners } from '../../../src/platform/esim/partners/partners-registry.js';
import { EsimSoapListener } from '../../../src/servers/esim/soap-listener.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { euiccOf } from '../../card/euicc/fixture.js';
import { testDialect } from '../../helpers/database.js';
import { type Random, seededRandom } from '../../helpers/fuzz.js';
import { sampleBody } from '../../platform/esim/es-soap/fixtures.js';
import {
  type Bench,
  BOOTSTRAP,
  bench,
  EID,
  ICCID,
  MNO_ID,
  OTHER_MNO,
  SMDP_ID,
} from '../../platform/esim/sm-sr/fixture.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const OPERATOR = 'OP0000000002';
const UNKNOWN_EID = '89049032999999999999999999999999';
const COUNTS = { es3: 800, es4: 500 };

/** A caller partner: its TLS client (SoapNode.postRaw) and its HTTPS server at its wsa:ReplyTo. */
interface Caller {
  readonly tls: TlsIdentity;
  readonly node: SoapNode;
  readonly server: Server;
  readonly url: string;
  readonly responses: Map<string, FunctionExecutionStatus>;
  readonly waiting: Map<string, (s: FunctionExecutionStatus) => void>;
  readonly strays: string[];
}

let b: Bench;
let srTls: TlsIdentity;
let listener: EsimSoapListener;
let smdp: Caller;
let mno: Caller;
const handlerErrors: string[] = [];

async function caller(name: string): Promise<Caller> {
  const tls = await issueTlsIdentity(name);
  const responses = new Map<string, FunctionExecutionStatus>();
  const waiting = new Map<string, (s: FunctionExecutionStatus) => void>();
  const strays: string[] = [];
  const server = createServer(
    { key: tls.keyPem, cert: tls.certificatePem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const decoded = decodeSoapMessage(Buffer.concat(chunks).toString('utf8'));
        const relatesTo = decoded.ok ? decoded.value.addressing.relatesTo : undefined;
        const body = decoded.ok ? (decoded.value.message.body as { functionExecutionStatus?: unknown }) : {};
        const status = body.functionExecutionStatus as FunctionExecutionStatus | undefined;
        if (relatesTo === undefined || status === undefined)
          strays.push(decoded.ok ? 'no status' : 'undecodable');
        else {
          responses.set(relatesTo, status);
          waiting.get(relatesTo)?.(status);
          waiting.delete(relatesTo);
        }
        res.writeHead(202, { 'content-length': 0 });
        res.end();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/esim/soap`;
  const node = await SoapNode.start({
    name,
    tls,
    partners: [{ name: 'sm-sr', url: listener.url, certificatePem: srTls.certificatePem }],
    handlers: {},
  });
  return { tls, node, server, url, responses, waiting, strays };
}

beforeAll(async () => {
  b = await bench();
  srTls = await issueTlsIdentity('sm-sr.fuzz');
  listener = await EsimSoapListener.start({
    store: b.db.store,
    operatorId: OPERATOR,
    tls: srTls,
    ports: {
      es3: (peer) => b.smsr.es3For(peer.entityId),
      es4: (peer) => b.smsr.es4For(peer.entityId),
    },
    log: {
      warn: (o: Record<string, unknown>, message: string) => {
        // Partner refreshes log too; what matters is a handler or an answer that failed.
        if (/handler|handled|encodable|delivered/.test(message))
          handlerErrors.push(`${message}: ${String(o.err ?? '')}`);
      },
    } as never,
  });
  [smdp, mno] = await Promise.all([caller('sm-dp.fuzz'), caller('mno.fuzz')]);
  const partners = new EsimPartners(b.db.store, systemClock);
  await partners.add({
    operatorId: OPERATOR,
    entityId: SMDP_ID,
    role: 'sm-dp',
    endpoint: smdp.url,
    certificatePem: smdp.tls.certificatePem,
  });
  await partners.add({
    operatorId: OPERATOR,
    entityId: OTHER_MNO,
    role: 'operator',
    endpoint: mno.url,
    certificatePem: mno.tls.certificatePem,
  });
  await listener.refresh();
}, 60_000);

afterAll(async () => {
  for (const c of [smdp, mno]) {
    await c?.node.close();
    c?.server.closeAllConnections();
    await new Promise((r) => (c === undefined ? r(undefined) : c.server.close(() => r(undefined))));
  }
  await listener?.close();
  await b?.db.cleanup();
});

/** A genuine request of `element` from `c`, on the registered eUICC's bootstrap profile. */
function seed(c: Caller, element: string): string {
  const spec = MESSAGE_BY_ELEMENT.get(element);
  if (spec === undefined) throw new Error(element);
  const body = sampleBody(spec);
  if ('eid' in body) body.eid = element === 'ES3-CreateISDPRequest' ? UNKNOWN_EID : EID;
  if ('iccid' in body) body.iccid = ICCID;
  if ('iccids' in body) body.iccids = [ICCID];
  if ('sdAid' in body) body.sdAid = BOOTSTRAP;
  if ('validityPeriod' in body) body.validityPeriod = 600;
  return encodeSoapMessage({
    addressing: {
      action: spec.action,
      messageId: newMessageId(),
      to: listener.url,
      from: c.url,
      replyTo: c.url,
    },
    message: { element: spec.element, body } as never,
  });
}

const ES3 = [
  'ES3-GetEISRequest',
  'ES3-AuditEISRequest',
  'ES3-CreateISDPRequest',
  'ES3-SendDataRequest',
  'ES3-ProfileDownloadCompletedRequest',
  'ES3-UpdatePolicyRulesRequest',
  'ES3-UpdateSubscriptionAddressRequest',
  'ES3-EnableProfileRequest',
  'ES3-DisableProfileRequest',
  'ES3-DeleteISDPRequest',
];
const ES4 = [
  'ES4-GetEISRequest',
  'ES4-AuditEISRequest',
  'ES4-UpdatePolicyRulesRequest',
  'ES4-UpdateSubscriptionAddressRequest',
  'ES4-EnableProfileRequest',
  'ES4-DisableProfileRequest',
  'ES4-DeleteProfileRequest',
];

const TOKENS = [
  '<',
  '>',
  '</',
  '/>',
  '&amp;',
  '&#0;',
  '<![CDATA[x]]>',
  '<!--',
  '<!DOCTYPE a>',
  '<?pi x?>',
  ' xmlns=""',
  '<Eid>',
  '</Iccid>',
  '<x:y/>',
  '\u0000',
  '\ud800',
  'é',
  '"',
  '99999999999999999999',
  '-1',
  'A0000005591010FFFFFFFF8900000100',
  '89049032123451234512345678901235',
];

/** What a hostile partner puts in an element's text (the XML stays well-formed). */
const VALUES = (v: string): readonly string[] => [
  '',
  ' ',
  v + v,
  v.slice(1),
  v.slice(0, -1),
  v.replace(/[0-9]/, '7'),
  v.toLowerCase(),
  '0',
  '-1',
  '99999999999999999999',
  '8988211000000467285',
  EID,
  UNKNOWN_EID,
  BOOTSTRAP,
  'A0000005591010FFFFFFFF8900001100',
  'A0000005591010FFFFFFFF8900000100',
  '&amp;&lt;x/&gt;',
  'true',
  'x'.repeat(5_000),
  '2026-13-45T25:61:61Z',
  '\t\n',
  'é€😀',
];

/** One element's text replaced by a hostile value: the message still parses, the values lie. */
function mutateValue(random: Random, text: string): string {
  const spans = [...text.matchAll(/>([^<]+)</g)];
  const span = spans[Math.floor(random() * spans.length)];
  if (span === undefined) return text;
  const at = (span.index ?? 0) + 1;
  const old = span[1] as string;
  const values = VALUES(old);
  return (
    text.slice(0, at) + (values[Math.floor(random() * values.length)] as string) + text.slice(at + old.length)
  );
}

/** Half the time 1–2 values lie in a well-formed message; else 1–3 text edits of the XML itself. */
function mutateText(random: Random, text: string): string {
  const pick = (n: number) => Math.floor(random() * n);
  if (random() < 0.5) {
    const once = mutateValue(random, text);
    return random() < 0.5 ? once : mutateValue(random, once);
  }
  let out = text;
  for (let k = 1 + pick(3); k > 0; k--) {
    const at = pick(out.length + 1);
    switch (pick(4)) {
      case 0:
        out = out.slice(0, at) + String.fromCharCode(32 + pick(95)) + out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + pick(40));
        break;
      case 2:
        out = out.slice(0, at) + (TOKENS[pick(TOKENS.length)] as string) + out.slice(at);
        break;
      default: {
        const to = pick(out.length + 1);
        out = out.slice(0, to) + out.slice(at, at + 1 + pick(60)) + out.slice(to);
      }
    }
  }
  return out;
}

interface Tally {
  faults: number;
  answered: number;
  acknowledged: number;
  byStatus: Record<string, number>;
  byFault: Record<string, number>;
}

/** Sends `count` mutated requests of `elements` from `c`, 4 at a time, and checks each answer. */
async function run(c: Caller, elements: readonly string[], count: number, seedNo: number): Promise<Tally> {
  const random = seededRandom(seedNo);
  const tally: Tally = { faults: 0, answered: 0, acknowledged: 0, byStatus: {}, byFault: {} };
  const texts = Array.from({ length: count }, () =>
    mutateText(random, seed(c, elements[Math.floor(random() * elements.length)] as string)),
  );
  let next = 0;
  const one = async (text: string): Promise<void> => {
    const local = decodeSoapMessage(text);
    const request =
      local.ok && local.value.spec.kind === 'request' ? local.value.addressing.messageId : undefined;
    // Registered before the POST: the *Response may arrive before the 202 does.
    const answer =
      request === undefined
        ? undefined
        : new Promise<FunctionExecutionStatus>((resolve) => {
            const early = c.responses.get(request);
            if (early !== undefined) resolve(early);
            else c.waiting.set(request, resolve);
          });
    try {
      await c.node.postRaw('sm-sr', text);
    } catch (e) {
      const details = (e as { code?: string; details?: { httpStatus?: number; fault?: string } }).details;
      expect((e as { code?: string }).code, String(e)).toBe('ERR_ESIM_SOAP_REJECTED');
      expect(details?.fault, `HTTP ${details?.httpStatus} without a SOAP fault`).toMatch(/^[A-Z_]+$/);
      expect([400, 403, 413, 415]).toContain(details?.httpStatus);
      if (request !== undefined) c.waiting.delete(request);
      tally.faults++;
      const code = details?.fault as string;
      tally.byFault[code] = (tally.byFault[code] ?? 0) + 1;
      return;
    }
    if (answer === undefined) {
      // Accepted but not a request (a mutation made it a response or notification): acknowledged only.
      tally.acknowledged++;
      return;
    }
    // Generous bound: an answer that never comes is a finding (named), not a hung test.
    let timer: NodeJS.Timeout | undefined;
    const status = await Promise.race([
      answer,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no *Response in 30 s to ${text.slice(0, 2000)}`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING', 'FAILED', 'EXPIRED']).toContain(status.status);
    if (status.status === 'FAILED') {
      expect(status.statusCodeData?.subject, JSON.stringify(status)).toMatch(/^[0-9.]+$/);
      expect(status.statusCodeData?.reason, JSON.stringify(status)).toMatch(/^[0-9.]+$/);
    }
    tally.answered++;
    tally.byStatus[status.status] = (tally.byStatus[status.status] ?? 0) + 1;
  };
  const worker = async () => {
    while (next < texts.length) await one(texts[next++] as string);
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return tally;
}

async function state() {
  const rows = await b.db.store.db
    .selectFrom('esim_sr_profiles')
    .select([
      'iccid',
      'isdp_aid',
      'state',
      'pol2',
      'imsi',
      'msisdn',
      'allocated_memory',
      'fallback',
      'smdp_id',
    ])
    .orderBy('iccid')
    .execute();
  const eis = await b.db.store.db
    .selectFrom('esim_sr_eis')
    .select(['remaining_memory', 'smsr_id'])
    .where('eid', '=', EID)
    .executeTakeFirst();
  const running = await b.db.store.db
    .selectFrom('esim_sr_procedures')
    .select('procedure_id')
    .where('active_eid', 'is not', null)
    .execute();
  const card = euiccOf(b.card)
    .snapshot()
    .isdps.map((i) => `${i.aid}:${i.state}:${i.fallback}:${i.memoryQuota}`);
  return { rows: rows.map((r) => JSON.stringify(r)), eis, running: running.length, card };
}

describe(`the SM-SR's SOAP listener under mutated ES3/ES4 requests (${testDialect})`, () => {
  it(`${COUNTS.es3} ES3 requests from the SM-DP and ${COUNTS.es4} ES4 requests from an operator: a fault or a status each, the EIS unchanged`, async () => {
    const before = await state();
    expect(before.running).toBe(0);
    const started = Date.now();
    const es3 = await run(smdp, ES3, COUNTS.es3, 0x5e53);
    const es4 = await run(mno, ES4, COUNTS.es4, 0x5e54);
    const seconds = (Date.now() - started) / 1000;
    console.info(JSON.stringify({ db: testDialect, seconds, es3, es4 }));
    for (const t of [es3, es4]) {
      // The mutations are not all fatal: functions ran and answered, and others were refused as faults.
      expect(t.answered).toBeGreaterThan(50);
      expect(t.faults).toBeGreaterThan(50);
    }
    expect(handlerErrors).toEqual([]);
    expect([...smdp.strays, ...mno.strays]).toEqual([]);
    // Nothing hostile changed the EIS, the card or left a procedure running.
    expect(await state()).toEqual(before);
    // Genuine requests are still answered, a refusal with the SM-SR's own status (before the fix,
    // a failed CreateISDP's Isd-p-aid '' made the response unencodable: FAILED 1.2/4.2 instead).
    const genuine = async (c: Caller, element: string) => {
      const text = seed(c, element);
      const id = decodeSoapMessage(text);
      if (!id.ok) throw new Error('seed');
      const answer = new Promise<FunctionExecutionStatus>((r) =>
        c.waiting.set(id.value.addressing.messageId, r),
      );
      await c.node.postRaw('sm-sr', text);
      return answer;
    };
    expect((await genuine(mno, 'ES4-GetEISRequest')).status).toBe('EXECUTED_SUCCESS');
    expect((await genuine(smdp, 'ES3-CreateISDPRequest')).statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.EID,
      reason: REASON_CODES.UNKNOWN,
    });
    // The profile owner's audit on the card agrees with the EIS.
    const audit = await b.smsr.es4For(MNO_ID).auditEIS({ functionCallIdentifier: 'a', eid: EID, iccids: [] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(audit.eis?.profiles.map((p) => p.iccid)).toEqual([ICCID]);
  }, 180_000);
});

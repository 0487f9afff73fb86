// Fuzz of the SM-DP's inputs (issue 15 acceptance: "≥ 100,000 mutated … into the SM-DP: no crash,
// every answer a status"). Threat: whatever sits between the SM-DP and the card — a hostile SM-SR, a
// broken or forged card — answers the download with arbitrary bytes or arbitrary ES3 responses. The
// SM-DP must end every step it runs definitely: on to the next step only with an answer that proves
// what the step needs (RC, receipt, card cryptogram, R-MAC, every PE ok), otherwise a failure with a
// stable SMDP_* code and a FAILED/EXPIRED FunctionExecutionStatus carrying Subject and Reason.
//
// 100,000 mutated inputs go into the real step functions of download-steps.ts (the code the durable
// runner calls with each answer), their state set up once and held in memory: ES3 responses of the
// SM-SR (GetEIS with its EIS and ECASD certificate, CreateISDP, DeleteISDP, ProfileDownloadCompleted,
// EnableProfile), the card's answers to INSTALL [for personalization] and STORE DATA 3A01 (RC) and
// 3A02 (DR + receipt, against the ECASD's real key establishment), and the SCP03t download — the
// card's 84/85/86 answers from a real Scp03tCard, mutated outside the R-MAC and, as authenticated
// garbage, inside it (the EUICCResponse). A smaller DB-backed run drives whole downloads through the
// real SmDp, SM-SR and software eUICC with mutated answers and responses (SQLite and PostgreSQL).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import {
  deriveEstablishedKeyset,
  type EstablishedKeyset,
  establishKeysOnCard,
  scp03KeysFromKeyset,
} from '../../../../src/crypto/sgp-02-key-establishment.js';
import { Scp03tCard, segmentProfilePackage } from '../../../../src/crypto/sgp-02-scp03t.js';
import { concatBytes } from '../../../../src/lib/ber-tlv.js';
import { fromHex, hex, toHex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import {
  answerProfilePackage,
  decodeEuiccResponse,
  decodeProfilePackage,
  encodeEuiccResponse,
  PE_STATUS,
} from '../../../../src/lib/saip-profile-package.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import {
  EXECUTION_STATUSES,
  type FunctionExecutionStatus,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import {
  DOWNLOAD_STEPS,
  type DownloadContext,
  ISDP_KEYSET,
  SEGMENT_SIZE,
  type StepDeps,
  type StepName,
  type StepOutcome,
} from '../../../../src/platform/esim/sm-dp/download-steps.js';
import { SMDP_FAILURES, type SmdpFailureCode } from '../../../../src/platform/esim/sm-dp/failure-codes.js';
import { DEFAULT_PROFILE_TYPE, PROFILE_TYPES } from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { euiccFile, euiccOf } from '../../../card/euicc/fixture.js';
import { testDialect } from '../../../helpers/database.js';
import { createTestPki, type KeyPair, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import { type Random, seededRandom } from '../../../helpers/fuzz.js';
import { hostile } from '../fuzz-mutations.js';
import { EUM_ID, eisOf } from '../sm-sr/fixture.js';
import { type DpBench, dpBench, EID, MNO_ID, OPERATOR, SMDP_ID, SMSR_ID } from './fixture.js';

const PROFILE_TYPE = PROFILE_TYPES.get(DEFAULT_PROFILE_TYPE);
const ICCID = iccidWithCheckDigit('894400000000009001');
const SIM = {
  iccid: ICCID,
  imsi: '001010000009001',
  msisdn: '817000009001',
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
  algorithm: 'milenage' as const,
};
const ISDP = 'A0000005591010FFFFFFFF8900001000';
const SW_OK = Uint8Array.of(0x90, 0x00);

/** How many inputs each boundary gets (100,000 in all); the ES8 crypto sets the split. */
const RUNS = { es3: 38_500, certificate: 40_000, keyAgreement: 1_500, scp03t: 20_000 } as const;

/** P-256 public key as 04 ‖ X ‖ Y. */
const pointOf = (k: KeyPair): Uint8Array =>
  new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' })).slice(-65);

const step = (name: StepName) => {
  const s = DOWNLOAD_STEPS.find((x) => x.name === name);
  if (s === undefined) throw new Error(name);
  return s;
};

/** Counts of what the fuzz saw, so the test states what it exercised. */
type Tally = Record<string, number>;
const count = (t: Tally, key: string) => {
  t[key] = (t[key] ?? 0) + 1;
};

/**
 * The step ended definitely: next, done with a success or warning, or a failure with a known code and
 * a FAILED/EXPIRED status with Subject and Reason (what the operator is told).
 */
function expectDefinite(o: StepOutcome, allowed: readonly SmdpFailureCode[], t: Tally): void {
  count(t, o.kind === 'fail' ? o.code : o.kind);
  // Plain checks in the hot loop (expect() per input would dominate the run); one expect on failure.
  const ok =
    o.kind === 'next' ||
    (o.kind === 'done' &&
      (o.status.status === 'EXECUTED_SUCCESS' || o.status.status === 'EXECUTED_WITHWARNING')) ||
    (o.kind === 'fail' &&
      o.code in SMDP_FAILURES &&
      allowed.includes(o.code) &&
      (o.status.status === 'FAILED' || o.status.status === 'EXPIRED') &&
      /^[0-9.]+$/.test(o.status.statusCodeData?.subject ?? '') &&
      /^[0-9.]+$/.test(o.status.statusCodeData?.reason ?? ''));
  if (!ok)
    expect({ outcome: o, allowed }).toBe('a definite outcome: next, done, or a known failure with a code');
}

let pki: TestPki;
let ecasd: KeyPair & { certificate: Uint8Array };
let eis: Eis;
let upp: Uint8Array;
let deps: StepDeps;
let serial = 0;

beforeAll(async () => {
  if (PROFILE_TYPE === undefined) throw new Error('no default profile type');
  pki = await createTestPki();
  ecasd = pki.ecasd(EID);
  eis = eisOf(euiccFile(), pki, ecasd.certificate);
  const prepared = PROFILE_TYPE.prepare(SIM);
  if (!prepared.ok) throw new Error(prepared.error.message);
  upp = prepared.value;
  deps = {
    sim: async () => SIM,
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify: async (input) => verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: PKI_NOW }),
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
    othersRunning: async () => [],
  };
});

function context(es3: Partial<Es3Port>, extra: Partial<DownloadContext> = {}): DownloadContext {
  return {
    id: 'fuzz',
    functionCallIdentifier: 'fuzz-1',
    eid: EID,
    iccid: ICCID,
    smsrId: SMSR_ID,
    mnoId: MNO_ID,
    smdpId: SMDP_ID,
    profileType: PROFILE_TYPE as NonNullable<typeof PROFILE_TYPE>,
    enable: true,
    es3: es3 as Es3Port,
    callId: () => `fuzz-${++serial}`,
    deps,
    segmentSize: SEGMENT_SIZE,
    resumed: false,
    progress: { ecasdPublicKey: toHex(pointOf(ecasd)) },
    ...extra,
  };
}

// --- ES3 responses of the SM-SR -----------------------------------------------------------------------

const SUBJECTS = Object.values(SUBJECT_CODES);
const REASONS = Object.values(REASON_CODES);

/** A FunctionExecutionStatus as a hostile or broken SM-SR might send it (in-process: any shape). */
function status(random: Random): FunctionExecutionStatus {
  const r = random();
  if (r < 0.45) return SUCCESS;
  const s = EXECUTION_STATUSES[
    Math.floor(random() * EXECUTION_STATUSES.length)
  ] as FunctionExecutionStatus['status'];
  if (r < 0.6) return { status: s }; // no Subject/Reason at all
  if (r < 0.65) return { status: 'SOMETHING_ELSE' as never };
  return {
    status: s,
    statusCodeData: {
      subject: SUBJECTS[Math.floor(random() * SUBJECTS.length)] as string,
      reason: REASONS[Math.floor(random() * REASONS.length)] as string,
      ...(random() < 0.5 ? { message: 'x'.repeat(Math.floor(random() * 300)) } : {}),
    },
  };
}

function text(random: Random, seed: string): string {
  const r = random();
  if (r < 0.15) return '';
  if (r < 0.2) return 'Z'.repeat(5000);
  const bytes = hostile(random, new TextEncoder().encode(seed), 40);
  return Buffer.from(bytes).toString('latin1');
}

/** The real EIS with hostile edits: another EID or SM-SR, profiles, memory, a mutated certificate. */
function hostileEis(random: Random): Eis {
  const info = eis.eumSignedInfo;
  const cert = info.ecasd.keysets[0]?.certificates[0];
  const edits = 1 + Math.floor(random() * 2);
  let e: Eis = eis;
  for (let i = 0; i < edits; i++) {
    switch (Math.floor(random() * 7)) {
      case 0:
        e = { ...e, eumSignedInfo: { ...e.eumSignedInfo, eid: text(random, info.eid) } };
        break;
      case 1:
        e = { ...e, smsrId: text(random, e.smsrId) };
        break;
      case 2:
        e = {
          ...e,
          remainingMemory: [Number.NaN, -1, 0, 1e300, Math.floor(random() * 100_000)][
            Math.floor(random() * 5)
          ] as number,
        };
        break;
      case 3:
        e = {
          ...e,
          profiles: [
            ...e.profiles,
            {
              ...(e.profiles[0] as Eis['profiles'][number]),
              iccid: random() < 0.5 ? ICCID : text(random, ICCID),
              state: (['Created', 'Disabled', 'Enabled', 'In-Creation', 'x'] as const)[
                Math.floor(random() * 5)
              ] as never,
              smdpId: random() < 0.5 ? SMDP_ID : text(random, SMDP_ID),
            },
          ],
        };
        break;
      case 4:
        e = { ...e, eumSignedInfo: { ...e.eumSignedInfo, eumId: text(random, info.eumId) } };
        break;
      default: {
        const keyset = info.ecasd.keysets[0];
        if (cert === undefined || keyset === undefined) break;
        const value = hostile(random, cert.value, 200);
        e = {
          ...e,
          eumSignedInfo: {
            ...e.eumSignedInfo,
            ecasd: {
              ...info.ecasd,
              keysets: random() < 0.1 ? [] : [{ ...keyset, certificates: [{ ...cert, value }] }],
            },
          },
        };
      }
    }
  }
  return e;
}

// --- the card: key establishment and SCP03t ------------------------------------------------------------

/** SW from an answer, and the answer with its SW sometimes replaced. */
function withSw(random: Random, data: Uint8Array): Uint8Array {
  const r = random();
  if (r < 0.9) return concatBytes([data, SW_OK]);
  const sws = [0x6a80, 0x6982, 0x6985, 0x6f00, 0x9000, 0x6100, 0x6310, 0x0000, 0xffff];
  const sw = sws[Math.floor(random() * sws.length)] as number;
  return concatBytes([data, Uint8Array.of(sw >> 8, sw & 0xff)]);
}

describe('SM-DP fuzz at the decode/verify boundary (in memory, 100,000 inputs)', () => {
  it('38,500 hostile ES3 responses (GetEIS and its ECASD certificate, DeleteISDP, CreateISDP, ProfileDownloadCompleted, EnableProfile) end each step definitely', async () => {
    const random = seededRandom(0xd0e3);
    const t: Tally = {};
    for (let i = 0; i < RUNS.es3; i++) {
      const which = i % 5;
      if (which === 0) {
        // GetEIS then, when it passes, the ECASD certificate check on what it returned.
        const response = {
          functionExecutionStatus: status(random),
          ...(random() < 0.9 ? { eis: hostileEis(random) } : {}),
        };
        const ctx = context({ getEIS: async () => response });
        const o = await step('get-eis').run(ctx);
        expectDefinite(o, ['SMDP_EIS_UNAVAILABLE', 'SMDP_EIS_MISMATCH'], t);
        if (o.kind !== 'next') continue;
        expect(response.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
        expect(ctx.eis?.eumSignedInfo.eid).toBe(EID);
        expect(ctx.eis?.smsrId).toBe(SMSR_ID);
        const v = await step('verify-ecasd').run({ ...ctx, progress: {} } as DownloadContext);
        expectDefinite(v, ['SMDP_ECASD_CERTIFICATE', 'SMDP_ICCID_ON_EUICC', 'SMDP_EUICC_MEMORY'], t);
      } else if (which === 1) {
        const deleted: string[] = [];
        const ctx = context({
          deleteISDP: async (q) => {
            deleted.push(q.iccid);
            return { functionExecutionStatus: status(random) };
          },
        });
        ctx.eis = hostileEis(random);
        const o = await step('clean-up').run(ctx);
        expectDefinite(o, ['SMDP_CLEAN_UP'], t);
        // Only ISD-Ps left in Created state are touched, and only this ICCID's or this SM-DP's.
        for (const iccid of deleted)
          expect(ctx.eis.profiles.some((p) => p.iccid === iccid && p.state === 'Created')).toBe(true);
      } else if (which === 2) {
        const response = {
          functionExecutionStatus: status(random),
          isdPAid: random() < 0.4 ? ISDP : text(random, ISDP),
        };
        const ctx = context({ createISDP: async () => response as never });
        const o = await step('create-isdp').run(ctx);
        expectDefinite(o, ['SMDP_CREATE_ISDP'], t);
        if (o.kind === 'next') {
          expect(response.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
          expect(ctx.isdpAid).toMatch(/^[0-9A-F]{10,32}$/);
        }
      } else if (which === 3) {
        const response = { functionExecutionStatus: status(random) };
        const resumed = random() < 0.3;
        const ctx = context(
          {
            profileDownloadCompleted: async () => response,
            getEIS: async () => ({ functionExecutionStatus: status(random), eis: hostileEis(random) }),
          },
          { resumed, sim: SIM, isdpAid: ISDP },
        );
        const o = await step('download-completed').run(ctx);
        expectDefinite(o, ['SMDP_DOWNLOAD_COMPLETED'], t);
      } else {
        const response = { functionExecutionStatus: status(random) };
        const o = await step('enable').run(
          context({ enableProfile: async () => response }, { isdpAid: ISDP }),
        );
        // A failed enable after a good install is a warning, never a failed download.
        expectDefinite(o, [], t);
        expect(o.kind).toBe('done');
        if (o.kind === 'done' && response.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
          expect(o.status.status).toBe('EXECUTED_WITHWARNING');
      }
    }
    expect(t.next).toBeGreaterThan(1000);
    expect(t.SMDP_ECASD_CERTIFICATE).toBeGreaterThan(100);
  }, 240_000);

  it('40,000 hostile answers to INSTALL [for personalization] and STORE DATA 3A01: on only with a 16–32 byte RC', async () => {
    const random = seededRandom(0x3a01);
    const t: Tally = {};
    const rcSeeds = [
      concatBytes([Uint8Array.of(0x85, 0x10), new Uint8Array(randomBytes(16))]),
      concatBytes([Uint8Array.of(0x85, 0x20), new Uint8Array(randomBytes(32))]),
    ];
    for (let i = 0; i < RUNS.certificate; i++) {
      const mutateInstall = random() < 0.2;
      const clean = random() < 0.05;
      const seed = rcSeeds[i % 2] as Uint8Array;
      const answers = [
        mutateInstall ? hostile(random, SW_OK, 8) : SW_OK,
        clean
          ? concatBytes([seed, SW_OK])
          : random() < 0.5
            ? withSw(random, hostile(random, seed))
            : hostile(random, concatBytes([seed, SW_OK])),
      ];
      let call = 0;
      const ctx = context(
        {
          sendData: async () => ({
            functionExecutionStatus: random() < 0.03 ? status(random) : SUCCESS,
            euiccResponseData: answers[call++] ?? new Uint8Array(0),
          }),
        },
        { isdpAid: ISDP },
      );
      const o = await step('send-certificate').run(ctx);
      expectDefinite(o, ['SMDP_SEND_DATA', 'SMDP_CARD_REFUSED', 'SMDP_KEY_ESTABLISHMENT'], t);
      if (o.kind === 'next') {
        const rc = ctx.randomChallenge as Uint8Array;
        expect(rc.length).toBeGreaterThanOrEqual(16);
        expect(rc.length).toBeLessThanOrEqual(32);
      } else {
        expect(ctx.randomChallenge).toBeUndefined();
      }
    }
    expect(t.next).toBeGreaterThan(500);
  }, 240_000);

  it('1,500 hostile answers to STORE DATA 3A02 against the real on-card key establishment: a key set only from a receipt that verifies', async () => {
    const random = seededRandom(0x3a02);
    const t: Tally = {};
    const smdpPoint = pointOf(pki.smdp);
    let accepted = 0;
    for (let i = 0; i < RUNS.keyAgreement; i++) {
      const rc = new Uint8Array(randomBytes(16));
      const clean = random() < 0.08;
      let cardKeys: EstablishedKeyset | undefined;
      const ctx = context(
        {
          sendData: async (q) => {
            // The real ECASD answers the 3A02 the SM-DP sent (signature checked, ECKA, DR, receipt).
            const onCard = establishKeysOnCard({
              storeData: q.data.subarray(5),
              curve: 'P-256',
              ecasdPrivateKey: ecasd.privateKey,
              offCardPublicKey: smdpPoint,
              randomChallenge: rc,
            });
            if (!onCard.ok) throw new Error(`the card refused the SM-DP's own 3A02: ${onCard.error.code}`);
            cardKeys = onCard.value.keyset;
            const answer = clean
              ? concatBytes([onCard.value.response, SW_OK])
              : random() < 0.5
                ? withSw(random, hostile(random, onCard.value.response))
                : hostile(random, concatBytes([onCard.value.response, SW_OK]));
            return { functionExecutionStatus: SUCCESS, euiccResponseData: answer };
          },
        },
        { isdpAid: ISDP, randomChallenge: rc },
      );
      const o = await step('key-agreement').run(ctx);
      expectDefinite(o, ['SMDP_CARD_REFUSED', 'SMDP_RECEIPT_INVALID', 'SMDP_KEY_ESTABLISHMENT'], t);
      if (clean) expect(o.kind).toBe('next');
      if (o.kind === 'next') {
        accepted++;
        // A receipt that verifies proves the card holds the same keys.
        expect(ctx.keyset?.keys.map(toHex)).toEqual(cardKeys?.keys.map(toHex));
      } else {
        expect(ctx.keyset).toBeUndefined();
      }
    }
    expect(accepted).toBeGreaterThan(RUNS.keyAgreement / 20);
  }, 120_000);

  it('20,000 hostile SCP03t answers (84, 85, 86 outside and inside the R-MAC, EUICCResponse): on only with every PE installed', async () => {
    const random = seededRandom(0x5c03);
    const t: Tally = {};
    const keyset = deriveEstablishedKeyset(
      ISDP_KEYSET,
      new Uint8Array(randomBytes(32)),
      new Uint8Array(randomBytes(16)),
    ).keyset;
    const segments = segmentProfilePackage(upp, SEGMENT_SIZE).length;
    const pes = decodeProfilePackage(upp);
    if (!pes.ok) throw new Error('package');
    const good = encodeEuiccResponse(answerProfilePackage(upp).response);
    const sdAid = fromHex(ISDP) as Uint8Array;
    let acceptedMutated = 0;
    for (let i = 0; i < RUNS.scp03t; i++) {
      // Which exchange is hit: 0 = 84, 1 = 85, 2… = the segments; 'inside' = authenticated garbage.
      const at = Math.floor(random() * (2 + segments));
      const inside = at >= 2 && random() < 0.4;
      const clean = random() < 0.05;
      const card = new Scp03tCard({
        keys: scp03KeysFromKeyset(keyset),
        kvn: keyset.kvn,
        kid: keyset.kid,
        keyDiversificationData: new Uint8Array(10),
        sdAid,
        sequenceCounter: i,
      });
      let exchange = 0;
      let received = 0;
      let insideData: Uint8Array | undefined;
      const ctx = context(
        {
          sendData: async (q) => {
            const n = exchange++;
            const r = card.receive(q.data);
            let answer: Uint8Array;
            if (!r.ok) answer = r.error.response ?? Uint8Array.of(0x9f, 0x46, 0x01, 0x01);
            else if (r.value.kind !== 'segment') answer = r.value.response;
            else {
              received++;
              let plain = received === segments ? good : new Uint8Array(0);
              if (!clean && inside && n === at) {
                plain =
                  plain.length > 0 || random() < 0.5
                    ? hostile(random, plain.length > 0 ? plain : good)
                    : plain;
                insideData = plain;
              }
              answer = card.wrapResponse(plain);
            }
            if (!clean && !inside && n === at) answer = hostile(random, answer);
            return {
              functionExecutionStatus: SUCCESS,
              euiccResponseData: clean || inside ? concatBytes([answer, SW_OK]) : withSw(random, answer),
            };
          },
        },
        { isdpAid: ISDP, keyset, package: upp },
      );
      const o = await step('download').run(ctx);
      expectDefinite(o, ['SMDP_CARD_REFUSED', 'SMDP_SCP03T', 'SMDP_EUICC_RESPONSE', 'SMDP_PE_REFUSED'], t);
      if (clean) expect(o.kind).toBe('next');
      if (o.kind === 'next' && !clean) {
        acceptedMutated++;
        // Accepted garbage inside the R-MAC must still say: every PE of the package installed.
        if (insideData !== undefined && received === segments && at === 1 + segments) {
          const r = decodeEuiccResponse(insideData);
          expect(
            r.ok &&
              r.value.peStatus.length === pes.value.length &&
              r.value.peStatus.every((s) => s.status === PE_STATUS.ok) &&
              !r.value.profileInstallationAborted,
          ).toBe(true);
        }
      }
    }
    expect(t.next).toBeGreaterThan(1000);
    expect(t.SMDP_SCP03T).toBeGreaterThan(1000);
    expect(t.SMDP_EUICC_RESPONSE ?? 0).toBeGreaterThan(100);
    expect(acceptedMutated).toBeLessThan(t.next as number);
  }, 240_000);
});

// --- DB-backed: whole downloads through SmDp → SmSr → software eUICC -----------------------------------

describe(`SM-DP fuzz, whole downloads on ${testDialect}`, () => {
  let b: DpBench;
  beforeAll(async () => {
    b = await dpBench({ segmentSize: 200 });
  });
  afterAll(() => b.db.cleanup());

  it('mutated card answers and ES3 responses at any point: FAILED with a code and the ISD-P gone, or installed', async () => {
    const random = seededRandom(testDialect === 'postgres' ? 0xdb02 : 0xdb01);
    const runs = testDialect === 'postgres' ? 50 : 150;
    const t: Tally = {};
    for (let i = 0; i < runs; i++) {
      const iccid = iccidWithCheckDigit(`894400000000002${String(i).padStart(3, '0')}`);
      await b.addSim({
        iccid,
        imsi: `00101000002${String(i).padStart(4, '0')}`,
        ki: SIM.ki,
        opc: SIM.opc,
        algorithm: 'milenage',
      });
      // One ES3 call (SendData answers, or another function's response) is made hostile.
      const at = Math.floor(random() * 14);
      let calls = 0;
      const hit = () => calls++ === at;
      b.es3.port = (real: Es3Port): Es3Port => ({
        ...real,
        getEIS: async (q) => {
          const r = await real.getEIS(q);
          return hit() ? { functionExecutionStatus: status(random), eis: hostileEis(random) } : r;
        },
        createISDP: async (q) => {
          const r = await real.createISDP(q);
          return hit() ? { ...r, functionExecutionStatus: status(random) } : r;
        },
        sendData: async (q) => {
          const r = await real.sendData(q);
          if (!hit()) return r;
          return random() < 0.15
            ? { functionExecutionStatus: status(random) }
            : { ...r, euiccResponseData: hostile(random, r.euiccResponseData ?? SW_OK) };
        },
        profileDownloadCompleted: async (q) => {
          const r = await real.profileDownloadCompleted(q);
          return hit() ? { functionExecutionStatus: status(random) } : r;
        },
      });
      const smdp = b.restartSmdp();
      const r = await smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID }).downloadProfile({
        functionCallIdentifier: `fz-${i}`,
        eid: EID,
        smsrId: SMSR_ID,
        iccid,
        enableProfile: false,
      });
      const s = r.functionExecutionStatus;
      count(t, s.status);
      const row = await b.db.store.db
        .selectFrom('esim_dp_downloads')
        .select(['status', 'failure_code', 'active_iccid', 'secrets'])
        .where('iccid', '=', iccid)
        .executeTakeFirstOrThrow();
      // Nothing half done: the download ended, its key set is gone.
      expect(row.active_iccid).toBeNull();
      expect(row.secrets).toBeNull();
      const onCard = euiccOf(b.card)
        .snapshot()
        .isdps.filter((x) => x.aid !== euiccOf(b.card).snapshot().isdps[0]?.aid);
      if (s.status === 'EXECUTED_SUCCESS') {
        expect(onCard.some((x) => x.profile?.identity.iccid === iccid)).toBe(true);
      } else {
        expect(['FAILED', 'EXPIRED']).toContain(s.status);
        expect(row.failure_code !== null && row.failure_code in SMDP_FAILURES).toBe(true);
        expect(s.statusCodeData?.subject).toMatch(/^[0-9.]+$/);
        expect(s.statusCodeData?.reason).toMatch(/^[0-9.]+$/);
      }
      // Clean the card and the EIS for the next run: an audit, then every extra profile deleted.
      const es3 = b.smsr.es3For(SMDP_ID);
      const audit = await es3.auditEIS({ functionCallIdentifier: `fa-${i}`, eid: EID, iccids: [] });
      expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      for (const p of audit.eis?.profiles ?? [])
        if (p.state !== 'Enabled') {
          const d = await es3.deleteISDP({
            functionCallIdentifier: `fd-${i}-${p.iccid}`,
            eid: EID,
            iccid: p.iccid,
          });
          expect(d.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
        }
      expect(euiccOf(b.card).snapshot().isdps.length).toBe(1);
    }
    expect(t.EXECUTED_SUCCESS).toBeGreaterThan(0);
    expect((t.FAILED ?? 0) + (t.EXPIRED ?? 0)).toBeGreaterThan(runs / 4);
  }, 120_000);
});

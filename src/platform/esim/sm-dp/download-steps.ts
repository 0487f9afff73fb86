// ES2.DownloadProfile as a table of steps (GSMA SGP.02 §3.1, esim.md §3.1 steps 1–24; STYLE §4/§18).
// Each step is a small function that opens with what it enforces; the runner (sm-dp-service.ts)
// stores the step it enters — with what the steps before it learnt — BEFORE the step sends its first
// message, so a restart knows which messages may have reached the SM-SR and the card.
//
// The ES8 traffic rides in ES3.SendData. Choices (one place, to verify against SGP.02 §3.1.2 and
// §5.4.4 ES3.SendData): every SendData carries ONE ES8 unit — a single C-APDU (INSTALL [for
// personalization], STORE DATA 3A01, STORE DATA 3A02) or one SCP03t TLV for the ISD-P (84, 85, 86)
// — and the SM-SR answers EuiccResponseData = the card's response data ‖ SW (for SCP03t: the answer
// TLVs ‖ 9000), as the SM-SR's SendData does (sm-sr-service.ts). Key establishment is scenario #3
// with one AES key for SCP03 (5C), KVN 30, KID 01 (src/crypto/sgp-02-key-establishment.ts).

import { type KeyObject, randomBytes } from 'node:crypto';
import type { ChainInput, ChainRefusal, VerifiedChain } from '../../../crypto/sgp-02-certificate-chain.js';
import {
  buildKeyEstablishmentRequest,
  type EstablishedKeyset,
  type KeyEstablishmentParameters,
  scp03KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../../crypto/sgp-02-key-establishment.js';
import { Scp03tHost, segmentProfilePackage } from '../../../crypto/sgp-02-scp03t.js';
import { concatBytes } from '../../../lib/ber-tlv.js';
import { fromHex, toHex } from '../../../lib/hex.js';
import type { Result } from '../../../lib/result.js';
import { splitTlvs } from '../../../lib/saip/der-schema.js';
import { decodeEuiccResponse, PE_STATUS } from '../../../lib/saip-profile-package.js';
import { encodeDgi } from '../../../lib/sgp-02-es5.js';
import type { Es3Port } from '../es-ports.js';
import {
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  type ReasonCode,
  SUBJECT_CODES,
  SUCCESS,
  type SubjectCode,
  withWarning,
} from '../es-soap/sgp-02-status-codes.js';
import type { Eis } from '../es-soap/sgp-02-xml-types.js';
import type { DownloadProgress } from './download-store.js';
import type { SmdpFailureCode } from './failure-codes.js';
import type { InventorySim, ProfileType } from './profile-types.js';

/** The ISD-P key set the SM-DP asks for (scenario #3, esim.md §4.2). */
export const ISDP_KEYSET: KeyEstablishmentParameters = {
  keyUsageQualifier: 0x5c,
  kvn: 0x30,
  kid: 0x01,
  initialCounter: new Uint8Array(0),
};

/** Largest plain segment per 86 TLV: fits one SendData, well under SCP03T_MAX_SEGMENT. */
export const SEGMENT_SIZE = 512;

export const STEP_NAMES = [
  'prepare-profile',
  'get-eis',
  'verify-ecasd',
  'clean-up',
  'create-isdp',
  'send-certificate',
  'key-agreement',
  'download',
  'download-completed',
  'enable',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** The request and what the steps learnt; secrets only in memory (the key set also sealed in the row). */
export interface DownloadContext {
  readonly id: string;
  /** The ES2 request's FunctionCallIdentifier (the operator's correlation id for progress reports). */
  readonly functionCallIdentifier: string;
  readonly eid: string;
  readonly iccid: string;
  readonly smsrId: string;
  readonly mnoId: string;
  /** This SM-DP's entity id (OID), as the SM-SR records it on the ISD-Ps it created for us. */
  readonly smdpId: string;
  readonly profileType: ProfileType;
  readonly enable: boolean;
  /** Unix ms: past it the procedure ends EXPIRED (ES2 ValidityPeriod). */
  readonly deadline?: number;
  readonly es3: Es3Port;
  /** A fresh FunctionCallIdentifier for each ES3 call. */
  readonly callId: () => string;
  readonly deps: StepDeps;
  /** Plain bytes per SCP03t segment (SEGMENT_SIZE unless configured). */
  readonly segmentSize: number;
  /** Set when the procedure continues after a restart. */
  readonly resumed: boolean;
  sim?: InventorySim;
  package?: Uint8Array;
  eis?: Eis;
  progress: DownloadProgress;
  isdpAid?: string;
  randomChallenge?: Uint8Array;
  keyset?: EstablishedKeyset;
}

export interface StepDeps {
  /** The inventory SIM (clear Ki/OPc) of the download's operator. */
  sim(iccid: string): Promise<InventorySim | undefined>;
  /** CERT.DP.ECDSA and SK.DP.ECDSA of this SM-DP. */
  signer(): Promise<{ certificate: Uint8Array; privateKey: KeyObject } | undefined>;
  /** The chain verifier (EsimPki.verify fits). */
  verify(input: Omit<ChainInput, 'trustedCis' | 'now'>): Promise<Result<VerifiedChain, ChainRefusal>>;
  /** The EUM certificate (PEM) for an EUM id, to verify CERT.ECASD.ECKA → CERT.EUM → CI. */
  eumCertificate(eumId: string): Promise<string | undefined>;
  /** ICCIDs of this SM-DP's other downloads running on the eUICC (their ISD-Ps are not stale). */
  othersRunning(eid: string): Promise<string[]>;
}

export type StepOutcome =
  | { readonly kind: 'next' }
  /** The procedure ends with `status` (success or warning). */
  | { readonly kind: 'done'; readonly status: FunctionExecutionStatus }
  | { readonly kind: 'fail'; readonly status: FunctionExecutionStatus; readonly code: SmdpFailureCode };

export interface Step {
  readonly name: StepName;
  /** How the step is reported to the operator layer (SGP.02 function names where there is one). */
  readonly label: string;
  /** A failure here runs the error sub-routine (ES3.DeleteISDP, SGP.02 §3.1.4). */
  readonly deletesIsdpOnFailure: boolean;
  run(ctx: DownloadContext): Promise<StepOutcome>;
}

const NEXT: StepOutcome = { kind: 'next' };
const fail = (code: SmdpFailureCode, status: FunctionExecutionStatus): StepOutcome => ({
  kind: 'fail',
  status,
  code,
});
// The SM-SR's refusal is relayed when it is one (FAILED/EXPIRED with Subject and Reason); anything
// else — a success with missing data, a warning, a status without StatusCodeData (optional in the
// schema) — becomes FAILED by the SM-SR, so the operator always gets a code (fuzz: sm-dp-fuzz.test.ts).
const smsrRefused = (code: SmdpFailureCode, s: FunctionExecutionStatus): StepOutcome =>
  fail(
    code,
    (s.status === 'FAILED' || s.status === 'EXPIRED') && s.statusCodeData !== undefined
      ? s
      : failed(SUBJECT_CODES.SM_SR, REASON_CODES.EXECUTION_ERROR, `${code}: no usable answer from the SM-SR`),
  );
const cardError = (code: SmdpFailureCode, message: string) =>
  fail(code, failed(SUBJECT_CODES.ISD_P, REASON_CODES.EXECUTION_ERROR, `${code}: ${message}`));

// --- step 1: the profile for this SIM ----------------------------------------------------------------

/** Enforces: the ICCID is a SIM of the caller's inventory and the profile type can be made from it. */
async function prepareProfile(ctx: DownloadContext): Promise<StepOutcome> {
  const sim = await ctx.deps.sim(ctx.iccid);
  if (sim === undefined)
    return fail(
      'SMDP_UNKNOWN_ICCID',
      failed(
        SUBJECT_CODES.PROFILE_ICCID,
        REASON_CODES.UNKNOWN,
        'no SIM with this ICCID in your inventory',
        ctx.iccid,
      ),
    );
  const upp = ctx.profileType.prepare(sim);
  if (!upp.ok)
    return fail(
      upp.error.code,
      failed(SUBJECT_CODES.PROFILE_ICCID, REASON_CODES.REFUSED, `${upp.error.code}: ${upp.error.message}`),
    );
  ctx.sim = sim;
  ctx.package = upp.value;
  return NEXT;
}

// --- steps 2–4: the EIS --------------------------------------------------------------------------------

/** Enforces: the SM-SR named in the request knows the eUICC and says it manages it. */
async function getEis(ctx: DownloadContext): Promise<StepOutcome> {
  const r = await ctx.es3.getEIS({ functionCallIdentifier: ctx.callId(), eid: ctx.eid });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS' || r.eis === undefined)
    return smsrRefused('SMDP_EIS_UNAVAILABLE', r.functionExecutionStatus);
  if (r.eis.eumSignedInfo.eid !== ctx.eid || r.eis.smsrId !== ctx.smsrId)
    return fail(
      'SMDP_EIS_MISMATCH',
      failed(SUBJECT_CODES.EIS, REASON_CODES.INVALID, 'the EIS is of another eUICC or SM-SR'),
    );
  ctx.eis = r.eis;
  return NEXT;
}

/**
 * Step 5. Enforces: CERT.ECASD.ECKA chains ECASD → EUM → CI, is issued to THIS EID (another eUICC's
 * valid certificate is refused), and the eUICC has room and no profile with this ICCID.
 */
async function verifyEcasd(ctx: DownloadContext): Promise<StepOutcome> {
  const eis = ctx.eis as Eis;
  const info = eis.eumSignedInfo;
  const certificate = info.ecasd.keysets.flatMap((k) => k.certificates)[0]?.value;
  const eum = await ctx.deps.eumCertificate(info.eumId);
  const eid = fromHex(ctx.eid);
  if (certificate === undefined || eum === undefined || eid === undefined)
    return fail(
      'SMDP_ECASD_CERTIFICATE',
      failed(
        SUBJECT_CODES.ECASD,
        REASON_CODES.VERIFICATION_FAILED,
        'no ECASD certificate or EUM to verify it',
      ),
    );
  const chain = await ctx.deps.verify({ certificate, role: 'ecasd', eumCertificate: eum, subjectId: eid });
  if (!chain.ok)
    return fail(
      'SMDP_ECASD_CERTIFICATE',
      failed(
        SUBJECT_CODES.ECASD,
        REASON_CODES.VERIFICATION_FAILED,
        `${chain.error.code}: ${chain.error.reason}`,
      ),
    );
  if (eis.profiles.some((p) => p.iccid === ctx.iccid && p.state !== 'Created'))
    return fail(
      'SMDP_ICCID_ON_EUICC',
      failed(
        SUBJECT_CODES.PROFILE_ICCID,
        REASON_CODES.ALREADY_IN_USE,
        'the eUICC holds this ICCID',
        ctx.iccid,
      ),
    );
  if (eis.remainingMemory < ctx.profileType.requiredMemory)
    return fail(
      'SMDP_EUICC_MEMORY',
      failed(SUBJECT_CODES.EUICC, REASON_CODES.INSUFFICIENT_MEMORY, 'not enough memory for the profile'),
    );
  ctx.progress = { ...ctx.progress, ecasdPublicKey: toHex(chain.value.publicKey) };
  return NEXT;
}

/**
 * Step 4 (§3.1.5). Enforces: an ISD-P this SM-DP left in Created state (a download that died) goes
 * first — never one another running download of ours is filling.
 */
async function cleanUp(ctx: DownloadContext): Promise<StepOutcome> {
  const eis = ctx.eis as Eis;
  const running = new Set(await ctx.deps.othersRunning(ctx.eid));
  const stale = eis.profiles.filter(
    (p) =>
      p.state === 'Created' && (p.iccid === ctx.iccid || (p.smdpId === ctx.smdpId && !running.has(p.iccid))),
  );
  for (const p of stale) {
    const r = await ctx.es3.deleteISDP({
      functionCallIdentifier: ctx.callId(),
      eid: ctx.eid,
      iccid: p.iccid,
    });
    if (r.functionExecutionStatus.status === 'FAILED')
      return smsrRefused('SMDP_CLEAN_UP', r.functionExecutionStatus);
  }
  return NEXT;
}

// --- steps 6–13: the ISD-P --------------------------------------------------------------------------

/** Enforces: the SM-SR created the ISD-P for this ICCID and named its AID. */
async function createIsdp(ctx: DownloadContext): Promise<StepOutcome> {
  const r = await ctx.es3.createISDP({
    functionCallIdentifier: ctx.callId(),
    eid: ctx.eid,
    iccid: ctx.iccid,
    mnoId: ctx.mnoId,
    requiredMemory: ctx.profileType.requiredMemory,
    moreToDo: true,
  });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS' || !/^[0-9A-Fa-f]{10,32}$/.test(r.isdPAid))
    return smsrRefused('SMDP_CREATE_ISDP', r.functionExecutionStatus);
  ctx.isdpAid = r.isdPAid.toUpperCase();
  return NEXT;
}

// --- steps 14–18: key establishment (scenario #3) ----------------------------------------------------

/** SendData of one ES8 unit; the card's answer data once its SW says it completed. */
async function sendData(
  ctx: DownloadContext,
  data: Uint8Array,
  moreToDo = true,
): Promise<{ ok: true; data: Uint8Array } | { ok: false; outcome: StepOutcome }> {
  const r = await ctx.es3.sendData({
    functionCallIdentifier: ctx.callId(),
    eid: ctx.eid,
    sdAid: ctx.isdpAid as string,
    data,
    moreToDo,
  });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    return { ok: false, outcome: smsrRefused('SMDP_SEND_DATA', r.functionExecutionStatus) };
  const answer = r.euiccResponseData ?? new Uint8Array(0);
  const sw =
    answer.length >= 2
      ? ((answer[answer.length - 2] as number) << 8) | (answer[answer.length - 1] as number)
      : 0;
  if (sw !== 0x9000)
    return {
      ok: false,
      outcome: cardError(
        'SMDP_CARD_REFUSED',
        `the card answered SW ${sw.toString(16).toUpperCase().padStart(4, '0')}`,
      ),
    };
  return { ok: true, data: answer.subarray(0, answer.length - 2) };
}

const apdu = (header: readonly number[], data: Uint8Array) =>
  concatBytes([Uint8Array.from(header), Uint8Array.of(data.length), data]);

/** GP §11.5.2.3 INSTALL [for personalization] of the ISD-P: 80 E6 20 00 {00 00 L AID 00 00 00}. */
export function installForPersonalization(isdpAid: string): Uint8Array {
  const aid = fromHex(isdpAid) ?? new Uint8Array(0);
  return apdu(
    [0x80, 0xe6, 0x20, 0x00],
    concatBytes([Uint8Array.of(0, 0, aid.length), aid, Uint8Array.of(0, 0, 0)]),
  );
}

/**
 * Steps 14–15. Enforces: the ISD-P takes personalization and the card (ECASD with PK.CI) accepts
 * CERT.DP.ECDSA, answering `85 L RC` with a 16–32 byte challenge.
 */
async function sendCertificate(ctx: DownloadContext): Promise<StepOutcome> {
  const signer = await ctx.deps.signer();
  if (signer === undefined)
    return fail(
      'SMDP_NO_CERTIFICATE',
      failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.UNAVAILABLE, 'no SM-DP certificate'),
    );
  const install = await sendData(ctx, installForPersonalization(ctx.isdpAid as string));
  if (!install.ok) return install.outcome;
  const dgi = encodeDgi(0x3a01, signer.certificate);
  if (dgi.length > 255)
    return fail(
      'SMDP_NO_CERTIFICATE',
      failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.INVALID, 'certificate too long'),
    );
  const cert = await sendData(ctx, apdu([0x80, 0xe2, 0x09, 0x00], dgi));
  if (!cert.ok) return cert.outcome;
  const rc = cert.data;
  if (rc[0] !== 0x85 || rc[1] !== rc.length - 2 || rc.length - 2 < 16 || rc.length - 2 > 32)
    return cardError('SMDP_KEY_ESTABLISHMENT', 'the card answered no random challenge');
  ctx.randomChallenge = rc.slice(2);
  return NEXT;
}

/**
 * Steps 16–18. Enforces: the card's receipt proves it derived the same key set from our ephemeral
 * key and PK.ECASD.ECKA of the VERIFIED certificate (no receipt match, no download).
 */
async function keyAgreement(ctx: DownloadContext): Promise<StepOutcome> {
  const signer = await ctx.deps.signer();
  const ecasd = fromHex(ctx.progress.ecasdPublicKey ?? '');
  if (signer === undefined || ctx.randomChallenge === undefined || ecasd === undefined)
    return cardError('SMDP_KEY_ESTABLISHMENT', 'the key establishment lost its state');
  const request = buildKeyEstablishmentRequest({
    curve: 'P-256',
    parameters: ISDP_KEYSET,
    signingKey: signer.privateKey,
    randomChallenge: ctx.randomChallenge,
  });
  const r = await sendData(ctx, apdu([0x80, 0xe2, 0x89, 0x01], request.storeData));
  if (!r.ok) return r.outcome;
  const keyset = verifyKeyEstablishmentReceipt({
    curve: 'P-256',
    parameters: ISDP_KEYSET,
    ephemeralPrivateKey: request.ephemeral.privateKey,
    ecasdPublicKey: ecasd,
    response: r.data,
  });
  request.ephemeral.privateKey.fill(0);
  if (!keyset.ok)
    return fail(
      'SMDP_RECEIPT_INVALID',
      failed(
        SUBJECT_CODES.ISD_P,
        REASON_CODES.VERIFICATION_FAILED,
        `SMDP_RECEIPT_INVALID: ${keyset.error.code}`,
      ),
    );
  ctx.keyset = keyset.value;
  return NEXT;
}

// --- steps 19–20: SCP03t download and installation -----------------------------------------------------

/**
 * Steps 19–20. Enforces: SCP03t opens with the established keys (card cryptogram checked), every
 * segment's answer carries a valid R-MAC, and the EUICCResponse reports every PE of the package
 * installed (one PEStatus per PE, all ok, not aborted).
 */
async function download(ctx: DownloadContext): Promise<StepOutcome> {
  const keyset = ctx.keyset;
  const upp = ctx.package;
  if (keyset === undefined || upp === undefined)
    return cardError('SMDP_DOWNLOAD', 'the download lost its key set or package');
  const host = new Scp03tHost({ keys: scp03KeysFromKeyset(keyset), kvn: keyset.kvn, kid: keyset.kid });
  const iu = await sendData(ctx, host.initializeUpdate());
  if (!iu.ok) return iu.outcome;
  const ext = host.externalAuthenticate(iu.data);
  if (!ext.ok) return cardError('SMDP_SCP03T', ext.error.message);
  const ea = await sendData(ctx, ext.value);
  if (!ea.ok) return ea.outcome;
  const opened = host.externalAuthenticateResponse(ea.data);
  if (!opened.ok) return cardError('SMDP_SCP03T', opened.error.message);
  let last: Uint8Array = new Uint8Array(0);
  const segments = segmentProfilePackage(upp, ctx.segmentSize);
  for (const [i, segment] of segments.entries()) {
    const r = await sendData(ctx, host.wrapSegment(segment), i < segments.length - 1);
    if (!r.ok) return r.outcome;
    const answer = host.unwrapResponse(r.data);
    if (!answer.ok) return cardError('SMDP_SCP03T', answer.error.message);
    last = answer.value;
  }
  const response = decodeEuiccResponse(last);
  if (!response.ok) return cardError('SMDP_EUICC_RESPONSE', 'the last segment got no EUICCResponse');
  // One PEStatus per PE: the package's top-level elements (the SM-DP built it; counting them needs no
  // decode of their contents).
  const pes = splitTlvs(upp);
  const count = pes.ok ? pes.value.length : -1;
  const refused = response.value.peStatus.find((s) => s.status !== PE_STATUS.ok);
  if (
    refused !== undefined ||
    response.value.profileInstallationAborted ||
    response.value.peStatus.length !== count
  )
    return fail(
      'SMDP_PE_REFUSED',
      failed(
        SUBJECT_CODES.PROFILE_ICCID,
        REASON_CODES.EXECUTION_ERROR,
        `SMDP_PE_REFUSED: ${response.value.peStatus.length} of ${count} PEs answered` +
          (refused ? `, status ${refused.status} at PE ${refused.identification ?? '?'}` : ''),
      ),
    );
  return NEXT;
}

// --- steps 21–24 -------------------------------------------------------------------------------------

/** Step 21. Enforces: the SM-SR records the profile (Disabled) with its subscription address and POL2. */
async function downloadCompleted(ctx: DownloadContext): Promise<StepOutcome> {
  if (ctx.resumed) {
    // The answer of an earlier attempt may have been lost after the SM-SR recorded it.
    const eis = await ctx.es3.getEIS({ functionCallIdentifier: ctx.callId(), eid: ctx.eid });
    const p = eis.eis?.profiles.find((x) => x.iccid === ctx.iccid);
    if (p !== undefined && p.state !== 'Created') return NEXT;
  }
  const sim = ctx.sim;
  const r = await ctx.es3.profileDownloadCompleted({
    functionCallIdentifier: ctx.callId(),
    eid: ctx.eid,
    iccid: ctx.iccid,
    profileType: ctx.profileType.name,
    subscriptionAddress: {
      ...(sim ? { imsi: sim.imsi } : {}),
      ...(sim?.msisdn ? { msisdn: sim.msisdn } : {}),
    },
    pol2: { rules: [] },
  });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    return smsrRefused('SMDP_DOWNLOAD_COMPLETED', r.functionExecutionStatus);
  return NEXT;
}

/** Step 23. Enforces: a failed enable after a good install is a warning, never a failed download. */
async function enable(ctx: DownloadContext): Promise<StepOutcome> {
  if (!ctx.enable) return { kind: 'done', status: SUCCESS };
  if (ctx.resumed) {
    // The earlier attempt's EnableProfile may have run, its answer lost with the process: once the
    // SM-SR holds the profile Enabled (its recovery and the card's notification), asking again would
    // only be refused ("not disabled") and the download would claim "not enabled".
    const eis = await ctx.es3.getEIS({ functionCallIdentifier: ctx.callId(), eid: ctx.eid });
    if (eis.eis?.profiles.find((x) => x.iccid === ctx.iccid)?.state === 'Enabled')
      return { kind: 'done', status: SUCCESS };
  }
  const r = await ctx.es3.enableProfile({
    functionCallIdentifier: ctx.callId(),
    eid: ctx.eid,
    iccid: ctx.iccid,
  });
  const s = r.functionExecutionStatus;
  if (s.status === 'EXECUTED_SUCCESS') return { kind: 'done', status: SUCCESS };
  const d = s.statusCodeData;
  return {
    kind: 'done',
    status: withWarning(
      (d?.subject ?? SUBJECT_CODES.PROFILE_ICCID) as SubjectCode,
      (d?.reason ?? REASON_CODES.EXECUTION_ERROR) as ReasonCode,
      `installed, not enabled: ${d?.message ?? s.status}`,
      ctx.iccid,
    ),
  };
}

export const DOWNLOAD_STEPS: readonly Step[] = [
  { name: 'prepare-profile', label: 'PrepareProfile', deletesIsdpOnFailure: false, run: prepareProfile },
  { name: 'get-eis', label: 'GetEIS', deletesIsdpOnFailure: false, run: getEis },
  { name: 'verify-ecasd', label: 'VerifyECASDCertificate', deletesIsdpOnFailure: false, run: verifyEcasd },
  { name: 'clean-up', label: 'CleanUpISDP', deletesIsdpOnFailure: false, run: cleanUp },
  { name: 'create-isdp', label: 'CreateISDP', deletesIsdpOnFailure: false, run: createIsdp },
  {
    name: 'send-certificate',
    label: 'EstablishISDPKeySet:certificate',
    deletesIsdpOnFailure: true,
    run: sendCertificate,
  },
  {
    name: 'key-agreement',
    label: 'EstablishISDPKeySet:keyAgreement',
    deletesIsdpOnFailure: true,
    run: keyAgreement,
  },
  { name: 'download', label: 'DownloadAndInstallation', deletesIsdpOnFailure: true, run: download },
  {
    name: 'download-completed',
    label: 'ProfileDownloadCompleted',
    deletesIsdpOnFailure: true,
    run: downloadCompleted,
  },
  { name: 'enable', label: 'EnableProfile', deletesIsdpOnFailure: false, run: enable },
];

/** A fresh FunctionCallIdentifier. */
export const newCallId = () => `smdp-${randomBytes(8).toString('hex')}`;

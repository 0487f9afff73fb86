// The eSIM PKI of a deployment (SGP.02 §2.3): the CI it trusts, the EUM, SM-DP and SM-SR
// certificates the CI issues, and the ECASD certificates an EUM issues to eUICCs.
//
// In a demo the deployment creates its own CI and keeps its key; in production the CI is the GSMA's
// (external): its certificate is imported to trust, without a key, and this service then issues
// nothing under it. Private keys (CI, EUM, SM-DP, SM-SR) are sealed with the key ring under a
// context naming the row, like every other secret, and leave this module only as KeyObjects for the
// SM-DP / SM-SR procedures (`signingKey`); views never carry them. An ECASD key is never stored:
// it belongs to the card.
//
// SM-DP and SM-SR certificates belong to an operator (each operator runs its own, and SM-SR change
// is between two operators' SM-SRs); the CI and the EUM of the software cards belong to the
// platform (operator ''), unless an EUM is issued for an operator.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import {
  type ChainInput,
  type ChainRefusal,
  certificateDer,
  keyIdentifierOf,
  p256Point,
  p256PublicKey,
  signGpCertificate,
  type TrustedCi,
  trustedCiFromCertificate,
  type VerifiedChain,
  verifyCertificateChain,
  verifyEumCertificate,
  verifyGpCertificate,
} from '../../../crypto/sgp-02-certificate-chain.js';
import type { Clock } from '../../../lib/clock.js';
import { SimtrustError } from '../../../lib/errors.js';
import {
  decodeGpCertificate,
  decodeOid,
  encodeOid,
  GP_CERT_ROLE_BYTES,
  GP_KEY_USAGE,
  gpDateOf,
  gpDateStart,
} from '../../../lib/gp-certificate.js';
import type { Result } from '../../../lib/result.js';
import { writeAudit } from '../../audit/audit-log.js';
import { type AuditContext, PLATFORM_AUDIT_OPERATOR, systemContext } from '../../iam/principal.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import { markUsedOnce } from '../../store/atomic.js';
import type { Store } from '../../store/database.js';
import type { EsimCertificatesTable, EsimCisTable } from '../../store/schema.js';
import { createCiCertificate, createEumCertificate } from './x509.js';

const DAY_MS = 86_400_000;

/**
 * Entity ids of the demo under the ITU-T X.660 arc 2.999 (reserved for examples): simtrust has no
 * private enterprise number; a production deployment uses the ids its SM-DP/SM-SR are registered with.
 */
export const DEMO_ENTITY_IDS = { eum: '2.999.15.1', 'sm-dp': '2.999.15.2', 'sm-sr': '2.999.15.3' } as const;

/** The platform's own rows (CI, the software cards' EUM). */
export const PLATFORM_OWNER = '';

export type IssuedRole = 'eum' | 'sm-dp' | 'sm-sr';
export type CertificateRole = IssuedRole | 'ecasd';
export const ISSUED_ROLES: readonly IssuedRole[] = ['eum', 'sm-dp', 'sm-sr'];

/** Audit operation ids (SAM-style names, as the API would use). */
export const ESIM_PKI_OPERATIONS = {
  initCi: 'Esim:initCi',
  importCi: 'Esim:importCi',
  issue: 'Esim:issueCertificate',
  issueEcasd: 'Esim:issueEcasdCertificate',
  requestCertificate: 'Esim:requestCertificate',
  signRequest: 'Esim:signCertificateRequest',
  importCertificate: 'Esim:importCertificate',
} as const;

/** A CI as shown: never its private key. */
export interface CiView {
  readonly ciId: string;
  readonly subject: string;
  /** Hex key identifier, the `42` / `C9` of the GP certificates it issues. */
  readonly keyId: string;
  /** created (this deployment holds its key) | imported (trusted, key external) */
  readonly origin: 'created' | 'imported';
  readonly canIssue: boolean;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly createdTime: number;
  /** PEM of the X.509 certificate. */
  readonly certificate: string;
}

/** An issued certificate as shown: never its private key. */
export interface CertificateView {
  readonly certId: string;
  readonly operatorId: string;
  readonly role: CertificateRole;
  readonly subject: string;
  readonly format: 'x509' | 'gp';
  /** PEM (x509) or hex of the `7F21` object (gp). */
  readonly certificate: string;
  readonly keyId: string;
  readonly issuerKeyId: string;
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly createdTime: number;
  /**
   * A certificate request of this deployment (`requestCertificate`) that no CI has answered yet:
   * its key is here, `certificate` is the self-signed request, and nothing uses it until
   * `importCertificate` brings the CI's certificate for that key.
   */
  readonly pending: boolean;
}

/** What `signRequest` gives back to the requesting deployment. */
export interface SignedRequest {
  readonly role: 'sm-dp' | 'sm-sr';
  readonly entityId: string;
  /** Hex of the GP `7F21` certificate the CI issued for the request's key. */
  readonly certificate: string;
  readonly serial: string;
  readonly keyId: string;
  readonly ciId: string;
  readonly notAfter: number;
}

export interface IssueOptions {
  readonly role: IssuedRole;
  /** Owner: an operator id, or '' (the platform) for an EUM. SM-DP and SM-SR need an operator. */
  readonly operatorId: string;
  /** Entity id (OID), e.g. the Smdp-id / Smsr-id / Eum-id of the ES messages. */
  readonly entityId: string;
  /** X.509 subject of an EUM (default `CN=EUM <entityId>,O=simtrust`). */
  readonly name?: string | undefined;
  readonly validityDays?: number | undefined;
  readonly ctx?: AuditContext | undefined;
}

export interface EcasdIssue {
  readonly certId: string;
  /** CERT.ECASD.ECKA, the GP `7F21` certificate. */
  readonly certificate: Uint8Array;
  /** The issuing EUM's X.509 certificate (PEM), which travels with it in the EIS. */
  readonly eumCertificate: string;
  /** PK.ECASD.ECKA, 04‖X‖Y. */
  readonly publicKey: Uint8Array;
  /** SK.ECASD.ECKA when this call generated the pair (for the software card); never stored. */
  readonly privateKey?: KeyObject | undefined;
}

/** How long a certificate request (its self-signed form) may wait for the CI's answer. */
const REQUEST_VALIDITY_DAYS = 30;

const ciContext = (ciId: string) => `esim-ci:${ciId}`;
const certContext = (certId: string) => `esim-cert:${certId}`;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Hex text (whitespace allowed, as a file or a terminal gives it) as bytes; empty when it is not hex. */
const hexBytes = (text: string) => {
  const t = text.replace(/\s+/g, '');
  return /^([0-9a-fA-F]{2})+$/.test(t) ? new Uint8Array(Buffer.from(t, 'hex')) : new Uint8Array();
};
const EID_RE = /^89\d{30}$/;

function validityDays(days: number | undefined, fallback: number): number {
  const d = days ?? fallback;
  if (!Number.isInteger(d) || d < 1 || d > 36_500)
    throw new SimtrustError('ERR_BAD_REQUEST', 'validity must be a whole number of days from 1 to 36500');
  return d;
}

function entityOid(entityId: string): Uint8Array {
  try {
    return encodeOid(entityId);
  } catch {
    throw new SimtrustError(
      'ERR_BAD_REQUEST',
      `entity id "${entityId}" is not an OID (e.g. 1.3.6.1.4.1.99999.1.2)`,
    );
  }
}

export class EsimPki {
  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates the deployment's CI: a P-256 key (sealed) and its self-signed X.509 root. Refused when
   * the deployment already has a CI with a key (ERR_ESIM_CI_EXISTS): a second root would split the
   * trust of every card already issued.
   */
  async initCi(options: { name?: string; validityDays?: number; ctx?: AuditContext } = {}): Promise<CiView> {
    const existing = await this.store.db
      .selectFrom('esim_cis')
      .select('ci_id')
      .where('private_key', 'is not', null)
      .executeTakeFirst();
    if (existing)
      throw new SimtrustError('ERR_ESIM_CI_EXISTS', `this deployment already has a CI (${existing.ci_id})`);
    const days = validityDays(options.validityDays, 20 * 365);
    const name = options.name ?? 'CN=simtrust eSIM CI,O=simtrust';
    const now = this.clock.now();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = await createCiCertificate(pair, name, { notBefore: now, notAfter: now + days * DAY_MS });
    const trusted = this.parseCi(pem);
    const ciId = `CI-${hex(trusted.keyId).slice(0, 16)}`;
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    await this.store.transaction(async (trx) => {
      // Two inits racing (instances, or two admins): one guard row per deployment, inserted
      // atomically; the loser's insert waits for the winner's commit and then finds it.
      if (!(await markUsedOnce(trx, 'esim-ci', 'created', Number.MAX_SAFE_INTEGER, now)))
        throw new SimtrustError('ERR_ESIM_CI_EXISTS', 'this deployment already has a CI');
      await trx
        .insertInto('esim_cis')
        .values({
          ci_id: ciId,
          key_id: hex(trusted.keyId),
          subject: trusted.subject ?? name,
          certificate: pem,
          private_key: this.keyRing.seal(pkcs8, ciContext(ciId)),
          origin: 'created',
          not_before: trusted.notBefore ?? now,
          not_after: trusted.notAfter ?? now + days * DAY_MS,
          created_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context: options.ctx ?? systemContext(PLATFORM_AUDIT_OPERATOR, ESIM_PKI_OPERATIONS.initCi, 'esim-ci'),
        result: 'success',
        detail: { ciId, keyId: hex(trusted.keyId), subject: name },
        at: now,
      });
    });
    pkcs8.fill(0);
    return this.ci(ciId);
  }

  /**
   * Trusts an external CI by its self-signed X.509 certificate (PEM or DER), without its key:
   * certificates it issued then verify, and this deployment issues none under it. Importing the
   * same certificate again returns the row already there.
   */
  async importCi(certificate: string | Uint8Array, options: { ctx?: AuditContext } = {}): Promise<CiView> {
    const trusted = this.parseCi(certificate);
    const keyId = hex(trusted.keyId);
    const existing = await this.store.db
      .selectFrom('esim_cis')
      .select('ci_id')
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    if (existing) return this.ci(existing.ci_id);
    const ciId = `CI-${keyId.slice(0, 16)}`;
    const now = this.clock.now();
    const pem = `-----BEGIN CERTIFICATE-----\n${(
      Buffer.from(trusted.certificate as Uint8Array)
        .toString('base64')
        .match(/.{1,64}/g) ?? []
    ).join('\n')}\n-----END CERTIFICATE-----\n`;
    await this.store.transaction(async (trx) => {
      await trx
        .insertInto('esim_cis')
        .values({
          ci_id: ciId,
          key_id: keyId,
          subject: trusted.subject ?? '',
          certificate: pem,
          private_key: null,
          origin: 'imported',
          not_before: trusted.notBefore ?? now,
          not_after: trusted.notAfter ?? now,
          created_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context:
          options.ctx ?? systemContext(PLATFORM_AUDIT_OPERATOR, ESIM_PKI_OPERATIONS.importCi, 'esim-ci'),
        result: 'success',
        detail: { ciId, keyId, subject: trusted.subject },
        at: now,
      });
    });
    return this.ci(ciId);
  }

  async listCis(): Promise<CiView[]> {
    const rows = await this.store.db.selectFrom('esim_cis').selectAll().orderBy('created_at').execute();
    return rows.map(ciView);
  }

  /** The trust anchors every receiver of this deployment verifies against. */
  async trustedCis(): Promise<TrustedCi[]> {
    const rows = await this.store.db.selectFrom('esim_cis').select('certificate').execute();
    return rows.map((r) => this.parseCi(r.certificate));
  }

  /** Issues an EUM (X.509) or SM-DP / SM-SR (GP) certificate under the deployment's CI. */
  issue(options: IssueOptions): Promise<CertificateView> {
    return this.issueOnce(options, undefined);
  }

  /**
   * With `onceKey`, of instances racing to issue the same thing exactly one commits (a guard row that
   * lives as long as the certificate); the others get ERR_CONFLICT and read the winner's.
   */
  private async issueOnce(options: IssueOptions, onceKey: string | undefined): Promise<CertificateView> {
    if (!ISSUED_ROLES.includes(options.role))
      throw new SimtrustError('ERR_BAD_REQUEST', `role must be one of ${ISSUED_ROLES.join(', ')}`);
    if (options.role !== 'eum' && options.operatorId === PLATFORM_OWNER)
      throw new SimtrustError('ERR_BAD_REQUEST', 'an SM-DP or SM-SR certificate belongs to an operator');
    if (options.operatorId !== PLATFORM_OWNER) await this.requireOperator(options.operatorId);
    const oid = entityOid(options.entityId);
    const days = validityDays(options.validityDays, options.role === 'eum' ? 10 * 365 : 5 * 365);
    const ci = await this.issuingCi();
    const now = this.clock.now();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const point = p256Point(pair.publicKey);
    const certId = `EC-${randomBytes(8).toString('hex')}`;
    let certificate: string;
    let serial: string;
    let notAfter = Math.min(now + days * DAY_MS, ci.notAfter);
    if (options.role === 'eum') {
      certificate = await createEumCertificate({
        ci: { privateKey: ci.privateKey, publicKey: createPublicKey(ci.privateKey), name: ci.subject },
        eumPublicKey: pair.publicKey,
        name: options.name ?? `CN=EUM ${options.entityId},O=simtrust`,
        validity: { notBefore: now, notAfter },
      });
      const eum = verifyEumCertificate(certificate, [ci.trusted], now);
      if (!eum.ok)
        throw new SimtrustError(
          'ERR_INTERNAL',
          `issued EUM certificate does not verify: ${eum.error.message}`,
        );
      serial = new X509Certificate(certificate).serialNumber.toLowerCase();
    } else {
      const serialBytes = randomBytes(8);
      serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x01;
      // 5F24 names a whole day: the last day on or before the intended end.
      const expiration = gpDateOf(notAfter - DAY_MS);
      notAfter = gpDateStart(expiration) + DAY_MS;
      const bytes = signGpCertificate(
        {
          serial: serialBytes,
          caId: ci.trusted.keyId,
          subjectId: oid,
          keyUsage: GP_KEY_USAGE.signatureVerification,
          effectiveDate: gpDateOf(now),
          expirationDate: expiration,
          roleByte: GP_CERT_ROLE_BYTES[options.role],
          authorityKeyId: ci.trusted.keyId,
          publicKey: { point, curveRef: 0x00 },
        },
        ci.privateKey,
      );
      certificate = hex(bytes);
      serial = hex(serialBytes);
    }
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const row: EsimCertificatesTable = {
      cert_id: certId,
      operator_id: options.operatorId,
      role: options.role,
      subject: options.entityId,
      format: options.role === 'eum' ? 'x509' : 'gp',
      certificate,
      public_key: hex(point),
      key_id: hex(keyIdentifierOf(point)),
      issuer_key_id: hex(ci.trusted.keyId),
      serial,
      private_key: this.keyRing.seal(pkcs8, certContext(certId)),
      not_before: options.role === 'eum' ? now : gpDateStart(gpDateOf(now)),
      not_after: notAfter,
      created_at: now,
    };
    pkcs8.fill(0);
    await this.store.transaction(async (trx) => {
      if (onceKey !== undefined && !(await markUsedOnce(trx, 'esim-pki', onceKey, row.not_after, now)))
        throw new SimtrustError('ERR_CONFLICT', `${options.role} certificate already being issued`);
      await trx.insertInto('esim_certificates').values(row).execute();
      await writeAudit(trx, {
        context:
          options.ctx ??
          systemContext(options.operatorId || PLATFORM_AUDIT_OPERATOR, ESIM_PKI_OPERATIONS.issue, 'esim-ci'),
        result: 'success',
        detail: { certId, role: options.role, entityId: options.entityId, ciId: ci.ciId },
        at: now,
      });
    });
    return certView(row);
  }

  /**
   * Issues CERT.ECASD.ECKA for an eUICC, signed by an EUM of this deployment (the newest of the
   * platform's, or `eumCertId`). With no `publicKey` a key pair is generated and its private key
   * returned (for the software card) — never stored.
   */
  async issueEcasd(options: {
    eid: string;
    publicKey?: Uint8Array | undefined;
    eumCertId?: string | undefined;
    validityDays?: number | undefined;
    ctx?: AuditContext | undefined;
  }): Promise<EcasdIssue> {
    if (!EID_RE.test(options.eid))
      throw new SimtrustError('ERR_BAD_REQUEST', 'the EID must be 32 digits starting 89');
    const days = validityDays(options.validityDays, 30 * 365);
    let privateKey: KeyObject | undefined;
    let point = options.publicKey;
    if (point === undefined) {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      privateKey = pair.privateKey;
      point = p256Point(pair.publicKey);
    } else if (p256PublicKey(point) === undefined) {
      throw new SimtrustError('ERR_BAD_REQUEST', 'the ECASD public key is not an uncompressed P-256 point');
    }
    const eum = await this.eumRow(options.eumCertId);
    const eumKey = this.openKey(eum);
    const now = this.clock.now();
    const notAfterWanted = Math.min(now + days * DAY_MS, Number(eum.not_after));
    const expiration = gpDateOf(notAfterWanted - DAY_MS);
    const serialBytes = randomBytes(8);
    serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x01;
    const eumKeyId = Buffer.from(eum.key_id, 'hex');
    const certificate = signGpCertificate(
      {
        serial: serialBytes,
        caId: eumKeyId,
        subjectId: Buffer.from(options.eid, 'hex'),
        keyUsage: GP_KEY_USAGE.keyAgreement,
        effectiveDate: gpDateOf(now),
        expirationDate: expiration,
        authorityKeyId: eumKeyId,
        publicKey: { point, curveRef: 0x00 },
      },
      eumKey,
    );
    const certId = `EC-${randomBytes(8).toString('hex')}`;
    const row: EsimCertificatesTable = {
      cert_id: certId,
      operator_id: eum.operator_id,
      role: 'ecasd',
      subject: options.eid,
      format: 'gp',
      certificate: hex(certificate),
      public_key: hex(point),
      key_id: hex(keyIdentifierOf(point)),
      issuer_key_id: eum.key_id,
      serial: hex(serialBytes),
      private_key: null,
      not_before: gpDateStart(gpDateOf(now)),
      not_after: gpDateStart(expiration) + DAY_MS,
      created_at: now,
    };
    await this.store.transaction(async (trx) => {
      await trx.insertInto('esim_certificates').values(row).execute();
      await writeAudit(trx, {
        context:
          options.ctx ??
          systemContext(
            eum.operator_id || PLATFORM_AUDIT_OPERATOR,
            ESIM_PKI_OPERATIONS.issueEcasd,
            'esim-ci',
          ),
        result: 'success',
        detail: { certId, eid: options.eid, eumCertId: eum.cert_id },
        at: now,
      });
    });
    return { certId, certificate, eumCertificate: eum.certificate, publicKey: point, privateKey };
  }

  /**
   * A certificate request for this deployment's SM-DP or SM-SR when the CI is held elsewhere (the
   * GSMA's, or a partner deployment's: `simtrust esim ci import` trusts it without its key). The key
   * pair is made and sealed here and never leaves; the request is a GP certificate of that key
   * signed by the key itself (proof of possession), which the CI holder checks and answers with
   * `signRequest`; `importCertificate` then completes this row. Until then the row is pending
   * (not_after 0): `current()` never picks it and it signs nothing.
   */
  async requestCertificate(options: {
    role: 'sm-dp' | 'sm-sr';
    operatorId: string;
    entityId: string;
    ctx?: AuditContext | undefined;
  }): Promise<{ view: CertificateView; request: string }> {
    if (options.role !== 'sm-dp' && options.role !== 'sm-sr')
      throw new SimtrustError('ERR_BAD_REQUEST', 'a certificate request is for an sm-dp or sm-sr key');
    await this.requireOperator(options.operatorId);
    const oid = entityOid(options.entityId);
    const now = this.clock.now();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const point = p256Point(pair.publicKey);
    const keyId = keyIdentifierOf(point);
    const serialBytes = randomBytes(8);
    serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x01;
    const request = signGpCertificate(
      {
        serial: serialBytes,
        caId: keyId,
        subjectId: oid,
        keyUsage: GP_KEY_USAGE.signatureVerification,
        effectiveDate: gpDateOf(now),
        expirationDate: gpDateOf(now + (REQUEST_VALIDITY_DAYS - 1) * DAY_MS),
        roleByte: GP_CERT_ROLE_BYTES[options.role],
        authorityKeyId: keyId,
        publicKey: { point, curveRef: 0x00 },
      },
      pair.privateKey,
    );
    const certId = `EC-${randomBytes(8).toString('hex')}`;
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const row: EsimCertificatesTable = {
      cert_id: certId,
      operator_id: options.operatorId,
      role: options.role,
      subject: options.entityId,
      format: 'gp',
      certificate: hex(request),
      public_key: hex(point),
      key_id: hex(keyId),
      issuer_key_id: hex(keyId),
      serial: hex(serialBytes),
      private_key: this.keyRing.seal(pkcs8, certContext(certId)),
      not_before: gpDateStart(gpDateOf(now)),
      not_after: 0,
      created_at: now,
    };
    pkcs8.fill(0);
    await this.store.transaction(async (trx) => {
      await trx.insertInto('esim_certificates').values(row).execute();
      await writeAudit(trx, {
        context:
          options.ctx ?? systemContext(options.operatorId, ESIM_PKI_OPERATIONS.requestCertificate, 'esim-ci'),
        result: 'success',
        detail: { certId, role: options.role, entityId: options.entityId, keyId: hex(keyId) },
        at: now,
      });
    });
    return { view: certView(row), request: hex(request) };
  }

  /**
   * At the CI holder: answers a certificate request of another deployment with a GP certificate
   * for its key under this deployment's CI. The request must verify with its own key (whoever
   * sent it holds the private key), be an SM-DP or SM-SR request within its validity, and name an
   * entity id (OID). Nothing is stored but the audit record: the key and its certificate belong to
   * the requester.
   */
  async signRequest(
    request: Uint8Array,
    options: { validityDays?: number | undefined; ctx?: AuditContext | undefined } = {},
  ): Promise<SignedRequest> {
    const decoded = decodeGpCertificate(request);
    if (!decoded.ok)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        `certificate request refused: malformed (${decoded.error.code} ${decoded.error.message})`,
        { details: { refusal: 'CERT_MALFORMED', reason: 'malformed certificate' } },
      );
    const point = decoded.value.publicKey.point;
    const role = decoded.value.role;
    const now = this.clock.now();
    const self = verifyGpCertificate(request, {
      role: role === 'sm-dp' ? 'sm-dp' : 'sm-sr',
      issuers: [{ keyId: keyIdentifierOf(point), publicKey: point }],
      now,
    });
    if (!self.ok)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        `certificate request refused (it must be signed by its own SM-DP or SM-SR key, within its validity): ${self.error.message}`,
        { details: { refusal: self.error.code, reason: self.error.reason } },
      );
    const entityId = decodeOid(decoded.value.subjectId);
    if (entityId === undefined || (role !== 'sm-dp' && role !== 'sm-sr'))
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        'certificate request refused: its subject is not an entity id (OID)',
        { details: { refusal: 'CERT_WRONG_SUBJECT', reason: 'issued to another subject' } },
      );
    const days = validityDays(options.validityDays, 5 * 365);
    const ci = await this.issuingCi();
    const serialBytes = randomBytes(8);
    serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x01;
    const expiration = gpDateOf(Math.min(now + days * DAY_MS, ci.notAfter) - DAY_MS);
    const bytes = signGpCertificate(
      {
        serial: serialBytes,
        caId: ci.trusted.keyId,
        subjectId: decoded.value.subjectId,
        keyUsage: GP_KEY_USAGE.signatureVerification,
        effectiveDate: gpDateOf(now),
        expirationDate: expiration,
        roleByte: GP_CERT_ROLE_BYTES[role],
        authorityKeyId: ci.trusted.keyId,
        publicKey: { point, curveRef: 0x00 },
      },
      ci.privateKey,
    );
    const signed: SignedRequest = {
      role,
      entityId,
      certificate: hex(bytes),
      serial: hex(serialBytes),
      keyId: hex(keyIdentifierOf(point)),
      ciId: ci.ciId,
      notAfter: gpDateStart(expiration) + DAY_MS,
    };
    await this.store.transaction(async (trx) => {
      await writeAudit(trx, {
        context:
          options.ctx ?? systemContext(PLATFORM_AUDIT_OPERATOR, ESIM_PKI_OPERATIONS.signRequest, 'esim-ci'),
        result: 'success',
        detail: { role, entityId, serial: signed.serial, keyId: signed.keyId, ciId: ci.ciId },
        at: now,
      });
    });
    return signed;
  }

  /**
   * Brings in a certificate issued elsewhere, verified under the trusted CIs first:
   * - a GP SM-DP / SM-SR certificate completes this deployment's pending request for the same key
   *   (role and entity id as requested): the operator's identity from then on;
   * - an EUM's X.509 certificate (with `entityId`, the Eum-id of the ES messages) is trusted without
   *   its key, as the platform's: EISs it signed are accepted (ES1, ES7 HandoverEUICC), and it issues
   *   nothing here.
   */
  async importCertificate(
    certificate: string | Uint8Array,
    options: { entityId?: string | undefined; ctx?: AuditContext | undefined } = {},
  ): Promise<CertificateView> {
    const now = this.clock.now();
    const trustedCis = await this.trustedCis();
    if (trustedCis.length === 0)
      throw new SimtrustError(
        'ERR_ESIM_NO_CI',
        'this deployment trusts no CI yet: run `simtrust esim ci import` with the CI certificate first',
      );
    const isX509 =
      typeof certificate === 'string' ? certificate.includes('-----BEGIN') : certificate[0] === 0x30;
    if (isX509) return this.importEum(certificate, trustedCis, now, options);
    const bytes = typeof certificate === 'string' ? hexBytes(certificate) : new Uint8Array(certificate);
    const decoded = decodeGpCertificate(bytes);
    if (!decoded.ok)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        `not a GP certificate (hex of 7F21) nor an X.509 PEM: ${decoded.error.code} ${decoded.error.message}`,
        { details: { refusal: 'CERT_MALFORMED', reason: 'malformed certificate' } },
      );
    const role = decoded.value.role;
    if (role !== 'sm-dp' && role !== 'sm-sr')
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        'only SM-DP and SM-SR GP certificates are imported (an eUICC certificate travels in its EIS)',
        { details: { refusal: 'CERT_WRONG_ROLE', reason: 'wrong role' } },
      );
    const row = await this.store.db
      .selectFrom('esim_certificates')
      .selectAll()
      .where('public_key', '=', hex(decoded.value.publicKey.point))
      .where('role', '=', role)
      .where('not_after', '=', 0)
      .where('private_key', 'is not', null)
      .executeTakeFirst();
    if (row === undefined)
      throw new SimtrustError(
        'ERR_ESIM_NO_CERTIFICATE_REQUEST',
        `no pending ${role} certificate request of this deployment for the key of this certificate: run \`simtrust esim certs request\` here, have the CI sign that request, then import its answer`,
      );
    const chain = await this.requireChain({
      certificate: bytes,
      role,
      subjectId: entityOid(row.subject),
    });
    const effective = decoded.value.effectiveDate;
    const update = {
      certificate: hex(bytes),
      issuer_key_id: hex(chain.ci.keyId),
      serial: hex(decoded.value.serial),
      not_before: effective === undefined ? now : gpDateStart(effective),
      not_after: gpDateStart(decoded.value.expirationDate) + DAY_MS,
    };
    await this.store.transaction(async (trx) => {
      const done = await trx
        .updateTable('esim_certificates')
        .set(update)
        .where('cert_id', '=', row.cert_id)
        .where('not_after', '=', 0)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1)
        throw new SimtrustError('ERR_CONFLICT', `certificate request ${row.cert_id} was completed meanwhile`);
      await writeAudit(trx, {
        context:
          options.ctx ?? systemContext(row.operator_id, ESIM_PKI_OPERATIONS.importCertificate, 'esim-ci'),
        result: 'success',
        detail: { certId: row.cert_id, role, entityId: row.subject, serial: update.serial },
        at: now,
      });
    });
    return certView({ ...row, ...update });
  }

  private async importEum(
    certificate: string | Uint8Array,
    trustedCis: readonly TrustedCi[],
    now: number,
    options: { entityId?: string | undefined; ctx?: AuditContext | undefined },
  ): Promise<CertificateView> {
    if (options.entityId === undefined)
      throw new SimtrustError(
        'ERR_BAD_REQUEST',
        'an EUM certificate is imported with its entity id (the Eum-id its EISs carry)',
      );
    entityOid(options.entityId);
    const eum = verifyEumCertificate(certificate, trustedCis, now);
    if (!eum.ok)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        `EUM certificate refused: ${eum.error.message}`,
        {
          details: { refusal: eum.error.code, reason: eum.error.reason },
        },
      );
    const existing = await this.store.db
      .selectFrom('esim_certificates')
      .selectAll()
      .where('role', '=', 'eum')
      .where('key_id', '=', hex(eum.value.keyId))
      .where('subject', '=', options.entityId)
      .executeTakeFirst();
    if (existing !== undefined) return certView(existing);
    const der = certificateDer(certificate);
    const pem = `-----BEGIN CERTIFICATE-----\n${(
      Buffer.from(der)
        .toString('base64')
        .match(/.{1,64}/g) ?? []
    ).join('\n')}\n-----END CERTIFICATE-----\n`;
    const certId = `EC-${randomBytes(8).toString('hex')}`;
    const row: EsimCertificatesTable = {
      cert_id: certId,
      operator_id: PLATFORM_OWNER,
      role: 'eum',
      subject: options.entityId,
      format: 'x509',
      certificate: pem,
      public_key: hex(eum.value.publicKey),
      key_id: hex(eum.value.keyId),
      issuer_key_id: hex(eum.value.ci.keyId),
      serial: new X509Certificate(pem).serialNumber.toLowerCase(),
      private_key: null,
      not_before: eum.value.notBefore ?? now,
      not_after: eum.value.notAfter ?? now,
      created_at: now,
    };
    await this.store.transaction(async (trx) => {
      await trx.insertInto('esim_certificates').values(row).execute();
      await writeAudit(trx, {
        context:
          options.ctx ??
          systemContext(PLATFORM_AUDIT_OPERATOR, ESIM_PKI_OPERATIONS.importCertificate, 'esim-ci'),
        result: 'success',
        detail: { certId, role: 'eum', entityId: options.entityId, keyId: row.key_id },
        at: now,
      });
    });
    return certView(row);
  }

  /** Certificates, newest first; an operator sees its own and, with `includePlatform`, the platform's. */
  async list(
    filter: { operatorId?: string; role?: CertificateRole; limit?: number } = {},
  ): Promise<CertificateView[]> {
    let q = this.store.db.selectFrom('esim_certificates').selectAll();
    if (filter.operatorId !== undefined) q = q.where('operator_id', '=', filter.operatorId);
    if (filter.role !== undefined) q = q.where('role', '=', filter.role);
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('cert_id')
      .limit(Math.min(Math.max(filter.limit ?? 1000, 1), 10_000))
      .execute();
    return rows.map(certView);
  }

  async certificate(certId: string): Promise<CertificateView> {
    return certView(await this.certRow(certId));
  }

  /**
   * The certificate and private key an SM-DP / SM-SR (or EUM) signs with — SK.DP.ECDSA for
   * EstablishISDPKeySet, SK.SR.ECDSA for EstablishISDRKeySet. `operatorId` must own it.
   */
  async signingKey(
    certId: string,
    operatorId: string,
  ): Promise<{ view: CertificateView; certificate: Uint8Array; privateKey: KeyObject }> {
    const row = await this.certRow(certId);
    if (row.operator_id !== operatorId || row.private_key === null || Number(row.not_after) === 0)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_NOT_FOUND',
        `no signing certificate ${certId} for this operator`,
      );
    const certificate =
      row.format === 'gp' ? new Uint8Array(Buffer.from(row.certificate, 'hex')) : certDer(row.certificate);
    return { view: certView(row), certificate, privateKey: this.openKey(row) };
  }

  /** The operator's newest certificate of a role (its SM-DP or SM-SR identity), if any. */
  async current(operatorId: string, role: IssuedRole): Promise<CertificateView | undefined> {
    const now = this.clock.now();
    const row = await this.store.db
      .selectFrom('esim_certificates')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('role', '=', role)
      .where('not_after', '>', now)
      // An identity signs: a certificate imported to trust (a partner's EUM) is not one.
      .where('private_key', 'is not', null)
      .orderBy('created_at', 'desc')
      .orderBy('cert_id')
      .executeTakeFirst();
    return row === undefined ? undefined : certView(row);
  }

  /**
   * Demo set-up, idempotent and safe when instances race: the deployment's CI (created if it has
   * none with a key) and a valid platform EUM (issued if none). `simtrust up --demo` and the eSIM
   * demo call it; in production the CI is imported and this is not used.
   */
  async ensureDemo(): Promise<{ ci: CiView; eum: CertificateView }> {
    let ci = (await this.listCis()).find((c) => c.canIssue);
    if (ci === undefined) {
      try {
        ci = await this.initCi();
      } catch (e) {
        if (!(e instanceof SimtrustError && e.code === 'ERR_ESIM_CI_EXISTS')) throw e;
        ci = (await this.listCis()).find((c) => c.canIssue) as CiView;
      }
    }
    const eum = await this.ensureCertificate({
      role: 'eum',
      operatorId: PLATFORM_OWNER,
      entityId: DEMO_ENTITY_IDS.eum,
    });
    return { ci, eum };
  }

  /**
   * The operator's valid SM-DP or SM-SR certificate, issued when it has none (demo and tests; an
   * operator in production brings its own entity id). Default entity id: DEMO_ENTITY_IDS + the
   * operator's number.
   */
  async ensureOperatorCertificate(
    operatorId: string,
    role: 'sm-dp' | 'sm-sr',
    entityId = `${DEMO_ENTITY_IDS[role]}.${Number.parseInt(operatorId.replace(/\D/g, '') || '0', 10)}`,
  ): Promise<CertificateView> {
    return this.ensureCertificate({ role, operatorId, entityId });
  }

  /** The owner's valid certificate of the role, or one issued now (one of racing callers issues). */
  private async ensureCertificate(options: IssueOptions): Promise<CertificateView> {
    const existing = await this.current(options.operatorId, options.role);
    if (existing) return existing;
    try {
      return await this.issueOnce(options, `ensure:${options.role}:${options.operatorId}`);
    } catch (e) {
      const winner =
        e instanceof SimtrustError && e.code === 'ERR_CONFLICT'
          ? await this.current(options.operatorId, options.role)
          : undefined;
      if (winner === undefined) throw e;
      return winner;
    }
  }

  /** The one chain verifier, against this deployment's trusted CIs and clock. */
  async verify(input: Omit<ChainInput, 'trustedCis' | 'now'>): Promise<Result<VerifiedChain, ChainRefusal>> {
    return verifyCertificateChain({ ...input, trustedCis: await this.trustedCis(), now: this.clock.now() });
  }

  /** As `verify`, throwing ERR_ESIM_CERTIFICATE_REJECTED (details: code, reason) on refusal. */
  async requireChain(input: Omit<ChainInput, 'trustedCis' | 'now'>): Promise<VerifiedChain> {
    const result = await this.verify(input);
    if (!result.ok)
      throw new SimtrustError('ERR_ESIM_CERTIFICATE_REJECTED', result.error.message, {
        details: { refusal: result.error.code, reason: result.error.reason },
      });
    return result.value;
  }

  // --- internals

  private parseCi(certificate: string | Uint8Array): TrustedCi {
    const trusted = trustedCiFromCertificate(certificate);
    if (!trusted.ok)
      throw new SimtrustError(
        'ERR_ESIM_CERTIFICATE_REJECTED',
        `CI certificate refused: ${trusted.error.message}`,
        {
          details: { refusal: trusted.error.code, reason: trusted.error.reason },
        },
      );
    return trusted.value;
  }

  private async ci(ciId: string): Promise<CiView> {
    const row = await this.store.db
      .selectFrom('esim_cis')
      .selectAll()
      .where('ci_id', '=', ciId)
      .executeTakeFirst();
    if (row === undefined) throw new SimtrustError('ERR_ESIM_NO_CI', `no CI ${ciId}`);
    return ciView(row);
  }

  /** The CI this deployment issues under: the one it created (and holds the key of). */
  private async issuingCi() {
    const rows = await this.store.db
      .selectFrom('esim_cis')
      .selectAll()
      .orderBy('created_at', 'desc')
      .execute();
    const row = rows.find((r) => r.private_key !== null);
    if (row === undefined) {
      throw rows.length === 0
        ? new SimtrustError(
            'ERR_ESIM_NO_CI',
            'this deployment has no CI; run `simtrust esim ci init` (or import one)',
          )
        : new SimtrustError(
            'ERR_ESIM_CI_NO_KEY',
            'the trusted CI was imported without its key: its certificates are issued by the CI holder, not here — run `simtrust esim certs request` here, have the CI holder answer it with `simtrust esim certs sign`, then `simtrust esim certs import` the answer',
          );
    }
    const der = this.keyRing.open(row.private_key as string, ciContext(row.ci_id));
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return {
      ciId: row.ci_id,
      subject: row.subject,
      privateKey,
      trusted: this.parseCi(row.certificate),
      notAfter: Number(row.not_after),
    };
  }

  private async eumRow(certId: string | undefined): Promise<EsimCertificatesTable> {
    let q = this.store.db.selectFrom('esim_certificates').selectAll().where('role', '=', 'eum');
    q =
      certId === undefined
        ? q.where('operator_id', '=', PLATFORM_OWNER).where('private_key', 'is not', null)
        : q.where('cert_id', '=', certId);
    const row = await q
      .where('not_after', '>', this.clock.now())
      .orderBy('created_at', 'desc')
      .orderBy('cert_id')
      .executeTakeFirst();
    if (row === undefined)
      throw new SimtrustError(
        'ERR_ESIM_NO_EUM',
        certId === undefined
          ? 'no valid EUM certificate of the platform; run `simtrust esim certs issue --role eum`'
          : `no valid EUM certificate ${certId}`,
      );
    return row;
  }

  private async certRow(certId: string): Promise<EsimCertificatesTable> {
    const row = await this.store.db
      .selectFrom('esim_certificates')
      .selectAll()
      .where('cert_id', '=', certId)
      .executeTakeFirst();
    if (row === undefined)
      throw new SimtrustError('ERR_ESIM_CERTIFICATE_NOT_FOUND', `no certificate ${certId}`);
    return row;
  }

  private openKey(row: EsimCertificatesTable): KeyObject {
    if (row.private_key === null)
      throw new SimtrustError('ERR_ESIM_CERTIFICATE_NOT_FOUND', `certificate ${row.cert_id} has no key here`);
    const der = this.keyRing.open(row.private_key, certContext(row.cert_id));
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return key;
  }

  private async requireOperator(operatorId: string): Promise<void> {
    const found = await this.store.db
      .selectFrom('operators')
      .select('operator_id')
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (found === undefined) throw new SimtrustError('ERR_NOT_FOUND', `no operator ${operatorId}`);
  }
}

const certDer = (pem: string) =>
  new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));

function ciView(r: EsimCisTable): CiView {
  return {
    ciId: r.ci_id,
    subject: r.subject,
    keyId: r.key_id,
    origin: r.origin === 'created' ? 'created' : 'imported',
    canIssue: r.private_key !== null,
    notBefore: Number(r.not_before),
    notAfter: Number(r.not_after),
    createdTime: Number(r.created_at),
    certificate: r.certificate,
  };
}

function certView(r: EsimCertificatesTable): CertificateView {
  return {
    certId: r.cert_id,
    operatorId: r.operator_id,
    role: r.role as CertificateRole,
    subject: r.subject,
    format: r.format === 'x509' ? 'x509' : 'gp',
    certificate: r.certificate,
    keyId: r.key_id,
    issuerKeyId: r.issuer_key_id,
    serial: r.serial,
    notBefore: Number(r.not_before),
    notAfter: Number(r.not_after),
    createdTime: Number(r.created_at),
    pending: Number(r.not_after) === 0,
  };
}

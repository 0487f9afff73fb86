// The SGP.02 partners of a deployment (issue 15/16): for each owner (an operator, or '' for the
// platform's own SM-DP/SM-SR) the SM-DPs, SM-SRs, operators and EUMs it exchanges ES messages with —
// entity id (OID), role, SOAP endpoint and the TLS certificate pinned for both directions. The SOAP
// listener authenticates callers only against these rows; the port clients call only these URLs.
//
// What `add` enforces, in order (each refusal ERR_ESIM_PARTNER_INVALID with the reason):
//   entity id is an OID → role is one of sm-dp | sm-sr | operator | eum → endpoint is an https URL
//   without credentials or fragment → the certificate is one X.509 certificate (PEM), valid now,
//   not a CA (pinning a CA would admit whatever it signs) → no other partner of the owner has this
//   entity + role, or this certificate in this role (ERR_ESIM_PARTNER_EXISTS: a certificate names one
//   partner per role) → the owner's other rows with this certificate have this endpoint (one party
//   in several roles, e.g. a deployment that is an SM-SR and an operator; ERR_ESIM_PARTNER_INVALID).
import { randomBytes, X509Certificate } from 'node:crypto';
import type { Clock } from '../../../lib/clock.js';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../audit/audit-log.js';
import { type AuditContext, PLATFORM_AUDIT_OPERATOR, systemContext } from '../../iam/principal.js';
import type { Store } from '../../store/database.js';
import type { EsInterface } from '../es-soap/sgp-02-messages.js';

/** SGP.02 §2.1 roles of off-card entities. */
export const PARTNER_ROLES = ['sm-dp', 'sm-sr', 'operator', 'eum'] as const;
export type PartnerRole = (typeof PARTNER_ROLES)[number];

/**
 * The interfaces a partner of each role may use at our listener (requests, their responses and
 * notifications): an SM-DP calls ES3 and notifies the operator on ES2; an SM-SR answers ES3,
 * notifies on ES3/ES4 and talks ES7 with the other SM-SR of an SM-SR change (SGP.02 §5.7); an
 * operator calls ES2 and ES4; an EUM only registers eUICCs (ES1). The dispatch checks the role
 * again per function.
 */
export const INTERFACES_BY_ROLE: Readonly<Record<PartnerRole, readonly EsInterface[]>> = {
  'sm-dp': ['ES2', 'ES3'],
  'sm-sr': ['ES3', 'ES4', 'ES7'],
  operator: ['ES2', 'ES4'],
  eum: ['ES1'],
};

export const ESIM_PARTNER_OPERATIONS = {
  add: 'Esim:addPartner',
  remove: 'Esim:removePartner',
} as const;

export interface PartnerView {
  readonly partnerId: string;
  readonly operatorId: string;
  readonly entityId: string;
  readonly role: PartnerRole;
  readonly endpoint: string;
  readonly certificate: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: number;
  readonly createdAt: number;
}

export interface AddPartner {
  readonly operatorId: string;
  readonly entityId: string;
  readonly role: string;
  readonly endpoint: string;
  readonly certificatePem: string;
  readonly ctx?: AuditContext;
}

// Arcs of any length (X.660 sets no bound; the whole id stays within 128 characters): an operator's
// MNO id `2.999.15.4.<the 10 digits of its id>` is one (mnoIdOf).
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;

const invalid = (reason: string, field: string) =>
  new SimtrustError('ERR_ESIM_PARTNER_INVALID', `partner refused: ${reason}`, { details: { field, reason } });

export class EsimPartners {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Checks a partner as `add` does, without storing it; returns the parsed certificate facts. */
  check(input: Omit<AddPartner, 'operatorId' | 'ctx'>): {
    role: PartnerRole;
    fingerprint: string;
    subject: string;
    notAfter: number;
    certificate: string;
  } {
    if (!OID.test(input.entityId) || input.entityId.length > 128)
      throw invalid('the entity id must be an OID such as 1.3.6.1.4.1.99999.1.1', 'entityId');
    if (!(PARTNER_ROLES as readonly string[]).includes(input.role))
      throw invalid(`the role must be one of ${PARTNER_ROLES.join(', ')}`, 'role');
    let url: URL;
    try {
      url = new URL(input.endpoint);
    } catch {
      throw invalid('the endpoint is not a URL', 'endpoint');
    }
    if (url.protocol !== 'https:') throw invalid('the endpoint must be https (mutual TLS)', 'endpoint');
    if (url.username !== '' || url.password !== '' || url.hash !== '')
      throw invalid('the endpoint may carry no credentials and no fragment', 'endpoint');
    const pems = input.certificatePem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    if (pems.length !== 1)
      throw invalid('give exactly one PEM certificate (the partner’s own)', 'certificate');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(input.certificatePem);
    } catch {
      throw invalid('the certificate cannot be read as X.509', 'certificate');
    }
    const now = this.clock.now();
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    if (now < notBefore) throw invalid('the certificate is not valid yet', 'certificate');
    if (now > notAfter) throw invalid('the certificate has expired', 'certificate');
    if (cert.ca) throw invalid('the certificate is a CA; pin the partner’s own certificate', 'certificate');
    return {
      role: input.role as PartnerRole,
      fingerprint: cert.fingerprint256,
      subject: cert.subject.replace(/\n/g, ', '),
      notAfter,
      certificate: cert.toString(),
    };
  }

  async add(input: AddPartner): Promise<PartnerView> {
    const facts = this.check(input);
    const partnerId = `EP-${randomBytes(8).toString('hex')}`;
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      const clashes = await trx
        .selectFrom('esim_partners')
        .select(['entity_id', 'role', 'fingerprint', 'endpoint'])
        .where('operator_id', '=', input.operatorId)
        .where((eb) =>
          eb.or([
            eb.and([eb('entity_id', '=', input.entityId), eb('role', '=', facts.role)]),
            eb('fingerprint', '=', facts.fingerprint),
          ]),
        )
        .execute();
      for (const clash of clashes) {
        const sameCertificate = clash.fingerprint === facts.fingerprint;
        if (clash.role === facts.role) throw exists(sameCertificate);
        if (sameCertificate && clash.endpoint !== input.endpoint)
          throw invalid(
            `this certificate is the partner ${clash.entity_id} (${clash.role}) at ${clash.endpoint}: one certificate, one endpoint — give that endpoint for its other roles`,
            'endpoint',
          );
      }
      try {
        await trx
          .insertInto('esim_partners')
          .values({
            partner_id: partnerId,
            operator_id: input.operatorId,
            entity_id: input.entityId,
            role: facts.role,
            endpoint: input.endpoint,
            certificate: facts.certificate,
            fingerprint: facts.fingerprint,
            not_after: facts.notAfter,
            created_at: now,
          })
          .execute();
      } catch (e) {
        // A racing add of the same partner: the UNIQUE constraints decide.
        if (/unique|duplicate/i.test(String((e as Error).message))) throw exists(false);
        throw e;
      }
      await writeAudit(trx, {
        context: input.ctx ?? auditContext(input.operatorId, ESIM_PARTNER_OPERATIONS.add),
        result: 'success',
        detail: {
          partnerId,
          entityId: input.entityId,
          role: facts.role,
          endpoint: input.endpoint,
          fingerprint: facts.fingerprint,
        },
        at: now,
      });
    });
    return this.get(input.operatorId, partnerId);
  }

  async get(operatorId: string, partnerId: string): Promise<PartnerView> {
    const row = await this.store.db
      .selectFrom('esim_partners')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('partner_id', '=', partnerId)
      .executeTakeFirst();
    if (row === undefined)
      throw new SimtrustError('ERR_ESIM_PARTNER_NOT_FOUND', `no partner ${partnerId}`, {
        details: { partnerId },
      });
    return view(row);
  }

  /** The owner's partners, by entity id then role. */
  async list(operatorId: string): Promise<PartnerView[]> {
    const rows = await this.store.db
      .selectFrom('esim_partners')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .orderBy('entity_id')
      .orderBy('role')
      .execute();
    return rows.map(view);
  }

  /** Removes a partner by its id or its entity id (all its roles); at once refused by the listener. */
  async remove(operatorId: string, idOrEntity: string, ctx?: AuditContext): Promise<PartnerView[]> {
    return this.store.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('esim_partners')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .where((eb) => eb.or([eb('partner_id', '=', idOrEntity), eb('entity_id', '=', idOrEntity)]))
        .execute();
      if (rows.length === 0)
        throw new SimtrustError('ERR_ESIM_PARTNER_NOT_FOUND', `no partner ${idOrEntity}`, {
          details: { partner: idOrEntity },
        });
      await trx
        .deleteFrom('esim_partners')
        .where(
          'partner_id',
          'in',
          rows.map((r) => r.partner_id),
        )
        .execute();
      await writeAudit(trx, {
        context: ctx ?? auditContext(operatorId, ESIM_PARTNER_OPERATIONS.remove),
        result: 'success',
        detail: {
          removed: rows.map((r) => ({ partnerId: r.partner_id, entityId: r.entity_id, role: r.role })),
        },
        at: this.clock.now(),
      });
      return rows.map(view);
    });
  }
}

/**
 * The SoapNode partners for these rows: one per certificate (the listener knows a caller by it),
 * named after its rows — `<role>:<entity id>`, or several joined by ',' when one party has several
 * roles — with the interfaces of all its roles. `peersOfName` reverses the name for the dispatch,
 * which picks the role each function is for.
 */
export function soapPartnersOf(partners: readonly PartnerView[]): {
  name: string;
  url: string;
  certificatePem: string;
  interfaces: readonly EsInterface[];
  roles: readonly { role: PartnerRole; entityId: string }[];
}[] {
  const byCertificate = new Map<string, PartnerView[]>();
  for (const p of partners)
    byCertificate.set(p.fingerprint, [...(byCertificate.get(p.fingerprint) ?? []), p]);
  return [...byCertificate.values()].map((rows) => {
    const sorted = [...rows].sort((a, b) =>
      partnerName(a.role, a.entityId) < partnerName(b.role, b.entityId) ? -1 : 1,
    );
    const first = sorted[0] as PartnerView;
    return {
      name: sorted.map((p) => partnerName(p.role, p.entityId)).join(','),
      url: first.endpoint,
      certificatePem: first.certificate,
      interfaces: [...new Set(sorted.flatMap((p) => INTERFACES_BY_ROLE[p.role]))],
      roles: sorted.map((p) => ({ role: p.role, entityId: p.entityId })),
    };
  });
}

export const partnerName = (role: PartnerRole, entityId: string): string => `${role}:${entityId}`;

/** The identity behind a SoapNode partner name made by soapPartnersOf (undefined for another name). */
export function peerOfName(name: string): { role: PartnerRole; entityId: string } | undefined {
  const colon = name.indexOf(':');
  const role = name.slice(0, colon) as PartnerRole;
  const entityId = name.slice(colon + 1);
  if (colon < 0 || !PARTNER_ROLES.includes(role) || !OID.test(entityId)) return undefined;
  return { role, entityId };
}

/** Every identity behind a node partner name of soapPartnersOf (one per role; [] for another name). */
export function peersOfName(name: string): { role: PartnerRole; entityId: string }[] {
  const peers = name.split(',').map(peerOfName);
  return peers.every((p) => p !== undefined) ? (peers as { role: PartnerRole; entityId: string }[]) : [];
}

function exists(sameCertificate: boolean): SimtrustError {
  return new SimtrustError(
    'ERR_ESIM_PARTNER_EXISTS',
    sameCertificate
      ? 'another partner already has this certificate in this role (a certificate names one partner per role)'
      : 'this entity is already a partner in this role; remove it first to change it',
  );
}

function auditContext(operatorId: string, operation: string): AuditContext {
  return systemContext(operatorId === '' ? PLATFORM_AUDIT_OPERATOR : operatorId, operation, 'esim-partners');
}

function view(row: {
  partner_id: string;
  operator_id: string;
  entity_id: string;
  role: string;
  endpoint: string;
  certificate: string;
  fingerprint: string;
  not_after: number | string;
  created_at: number | string;
}): PartnerView {
  return {
    partnerId: row.partner_id,
    operatorId: row.operator_id,
    entityId: row.entity_id,
    role: row.role as PartnerRole,
    endpoint: row.endpoint,
    certificate: row.certificate,
    fingerprint: row.fingerprint,
    subject: new X509Certificate(row.certificate).subject.replace(/\n/g, ', '),
    notAfter: Number(row.not_after),
    createdAt: Number(row.created_at),
  };
}

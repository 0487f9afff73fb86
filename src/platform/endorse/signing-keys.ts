// Token-signing keys, per operator (issue 11): each operator has its own current key per algorithm,
// which signs only that operator's tokens and is published only in that operator's JWKS (RFC 7517
// §5) and as X.509 certificates by kid. Private keys are sealed with the key ring under a context
// that names the operator, so a sealed key copied to another operator's row does not open.
// Nothing here takes an operator from the request: callers pass the SIM's operator (signing) or the
// authenticated caller's (listing, rotating); public key lookups name the operator in the path.
//
// Rotation keeps every verifier working: a successor is published the moment it is created and
// signs only from `activates_at` (publish lead), and the key it replaces stays published until the
// last token it can have signed has expired (`unpublish_at` = successor's activation + the longest
// token lifetime + clock tolerance). Which key signs is a function of time over the rows, so every
// instance agrees without coordination.

import 'reflect-metadata';
import { createHash, createPrivateKey, type KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import { type AuditContext, PLATFORM_AUDIT_OPERATOR, systemContext } from '../iam/principal.js';
import type { KeyRing } from '../secrets/key-ring.js';
import { markUsedOnce } from '../store/atomic.js';
import type { Executor, Store } from '../store/database.js';
import type { EndorseSigningKeysTable } from '../store/schema.js';
import { TOKEN_TIMEOUT_BOUNDS } from './config.js';
import {
  ALGORITHM_SPECS,
  ENDORSE_ALGORITHMS,
  type EndorseAlgorithm,
  jwkThumbprint,
  type PublicJwk,
  publicJwk,
} from './rfc-7515-jws.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Verifiers may run a few minutes fast or slow; a retired key stays published that much longer. */
export const CLOCK_TOLERANCE_MS = 5 * 60_000;
/** The longest a token can live: after this, no token a key signed is still valid. */
const MAX_TOKEN_LIFETIME_MS = TOKEN_TIMEOUT_BOUNDS.max * 1000;
/** How long the in-memory view of the key rows is trusted before it is read again. */
const CACHE_MS = 5_000;

type ImportAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;

const WEBCRYPTO_ALGORITHMS: Readonly<Record<EndorseAlgorithm, ImportAlgorithm>> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
};
const CERT_SIGNING: Readonly<Record<EndorseAlgorithm, webcrypto.Algorithm | webcrypto.EcdsaParams>> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm,
  ES256: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
  EdDSA: { name: 'Ed25519' },
};

/** The sealing context of a private key: its operator and kid (seal_version 2). */
export const sealContext = (operatorId: string, kid: string) => `endorse-signing-key:${operatorId}:${kid}`;
/** The context of keys sealed before issue 11 (seal_version 1), resealed when first read. */
const legacySealContext = (kid: string) => `endorse-signing-key:${kid}`;
const SEAL_VERSION = 2;

/**
 * The owner of the platform's own key set, which no tenant can rotate or use: the MFA gateway signs
 * its identity assertions with it (the gateway is the platform's, configured by its administrator).
 * Operator ids are `OP` + digits, so it never names a tenant; its scheduled rotations are recorded
 * under this audit operator (`simtrust admin audit-logs --platform`).
 */
export const PLATFORM_KEY_OWNER = PLATFORM_AUDIT_OPERATOR;

/** The audit operation of a rotation, by an operator's credentials or by the schedule. */
export const ROTATE_OPERATION = 'Endorse:rotateEndorseKeys';

/** SORACOM Endorse's kid form `v1-<32 hex>-x509.pem` (soracom.md §1.3), derived from the thumbprint. */
export const compatKidOf = (kid: string) =>
  `v1-${createHash('sha256').update(kid).digest('hex').slice(0, 32)}-x509.pem`;

export interface SigningKey {
  readonly kid: string;
  readonly compatKid: string;
  readonly alg: EndorseAlgorithm;
  readonly privateKey: KeyObject;
}

export type KeyState = 'pending' | 'current' | 'retired';

/** What the API and CLI show of a key: never the private part. */
export interface SigningKeyView {
  readonly kid: string;
  readonly compatKid: string;
  readonly alg: EndorseAlgorithm;
  readonly state: KeyState;
  readonly createdTime: number;
  readonly activatesTime: number;
  readonly unpublishTime: number | null;
}

/** A published key (RFC 7517 §4): the public members of its kty, the kid, and its certificate. */
export interface PublishedJwk {
  kid: string;
  kty: string;
  alg: string;
  use: string;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
  x5c: string[];
}

export interface Jwks {
  keys: PublishedJwk[];
}

export interface SigningKeyOptions {
  readonly publishLeadMs: number;
  readonly rotationMs: number;
}

export interface RotateOptions {
  readonly algorithms?: readonly EndorseAlgorithm[] | undefined;
  /** Milliseconds until the successors sign (default: the publish lead; 0 for an emergency). */
  readonly activateInMs?: number | undefined;
  /** Who rotates: the record goes to the operator's audit log in the rotation's transaction. */
  readonly ctx: AuditContext;
}

type Row = EndorseSigningKeysTable;

interface Cached {
  rows: readonly Row[];
  loadedAt: number;
}

export class SigningKeys {
  readonly #cache = new Map<string, Cached>();
  readonly #loading = new Map<string, Promise<readonly Row[]>>();
  readonly #privateKeys = new Map<string, KeyObject>();

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    private readonly options: SigningKeyOptions,
  ) {}

  /**
   * Creates the operator's first key of every algorithm that has none (idempotent across
   * instances). An operator id that names no operator gets nothing (ERR_NOT_FOUND): public JWKS
   * requests must not be able to make keys for made-up tenants.
   */
  async ensure(operatorId: string): Promise<void> {
    const rows = await this.rows(operatorId, true);
    const missing = ENDORSE_ALGORITHMS.filter((alg) => !rows.some((r) => r.alg === alg));
    if (missing.length === 0) return;
    await this.requireOperator(operatorId);
    for (const alg of missing) {
      const now = this.clock.now();
      const key = await generate(alg, now);
      await this.store.transaction(async (trx) => {
        // One first key per operator and algorithm however many instances start together: the
        // loser's insert of the guard waits for the winner's commit and then finds it.
        const guard = `first:${operatorId}:${alg}`;
        if (!(await markUsedOnce(trx, 'endorse-key', guard, Number.MAX_SAFE_INTEGER, now))) return;
        await this.insert(trx, operatorId, key, now);
      });
    }
    this.#cache.delete(operatorId);
  }

  /** The key that signs the operator's `alg` tokens now. */
  async current(operatorId: string, alg: EndorseAlgorithm): Promise<SigningKey> {
    let row = currentRow(await this.rows(operatorId), alg, this.clock.now());
    if (row === undefined) {
      await this.ensure(operatorId);
      // Read the time again: the first key activates when it is created, after `now` above.
      row = currentRow(await this.rows(operatorId, true), alg, this.clock.now());
    }
    if (row === undefined) throw new SimtrustError('ERR_INTERNAL', `no signing key for ${alg}`);
    const cacheKey = `${operatorId}:${row.kid}`;
    let privateKey = this.#privateKeys.get(cacheKey);
    if (privateKey === undefined) {
      const der = this.keyRing.open(row.private_key, contextOf(row));
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      this.#privateKeys.set(cacheKey, privateKey);
    }
    return { kid: row.kid, compatKid: row.compat_kid, alg, privateKey };
  }

  /**
   * The operator's JWKS: every published key (pending, current and retired-but-unexpired), each
   * under its native kid and again under its SORACOM-form kid, so tokens of either profile resolve.
   * Another operator's keys are never in it.
   */
  async jwks(operatorId: string): Promise<Jwks> {
    // An operator that has not signed yet still publishes the keys it is going to sign with.
    if ((await this.rows(operatorId)).length === 0) await this.ensure(operatorId);
    const rows = published(await this.rows(operatorId), this.clock.now());
    return {
      keys: rows.flatMap((r) => {
        const jwk = JSON.parse(r.public_jwk) as PublicJwk & { kty: string };
        const x5c = [pemBody(r.certificate)];
        return [r.kid, r.compat_kid].map((kid) => ({ ...jwk, kid, alg: r.alg, use: 'sig', x5c }));
      }),
    };
  }

  /** The X.509 certificate (PEM) of one of the operator's published keys, by either of its kids. */
  async certificate(operatorId: string, kid: string): Promise<string> {
    const row = published(await this.rows(operatorId), this.clock.now()).find(
      (r) => r.kid === kid || r.compat_kid === kid,
    );
    if (row === undefined)
      throw new SimtrustError('ERR_ENDORSE_KEY_NOT_FOUND', 'no published signing key with this kid');
    return row.certificate;
  }

  async list(operatorId: string): Promise<SigningKeyView[]> {
    // Like the JWKS: an operator that has not signed yet lists the keys it is going to sign with.
    await this.ensure(operatorId);
    const now = this.clock.now();
    const rows = published(await this.rows(operatorId, true), now);
    return rows.map((r) => view(r, rows, now));
  }

  /**
   * Creates the successors of the operator's current keys (every algorithm by default): published
   * now, signing after `activateInMs`. Refused while a successor of one of them is pending. All
   * successors and the audit record commit together; no other operator's key is read or changed.
   */
  async rotate(operatorId: string, options: RotateOptions): Promise<SigningKeyView[]> {
    const algs = options.algorithms ?? ENDORSE_ALGORITHMS;
    await this.ensure(operatorId);
    const lead = options.activateInMs ?? this.options.publishLeadMs;
    let now = this.clock.now();
    const rows = await this.rows(operatorId, true);
    for (const alg of algs) {
      if (rows.some((r) => r.alg === alg && r.activates_at > now)) throw pendingError(alg);
    }
    const keys: Array<Awaited<ReturnType<typeof generate>>> = [];
    for (const alg of algs) keys.push(await generate(alg, now));
    now = this.clock.now();
    const activatesAt = now + lead;
    const unpublishAt = activatesAt + MAX_TOKEN_LIFETIME_MS + CLOCK_TOLERANCE_MS;
    await this.store.transaction(async (trx) => {
      for (const key of keys) {
        const current = currentRow(rows, key.alg, now);
        // One successor per current key, even when instances (or the schedule and an operator)
        // rotate at the same moment.
        if (
          current &&
          !(await markUsedOnce(trx, 'endorse-key', `successor:${current.kid}`, unpublishAt, now))
        ) {
          throw pendingError(key.alg);
        }
        await this.insert(trx, operatorId, { ...key, activatesAt }, now);
        // Every older key of this operator that still signs up to the successor's activation gets
        // its end of life.
        await trx
          .updateTable('endorse_signing_keys')
          .set({ unpublish_at: unpublishAt })
          .where('operator_id', '=', operatorId)
          .where('alg', '=', key.alg)
          .where('kid', '!=', key.kid)
          .where('unpublish_at', 'is', null)
          .execute();
      }
      await writeAudit(trx, {
        context: options.ctx,
        result: 'success',
        detail: { kids: keys.map((k) => k.kid), algorithms: [...algs], activatesTime: activatesAt },
        at: now,
      });
    });
    this.#cache.delete(operatorId);
    // In the order the algorithms were asked for.
    const views = await this.list(operatorId);
    return keys.flatMap((k) => views.filter((v) => v.kid === k.kid));
  }

  /**
   * The schedule's step, over every operator: rotates each algorithm whose current key is older
   * than the rotation period (and has no successor yet), recorded in that operator's audit log,
   * and deletes keys no longer published. Returns what it rotated per operator.
   */
  async runSchedule(): Promise<{
    rotated: Array<{ operatorId: string; algorithms: EndorseAlgorithm[] }>;
    deleted: number;
  }> {
    const now = this.clock.now();
    const due = new Map<string, EndorseAlgorithm[]>();
    if (this.options.rotationMs > 0) {
      const all = (
        await this.store.db
          .selectFrom('endorse_signing_keys')
          .select(['operator_id', 'kid', 'alg', 'activates_at', 'unpublish_at'])
          .where('operator_id', '!=', '')
          .execute()
      ).map((r) => ({
        ...r,
        activates_at: Number(r.activates_at),
        unpublish_at: r.unpublish_at === null ? null : Number(r.unpublish_at),
      }));
      const byOperator = new Map<string, typeof all>();
      for (const r of all) byOperator.set(r.operator_id, [...(byOperator.get(r.operator_id) ?? []), r]);
      for (const [operatorId, rows] of byOperator) {
        for (const alg of ENDORSE_ALGORITHMS) {
          const current = currentRow(rows, alg, now);
          const pending = rows.some((r) => r.alg === alg && r.activates_at > now);
          if (current && !pending && now - current.activates_at >= this.options.rotationMs)
            due.set(operatorId, [...(due.get(operatorId) ?? []), alg]);
        }
      }
    }
    const rotated: Array<{ operatorId: string; algorithms: EndorseAlgorithm[] }> = [];
    for (const [operatorId, algorithms] of due) {
      const done: EndorseAlgorithm[] = [];
      for (const alg of algorithms) {
        try {
          await this.rotate(operatorId, {
            algorithms: [alg],
            ctx: systemContext(operatorId, ROTATE_OPERATION, 'endorse-key-schedule'),
          });
          done.push(alg);
        } catch (e) {
          // Another instance rotated first: nothing left to do here.
          if (!(e instanceof SimtrustError && e.code === 'ERR_ENDORSE_KEY_PENDING')) throw e;
        }
      }
      if (done.length > 0) rotated.push({ operatorId, algorithms: done });
    }
    const gone = await this.store.db
      .deleteFrom('endorse_signing_keys')
      .where('unpublish_at', '<=', now)
      .executeTakeFirst();
    const deleted = Number(gone.numDeletedRows);
    if (deleted > 0) this.#cache.clear();
    return { rotated, deleted };
  }

  private async requireOperator(operatorId: string): Promise<void> {
    if (operatorId === PLATFORM_KEY_OWNER) return;
    const found = await this.store.db
      .selectFrom('operators')
      .select('operator_id')
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    if (found === undefined) throw new SimtrustError('ERR_NOT_FOUND', 'no such operator');
  }

  private async insert(
    trx: Executor,
    operatorId: string,
    key: {
      kid: string;
      alg: EndorseAlgorithm;
      jwk: PublicJwk;
      certificate: string;
      pkcs8: Buffer;
      activatesAt?: number;
    },
    now: number,
  ): Promise<void> {
    await trx
      .insertInto('endorse_signing_keys')
      .values({
        kid: key.kid,
        operator_id: operatorId,
        compat_kid: compatKidOf(key.kid),
        alg: key.alg,
        public_jwk: JSON.stringify(key.jwk),
        certificate: key.certificate,
        private_key: this.keyRing.seal(key.pkcs8, sealContext(operatorId, key.kid)),
        seal_version: SEAL_VERSION,
        created_at: now,
        activates_at: key.activatesAt ?? now,
        unpublish_at: null,
      })
      .execute();
    key.pkcs8.fill(0);
  }

  private async rows(operatorId: string, fresh = false): Promise<readonly Row[]> {
    const now = Date.now();
    const cached = this.#cache.get(operatorId);
    if (!fresh && cached !== undefined && now - cached.loadedAt < CACHE_MS) return cached.rows;
    // Concurrent requests share one read instead of stampeding the database.
    let loading = this.#loading.get(operatorId);
    if (loading === undefined) {
      loading = this.load(operatorId)
        .then((rows) => {
          this.#cache.set(operatorId, { rows, loadedAt: now });
          return rows;
        })
        .finally(() => this.#loading.delete(operatorId));
      this.#loading.set(operatorId, loading);
    }
    return loading;
  }

  private async load(operatorId: string): Promise<readonly Row[]> {
    const read = () =>
      this.store.db
        .selectFrom('endorse_signing_keys')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .orderBy('activates_at')
        .execute();
    let rows = await read();
    const legacy = rows.filter((r) => Number(r.seal_version) !== SEAL_VERSION);
    if (legacy.length > 0) {
      // Keys migrated from the shared set (migration 0007) are resealed under their operator once;
      // of instances racing here one update wins, and the other's rows still open meanwhile.
      for (const r of legacy) {
        const der = this.keyRing.open(r.private_key, legacySealContext(r.kid));
        const resealed = this.keyRing.seal(der, sealContext(operatorId, r.kid));
        der.fill(0);
        await this.store.db
          .updateTable('endorse_signing_keys')
          .set({ private_key: resealed, seal_version: SEAL_VERSION })
          .where('kid', '=', r.kid)
          .where('operator_id', '=', operatorId)
          .where('seal_version', '=', r.seal_version)
          .execute();
      }
      rows = await read();
    }
    return rows.map((r) => ({
      ...r,
      seal_version: Number(r.seal_version),
      created_at: Number(r.created_at),
      activates_at: Number(r.activates_at),
      unpublish_at: r.unpublish_at === null ? null : Number(r.unpublish_at),
    }));
  }
}

const contextOf = (r: Row) =>
  r.seal_version === SEAL_VERSION ? sealContext(r.operator_id, r.kid) : legacySealContext(r.kid);

const pendingError = (alg: EndorseAlgorithm) =>
  new SimtrustError(
    'ERR_ENDORSE_KEY_PENDING',
    `a successor ${alg} key is already pending; rotate again after it has activated, or list the keys to see when`,
  );

/**
 * The key that signs `alg` at `now`: the latest activated. An emergency successor (activating at
 * once) can share its predecessor's activation millisecond; the predecessor already has its end of
 * life then, so the key without one wins the tie.
 */
function currentRow<R extends Pick<Row, 'alg' | 'activates_at' | 'unpublish_at'>>(
  rows: readonly R[],
  alg: EndorseAlgorithm,
  now: number,
): R | undefined {
  let best: R | undefined;
  for (const r of rows) {
    if (r.alg !== alg || r.activates_at > now) continue;
    if (
      best === undefined ||
      r.activates_at > best.activates_at ||
      (r.activates_at === best.activates_at && r.unpublish_at === null && best.unpublish_at !== null)
    )
      best = r;
  }
  return best;
}

const published = (rows: readonly Row[], now: number) =>
  rows.filter((r) => r.created_at <= now && (r.unpublish_at === null || r.unpublish_at > now));

function view(r: Row, rows: readonly Row[], now: number): SigningKeyView {
  const alg = r.alg as EndorseAlgorithm;
  const state: KeyState =
    r.activates_at > now ? 'pending' : currentRow(rows, alg, now)?.kid === r.kid ? 'current' : 'retired';
  return {
    kid: r.kid,
    compatKid: r.compat_kid,
    alg,
    state,
    createdTime: r.created_at,
    activatesTime: r.activates_at,
    unpublishTime: r.unpublish_at,
  };
}

const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

/** A fresh key pair with its JWK, thumbprint kid and self-signed certificate. */
async function generate(alg: EndorseAlgorithm, now: number) {
  const { privateKey, publicKey } = ALGORITHM_SPECS[alg].generate();
  const jwk = publicJwk(publicKey);
  const kid = jwkThumbprint(alg, jwk);
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const importAlg = WEBCRYPTO_ALGORITHMS[alg];
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, importAlg, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, importAlg, true, ['verify']),
  };
  // The certificate only carries the public key in the form SORACOM's verifiers download (a PEM
  // X.509 per kid); its validity is generous because the JWKS, not the certificate, says when a
  // key is retired.
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(kid).digest('hex').slice(0, 16),
    name: `CN=simtrust endorse ${compatKidOf(kid)}`,
    notBefore: new Date(now - CLOCK_TOLERANCE_MS),
    notAfter: new Date(now + 10 * 365 * 86_400_000),
    signingAlgorithm: CERT_SIGNING[alg],
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return { kid, alg, jwk, certificate: cert.toString('pem'), pkcs8 };
}

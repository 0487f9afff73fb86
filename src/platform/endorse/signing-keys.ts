// The platform's token-signing keys: one current key per algorithm, private keys sealed with the
// key ring, public keys published as a JWKS (RFC 7517 §5) and as X.509 certificates by kid.
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

export const sealContext = (kid: string) => `endorse-signing-key:${kid}`;

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

type Row = EndorseSigningKeysTable;

export class SigningKeys {
  #rows: readonly Row[] | undefined;
  #loadedAt = -Infinity;
  #loading: Promise<readonly Row[]> | undefined;
  readonly #privateKeys = new Map<string, KeyObject>();

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    private readonly options: SigningKeyOptions,
  ) {}

  /** Creates the first key of every algorithm that has none (at start; idempotent across instances). */
  async ensure(): Promise<void> {
    const rows = await this.rows(true);
    for (const alg of ENDORSE_ALGORITHMS) {
      if (rows.some((r) => r.alg === alg)) continue;
      const now = this.clock.now();
      const key = await generate(alg, now);
      await this.store.transaction(async (trx) => {
        // One first key per algorithm however many instances start together: the loser's insert
        // of the guard waits for the winner's commit and then finds it.
        if (!(await markUsedOnce(trx, 'endorse-key', `first:${alg}`, Number.MAX_SAFE_INTEGER, now))) return;
        await this.insert(trx, key, now);
      });
    }
    this.#loadedAt = -Infinity;
  }

  /** The key that signs `alg` now. */
  async current(alg: EndorseAlgorithm): Promise<SigningKey> {
    let row = currentRow(await this.rows(), alg, this.clock.now());
    if (row === undefined) {
      await this.ensure();
      // Read the time again: the first key activates when it is created, after `now` above.
      row = currentRow(await this.rows(true), alg, this.clock.now());
    }
    if (row === undefined) throw new SimtrustError('ERR_INTERNAL', `no signing key for ${alg}`);
    let privateKey = this.#privateKeys.get(row.kid);
    if (privateKey === undefined) {
      const der = this.keyRing.open(row.private_key, sealContext(row.kid));
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      this.#privateKeys.set(row.kid, privateKey);
    }
    return { kid: row.kid, compatKid: row.compat_kid, alg, privateKey };
  }

  /**
   * The JWKS: every published key (pending, current and retired-but-unexpired), each under its
   * native kid and again under its SORACOM-form kid, so tokens of either profile resolve.
   */
  async jwks(): Promise<Jwks> {
    // A platform that has not signed yet still publishes the keys it is going to sign with.
    if ((await this.rows()).length === 0) await this.ensure();
    const rows = published(await this.rows(), this.clock.now());
    return {
      keys: rows.flatMap((r) => {
        const jwk = JSON.parse(r.public_jwk) as PublicJwk & { kty: string };
        const x5c = [pemBody(r.certificate)];
        return [r.kid, r.compat_kid].map((kid) => ({ ...jwk, kid, alg: r.alg, use: 'sig', x5c }));
      }),
    };
  }

  /** The X.509 certificate (PEM) of a published key, by either of its kids. */
  async certificate(kid: string): Promise<string> {
    const row = published(await this.rows(), this.clock.now()).find(
      (r) => r.kid === kid || r.compat_kid === kid,
    );
    if (row === undefined)
      throw new SimtrustError('ERR_ENDORSE_KEY_NOT_FOUND', 'no published signing key with this kid');
    return row.certificate;
  }

  async list(): Promise<SigningKeyView[]> {
    const now = this.clock.now();
    const rows = published(await this.rows(true), now);
    return rows.map((r) => view(r, rows, now));
  }

  /**
   * Creates the successor of the current key of each algorithm: published now, signing after
   * `activateInMs` (default: the configured publish lead). Refused while a successor is pending.
   */
  async rotate(
    algs: readonly EndorseAlgorithm[] = ENDORSE_ALGORITHMS,
    activateInMs?: number,
  ): Promise<SigningKeyView[]> {
    await this.ensure();
    const lead = activateInMs ?? this.options.publishLeadMs;
    const created: string[] = [];
    for (const alg of algs) {
      const now = this.clock.now();
      const rows = await this.rows(true);
      if (rows.some((r) => r.alg === alg && r.activates_at > now)) {
        throw new SimtrustError('ERR_ENDORSE_KEY_PENDING', `a successor ${alg} key is already pending`);
      }
      const current = currentRow(rows, alg, now);
      const key = await generate(alg, now);
      const activatesAt = now + lead;
      await this.store.transaction(async (trx) => {
        const unpublishAt = activatesAt + MAX_TOKEN_LIFETIME_MS + CLOCK_TOLERANCE_MS;
        // One successor per current key, even when instances (or the schedule and an operator)
        // rotate at the same moment.
        if (
          current &&
          !(await markUsedOnce(trx, 'endorse-key', `successor:${current.kid}`, unpublishAt, now))
        ) {
          throw new SimtrustError('ERR_ENDORSE_KEY_PENDING', `a successor ${alg} key is already pending`);
        }
        await this.insert(trx, { ...key, activatesAt }, now);
        // Every older key that still signs up to the successor's activation gets its end of life.
        await trx
          .updateTable('endorse_signing_keys')
          .set({ unpublish_at: unpublishAt })
          .where('alg', '=', alg)
          .where('kid', '!=', key.kid)
          .where('unpublish_at', 'is', null)
          .execute();
      });
      created.push(key.kid);
    }
    this.#loadedAt = -Infinity;
    return (await this.list()).filter((k) => created.includes(k.kid));
  }

  /**
   * The schedule's step: rotates each algorithm whose current key is older than the rotation
   * period (and has no successor yet), and deletes keys no longer published. Returns the kids
   * rotated away from.
   */
  async runSchedule(): Promise<{ rotated: EndorseAlgorithm[]; deleted: number }> {
    const now = this.clock.now();
    const rows = await this.rows(true);
    const due: EndorseAlgorithm[] = [];
    if (this.options.rotationMs > 0) {
      for (const alg of ENDORSE_ALGORITHMS) {
        const current = currentRow(rows, alg, now);
        const pending = rows.some((r) => r.alg === alg && r.activates_at > now);
        if (current && !pending && now - current.activates_at >= this.options.rotationMs) due.push(alg);
      }
    }
    const rotated: EndorseAlgorithm[] = [];
    for (const alg of due) {
      try {
        await this.rotate([alg]);
        rotated.push(alg);
      } catch (e) {
        // Another instance rotated first: nothing left to do here.
        if (!(e instanceof SimtrustError && e.code === 'ERR_ENDORSE_KEY_PENDING')) throw e;
      }
    }
    const gone = await this.store.db
      .deleteFrom('endorse_signing_keys')
      .where('unpublish_at', '<=', now)
      .executeTakeFirst();
    const deleted = Number(gone.numDeletedRows);
    if (deleted > 0) this.#loadedAt = -Infinity;
    return { rotated, deleted };
  }

  private async insert(
    trx: Executor,
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
        compat_kid: compatKidOf(key.kid),
        alg: key.alg,
        public_jwk: JSON.stringify(key.jwk),
        certificate: key.certificate,
        private_key: this.keyRing.seal(key.pkcs8, sealContext(key.kid)),
        created_at: now,
        activates_at: key.activatesAt ?? now,
        unpublish_at: null,
      })
      .execute();
    key.pkcs8.fill(0);
  }

  private async rows(fresh = false): Promise<readonly Row[]> {
    const now = Date.now();
    if (!fresh && this.#rows !== undefined && now - this.#loadedAt < CACHE_MS) return this.#rows;
    // Concurrent requests share one read instead of stampeding the database.
    this.#loading ??= this.store.db
      .selectFrom('endorse_signing_keys')
      .selectAll()
      .orderBy('activates_at')
      .execute()
      .then((rows) => {
        this.#rows = rows.map((r) => ({
          ...r,
          created_at: Number(r.created_at),
          activates_at: Number(r.activates_at),
          unpublish_at: r.unpublish_at === null ? null : Number(r.unpublish_at),
        }));
        this.#loadedAt = now;
        return this.#rows;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }
}

function currentRow(rows: readonly Row[], alg: EndorseAlgorithm, now: number): Row | undefined {
  let best: Row | undefined;
  for (const r of rows) {
    if (r.alg === alg && r.activates_at <= now && (best === undefined || r.activates_at > best.activates_at))
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

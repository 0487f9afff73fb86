// Credential sets (SORACOM's credentials store, reference/soracom.md §5.4): per operator, a set of
// secrets under an id that group configuration refers to (`{"$credentialsId": "beam-psk"}`, or
// `device-#{imsi}` for one set per SIM). The API writes them; answers never carry a secret (only the
// fields credential-types.ts marks as shown). The entry points (Beam, Funnel, Funk) call `resolve`
// on their hot path: decrypted sets stay in a small bounded cache for a short time, dropped at once
// when this process changes or deletes the set (another instance sees a change within the cache's
// lifetime), and the set's lastUsedDateTime is written at most once a minute.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Store } from '../store/database.js';
import type { CredentialSetsTable } from '../store/schema.js';
import { checkCredentials, publicCredentials, typeSpec } from './credential-types.js';

/** A credential set id: what SORACOM's examples use (`beam-psk`, `device-001010000000001`, `x_509`). */
export const CREDENTIALS_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';
const CREDENTIALS_ID_RE = new RegExp(CREDENTIALS_ID_PATTERN);
/** The per-SIM placeholder SORACOM documents in a `$credentialsId`. */
export const IMSI_PLACEHOLDER = '#{imsi}';
/** TS 23.003 §2.2: an IMSI is at most 15 digits (MCC 3 + MNC 2–3 + MSIN). */
const IMSI_RE = /^[0-9]{6,15}$/;
export const MAX_DESCRIPTION_LENGTH = 1000;

export type ResolvedCredential =
  | { readonly type: 'psk'; readonly key: string }
  | { readonly type: 'username-password-credentials'; readonly username: string; readonly password: string }
  | { readonly type: 'api-token-credentials'; readonly token: string }
  | { readonly type: 'x509'; readonly cert: string; readonly key: string; readonly ca?: string }
  | { readonly type: 'private-key-pem'; readonly privateKey: string }
  | { readonly type: string; readonly [field: string]: unknown };

/** A set as the API shows it (SORACOM's CredentialsModel): `credentials` holds no secret. */
export interface CredentialSetView {
  readonly credentialsId: string;
  readonly type: string;
  readonly description: string;
  readonly credentials: Readonly<Record<string, string>>;
  readonly createDateTime: number;
  readonly updateDateTime: number;
  readonly lastUsedDateTime?: number;
}

export interface CredentialSetInput {
  readonly type: string;
  readonly description?: string | undefined;
  readonly credentials: Readonly<Record<string, unknown>>;
}

export interface CredentialSetUpdate {
  readonly type?: string | undefined;
  readonly description?: string | undefined;
  readonly credentials?: Readonly<Record<string, unknown>> | undefined;
}

export interface CredentialServiceOptions {
  /** How long a decrypted set (or its absence) is served from memory. Default 30 s. */
  readonly cacheMs?: number;
  /** How many sets the cache holds at most (least recently used go first). Default 10 000. */
  readonly cacheEntries?: number;
  /** lastUsedDateTime is written at most this often per set. Default one minute. */
  readonly lastUsedIntervalMs?: number;
}

const sealContext = (operatorId: string, credentialsId: string) =>
  `credential-set:${operatorId}:${credentialsId}`;

/** True when `id` is a well-formed credential set id. */
export const isCredentialsId = (id: string): boolean => CREDENTIALS_ID_RE.test(id);

/**
 * True when `reference` is acceptable as a `$credentialsId` in group configuration: an id, possibly
 * with `#{imsi}` where the SIM's IMSI goes. For the Beam/Funnel/Funk config validators.
 */
export const isCredentialsReference = (reference: string): boolean =>
  isCredentialsId(reference.replaceAll(IMSI_PLACEHOLDER, '001010000000001'));

/**
 * The id a reference names for a SIM: `#{imsi}` replaced by its IMSI. Undefined when the result is
 * not an id, or the reference needs an IMSI and `imsi` is not one (digits only), so nothing but
 * digits is ever put into an id.
 */
export function credentialsIdFor(reference: string, imsi: string | undefined): string | undefined {
  let id = reference;
  if (reference.includes(IMSI_PLACEHOLDER)) {
    if (imsi === undefined || !IMSI_RE.test(imsi)) return undefined;
    id = reference.replaceAll(IMSI_PLACEHOLDER, imsi);
  }
  return isCredentialsId(id) ? id : undefined;
}

function checkId(credentialsId: string): void {
  if (!isCredentialsId(credentialsId)) {
    throw new SimtrustError(
      'ERR_CREDENTIALS_INVALID',
      'a credentials id is 1–100 characters: letters, digits, dot, underscore and hyphen, starting with a letter or digit',
      { details: { field: 'credentials_id' } },
    );
  }
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw new SimtrustError(
      'ERR_CREDENTIALS_INVALID',
      `description is longer than ${MAX_DESCRIPTION_LENGTH} characters`,
      { details: { field: 'description' } },
    );
  }
}

function toView(row: CredentialSetsTable): CredentialSetView {
  return {
    credentialsId: row.credentials_id,
    type: row.type,
    description: row.description,
    credentials: JSON.parse(row.public_credentials) as Record<string, string>,
    createDateTime: row.created_at,
    updateDateTime: row.updated_at,
    ...(row.last_used_at === null ? {} : { lastUsedDateTime: row.last_used_at }),
  };
}

const notFound = (credentialsId: string) =>
  new SimtrustError('ERR_CREDENTIALS_NOT_FOUND', `no credential set ${credentialsId}`);

interface CacheEntry {
  /** Undefined: the set does not exist (a miss is cached too, so a missing set costs no query each time). */
  readonly value: ResolvedCredential | undefined;
  readonly expiresAt: number;
  /** When this process last wrote the set's lastUsedDateTime. */
  touchedAt: number;
}

export class CredentialService {
  private readonly cacheMs: number;
  private readonly cacheEntries: number;
  private readonly lastUsedIntervalMs: number;
  /** Keyed by JSON [operatorId, credentialsId]: unambiguous whatever either contains. Map order = LRU. */
  private readonly cache = new Map<string, CacheEntry>();
  /** Loads in flight, so that many devices asking at once cost one query. */
  private readonly loading = new Map<string, Promise<CacheEntry>>();
  /** Bumped by every change: a load that started before it is not cached. */
  private generation = 0;
  private readonly pendingWrites = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    options: CredentialServiceOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 30_000;
    this.cacheEntries = options.cacheEntries ?? 10_000;
    this.lastUsedIntervalMs = options.lastUsedIntervalMs ?? 60_000;
  }

  async list(operatorId: string): Promise<CredentialSetView[]> {
    const rows = await this.store.db
      .selectFrom('credential_sets')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .orderBy('credentials_id')
      .execute();
    return rows.map(toView);
  }

  async get(operatorId: string, credentialsId: string): Promise<CredentialSetView> {
    const row = await this.store.db
      .selectFrom('credential_sets')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('credentials_id', '=', credentialsId)
      .executeTakeFirst();
    if (!row) throw notFound(credentialsId);
    return toView(row);
  }

  async create(
    ctx: AuditContext,
    credentialsId: string,
    input: CredentialSetInput,
  ): Promise<CredentialSetView> {
    checkId(credentialsId);
    checkDescription(input.description);
    const values = checkCredentials(input.type, input.credentials);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    const row: CredentialSetsTable = {
      operator_id: operatorId,
      credentials_id: credentialsId,
      type: input.type,
      description: input.description ?? '',
      credentials: this.keyRing.seal(
        Buffer.from(JSON.stringify(values)),
        sealContext(operatorId, credentialsId),
      ),
      public_credentials: JSON.stringify(publicCredentials(input.type, values)),
      created_at: now,
      updated_at: now,
      last_used_at: null,
    };
    await this.store.transaction(async (trx) => {
      // ON CONFLICT DO NOTHING: a racing create of the same id loses cleanly on both databases.
      const inserted = await trx
        .insertInto('credential_sets')
        .values(row)
        .onConflict((oc) => oc.columns(['operator_id', 'credentials_id']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        throw new SimtrustError(
          'ERR_CREDENTIALS_EXISTS',
          `a credential set ${credentialsId} already exists; change it with PUT /v1/credentials/${credentialsId}`,
        );
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { credentialsId, type: input.type },
        at: now,
      });
    });
    this.changed(operatorId, credentialsId);
    return toView(row);
  }

  /**
   * Replaces the credentials (all of them: a field left out is gone) and/or the description. A new
   * type needs new credentials.
   */
  async update(
    ctx: AuditContext,
    credentialsId: string,
    input: CredentialSetUpdate,
  ): Promise<CredentialSetView> {
    checkDescription(input.description);
    if (input.type !== undefined) typeSpec(input.type);
    if (input.type === undefined && input.description === undefined && input.credentials === undefined) {
      throw new SimtrustError(
        'ERR_CREDENTIALS_INVALID',
        'nothing to change: give type, description or credentials',
        {
          details: { field: 'credentials' },
        },
      );
    }
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    const view = await this.store.transaction(async (trx) => {
      const row = await trx
        .selectFrom('credential_sets')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .where('credentials_id', '=', credentialsId)
        .executeTakeFirst();
      if (!row) throw notFound(credentialsId);
      const type = input.type ?? row.type;
      if (type !== row.type && input.credentials === undefined) {
        throw new SimtrustError(
          'ERR_CREDENTIALS_INVALID',
          `changing the type from ${row.type} to ${type} needs the new credentials`,
          { details: { field: 'credentials' } },
        );
      }
      const next: CredentialSetsTable = { ...row, type, updated_at: now };
      if (input.description !== undefined) next.description = input.description;
      if (input.credentials !== undefined) {
        const values = checkCredentials(type, input.credentials);
        next.credentials = this.keyRing.seal(
          Buffer.from(JSON.stringify(values)),
          sealContext(operatorId, credentialsId),
        );
        next.public_credentials = JSON.stringify(publicCredentials(type, values));
      }
      await trx
        .updateTable('credential_sets')
        .set({
          type: next.type,
          description: next.description,
          credentials: next.credentials,
          public_credentials: next.public_credentials,
          updated_at: now,
        })
        .where('operator_id', '=', operatorId)
        .where('credentials_id', '=', credentialsId)
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        // What changed, never a value of the credentials.
        detail: {
          credentialsId,
          type,
          changed: (['type', 'description', 'credentials'] as const).filter((k) => input[k] !== undefined),
        },
        at: now,
      });
      return toView(next);
    });
    this.changed(operatorId, credentialsId);
    return view;
  }

  async delete(ctx: AuditContext, credentialsId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      const deleted = await trx
        .deleteFrom('credential_sets')
        .where('operator_id', '=', operatorId)
        .where('credentials_id', '=', credentialsId)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) throw notFound(credentialsId);
      await writeAudit(trx, { context: ctx, result: 'success', detail: { credentialsId }, at: now });
    });
    this.changed(operatorId, credentialsId);
  }

  /**
   * The decrypted set `reference` names for a SIM of `operatorId` (`#{imsi}` replaced by the SIM's
   * IMSI), for the entry points. Throws ERR_CREDENTIALS_NOT_FOUND (no secret in the message) when
   * the reference names no set of this operator. The answer is frozen and may be shared.
   */
  async resolve(
    operatorId: string,
    reference: string,
    sim: { readonly imsi: string },
  ): Promise<ResolvedCredential> {
    const credentialsId = credentialsIdFor(reference, sim.imsi);
    if (credentialsId === undefined) {
      throw new SimtrustError(
        'ERR_CREDENTIALS_NOT_FOUND',
        reference.includes(IMSI_PLACEHOLDER) && !IMSI_RE.test(sim.imsi)
          ? `credential set reference ${reference.slice(0, 120)} needs the SIM's IMSI (digits)`
          : `${JSON.stringify(reference.slice(0, 120))} is not a credential set id`,
      );
    }
    const key = JSON.stringify([operatorId, credentialsId]);
    const now = this.clock.now();
    let entry = this.cache.get(key);
    if (entry !== undefined && entry.expiresAt > now) {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, entry);
    } else {
      entry = await this.load(key, operatorId, credentialsId);
    }
    if (entry.value === undefined) throw notFound(credentialsId);
    if (this.clock.now() - entry.touchedAt >= this.lastUsedIntervalMs) {
      entry.touchedAt = this.clock.now();
      this.touch(operatorId, credentialsId, entry.touchedAt);
    }
    return entry.value;
  }

  /** Resolves when the lastUsedDateTime writes started so far are done (before the store closes). */
  async drained(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.allSettled([...this.pendingWrites]);
  }

  private load(key: string, operatorId: string, credentialsId: string): Promise<CacheEntry> {
    const running = this.loading.get(key);
    if (running !== undefined) return running;
    const generation = this.generation;
    const promise = (async (): Promise<CacheEntry> => {
      const row = await this.store.db
        .selectFrom('credential_sets')
        .select(['type', 'credentials', 'last_used_at'])
        .where('operator_id', '=', operatorId)
        .where('credentials_id', '=', credentialsId)
        .executeTakeFirst();
      let value: ResolvedCredential | undefined;
      if (row !== undefined) {
        const opened = this.keyRing.open(row.credentials, sealContext(operatorId, credentialsId));
        const fields = JSON.parse(opened.toString('utf8')) as Record<string, string>;
        opened.fill(0);
        value = Object.freeze({ ...fields, type: row.type }) as ResolvedCredential;
      }
      const entry: CacheEntry = {
        value,
        expiresAt: this.clock.now() + this.cacheMs,
        touchedAt: row?.last_used_at ?? Number.NEGATIVE_INFINITY,
      };
      // A change made while this load ran may not be in what it read: serve it once, keep nothing.
      if (generation === this.generation) {
        this.cache.delete(key);
        this.cache.set(key, entry);
        while (this.cache.size > this.cacheEntries) {
          const oldest = this.cache.keys().next().value;
          if (oldest === undefined) break;
          this.cache.delete(oldest);
        }
      }
      return entry;
    })();
    this.loading.set(key, promise);
    const forget = () => {
      if (this.loading.get(key) === promise) this.loading.delete(key);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Writes lastUsedDateTime unless another writer (this or another instance) did within the interval. */
  private touch(operatorId: string, credentialsId: string, at: number): void {
    const write = this.store.db
      .updateTable('credential_sets')
      .set({ last_used_at: at })
      .where('operator_id', '=', operatorId)
      .where('credentials_id', '=', credentialsId)
      .where((eb) =>
        eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', at - this.lastUsedIntervalMs)]),
      )
      .execute()
      .then(
        () => undefined,
        // The use itself succeeded; a lost timestamp is not worth failing a device's request for.
        () => undefined,
      );
    this.pendingWrites.add(write);
    void write.finally(() => this.pendingWrites.delete(write));
  }

  private changed(operatorId: string, credentialsId: string): void {
    const key = JSON.stringify([operatorId, credentialsId]);
    this.generation++;
    this.cache.delete(key);
    // Later resolves must not join a load that may have read the old row.
    this.loading.delete(key);
  }
}

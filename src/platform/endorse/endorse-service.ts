// Token issuing, as a table of small steps (each says what it enforces):
//
//   over a session:   find session by source address → load SIM → require active → require group
//                     enabled → check redirect_url → collect request parameters → sign
//   over AKA:         start: rate-limit per IMSI → vector from the AuC → store sealed XRES (60 s)
//                     answer: count attempt (max 3) → load challenge → RES matches (constant time)
//                     → consume once → load SIM → require active → require group enabled → sign
//
// A device on its data session is identified by the address the AAA gave it (PRODUCT.md §1); a
// device on Wi-Fi only proves SIM possession by running AUTHENTICATE on an AKA challenge, as 3GPP
// GBA does (TS 33.220), with RES compared against XRES from the AuC (TS 33.102 §6.3).

import { randomBytes, randomUUID } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import type { Config } from '../../config/defaults.js';
import { constantTimeEqual } from '../../crypto/constant-time.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { Result } from '../../lib/result.js';
import type { AuditContext } from '../iam/principal.js';
import type { KeyRing } from '../secrets/key-ring.js';
import { consumeOnce, incrementCounter, putOnce } from '../store/atomic.js';
import type { Dialect, Executor, Store } from '../store/database.js';
import { authorizedRedirect, ENDORSE_NAMESPACE, type EndorseConfig, endorseConfig } from './config.js';
import type { EndorseAlgorithm } from './rfc-7515-jws.js';
import { SigningKeys, type SigningKeyView } from './signing-keys.js';
import { issueToken, type ProofMethod, profileFor, type SimIdentity, type TokenProfile } from './tokens.js';

/** One AKA quintet's public half and XRES (TS 33.102 §6.3.2), from the platform's AuC. */
export interface ChallengeVector {
  readonly rand: Uint8Array;
  readonly autn: Uint8Array;
  readonly xres: Uint8Array;
}

/**
 * The AuC as challenge mode needs it (the platform's AuthenticationCentre): fresh vectors for an
 * IMSI, optionally after resynchronising the SQN from the card's AUTS (TS 33.102 §6.3.5).
 */
export interface ChallengeAuc {
  vectors(
    imsi: string,
    options: { count?: number; resync?: { rand: Uint8Array; auts: Uint8Array } },
  ): Promise<Result<readonly ChallengeVector[], string>>;
}

/** Challenge limits: one use, 60 s, 3 attempts. */
export const CHALLENGE_LIFETIME_MS = 60_000;
export const CHALLENGE_MAX_ATTEMPTS = 3;

/** Request parameters copied into a token (bounded so a token stays a token). */
export const REQUEST_PARAMETER_LIMITS = { count: 32, nameLength: 64, valueLength: 1024 } as const;

export interface TokenRequest {
  /** Query and body parameters other than redirect_url, as received. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly redirectUrl?: string | undefined;
}

export interface TokenAnswer {
  readonly token: string;
  /** Where to send the device (302) in the redirect flow. */
  readonly location?: string;
  /** The origin CORS may name for this SIM's group (null: send no CORS header). */
  readonly allowOrigin: string | null;
}

export interface Challenge {
  readonly challengeId: string;
  readonly rand: string;
  readonly autn: string;
}

interface StoredChallenge {
  /** Absent for a decoy challenge (unknown IMSI): it can never be answered. */
  readonly imsi?: string;
  readonly rand: string;
  readonly xres: string;
}

const CHALLENGE_SCOPE = 'endorse-challenge';
/** A new operator makes the operator-less JWKS URL refuse within this time. */
const SOLE_OPERATOR_CACHE_MS = 5_000;

interface LoadedSim {
  readonly identity: SimIdentity;
  readonly operatorId: string;
  readonly status: string;
  readonly groupId: string | null;
  /** The group's Endorse namespace (defaults when the SIM is in no group). */
  readonly config: EndorseConfig;
}

export interface EndorseServiceDeps {
  readonly config: Config;
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  readonly auc: ChallengeAuc;
}

export class EndorseService {
  readonly keys: SigningKeys;
  readonly #d: EndorseServiceDeps;

  readonly #ownerSql: string;
  #sole: { at: number; operatorId: string | undefined } | undefined;

  constructor(deps: EndorseServiceDeps) {
    this.#d = deps;
    this.#ownerSql = ownerSql(deps.store.dialect);
    this.keys = new SigningKeys(deps.store, deps.keyRing, deps.clock, {
      publishLeadMs: deps.config.endorseKeyPublishLeadSeconds * 1000,
      rotationMs: deps.config.endorseKeyRotationDays * 86_400_000,
    });
  }

  /**
   * Rotation by an operator (API/CLI): successors of the caller's own keys only, recorded in the
   * caller's audit log. Another operator's keys, JWKS and pending successors are untouched.
   */
  rotateKeys(
    ctx: AuditContext,
    algorithms?: readonly EndorseAlgorithm[],
    activateInSeconds?: number,
  ): Promise<SigningKeyView[]> {
    return this.keys.rotate(ctx.principal.operatorId, {
      algorithms,
      activateInMs: activateInSeconds === undefined ? undefined : activateInSeconds * 1000,
      ctx,
    });
  }

  /**
   * The operator whose keys the operator-less URLs (`/.well-known/jwks.json`, `/v1/endorse/keys/{kid}`)
   * publish: the only operator of a single-operator site. With several operators those URLs would
   * have to pick one tenant's keys for every verifier, so they answer ERR_ENDORSE_OPERATOR_REQUIRED.
   */
  async soleOperator(): Promise<string> {
    const now = Date.now();
    if (this.#sole === undefined || now - this.#sole.at > SOLE_OPERATOR_CACHE_MS) {
      const rows = await this.#d.store.db
        .selectFrom('operators')
        .select('operator_id')
        .orderBy('operator_id')
        .limit(2)
        .execute();
      this.#sole = { at: now, operatorId: rows.length === 1 ? rows[0]?.operator_id : undefined };
    }
    const operatorId = this.#sole.operatorId;
    if (operatorId === undefined) {
      throw new SimtrustError(
        'ERR_ENDORSE_OPERATOR_REQUIRED',
        "this platform has several operators (or none): fetch the operator's keys at /v1/operators/{operatorId}/endorse/jwks.json",
      );
    }
    return operatorId;
  }

  /** The profile (issuer, audience, claim name, …) the tokens of an operator's group use. */
  profile(operatorId: string, config: EndorseConfig): TokenProfile {
    return profileFor(
      config.compat,
      this.#d.config.endorseIssuer,
      this.#d.config.endorseAudience,
      operatorId,
    );
  }

  /** GET|POST / from a device: a token for the SIM whose online session owns `address`. */
  async tokenForAddress(address: string, request: TokenRequest): Promise<TokenAnswer> {
    const { sim, config } = await this.#admitAddress(address);
    const profile = this.profile(sim.operatorId, config);
    const redirect =
      request.redirectUrl === undefined ? undefined : checkRedirect(request.redirectUrl, config);
    const { token } = await this.#sign(sim, config, 'session', parametersFor(config, request));
    if (redirect === undefined) return { token, allowOrigin: config.allowOrigin };
    redirect.searchParams.append(profile.redirectParameter, token);
    return { token, location: redirect.toString(), allowOrigin: config.allowOrigin };
  }

  /** CORS preflight: the origin allowed for the SIM behind `address`, or null (no CORS answer). */
  async allowOriginForAddress(address: string): Promise<string | null> {
    try {
      return (await this.#admitAddress(address)).config.allowOrigin;
    } catch (e) {
      if (e instanceof SimtrustError && e.status === 403) return null;
      throw e;
    }
  }

  /**
   * POST /v1/endorse/challenges {imsi}. An unknown IMSI gets a decoy challenge that looks the same
   * and can never be answered, so the endpoint does not tell which IMSIs exist.
   */
  async startChallenge(imsi: string): Promise<Challenge> {
    const now = this.#d.clock.now();
    const admitted = await incrementCounter(this.#d.store.db, {
      scope: 'endorse-challenge-rate',
      key: imsi,
      now,
      windowMs: 60_000,
      max: this.#d.config.endorseChallengesPerMinute,
    });
    if (admitted === undefined) {
      throw new SimtrustError('ERR_RATE_LIMITED', 'too many AKA challenges for this IMSI; wait a minute');
    }
    const sim = await this.#loadSim(this.#d.store.db, imsi);
    if (sim === undefined) {
      return this.#storeChallenge(decoyVector(), undefined);
    }
    const vectors = await this.#d.auc.vectors(imsi, { count: 1 });
    // A profile deleted between the two reads is treated like any unknown IMSI.
    const vector = vectors.ok ? vectors.value[0] : undefined;
    return vector === undefined
      ? this.#storeChallenge(decoyVector(), undefined)
      : this.#storeChallenge(vector, imsi);
  }

  /**
   * POST /v1/endorse/challenges/{id}/response. `{res}` → a token (amr `sim-aka`); `{auts}` → the
   * AuC resynchronises and a new challenge replaces this one (the card then answers that one).
   */
  async answerChallenge(
    challengeId: string,
    answer: { readonly res: Uint8Array } | { readonly auts: Uint8Array },
    request: TokenRequest = { parameters: {} },
  ): Promise<{ token: string } | Challenge> {
    const db = this.#d.store.db;
    const now = this.#d.clock.now();
    // Counted before anything is compared, in one statement: racing answers cannot exceed 3.
    const attempt = await incrementCounter(db, {
      scope: 'endorse-challenge-attempts',
      key: challengeId,
      now,
      windowMs: CHALLENGE_LIFETIME_MS,
      max: CHALLENGE_MAX_ATTEMPTS,
    });
    if (attempt === undefined) {
      throw new SimtrustError('ERR_ENDORSE_CHALLENGE_ATTEMPTS', 'this challenge has used its 3 attempts');
    }
    const row = await db
      .selectFrom('one_time_values')
      .select('value')
      .where('scope', '=', CHALLENGE_SCOPE)
      .where('key', '=', challengeId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (row === undefined) {
      throw new SimtrustError(
        'ERR_ENDORSE_CHALLENGE_INVALID',
        'unknown, expired or already answered challenge',
      );
    }
    const stored = JSON.parse(row.value) as StoredChallenge;
    const rand = Buffer.from(stored.rand, 'hex');

    if ('auts' in answer) {
      if (stored.imsi === undefined) throw failed();
      // The AuC verifies MAC-S (a forged AUTS fails here and costs an attempt) and limits bad AUTS.
      const vectors = await this.#d.auc.vectors(stored.imsi, {
        count: 1,
        resync: { rand, auts: answer.auts },
      });
      const vector = vectors.ok ? vectors.value[0] : undefined;
      if (vector === undefined) throw failed();
      await this.#consume(challengeId, now);
      return this.#storeChallenge(vector, stored.imsi);
    }

    const xres = this.#d.keyRing.open(stored.xres, challengeContext(challengeId));
    if (!constantTimeEqual(xres, answer.res) || stored.imsi === undefined) throw failed();
    await this.#consume(challengeId, now);
    const sim = await this.#loadSim(db, stored.imsi);
    if (sim === undefined)
      throw new SimtrustError('ERR_ENDORSE_CHALLENGE_INVALID', 'the SIM no longer exists');
    const config = this.#admit(sim);
    return { token: (await this.#sign(sim, config, 'aka', parametersFor(config, request))).token };
  }

  async #admitAddress(address: string): Promise<{ sim: LoadedSim; config: EndorseConfig }> {
    const rows = await this.#d.store.db.executeQuery<OwnerRow>(CompiledQuery.raw(this.#ownerSql, [address]));
    const row = rows.rows[0];
    // A session whose SIM is gone, or belongs to another tenant than the session, owns nothing.
    if (row === undefined || row.operator_id !== row.session_operator_id) {
      throw new SimtrustError('ERR_ENDORSE_NO_SESSION', `no online session owns ${address}`);
    }
    const sim: LoadedSim = {
      // The IMEI is the one the network reported for this session (a SIM moved to another device
      // shows up here), never one stored earlier.
      identity: { simId: row.sim_id, imsi: row.imsi, imei: row.imei, msisdn: row.msisdn },
      operatorId: row.operator_id,
      status: row.status,
      groupId: row.group_id,
      config: configFromRows(rows.rows),
    };
    return { sim, config: this.#admit(sim) };
  }

  #admit(sim: LoadedSim): EndorseConfig {
    if (sim.status !== 'active') {
      throw new SimtrustError('ERR_ENDORSE_SIM_NOT_ACTIVE', `the SIM is ${sim.status}, not active`);
    }
    if (sim.groupId === null) {
      throw new SimtrustError(
        'ERR_ENDORSE_DISABLED',
        'the SIM is in no group, so tokens are not enabled for it',
      );
    }
    const { config } = sim;
    if (!config.enabled)
      throw new SimtrustError('ERR_ENDORSE_DISABLED', "tokens are not enabled for the SIM's group");
    return config;
  }

  async #sign(
    sim: LoadedSim,
    config: EndorseConfig,
    proof: ProofMethod,
    parameters: Readonly<Record<string, string>> | undefined,
  ) {
    // The SIM's operator's key, never another tenant's.
    const key = await this.keys.current(sim.operatorId, config.algorithm);
    return issueToken({
      identity: sim.identity,
      operatorId: sim.operatorId,
      config,
      profile: this.profile(sim.operatorId, config),
      key,
      proof,
      requestParameters: parameters,
      nowMs: this.#d.clock.now(),
    });
  }

  /**
   * The SIM behind an IMSI with its group's Endorse namespace, in ONE query (a left join on the
   * configuration rows): this is the token endpoint's hot path.
   */
  async #loadSim(db: Executor, imsi: string): Promise<LoadedSim | undefined> {
    const rows = await db
      .selectFrom('sim_profiles')
      .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
      .leftJoin('group_configuration', (join) =>
        join
          .onRef('group_configuration.group_id', '=', 'sims.group_id')
          .on('group_configuration.namespace', '=', ENDORSE_NAMESPACE),
      )
      .select([
        'sims.sim_id',
        'sims.operator_id',
        'sims.status',
        'sims.group_id',
        'sim_profiles.msisdn',
        'group_configuration.key',
        'group_configuration.value',
      ])
      .where('sim_profiles.imsi', '=', imsi)
      .execute();
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      identity: { simId: row.sim_id, imsi, imei: null, msisdn: row.msisdn },
      operatorId: row.operator_id,
      status: row.status,
      groupId: row.group_id,
      config: configFromRows(rows),
    };
  }

  async #storeChallenge(vector: ChallengeVector, imsi: string | undefined): Promise<Challenge> {
    const challengeId = randomUUID();
    const now = this.#d.clock.now();
    const value: StoredChallenge = {
      ...(imsi === undefined ? {} : { imsi }),
      rand: Buffer.from(vector.rand).toString('hex'),
      // XRES is sealed, not stored plain: whoever reads the table must not be able to answer.
      xres: this.#d.keyRing.seal(vector.xres, challengeContext(challengeId)),
    };
    await putOnce(this.#d.store.db, {
      scope: CHALLENGE_SCOPE,
      key: challengeId,
      value: JSON.stringify(value),
      expiresAt: now + CHALLENGE_LIFETIME_MS,
      now,
    });
    return {
      challengeId,
      rand: Buffer.from(vector.rand).toString('hex'),
      autn: Buffer.from(vector.autn).toString('hex'),
    };
  }

  async #consume(challengeId: string, now: number): Promise<void> {
    // One use: of two racing correct answers exactly one deletes the row and goes on.
    if ((await consumeOnce(this.#d.store.db, CHALLENGE_SCOPE, challengeId, now)) === undefined) {
      throw new SimtrustError(
        'ERR_ENDORSE_CHALLENGE_INVALID',
        'unknown, expired or already answered challenge',
      );
    }
  }
}

const challengeContext = (id: string) => `endorse-challenge:${id}`;

const decoyVector = (): ChallengeVector => ({
  rand: randomBytes(16),
  autn: randomBytes(16),
  xres: randomBytes(8),
});

const failed = () =>
  new SimtrustError('ERR_ENDORSE_CHALLENGE_FAILED', 'the response does not prove the SIM of this challenge');

/** redirect_url → the URL the device is sent to, re-serialised (CWE-601: `authorizedRedirect`). */
function checkRedirect(text: string, config: EndorseConfig): URL {
  const url = authorizedRedirect(text, config.authorizedRedirectUrls);
  if (url === undefined) {
    throw new SimtrustError(
      'ERR_ENDORSE_REDIRECT_NOT_AUTHORIZED',
      "redirect_url is not in the group's authorizedRedirectUrls",
    );
  }
  return url;
}

/** The request parameters to endorse: none unless the group enables them (SORACOM ignores them then). */
const parametersFor = (config: EndorseConfig, request: TokenRequest) =>
  config.parametersToEndorse.requestParameters ? requestParameters(request.parameters) : undefined;

/** Request parameters as flat strings, bounded; anything else is refused rather than dropped. */
function requestParameters(raw: Readonly<Record<string, unknown>>): Record<string, string> {
  const entries = Object.entries(raw);
  const { count, nameLength, valueLength } = REQUEST_PARAMETER_LIMITS;
  if (entries.length > count) {
    throw new SimtrustError('ERR_ENDORSE_REQUEST_PARAMETERS', `at most ${count} request parameters`);
  }
  const out: Array<[string, string]> = [];
  for (const [name, value] of entries) {
    const text = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
    if (typeof text !== 'string' || name.length > nameLength || text.length > valueLength) {
      throw new SimtrustError(
        'ERR_ENDORSE_REQUEST_PARAMETERS',
        `request parameter ${JSON.stringify(name.slice(0, nameLength))} must be one string of at most ${valueLength} characters (name at most ${nameLength})`,
      );
    }
    out.push([name, text]);
  }
  // fromEntries defines own properties, so a parameter named __proto__ stays a plain value.
  return Object.fromEntries(out);
}

interface OwnerRow {
  readonly session_operator_id: string;
  readonly imei: string | null;
  readonly sim_id: string;
  readonly imsi: string;
  readonly operator_id: string;
  readonly status: string;
  readonly group_id: string | null;
  readonly msisdn: string | null;
  readonly key: string | null;
  readonly value: string | null;
}

/**
 * The token endpoint's hot path in ONE statement, compiled once: the online session that owns the
 * address (exactly `findOnlineSessionByAddress` of the AAA — latest online session of that UE
 * address; test/platform/endorse/owner-lookup.test.ts keeps the two in step), its SIM and profile,
 * and the rows of the SIM group's Endorse namespace.
 */
function ownerSql(dialect: Dialect): string {
  const param = dialect === 'postgres' ? '$1' : '?';
  return `select ss.operator_id as session_operator_id, ss.imei, s.sim_id, p.imsi, s.operator_id, s.status,
      s.group_id, p.msisdn, gc.key, gc.value
    from (select operator_id, sim_id, imsi, imei from sim_sessions
          where ue_ip = ${param} and status = 'online' order by updated_at desc limit 1) ss
    join sims s on s.sim_id = ss.sim_id
    join sim_profiles p on p.imsi = ss.imsi
    left join group_configuration gc on gc.group_id = s.group_id and gc.namespace = '${ENDORSE_NAMESPACE}'`;
}

/**
 * Parsed namespaces by their stored text. A fleet has few distinct group configurations, and
 * parsing one (JSON, URLs, checks) costs more than signing an ES256 token; the text is the key, so
 * a changed configuration is a new entry and is never served stale.
 */
const parsedConfigs = new Map<string, EndorseConfig>();
const PARSED_CONFIGS_MAX = 1024;

/** The Endorse namespace from joined (key, value) rows; a SIM in no group has none. */
function configFromRows(rows: ReadonlyArray<{ key: string | null; value: string | null }>): EndorseConfig {
  let text = '';
  for (const r of rows) if (r.key !== null && r.value !== null) text += `${r.key}\u0000${r.value}\u0001`;
  let config = parsedConfigs.get(text);
  if (config === undefined) {
    const stored: Record<string, unknown> = {};
    for (const r of rows)
      if (r.key !== null && r.value !== null) stored[r.key] = JSON.parse(r.value) as unknown;
    config = endorseConfig(stored);
    if (parsedConfigs.size >= PARSED_CONFIGS_MAX) parsedConfigs.clear();
    parsedConfigs.set(text, config);
  }
  return config;
}

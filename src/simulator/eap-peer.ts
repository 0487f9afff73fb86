// The peer side of EAP-SIM (RFC 4186), EAP-AKA (RFC 4187) and EAP-AKA' (RFC 9048), as a Wi-Fi
// device's supplicant runs it, with the SIM answering through its APDUs (card/terminal.ts): the peer
// never sees Ki. It keeps what a supplicant keeps between authentications — the pseudonym and the
// fast re-authentication identity, counter and keys — and is the load generator of the EAP benchmark
// and the counterpart of the server tests. What wpa_supplicant does is the reference where the RFCs
// leave a choice (identity prefixes, realm on pseudonyms).

import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { deriveSimKeys } from '../crypto/rfc-4186-eap-sim-keys.js';
import { deriveAkaKeys, deriveReauthKeys } from '../crypto/rfc-4187-eap-aka-keys.js';
import {
  deriveAkaPrimeKeys,
  deriveAkaPrimeReauthKeys,
  deriveCkIkPrime,
} from '../crypto/rfc-9048-eap-aka-prime-keys.js';
import {
  decodeEap,
  EAP_CODES,
  EAP_TYPES,
  encodeEap,
  identityResponse,
  nakResponse,
} from '../lib/eap/rfc-3748-eap.js';
import type { SimAkaAttribute } from '../lib/eap/rfc-4187-attributes.js';
import { CLIENT_ERROR_CODE } from '../lib/eap/rfc-4187-attributes.js';
import {
  decodeSimAka,
  encodeSimAka,
  findAttribute,
  SIM_AKA_METHOD_TYPES,
  SIM_AKA_SUBTYPES,
  type SimAkaMessage,
  type SimAkaMethod,
} from '../lib/eap/rfc-4187-messages.js';
import {
  checkcode,
  decryptAttributes,
  encryptAttributes,
  verifyAtMac,
} from '../lib/eap/rfc-4187-protection.js';
import { identityPrefix, parseEapIdentity } from '../lib/eap/ts-23-003-nai.js';

/** The SIM as the peer uses it: AUTHENTICATE in 3G and GSM context (TS 31.102 §7.1.2). */
export interface PeerSim {
  authenticateUmts(
    rand: Uint8Array,
    autn: Uint8Array,
  ):
    | { kind: 'success'; res: Uint8Array; ck: Uint8Array; ik: Uint8Array }
    | { kind: 'sync_failure'; auts: Uint8Array }
    | { kind: 'mac_failure' }
    | { kind: 'error'; message: string };
  authenticateGsm(
    rand: Uint8Array,
  ): { sres: Uint8Array; kc: Uint8Array } | { kind: 'error'; message: string };
}

/** What a supplicant keeps between authentications. */
export interface PeerMemory {
  pseudonym?: string;
  reauth?: {
    readonly id: string;
    readonly method: SimAkaMethod;
    readonly kAut: Uint8Array;
    readonly kEncr: Uint8Array;
    /** MK (SIM, AKA) or K_re (AKA'). */
    readonly secret: Uint8Array;
    counter: number;
  };
}

export interface PeerOptions {
  readonly sim: PeerSim;
  readonly imsi: string;
  /** Realm of the permanent NAI, e.g. wlan.mnc001.mcc001.3gppnetwork.org. */
  readonly realm: string;
  readonly method: SimAkaMethod;
  /** Ask for protected result indications (AT_RESULT_IND). */
  readonly resultInd?: boolean;
  /** Use pseudonyms and fast re-authentication identities when the server offers them (default true). */
  readonly useIdentities?: boolean;
  readonly memory?: PeerMemory;
}

export type PeerOutcome =
  | { readonly kind: 'respond'; readonly packet: Uint8Array }
  | { readonly kind: 'success'; readonly msk: Uint8Array | undefined; readonly reauth: boolean }
  | { readonly kind: 'failure'; readonly reason: string };

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const MAC: SimAkaAttribute = { name: 'AT_MAC', value: new Uint8Array(16) };

/** One authentication (one EAP conversation); `memory` carries over to the next one. */
export class EapPeer {
  readonly memory: PeerMemory;
  /** How the server treated us: a full authentication or a fast re-authentication. */
  usedReauth = false;
  private identity: Uint8Array = new Uint8Array(0);
  private readonly identityRounds: Uint8Array[] = [];
  private keys: { kAut: Uint8Array; kEncr: Uint8Array; msk: Uint8Array; secret: Uint8Array } | undefined;
  private nonceMt: Uint8Array | undefined;
  private counter: number | undefined;
  private msk: Uint8Array | undefined;
  private lastError = '';

  constructor(private readonly o: PeerOptions) {
    this.memory = o.memory ?? {};
  }

  get failureReason(): string {
    return this.lastError;
  }

  private permanent(): string {
    return `${identityPrefix('permanent', this.o.method)}${this.o.imsi}@${this.o.realm}`;
  }

  /** The identity for EAP-Response/Identity: re-auth id, else pseudonym, else permanent (RFC 4187 §4.1.1.3). */
  private preferredIdentity(kind: 'any' | 'fullauth' | 'permanent' = 'any'): string {
    const useIds = this.o.useIdentities !== false;
    const reauth = this.memory.reauth;
    if (useIds && kind === 'any' && reauth !== undefined && reauth.method === this.o.method) return reauth.id;
    const pseudonym = this.memory.pseudonym;
    if (useIds && kind !== 'permanent' && pseudonym !== undefined) {
      // wpa_supplicant appends the realm of the permanent identity to a pseudonym without one.
      return pseudonym.includes('@') ? pseudonym : `${pseudonym}@${this.o.realm}`;
    }
    return this.permanent();
  }

  /** The EAP-Response/Identity to put in the first Access-Request. */
  start(identifier = 0): Uint8Array {
    const id = this.preferredIdentity();
    this.identity = utf8(id);
    const packet = encodeEap(identityResponse(identifier, id));
    return packet.ok ? packet.value : new Uint8Array(0);
  }

  /** Answer one packet from the server. */
  respond(packet: Uint8Array): PeerOutcome {
    const eap = decodeEap(packet);
    if (!eap.ok) return this.fail(`undecodable EAP from the server: ${eap.error.message}`);
    if (eap.value.code === EAP_CODES.Success) {
      return { kind: 'success', msk: this.msk, reauth: this.usedReauth };
    }
    if (eap.value.code === EAP_CODES.Failure) return this.fail('EAP-Failure');
    if (eap.value.type === EAP_TYPES.Identity) {
      const id = this.preferredIdentity();
      this.identity = utf8(id);
      return this.out(encodeEap(identityResponse(eap.value.identifier, id)));
    }
    const method = eap.value.type === undefined ? undefined : methodOfType(eap.value.type);
    if (method !== this.o.method) {
      return this.out(encodeEap(nakResponse(eap.value.identifier, [SIM_AKA_METHOD_TYPES[this.o.method]])));
    }
    const message = decodeSimAka(packet);
    if (!message.ok)
      return this.clientError(eap.value.identifier, `undecodable request: ${message.error.message}`);
    const m = message.value;
    switch (m.subtype) {
      case SIM_AKA_SUBTYPES['AKA-Identity']:
        return this.akaIdentity(m, packet);
      case SIM_AKA_SUBTYPES['SIM-Start']:
        return this.simStart(m);
      case SIM_AKA_SUBTYPES['AKA-Challenge']:
        return this.akaChallenge(m, packet);
      case SIM_AKA_SUBTYPES['SIM-Challenge']:
        return this.simChallenge(m, packet);
      case SIM_AKA_SUBTYPES['Re-authentication']:
        return this.reauthentication(m, packet);
      case SIM_AKA_SUBTYPES.Notification:
        return this.notification(m, packet);
      default:
        return this.clientError(m.identifier, `unexpected subtype ${m.subtype}`);
    }
  }

  private response(
    m: SimAkaMessage,
    subtype: number,
    attributes: SimAkaAttribute[],
    kAut?: Uint8Array,
    extra?: Uint8Array,
  ) {
    return encodeSimAka(
      { code: EAP_CODES.Response, identifier: m.identifier, method: this.o.method, subtype, attributes },
      kAut === undefined ? {} : { kAut, ...(extra === undefined ? {} : { extra }) },
    );
  }

  private requestedIdentity(m: SimAkaMessage): 'any' | 'fullauth' | 'permanent' | undefined {
    if (findAttribute(m, 'AT_PERMANENT_ID_REQ')) return 'permanent';
    if (findAttribute(m, 'AT_FULLAUTH_ID_REQ')) return 'fullauth';
    if (findAttribute(m, 'AT_ANY_ID_REQ')) return 'any';
    return undefined;
  }

  private akaIdentity(m: SimAkaMessage, packet: Uint8Array): PeerOutcome {
    const kind = this.requestedIdentity(m);
    if (kind === undefined) return this.clientError(m.identifier, 'AKA-Identity without an identity request');
    const id = this.preferredIdentity(kind);
    if (kind !== 'any') this.forgetReauth();
    if (kind === 'permanent') this.memory.pseudonym = undefined;
    this.identity = utf8(id);
    const reply = this.response(m, SIM_AKA_SUBTYPES['AKA-Identity'], [
      { name: 'AT_IDENTITY', value: this.identity },
    ]);
    if (reply.ok) this.identityRounds.push(packet, reply.value);
    return this.out(reply);
  }

  private simStart(m: SimAkaMessage): PeerOutcome {
    const versions = findAttribute(m, 'AT_VERSION_LIST');
    if (versions === undefined || !versions.includes(1))
      return this.clientError(
        m.identifier,
        'no supported EAP-SIM version',
        CLIENT_ERROR_CODE['Unsupported-Version'],
      );
    const kind = this.requestedIdentity(m);
    const attributes: SimAkaAttribute[] = [];
    let fullAuth = true;
    if (kind !== undefined) {
      const id = this.preferredIdentity(kind);
      if (kind !== 'any') this.forgetReauth();
      this.identity = utf8(id);
      attributes.push({ name: 'AT_IDENTITY', value: this.identity });
      const parsed = parseEapIdentity(id);
      fullAuth = !parsed.ok || parsed.value.kind !== 'reauth';
    }
    if (fullAuth) {
      this.nonceMt = new Uint8Array(randomBytes(16));
      attributes.unshift(
        { name: 'AT_NONCE_MT', value: this.nonceMt },
        { name: 'AT_SELECTED_VERSION', value: 1 },
      );
    }
    return this.out(this.response(m, SIM_AKA_SUBTYPES['SIM-Start'], attributes));
  }

  private akaChallenge(m: SimAkaMessage, packet: Uint8Array): PeerOutcome {
    const rand = findAttribute(m, 'AT_RAND');
    const autn = findAttribute(m, 'AT_AUTN');
    if (rand?.length !== 16 || autn === undefined)
      return this.clientError(m.identifier, 'challenge without RAND/AUTN');
    const prime = this.o.method === 'akaPrime';
    if (prime) {
      const kdf = findAttribute(m, 'AT_KDF');
      if (kdf !== 1 || findAttribute(m, 'AT_KDF_INPUT') === undefined)
        return this.clientError(m.identifier, 'AKA-Challenge without KDF 1 and its input');
      // RFC 9048 §3.2 (TS 33.102 Annex H): an AKA' vector must carry the AMF separation bit.
      if (((autn[6] ?? 0) & 0x80) === 0) return this.authenticationReject(m, 'AMF separation bit is 0');
    } else {
      const bidding = findAttribute(m, 'AT_BIDDING');
      if (bidding !== undefined && (bidding & 0x8000) !== 0 && this.o.method !== 'aka')
        return this.authenticationReject(m, 'bidding down');
    }
    const card = this.o.sim.authenticateUmts(rand, autn);
    if (card.kind === 'mac_failure')
      return this.authenticationReject(m, 'the card refused AUTN (MAC failure)');
    if (card.kind === 'error') return this.clientError(m.identifier, card.message);
    if (card.kind === 'sync_failure') {
      const attributes: SimAkaAttribute[] = [{ name: 'AT_AUTS', value: card.auts }];
      if (prime) attributes.push({ name: 'AT_KDF', value: 1 });
      return this.out(this.response(m, SIM_AKA_SUBTYPES['AKA-Synchronization-Failure'], attributes));
    }
    let keys: { kAut: Uint8Array; kEncr: Uint8Array; msk: Uint8Array; secret: Uint8Array };
    if (prime) {
      const network = findAttribute(m, 'AT_KDF_INPUT') ?? new Uint8Array(0);
      const { ckPrime, ikPrime } = deriveCkIkPrime(card.ck, card.ik, network, autn.subarray(0, 6));
      const k = deriveAkaPrimeKeys(this.identity, ckPrime, ikPrime);
      keys = { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, secret: k.kRe };
    } else {
      const k = deriveAkaKeys(this.identity, card.ik, card.ck);
      keys = { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, secret: k.mk };
    }
    if (!verifyAtMac(packet, keys.kAut))
      return this.clientError(m.identifier, 'AT_MAC of the challenge does not verify');
    const method = this.o.method === 'akaPrime' ? 'akaPrime' : 'aka';
    const expected = checkcode(method, this.identityRounds);
    const received = findAttribute(m, 'AT_CHECKCODE');
    if (received !== undefined && received.length > 0 && !constantTimeEqual(received, expected))
      return this.clientError(m.identifier, 'AT_CHECKCODE does not match');
    this.learnIdentities(m, keys);
    this.keys = keys;
    this.msk = keys.msk;
    const attributes: SimAkaAttribute[] = [
      { name: 'AT_RES', value: { bitLength: card.res.length * 8, res: card.res } },
      { name: 'AT_CHECKCODE', value: expected },
    ];
    if (this.o.resultInd && findAttribute(m, 'AT_RESULT_IND'))
      attributes.push({ name: 'AT_RESULT_IND', value: true });
    attributes.push(MAC);
    return this.out(this.response(m, SIM_AKA_SUBTYPES['AKA-Challenge'], attributes, keys.kAut));
  }

  private simChallenge(m: SimAkaMessage, packet: Uint8Array): PeerOutcome {
    const rands = findAttribute(m, 'AT_RAND');
    const nonceMt = this.nonceMt;
    if (rands === undefined || rands.length < 32 || rands.length > 48 || nonceMt === undefined)
      return this.clientError(
        m.identifier,
        'SIM-Challenge with 2–3 RANDs after SIM-Start',
        CLIENT_ERROR_CODE['Insufficient-Challenges'],
      );
    const kcs: Uint8Array[] = [];
    const sres: Uint8Array[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < rands.length; i += 16) {
      const rand = rands.subarray(i, i + 16);
      const key = Buffer.from(rand).toString('hex');
      if (seen.has(key))
        return this.clientError(m.identifier, 'RANDs not fresh', CLIENT_ERROR_CODE['RANDs-Not-Fresh']);
      seen.add(key);
      const r = this.o.sim.authenticateGsm(rand);
      if ('kind' in r) return this.clientError(m.identifier, r.message);
      kcs.push(r.kc);
      sres.push(r.sres);
    }
    const k = deriveSimKeys({ identity: this.identity, kcs, nonceMt, versionList: [1], selectedVersion: 1 });
    if (!verifyAtMac(packet, k.kAut, nonceMt))
      return this.clientError(m.identifier, 'AT_MAC of the challenge does not verify');
    const keys = { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, secret: k.mk };
    this.learnIdentities(m, keys);
    this.keys = keys;
    this.msk = keys.msk;
    const attributes: SimAkaAttribute[] = [];
    if (this.o.resultInd && findAttribute(m, 'AT_RESULT_IND'))
      attributes.push({ name: 'AT_RESULT_IND', value: true });
    attributes.push(MAC);
    const extra = new Uint8Array(sres.flatMap((s) => [...s]));
    return this.out(this.response(m, SIM_AKA_SUBTYPES['SIM-Challenge'], attributes, keys.kAut, extra));
  }

  private reauthentication(m: SimAkaMessage, packet: Uint8Array): PeerOutcome {
    const reauth = this.memory.reauth;
    if (reauth === undefined)
      return this.clientError(m.identifier, 're-authentication without a re-auth identity');
    if (!verifyAtMac(packet, reauth.kAut))
      return this.clientError(m.identifier, 'AT_MAC of the re-authentication does not verify');
    const iv = findAttribute(m, 'AT_IV');
    const data = findAttribute(m, 'AT_ENCR_DATA');
    if (iv === undefined || data === undefined)
      return this.clientError(m.identifier, 're-authentication without AT_ENCR_DATA');
    const inner = decryptAttributes(data, reauth.kEncr, iv);
    if (!inner.ok) return this.clientError(m.identifier, inner.error.message);
    const plain = { attributes: inner.value };
    const counter = findAttribute(plain, 'AT_COUNTER');
    const nonceS = findAttribute(plain, 'AT_NONCE_S');
    if (counter === undefined || nonceS === undefined)
      return this.clientError(m.identifier, 'no AT_COUNTER/AT_NONCE_S');
    const usedId = utf8(reauth.id);
    const ivOut = new Uint8Array(randomBytes(16));
    if (counter <= reauth.counter) {
      // RFC 4187 §5.5: refuse a counter we have seen, protected with the old keys.
      const encr = encryptAttributes(
        [
          { name: 'AT_COUNTER', value: counter },
          { name: 'AT_COUNTER_TOO_SMALL', value: true },
        ],
        reauth.kEncr,
        ivOut,
      );
      if (!encr.ok) return this.fail(encr.error.message);
      this.memory.reauth = undefined;
      return this.out(
        this.response(
          m,
          SIM_AKA_SUBTYPES['Re-authentication'],
          [{ name: 'AT_IV', value: ivOut }, { name: 'AT_ENCR_DATA', value: encr.value }, MAC],
          reauth.kAut,
          nonceS,
        ),
      );
    }
    const next = findAttribute(plain, 'AT_NEXT_REAUTH_ID');
    const msk =
      reauth.method === 'akaPrime'
        ? deriveAkaPrimeReauthKeys(reauth.secret, usedId, counter, nonceS).msk
        : deriveReauthKeys(usedId, counter, nonceS, reauth.secret).msk;
    reauth.counter = counter;
    this.memory.reauth = next === undefined ? undefined : { ...reauth, id: text(next), counter };
    this.usedReauth = true;
    this.counter = counter;
    this.keys = { kAut: reauth.kAut, kEncr: reauth.kEncr, msk, secret: reauth.secret };
    this.msk = msk;
    const encr = encryptAttributes([{ name: 'AT_COUNTER', value: counter }], reauth.kEncr, ivOut);
    if (!encr.ok) return this.fail(encr.error.message);
    const attributes: SimAkaAttribute[] = [
      { name: 'AT_IV', value: ivOut },
      { name: 'AT_ENCR_DATA', value: encr.value },
    ];
    if (this.o.method !== 'sim')
      attributes.push({ name: 'AT_CHECKCODE', value: checkcode(this.o.method, this.identityRounds) });
    if (this.o.resultInd && findAttribute(m, 'AT_RESULT_IND'))
      attributes.push({ name: 'AT_RESULT_IND', value: true });
    attributes.push(MAC);
    return this.out(this.response(m, SIM_AKA_SUBTYPES['Re-authentication'], attributes, reauth.kAut, nonceS));
  }

  private notification(m: SimAkaMessage, packet: Uint8Array): PeerOutcome {
    const code = findAttribute(m, 'AT_NOTIFICATION') ?? 0;
    const success = (code & 0x8000) !== 0;
    const attributes: SimAkaAttribute[] = [];
    if ((code & 0x4000) === 0) {
      // After the challenge (P bit clear) the notification is protected (RFC 4187 §9.10).
      if (this.keys === undefined || !verifyAtMac(packet, this.keys.kAut))
        return this.fail('unprotected notification after authentication');
      if (this.counter !== undefined) {
        const iv = new Uint8Array(randomBytes(16));
        const encr = encryptAttributes([{ name: 'AT_COUNTER', value: this.counter }], this.keys.kEncr, iv);
        if (!encr.ok) return this.fail(encr.error.message);
        attributes.push({ name: 'AT_IV', value: iv }, { name: 'AT_ENCR_DATA', value: encr.value });
      }
      attributes.push(MAC);
    }
    if (!success) this.lastError = `notification ${code}`;
    return this.out(
      this.response(
        m,
        SIM_AKA_SUBTYPES.Notification,
        attributes,
        (code & 0x4000) === 0 ? this.keys?.kAut : undefined,
      ),
    );
  }

  private learnIdentities(
    m: SimAkaMessage,
    keys: { kAut: Uint8Array; kEncr: Uint8Array; secret: Uint8Array },
  ) {
    this.forgetReauth();
    const iv = findAttribute(m, 'AT_IV');
    const data = findAttribute(m, 'AT_ENCR_DATA');
    if (iv === undefined || data === undefined) return;
    const inner = decryptAttributes(data, keys.kEncr, iv);
    if (!inner.ok) return;
    const plain = { attributes: inner.value };
    const pseudonym = findAttribute(plain, 'AT_NEXT_PSEUDONYM');
    const reauthId = findAttribute(plain, 'AT_NEXT_REAUTH_ID');
    if (pseudonym !== undefined) this.memory.pseudonym = text(pseudonym);
    if (reauthId !== undefined) {
      this.memory.reauth = {
        id: text(reauthId),
        method: this.o.method,
        kAut: keys.kAut,
        kEncr: keys.kEncr,
        secret: keys.secret,
        counter: 0,
      };
    }
  }

  private forgetReauth(): void {
    this.memory.reauth = undefined;
  }

  private authenticationReject(m: SimAkaMessage, reason: string): PeerOutcome {
    this.lastError = reason;
    return this.out(this.response(m, SIM_AKA_SUBTYPES['AKA-Authentication-Reject'], []));
  }

  private clientError(
    identifier: number,
    reason: string,
    code: number = CLIENT_ERROR_CODE['Unable-To-Process-Packet'],
  ): PeerOutcome {
    this.lastError = reason;
    return this.out(
      encodeSimAka({
        code: EAP_CODES.Response,
        identifier,
        method: this.o.method,
        subtype: SIM_AKA_SUBTYPES['Client-Error'],
        attributes: [{ name: 'AT_CLIENT_ERROR_CODE', value: code }],
      }),
    );
  }

  private out(
    packet: { ok: true; value: Uint8Array } | { ok: false; error: { message: string } },
  ): PeerOutcome {
    return packet.ok ? { kind: 'respond', packet: packet.value } : this.fail(packet.error.message);
  }

  private fail(reason: string): PeerOutcome {
    return { kind: 'failure', reason: this.lastError === '' ? reason : `${reason} (${this.lastError})` };
  }
}

function methodOfType(type: number): SimAkaMethod | undefined {
  if (type === SIM_AKA_METHOD_TYPES.sim) return 'sim';
  if (type === SIM_AKA_METHOD_TYPES.aka) return 'aka';
  if (type === SIM_AKA_METHOD_TYPES.akaPrime) return 'akaPrime';
  return undefined;
}

/** A PeerSim over the card's APDUs (terminal.ts): SELECT USIM once, then AUTHENTICATE per challenge. */
export function simOverTerminal(terminal: {
  selectUsim(): { ok: boolean; error?: { message: string } };
  authenticateUmts(
    rand: Uint8Array,
    autn: Uint8Array,
  ):
    | {
        ok: true;
        value:
          | { kind: 'success'; res: Uint8Array; ck: Uint8Array; ik: Uint8Array }
          | { kind: 'sync_failure'; auts: Uint8Array }
          | { kind: 'mac_failure' };
      }
    | { ok: false; error: { message: string } };
  authenticateGsm(
    rand: Uint8Array,
  ): { ok: true; value: { sres: Uint8Array; kc: Uint8Array } } | { ok: false; error: { message: string } };
}): PeerSim {
  let selected = false;
  const select = (): string | undefined => {
    if (selected) return undefined;
    const r = terminal.selectUsim();
    if (!r.ok) return r.error?.message ?? 'SELECT USIM failed';
    selected = true;
    return undefined;
  };
  return {
    authenticateUmts(rand, autn) {
      const e = select();
      if (e !== undefined) return { kind: 'error', message: e };
      const r = terminal.authenticateUmts(rand, autn);
      if (!r.ok) return { kind: 'error', message: r.error.message };
      return r.value;
    },
    authenticateGsm(rand) {
      const e = select();
      if (e !== undefined) return { kind: 'error', message: e };
      const r = terminal.authenticateGsm(rand);
      return r.ok ? r.value : { kind: 'error', message: r.error.message };
    },
  };
}

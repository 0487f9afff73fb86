// The ES8 on-card functions (GSMA SGP.02 §4.1.3, procedures §3.1.2–3.1.3; bytes in esim.md §1.5/§4.2–4.3):
//
//   EstablishISDPKeySet — through the ISD-R, as GP personalization: INSTALL [for personalization]
//     `80 E6 20 00 {00 00 L AID 00 00 00}` makes the ISD-P the target of the following STORE DATAs:
//     `3A01` CERT.DP.ECDSA → verified against PK.CI.ECDSA in the ECASD (role SM-DP) → `85 10 RC`;
//     `3A02` {A6 CRT} 7F49 ePK 5F37 signature → signature checked with PK.DP.ECDSA, ECKA with
//     SK.ECASD.ECKA, key set derived → `85 DR 86 receipt`; the ISD-P becomes PERSONALIZED with its
//     SCP03 key set (src/crypto/sgp-02-key-establishment.ts holds every derivation choice).
//   DownloadAndInstallation — SCP03t TLVs (`84`, `85`, `86`…) addressed to the ISD-P (HTTPS: the
//     X-Admin-Targeted-Application; src/crypto/sgp-02-scp03t.ts is the channel): the segments are the
//     profile package; once it ends with its 'end' PE it is read (src/lib/saip-profile-package.ts) and
//     installed through Euicc.installProfile, and the last segment's answer is the EUICCResponse.
//
// Session state (the personalization target, RC, PK.DP.ECDSA, the SCP03t channel and the segments
// received) is RAM and goes with a reset; the key set and its sequence counter are persistent.

import { randomBytes } from 'node:crypto';
import { verifyGpCertificate } from '../../crypto/sgp-02-certificate-chain.js';
import { establishKeysOnCard } from '../../crypto/sgp-02-key-establishment.js';
import { Scp03tCard, splitScp03tTlvs } from '../../crypto/sgp-02-scp03t.js';
import { concatBytes, encodeBerTlv } from '../../lib/ber-tlv.js';
import type { Clock } from '../../lib/clock.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { decodeError, ok, type Result } from '../../lib/result.js';
import {
  answerProfilePackage,
  decodeProfilePackage,
  encodeEuiccResponse,
  PE_STATUS,
  readProfile,
} from '../../lib/saip-profile-package.js';
import { decodeDgi } from '../../lib/sgp-02-es5.js';
import { type EfNode, isEf, walk } from '../file-system.js';
import type { CommandApdu } from '../iso-7816-4.js';
import { CARD_TREE } from '../profile.js';
import { SW } from '../ts-102-221.js';
import type { DecodedProfile } from './euicc.js';
import { type EuiccState, type Isdp, LIFE_CYCLE } from './euicc-state.js';
import type { RApdu } from './sgp-02-isd-r.js';

const done = (sw: number, data: Uint8Array = new Uint8Array(0)): RApdu => ({ data, sw });

/** What ES8 may do to the eUICC beyond its own state. */
export interface Es8Host {
  readonly state: EuiccState;
  readonly clock: Clock;
  changed(): void;
  install(aid: string, profile: DecodedProfile): Result<true>;
}

interface Personalization {
  readonly aid: string;
  randomChallenge?: Uint8Array;
  offCardKey?: Uint8Array;
}

interface Download {
  readonly channel: Scp03tCard;
  readonly segments: Uint8Array[];
}

/** Largest profile package the card buffers (a TS.48 profile is about 10 KB). */
const MAX_PACKAGE = 256 * 1024;

export class Es8 {
  readonly #host: Es8Host;
  #perso: Personalization | undefined;
  #downloads = new Map<string, Download>();

  constructor(host: Es8Host) {
    this.#host = host;
  }

  reset(): void {
    this.#perso = undefined;
    this.#downloads = new Map();
  }

  /** Whether a STORE DATA goes to the personalization target rather than to the ISD-R itself. */
  get personalizing(): boolean {
    return this.#perso !== undefined;
  }

  // GP §11.5.2.3 INSTALL [for personalization]: LV() LV() LV(AID) LV() LV() LV().
  installForPersonalization(c: CommandApdu): RApdu {
    this.#perso = undefined;
    const d = c.data;
    if (d.length < 6 || d[0] !== 0 || d[1] !== 0) return done(SW.INCORRECT_DATA);
    const n = d[2] as number;
    if (n < 5 || n > 16 || d.length !== 3 + n + 3 || d[3 + n] !== 0 || d[4 + n] !== 0 || d[5 + n] !== 0)
      return done(SW.INCORRECT_DATA);
    const aid = toHex(d.subarray(3, 3 + n)).toUpperCase();
    const isdp = this.#host.state.isdps.find((i) => i.aid === aid);
    if (isdp === undefined) return done(SW.REFERENCED_DATA_NOT_FOUND);
    // A key set is established once, into an ISD-P that CreateISDP made and no profile fills yet.
    if (isdp.state !== LIFE_CYCLE.SELECTABLE) return done(SW.CONDITIONS_NOT_SATISFIED);
    this.#perso = { aid };
    return done(SW.OK, Uint8Array.of(0x00));
  }

  /** STORE DATA for the ISD-P being personalized: 3A01 (certificate) then 3A02 (key agreement). */
  storeData(c: CommandApdu): RApdu {
    const perso = this.#perso;
    if (perso === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
    if (((c.p1 >> 3) & 0x03) !== 0x01) return done(SW.INCORRECT_P1_P2);
    if (c.data[0] === 0x3a && c.data[1] === 0x01) return this.#certificate(perso, c);
    if (c.data[0] === 0x3a && c.data[1] === 0x02) return this.#keyAgreement(perso, c);
    return done(SW.REFERENCED_DATA_NOT_FOUND);
  }

  // Step 15 of §3.1: an SM-DP certificate, verified by the ECASD with PK.CI.ECDSA; RC back.
  #certificate(perso: Personalization, c: CommandApdu): RApdu {
    if (c.p2 !== 0x00) return done(SW.INCORRECT_P1_P2);
    const dgi = decodeDgi(c.data);
    if (!dgi.ok) return done(SW.INCORRECT_DATA);
    const ci = this.#host.state.ci;
    if (ci === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
    const cert = verifyGpCertificate(dgi.value.value, {
      role: 'sm-dp',
      issuers: [ci],
      now: this.#host.clock.now(),
    });
    if (!cert.ok) {
      this.#perso = undefined;
      return done(SW.SECURITY_STATUS_NOT_SATISFIED);
    }
    perso.offCardKey = cert.value.publicKey;
    perso.randomChallenge = new Uint8Array(randomBytes(16));
    return done(SW.OK, encodeBerTlv(0x85, perso.randomChallenge));
  }

  // Step 17: ECKA-EG with the ephemeral key the SM-DP signed over RC; the ISD-P takes the key set.
  #keyAgreement(perso: Personalization, c: CommandApdu): RApdu {
    const { randomChallenge, offCardKey } = perso;
    if (randomChallenge === undefined || offCardKey === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
    const s = this.#host.state;
    const isdp = s.isdps.find((i) => i.aid === perso.aid);
    this.#perso = undefined;
    if (isdp === undefined || isdp.state !== LIFE_CYCLE.SELECTABLE) return done(SW.CONDITIONS_NOT_SATISFIED);
    const r = establishKeysOnCard({
      storeData: c.data,
      curve: 'P-256',
      ecasdPrivateKey: s.ecasdPrivateKey,
      offCardPublicKey: offCardKey,
      randomChallenge,
    });
    if (!r.ok) return done(r.error.sw ?? SW.INCORRECT_DATA);
    const { keyset } = r.value;
    isdp.keyset = {
      kvn: keyset.kvn,
      kid: keyset.kid,
      keys: keyset.keys.map((k) => k.slice()),
      sequenceCounter: 0,
    };
    isdp.state = LIFE_CYCLE.PERSONALIZED;
    this.#host.changed();
    return done(SW.OK, r.value.response);
  }

  /**
   * SCP03t data for the ISD-P `aid` (one or more TLVs); the answer TLVs. Total: any bytes give an
   * answer (an SCP03t error TLV when they are wrong), never an exception.
   */
  processIsdpData(aid: string, bytes: Uint8Array): Uint8Array {
    const s = this.#host.state;
    const isdp = s.isdps.find((i) => i.aid === aid.toUpperCase());
    const keyset = isdp?.keyset;
    if (isdp === undefined || keyset === undefined || isdp.state !== LIFE_CYCLE.PERSONALIZED)
      return Uint8Array.of(0x9f, 0x44, 0x01, 0x02); // no key set: "referenced data not found" [?]
    const tlvs = splitScp03tTlvs(bytes);
    if (!tlvs.ok) return Uint8Array.of(0x9f, 0x46, 0x01, 0x01);
    const out: Uint8Array[] = [];
    for (const t of tlvs.value) {
      let download = this.#downloads.get(isdp.aid);
      if (t.tag === 0x84 || download === undefined) {
        const keys = keyset.keys;
        const [a, b, c] = keys as [Uint8Array, Uint8Array?, Uint8Array?];
        download = {
          channel: new Scp03tCard({
            keys: b && c ? { enc: a, mac: b, dek: c } : { enc: a, mac: a, dek: a },
            kvn: keyset.kvn,
            kid: keyset.kid,
            keyDiversificationData: new Uint8Array(10),
            sdAid: fromHex(isdp.aid) ?? new Uint8Array(0),
            sequenceCounter: keyset.sequenceCounter,
          }),
          segments: [],
        };
        this.#downloads.set(isdp.aid, download);
      }
      const r = download.channel.receive(concatBytes([t.header, t.value]));
      if (!r.ok) {
        this.#downloads.delete(isdp.aid);
        out.push(r.error.response ?? Uint8Array.of(0x9f, 0x46, 0x01, 0x01));
        break;
      }
      const e = r.value;
      if (e.kind === 'initialize-update') {
        // The counter moves with every session opened, so a card challenge is never used twice.
        keyset.sequenceCounter = download.channel.nextSequenceCounter;
        this.#host.changed();
        out.push(e.response);
      } else if (e.kind === 'external-authenticate') {
        out.push(e.response);
      } else {
        download.segments.push(e.segment);
        out.push(download.channel.wrapResponse(this.#afterSegment(isdp, download)));
      }
    }
    return concatBytes(out);
  }

  /** Install once the package is complete; the EUICCResponse is the last segment's answer. */
  #afterSegment(isdp: Isdp, download: Download): Uint8Array {
    const upp = concatBytes(download.segments);
    if (upp.length > MAX_PACKAGE) {
      this.#downloads.delete(isdp.aid);
      return new Uint8Array(0);
    }
    const pes = decodeProfilePackage(upp);
    if (!pes.ok || pes.value.at(-1)?.type !== 'end') return new Uint8Array(0);
    this.#downloads.delete(isdp.aid);
    const answer = answerProfilePackage(upp);
    if (answer.response.profileInstallationAborted) return encodeEuiccResponse(answer.response);
    // Every PE passed its check; the installation itself may still fail (a USIM this card cannot
    // run, an EF of another size): then the answer says so instead of reporting the PEs ok.
    const profile = profileOf(pes.value);
    const installed = profile.ok ? this.#host.install(isdp.aid, profile.value) : profile;
    if (!installed.ok) {
      const statuses = answer.response.peStatus.slice(0, -1);
      return encodeEuiccResponse({
        peStatus: [...statuses, { status: PE_STATUS['feature-not-supported'] }],
        profileInstallationAborted: true,
        statusMessage: installed.error.code,
      });
    }
    return encodeEuiccResponse(answer.response);
  }
}

const EF_AD = '3F00/7FF0/6FAD';
const EF_UST = '3F00/7FF0/6F38';
const EF_SIZE = new Map(
  walk(CARD_TREE)
    .filter(isEf)
    .map((n: EfNode): [string, number] => [n.path, n.decl.size]),
);
const fits = (path: string, bytes: Uint8Array | undefined): bytes is Uint8Array =>
  bytes !== undefined && bytes.length === EF_SIZE.get(path);

/** The profile the installer hook takes, from the PEs (USIM with Milenage; files the card has). */
export function profileOf(pes: Parameters<typeof readProfile>[0]): Result<DecodedProfile> {
  const contents = readProfile(pes);
  if (!contents.ok) return contents;
  const p = contents.value;
  const aka = p.aka.find((a) => a.naa === 'usim') ?? p.aka[0];
  if (p.imsi === undefined || aka === undefined)
    return decodeError('EUICC_PROFILE_IDENTITY', 'the profile has no USIM with an IMSI and AKA parameters');
  // The software USIM runs Milenage and the TS 34.108 test algorithm (the TS.48 profiles); not TUAK.
  if (aka.algorithm !== 'milenage' && aka.algorithm !== 'test')
    return decodeError('EUICC_PROFILE_KEYS', `the software USIM does not run ${aka.algorithm}`);
  const mnc = (p.efAd?.[3] ?? 2) & 0x0f;
  const files = new Map<string, Uint8Array>();
  // The card's EFs have fixed sizes (docs/card.md): contents of another size keep the card's default.
  if (fits(EF_AD, p.efAd)) files.set(EF_AD, p.efAd);
  if (fits(EF_UST, p.efUst)) files.set(EF_UST, p.efUst);
  return ok({
    identity: { iccid: p.iccid, imsi: p.imsi, mncLength: mnc === 3 ? 3 : 2 },
    ki: aka.k,
    // The test algorithm has no OPc (the package carries none): the card keeps zeros.
    opc: aka.algorithm === 'test' && aka.opc.length !== 16 ? new Uint8Array(16) : aka.opc,
    ...(aka.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
    files,
  });
}

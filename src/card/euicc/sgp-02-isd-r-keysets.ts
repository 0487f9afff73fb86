// The ISD-R's own key sets on an SM-SR change (GSMA SGP.02 §3.8; esim.md §1.5, §3.2 steps 8–26, §4.2):
//
//   ES5.EstablishISDRKeySet — key establishment scenario #3 addressed to the ISD-R itself (no INSTALL
//     [for personalization] before it, which would name an ISD-P):
//     `80 E2 09 00 {3A01 L CERT.SR.ECDSA}` → the certificate must be an SM-SR's (discretionary data
//       C8 = 02) issued under PK.CI.ECDSA, the ECASD keeps PK.SR.ECDSA and a fresh RC → `85 10 RC`;
//     `80 E2 89 01 {3A02 L A6-CRT} 7F49 ePK 5F37 sig` → signature over … ‖ RC with PK.SR, ECKA with
//       SK.ECASD.ECKA, DR, the key set the CRT names → `85 DR 86 receipt`. KVN 01–0F with key usage 10
//       is a new SCP80 key set (KIc, KID, DEK; its counter starts at the CRT's 91), KVN 40–4F with 5C a
//       new SCP81 PSK (the SCP81 key set SM-SR2 creates after the handover, step 26, the same way).
//   ES5.FinaliseISDRhandover — `80 E4 00 00 {F2 03 KVN KIDfirst KIDlast}…`: SM-SR2 deletes SM-SR1's
//     SCP80 and SCP81 key sets.
//
// Refusals, each before anything changes:
//   3A01  '6A80' not a GP certificate; '6982' not an SM-SR certificate, another CI, a bad signature,
//         outside its validity (the same word as ES8 gives); '6985' the card has no PK.CI.
//   3A02  '6985' no RC outstanding (no 3A01 before, or this RC was used: a replayed 3A02); '6982' the
//         signature does not verify with PK.SR (another signer, or a 3A02 made for an earlier RC);
//         '6A80' malformed, a KVN outside the ISD-R ranges, a key usage that does not fit the KVN, a
//         first KID other than 01, a CRT with HostID/SDIN (the ISD-R has no SIN to derive with);
//         '6985' the KVN is taken (an ISD-R key set without the "delete
//         existing keys" bit, an applet's OTA key set, or the key set securing this very script).
//   DELETE '6A88' no such ISD-R key set; '6A80' a range that leaves part of a key set (key sets are
//         deleted whole); '6985' the key set securing this script (the PoR or the TLS session could no
//         longer be protected, and SM-SR2 would cut itself off), or the last SCP80 key set (without one
//         no SM-SR could reach the card again, not even to push an HTTPS session).
// The last two DELETE rules and the meaning of "delete existing keys" (replace the key set of that
// KVN, not every key of the ISD-R) are our reading — to verify against SGP.02 §4.1.1.9 and GPC Amd A.
//
// The RC and PK.SR.ECDSA between 3A01 and 3A02 are RAM (a reset ends them, the SM-SR starts again
// with 3A01); the key sets are persistent (the card file's euicc.isdr section).

import { randomBytes } from 'node:crypto';
import { verifyGpCertificate } from '../../crypto/sgp-02-certificate-chain.js';
import {
  establishKeysOnCard,
  ISD_R_KEYSETS,
  isdrKeysetKind,
  SCP80_COUNTER_MAX,
} from '../../crypto/sgp-02-key-establishment.js';
import { encodeBerTlv } from '../../lib/ber-tlv.js';
import type { Clock } from '../../lib/clock.js';
import { DGI, decodeDgi, decodeKeysetDeletion } from '../../lib/sgp-02-es5.js';
import type { CommandApdu } from '../iso-7816-4.js';
import { SW } from '../ts-102-221.js';
import type { EuiccState } from './euicc-state.js';
import type { RApdu } from './sgp-02-isd-r.js';

const done = (sw: number, data: Uint8Array = new Uint8Array(0)): RApdu => ({ data, sw });

/** The key set that secures the script being run: SCP80's KVN (the packet's KID) or SCP81's PSK KVN. */
export interface SecureSession {
  readonly kvn: number;
}

/**
 * Changes of the ISD-R's SCP80 key sets for the OTA runtime: KVN → the counter to hold for it (a new
 * key set's initial counter), or undefined for a key set deleted (its counter goes with it).
 */
export type Scp80Counters = ReadonlyMap<number, number | undefined>;

export interface IsdrKeysetHost {
  readonly state: EuiccState;
  readonly clock: Clock;
  /** A KVN one of the card's other OTA key sets uses (an applet's): never the ISD-R's. */
  kvnTaken(kvn: number): boolean;
  /** The ISD-R's key sets changed: the OTA runtime must see the SCP80 ones as they are now. */
  keysetsChanged(counters: Scp80Counters): void;
  /** The persistent state changed (the card file must be saved). */
  changed(): void;
}

interface Outstanding {
  /** PK.SR.ECDSA of the verified certificate. */
  readonly smsrKey: Uint8Array;
  readonly randomChallenge: Uint8Array;
}

const counterOf = (bytes: Uint8Array): number => bytes.reduce((n, b) => n * 256 + b, 0);

export class IsdrKeysets {
  readonly #host: IsdrKeysetHost;
  #outstanding: Outstanding | undefined;

  constructor(host: IsdrKeysetHost) {
    this.#host = host;
  }

  reset(): void {
    this.#outstanding = undefined;
  }

  /** STORE DATA 3A01 or 3A02 addressed to the ISD-R itself. */
  storeData(c: CommandApdu, session: SecureSession | undefined): RApdu {
    // GP §11.11.2.1 P1 b5b4 '01': DGI format. 3A01 says "more blocks" (09), 3A02 "last block" (89).
    if (((c.p1 >> 3) & 0x03) !== 0x01) return done(SW.INCORRECT_P1_P2);
    return c.data[1] === 0x01 ? this.#certificate(c) : this.#keyAgreement(c, session);
  }

  // §3.8 steps 8–12: an SM-SR certificate under the card's CI; PK.SR.ECDSA kept, RC back.
  #certificate(c: CommandApdu): RApdu {
    this.#outstanding = undefined;
    if (c.p2 !== 0x00) return done(SW.INCORRECT_P1_P2);
    const dgi = decodeDgi(c.data);
    if (!dgi.ok || dgi.value.tag !== DGI.KEYSET_CERTIFICATE) return done(SW.INCORRECT_DATA);
    const ci = this.#host.state.ci;
    if (ci === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
    const cert = verifyGpCertificate(dgi.value.value, {
      role: 'sm-sr',
      issuers: [ci],
      now: this.#host.clock.now(),
    });
    if (!cert.ok)
      return done(
        cert.error.code === 'CERT_MALFORMED' ? SW.INCORRECT_DATA : SW.SECURITY_STATUS_NOT_SATISFIED,
      );
    const randomChallenge = new Uint8Array(randomBytes(16));
    this.#outstanding = { smsrKey: cert.value.publicKey, randomChallenge };
    return done(SW.OK, encodeBerTlv(0x85, randomChallenge));
  }

  // Steps 16–21: the key agreement SM-SR2 signed over RC; the ISD-R takes the key set it names.
  #keyAgreement(c: CommandApdu, session: SecureSession | undefined): RApdu {
    const outstanding = this.#outstanding;
    // One 3A02 per RC: a replay, or another try after a refusal, needs a new 3A01.
    this.#outstanding = undefined;
    if (c.p2 !== 0x00 && c.p2 !== 0x01) return done(SW.INCORRECT_P1_P2);
    if (outstanding === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
    const s = this.#host.state;
    const r = establishKeysOnCard({
      storeData: c.data,
      curve: 'P-256',
      ecasdPrivateKey: s.ecasdPrivateKey,
      offCardPublicKey: outstanding.smsrKey,
      randomChallenge: outstanding.randomChallenge,
    });
    if (!r.ok) return done(r.error.sw);
    const p = r.value.parameters;
    const kind = isdrKeysetKind(p.kvn);
    if (kind === undefined || ISD_R_KEYSETS[kind].keyUsageQualifier !== p.keyUsageQualifier || p.kid !== 0x01)
      return done(SW.INCORRECT_DATA);
    const counter = counterOf(p.initialCounter);
    if (kind === 'scp80' && (p.initialCounter.length > 5 || counter > SCP80_COUNTER_MAX))
      return done(SW.INCORRECT_DATA);
    const exists = (kind === 'scp80' ? s.scp80 : s.scp81).some((k) => k.kvn === p.kvn);
    if (this.#host.kvnTaken(p.kvn) || session?.kvn === p.kvn || (exists && !p.deleteExistingKeys))
      return done(SW.CONDITIONS_NOT_SATISFIED);
    const [first, second, third] = r.value.keyset.keys as [Uint8Array, Uint8Array?, Uint8Array?];
    const byKvn = (a: { kvn: number }, b: { kvn: number }) => a.kvn - b.kvn;
    if (kind === 'scp80') {
      if (second === undefined || third === undefined) return done(SW.INCORRECT_DATA);
      s.scp80 = [
        ...s.scp80.filter((k) => k.kvn !== p.kvn),
        {
          kvn: p.kvn,
          kicAlgorithm: 'aes-cbc' as const,
          kic: first.slice(),
          kidAlgorithm: 'aes-cmac' as const,
          kid: second.slice(),
          dek: third.slice(),
        },
      ].sort(byKvn);
      this.#host.keysetsChanged(new Map([[p.kvn, counter]]));
    } else {
      s.scp81 = [...s.scp81.filter((k) => k.kvn !== p.kvn), { kvn: p.kvn, psk: first.slice() }].sort(byKvn);
      this.#host.keysetsChanged(new Map());
    }
    this.#host.changed();
    return done(SW.OK, r.value.response);
  }

  // ES5.FinaliseISDRhandover (§3.8 step 25): delete SM-SR1's key sets, whole, all or none.
  deleteKeysets(c: CommandApdu, session: SecureSession | undefined): RApdu {
    if (c.p1 !== 0x00 || c.p2 !== 0x00) return done(SW.INCORRECT_P1_P2);
    const refs = decodeKeysetDeletion(c.data);
    if (!refs.ok) return done(SW.INCORRECT_DATA);
    const s = this.#host.state;
    const gone = new Set<number>();
    for (const r of refs.value) {
      const kind = isdrKeysetKind(r.kvn);
      const found =
        kind === 'scp80'
          ? s.scp80.some((k) => k.kvn === r.kvn)
          : kind === 'scp81' && s.scp81.some((k) => k.kvn === r.kvn);
      if (!found) return done(SW.REFERENCED_DATA_NOT_FOUND);
      const keys = kind === 'scp80' ? 3 : 1;
      if (r.kidFirst > 0x01 || r.kidLast < keys) return done(SW.INCORRECT_DATA);
      if (session?.kvn === r.kvn) return done(SW.CONDITIONS_NOT_SATISFIED);
      gone.add(r.kvn);
    }
    if (!s.scp80.some((k) => !gone.has(k.kvn))) return done(SW.CONDITIONS_NOT_SATISFIED);
    const removed = s.scp80
      .filter((k) => gone.has(k.kvn))
      .map((k): [number, undefined] => [k.kvn, undefined]);
    s.scp80 = s.scp80.filter((k) => !gone.has(k.kvn));
    s.scp81 = s.scp81.filter((k) => !gone.has(k.kvn));
    this.#host.keysetsChanged(new Map(removed));
    this.#host.changed();
    return done(SW.OK);
  }
}

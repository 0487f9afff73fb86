// The card side of an SM-SR change (SGP.02 §3.8, esim.md §3.2 steps 8–26), by the real APDUs over SCP80:
// SM-SR1 relays ES5.EstablishISDRKeySet (3A01 with SM-SR2's certificate, then the 3A02 SM-SR2 signed),
// SM-SR2 verifies the receipt with src/crypto, deletes SM-SR1's key sets with FinaliseISDRhandover over
// its own, creates its SCP81 key set the same way and updates the addressing; the card file keeps it.
// Threats: a certificate of another role or CI, or a key agreement signed by anyone but the certified
// SM-SR, giving someone a key set on the ISD-R; a 3A02 replayed; a new key set taking over a KVN in
// use; SM-SR1 still reaching the card after the handover; a DELETE that cuts off the SM-SR sending it
// (its own key set, or the last SCP80 key set).

import type { KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { cardFromFile, parseCardFile, withState } from '../../../src/card/card-file.js';
import type { EuiccState } from '../../../src/card/euicc/euicc-state.js';
import { runIsdrScript } from '../../../src/card/euicc/isd-r-ota.js';
import { p256Point } from '../../../src/crypto/sgp-02-certificate-chain.js';
import {
  buildKeyEstablishmentRequest,
  type EstablishedKeyset,
  isdrKeysetParameters,
  type KeyEstablishmentParameters,
  scp80KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../../src/crypto/sgp-02-key-establishment.js';
import type { OtaKeySet } from '../../../src/crypto/ts-102-225-scp80.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { encodeOid, GP_CERT_ROLE_BYTES } from '../../../src/lib/gp-certificate.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import {
  decodeRandomChallenge,
  establishIsdrKeySetApdu,
  establishIsdrKeySetCertificateApdu,
  finaliseIsdrHandoverApdu,
  getStatusApdu,
  isdrKeysetReference,
  updateSmsrAddressingApdu,
} from '../../../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../../../src/lib/ts-102-226-remote-command.js';
import { createTestPki, newKeyPair, PKI_NOW, type TestPki } from '../../helpers/esim-pki.js';
import { booted, type Device, es5, euiccOf, KEYS, pkiEuiccFile } from './fixture.js';

const CLOCK = () => new ManualClock(PKI_NOW);

/** An SM-SR's SCP80 channel to the ISD-R: its key set, KVN and counter (AES: KIc/KID byte KVN ‖ 2). */
class Channel {
  readonly keys: OtaKeySet;
  readonly kvn: number;
  counter: number;

  constructor(keys: OtaKeySet, kvn: number, counter: number) {
    this.keys = keys;
    this.kvn = kvn;
    this.counter = counter;
  }

  send(d: Device, apdus: readonly Uint8Array[]) {
    const byte = (this.kvn << 4) | 0x02;
    return es5(d, apdus, ++this.counter, { keys: this.keys, kic: byte, kid: byte });
  }

  /** Status words of a one-script exchange. */
  sws(d: Device, apdus: readonly Uint8Array[]): string[] {
    return this.send(d, apdus).answers.map((a) => a.sw);
  }
}

const aesKeys = (kic: Uint8Array, kid: Uint8Array): OtaKeySet => ({
  kic: { algorithm: 'aes-cbc', key: kic },
  kid: { algorithm: 'aes-cmac', key: kid },
});

const persistent = (d: Device): EuiccState => euiccOf(d.card).persistentState();
const kvns = (d: Device) => ({
  scp80: persistent(d).scp80.map((k) => k.kvn),
  scp81: persistent(d).scp81.map((k) => k.kvn),
});

interface Rig {
  readonly pki: TestPki;
  readonly d: Device;
  readonly ecasdPublicKey: Uint8Array;
  readonly sr1: Channel;
}

let pki: TestPki;
let otherPki: TestPki;
beforeAll(async () => {
  [pki, otherPki] = await Promise.all([
    createTestPki(),
    createTestPki({ ciName: 'CN=Another eSIM CI,O=simtrust test' }),
  ]);
});

function setUp(): Rig {
  const { file, ecasdPublicKey } = pkiEuiccFile(pki);
  const d = booted(cardFromFile(file, { clock: CLOCK() }));
  return { pki, d, ecasdPublicKey, sr1: new Channel(KEYS, 1, 0) };
}

/**
 * Phases 3 and 4 as the two SM-SRs run them: `via` (SM-SR1, or SM-SR2 itself for its SCP81 key set)
 * sends 3A01 with SM-SR2's certificate; SM-SR2 signs the key agreement over RC; `via` sends 3A02;
 * SM-SR2 checks the receipt (the commit point) and has the key set.
 */
function establish(
  r: Rig,
  via: Channel,
  parameters: KeyEstablishmentParameters,
  smsr: { certificate: Uint8Array; privateKey: KeyObject } = r.pki.smsr,
): EstablishedKeyset {
  const first = via.send(r.d, [establishIsdrKeySetCertificateApdu(smsr.certificate)]);
  expect(first.answers.map((a) => a.sw)).toEqual(['9000']);
  const rc = decodeRandomChallenge(hex(first.answers[0]?.data ?? ''));
  if (!rc.ok) throw new Error(rc.error.message);
  const request = buildKeyEstablishmentRequest({
    curve: 'P-256',
    parameters,
    signingKey: smsr.privateKey,
    randomChallenge: rc.value,
  });
  const second = via.send(r.d, [establishIsdrKeySetApdu(request.storeData)]);
  expect(second.answers.map((a) => a.sw)).toEqual(['9000']);
  const keyset = verifyKeyEstablishmentReceipt({
    curve: 'P-256',
    parameters,
    ephemeralPrivateKey: request.ephemeral.privateKey,
    ecasdPublicKey: r.ecasdPublicKey,
    response: hex(second.answers[0]?.data ?? ''),
  });
  if (!keyset.ok) throw new Error(keyset.error.message);
  return keyset.value;
}

/** SM-SR1's 3A01 with a certificate; the status word and, on success, RC. */
function certificate(r: Rig, cert: Uint8Array): { sw: string; rc?: Uint8Array } {
  const a = r.sr1.send(r.d, [establishIsdrKeySetCertificateApdu(cert)]).answers[0];
  const rc = decodeRandomChallenge(hex(a?.data ?? ''));
  return { sw: a?.sw ?? '', ...(rc.ok ? { rc: rc.value } : {}) };
}

const SR2_SCP80 = isdrKeysetParameters({ kind: 'scp80', kvn: 2, initialCounter: 0x10 });

describe('SM-SR change on the card: EstablishISDRKeySet, FinaliseISDRhandover, the new SCP81 key set', () => {
  it("SM-SR1's keys → SM-SR2's key set by its certificate → receipt verified off-card → Finalise → only SM-SR2's keys work, and the card file keeps them", () => {
    const r = setUp();
    const { d, sr1 } = r;
    expect(kvns(d)).toEqual({ scp80: [1], scp81: [0x40] });
    const oldPsk = toHex(persistent(d).scp81[0]?.psk ?? new Uint8Array(0));

    // Phases 3–4 through SM-SR1 (steps 8–23): SM-SR2's SCP80 key set, KVN 2, counter from 0x10.
    const ks2 = establish(r, sr1, SR2_SCP80);
    const { kic, kid } = scp80KeysFromKeyset(ks2);
    expect(kvns(d).scp80).toEqual([1, 2]);
    // Until the handover is final, SM-SR1 still manages the card.
    expect(sr1.sws(d, [getStatusApdu()])).toEqual(['9000']);

    // Phase 5 (steps 24–25): SM-SR2 over KS2. Its counter starts above the CRT's initial counter.
    const sr2 = new Channel(aesKeys(kic, kid), 2, 0x0f);
    expect(sr2.send(d, [getStatusApdu()]).por.status).toBe(0x02); // CNTR 0x10: not higher, a replay
    expect(
      sr2.sws(d, [finaliseIsdrHandoverApdu([isdrKeysetReference(1), isdrKeysetReference(0x40)])]),
    ).toEqual(['9000']);
    expect(kvns(d)).toEqual({ scp80: [2], scp81: [] });
    // SM-SR1's keys are gone: its packet is not opened, nothing runs.
    const refused = sr1.send(d, [getStatusApdu()]);
    expect(refused.por.status).not.toBe(0);
    expect(refused.answers).toEqual([]);

    // Step 26: SM-SR2's SCP81 key set by another key establishment over KS2, and its addressing.
    const psk = establish(r, sr2, isdrKeysetParameters({ kind: 'scp81', kvn: 0x40 })).keys[0];
    expect(kvns(d)).toEqual({ scp80: [2], scp81: [0x40] });
    expect(toHex(persistent(d).scp81[0]?.psk ?? new Uint8Array(0))).toBe(toHex(psk ?? new Uint8Array(0)));
    expect(toHex(psk ?? new Uint8Array(0))).not.toBe(oldPsk);
    expect(sr2.sws(d, [updateSmsrAddressingApdu({ destination: '4915000000002' })])).toEqual(['9000']);
    const e = euiccOf(d.card);
    expect(e.smsrDestination).toBe('4915000000002');
    // The ISD-R's notifications now go under SM-SR2's key set.
    expect(e.notificationKeys()?.kvn).toBe(2);

    // The card file keeps SM-SR2's key sets and counter; loaded again, only SM-SR2 gets in.
    const saved = parseCardFile(JSON.parse(JSON.stringify(withState(pkiEuiccFile(pki).file, d.card))));
    if (!saved.ok) throw new Error(saved.error.message);
    expect(saved.value.euicc?.isdr.scp80.map((k) => k.kvn)).toEqual([2]);
    expect(saved.value.euicc?.isdr.scp81).toEqual([{ kvn: 0x40, psk: toHex(psk ?? new Uint8Array(0)) }]);
    expect(saved.value.toolkit?.counters['2']).toBe(sr2.counter);
    expect(saved.value.toolkit?.counters['1']).toBeUndefined();
    const reloaded = booted(cardFromFile(saved.value, { clock: CLOCK() }));
    expect(sr2.sws(reloaded, [getStatusApdu()])).toEqual(['9000']);
    expect(sr1.send(reloaded, [getStatusApdu()]).answers).toEqual([]);
    expect(d.card.toolkitFaults).toBe(0);
  });

  it('1 → 2 → 1: the first SM-SR comes back with KVN 1 again, its counter starts anew from its initial counter', () => {
    const r = setUp();
    const { d, sr1 } = r;
    // SM-SR1 (KVN 1, counter already at 50) hands over to SM-SR2 (KVN 2).
    sr1.counter = 50;
    expect(sr1.sws(d, [getStatusApdu()])).toEqual(['9000']);
    const ks2 = scp80KeysFromKeyset(establish(r, sr1, SR2_SCP80));
    const sr2 = new Channel(aesKeys(ks2.kic, ks2.kid), 2, 0x10);
    expect(
      sr2.sws(d, [finaliseIsdrHandoverApdu([isdrKeysetReference(1), isdrKeysetReference(0x40)])]),
    ).toEqual(['9000']);
    // SM-SR1, with a certificate of its own, takes the card back through SM-SR2: KVN 1, counter 0.
    const own = newKeyPair();
    const back = {
      privateKey: own.privateKey,
      certificate: r.pki.gp({
        serial: Uint8Array.of(0x01, 0x03),
        subjectId: encodeOid('1.3.6.1.4.1.99999.1.3'),
        roleByte: GP_CERT_ROLE_BYTES['sm-sr'],
        publicKey: { point: p256Point(own.publicKey), curveRef: 0 },
      }),
    };
    const ks1 = scp80KeysFromKeyset(
      establish(r, sr2, isdrKeysetParameters({ kind: 'scp80', kvn: 1, initialCounter: 0 }), back),
    );
    const sr1again = new Channel(aesKeys(ks1.kic, ks1.kid), 1, 0);
    expect(sr1again.sws(d, [finaliseIsdrHandoverApdu([isdrKeysetReference(2)])])).toEqual(['9000']);
    expect(kvns(d)).toEqual({ scp80: [1], scp81: [] });
    // The old KVN-1 keys (and their counter 51) are gone; the new ones work from counter 1 on.
    expect(sr1again.counter).toBe(1);
    expect(sr1.send(d, [getStatusApdu()]).answers).toEqual([]);
    expect(sr2.send(d, [getStatusApdu()]).answers).toEqual([]);
    expect(sr1again.sws(d, [getStatusApdu()])).toEqual(['9000']);
  });
});

describe('EstablishISDRKeySet refusals', () => {
  it("3A01: only an SM-SR certificate under the card's CI, intact — else no RC", () => {
    const r = setUp();
    expect(certificate(r, r.pki.smdp.certificate)).toEqual({ sw: '6982' }); // wrong role (SM-DP)
    expect(certificate(r, otherPki.smsr.certificate)).toEqual({ sw: '6982' }); // another CI
    const tampered = r.pki.smsr.certificate.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0x01;
    expect(certificate(r, tampered)).toEqual({ sw: '6982' }); // bad signature
    expect(certificate(r, hex('7F2103930101'))).toEqual({ sw: '6A80' }); // not a certificate
    const good = certificate(r, r.pki.smsr.certificate);
    expect(good.sw).toBe('9000');
    expect(good.rc?.length).toBe(16);
  });

  it('3A02: not without 3A01, not signed by another key, not replayed, not for an earlier RC', () => {
    const r = setUp();
    const { d, sr1 } = r;
    const request = (rc: Uint8Array, signer = r.pki.smsr.privateKey) =>
      buildKeyEstablishmentRequest({
        curve: 'P-256',
        parameters: SR2_SCP80,
        signingKey: signer,
        randomChallenge: rc,
      }).storeData;
    // No 3A01 before.
    expect(sr1.sws(d, [establishIsdrKeySetApdu(request(new Uint8Array(16)))])).toEqual(['6985']);
    // Signed by the SM-DP's key, not the certified SM-SR's.
    const rc1 = certificate(r, r.pki.smsr.certificate).rc ?? new Uint8Array(0);
    expect(sr1.sws(d, [establishIsdrKeySetApdu(request(rc1, r.pki.smdp.privateKey))])).toEqual(['6982']);
    // The refusal used up RC: the right signature now needs a new 3A01.
    expect(sr1.sws(d, [establishIsdrKeySetApdu(request(rc1))])).toEqual(['6985']);
    const rc2 = certificate(r, r.pki.smsr.certificate).rc ?? new Uint8Array(0);
    const good = establishIsdrKeySetApdu(request(rc2));
    expect(sr1.sws(d, [good])).toEqual(['9000']);
    // The same 3A02 again (in a new packet): no RC outstanding.
    expect(sr1.sws(d, [good])).toEqual(['6985']);
    // After a new 3A01, the old 3A02 was signed over another RC.
    certificate(r, r.pki.smsr.certificate);
    expect(sr1.sws(d, [good])).toEqual(['6982']);
    expect(kvns(d).scp80).toEqual([1, 2]);
  });

  it('3A02: a KVN in use, outside the ISD-R ranges, or a key usage that does not fit it creates nothing', () => {
    const r = setUp();
    const { d, sr1 } = r;
    const attempt = (parameters: KeyEstablishmentParameters) => {
      const rc = certificate(r, r.pki.smsr.certificate).rc ?? new Uint8Array(0);
      const { storeData } = buildKeyEstablishmentRequest({
        curve: 'P-256',
        parameters,
        signingKey: r.pki.smsr.privateKey,
        randomChallenge: rc,
      });
      return sr1.sws(d, [establishIsdrKeySetApdu(storeData)]);
    };
    const before = JSON.stringify(persistent(d), (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));
    // SM-SR1's own KVN 1 (SCP80) and 40 (SCP81).
    expect(attempt(isdrKeysetParameters({ kind: 'scp80', kvn: 1 }))).toEqual(['6985']);
    expect(attempt(isdrKeysetParameters({ kind: 'scp81', kvn: 0x40 }))).toEqual(['6985']);
    // "Delete existing keys" may not replace the key set this script came under.
    expect(attempt(isdrKeysetParameters({ kind: 'scp80', kvn: 1, deleteExistingKeys: true }))).toEqual([
      '6985',
    ]);
    // KVN 30 is an ISD-P SCP03 number; three keys for an SCP81 KVN; one key for an SCP80 KVN; KID 02 first.
    expect(attempt({ ...SR2_SCP80, kvn: 0x30 })).toEqual(['6A80']);
    expect(attempt({ ...SR2_SCP80, kvn: 0x41 })).toEqual(['6A80']);
    expect(attempt({ ...isdrKeysetParameters({ kind: 'scp81', kvn: 0x41 }), kvn: 3 })).toEqual(['6A80']);
    expect(attempt({ ...SR2_SCP80, kid: 2 })).toEqual(['6A80']);
    // HostID and SDIN in the CRT: the ISD-R has no SIN to derive with.
    const hostIdentification = { hostId: new Uint8Array(16).fill(1), sin: hex('0102'), sdin: hex('0304') };
    expect(attempt({ ...SR2_SCP80, hostIdentification })).toEqual(['6A80']);
    expect(JSON.stringify(persistent(d), (_k, v) => (v instanceof Uint8Array ? toHex(v) : v))).toBe(before);
    // With "delete existing keys", a key set of another KVN is replaced: new keys, the same KVN.
    const first = scp80KeysFromKeyset(establish(r, sr1, SR2_SCP80));
    const again = scp80KeysFromKeyset(
      establish(r, sr1, isdrKeysetParameters({ kind: 'scp80', kvn: 2, deleteExistingKeys: true })),
    );
    expect(toHex(again.kic)).not.toBe(toHex(first.kic));
    expect(kvns(d).scp80).toEqual([1, 2]);
    expect(toHex(persistent(d).scp80[1]?.kic ?? new Uint8Array(0))).toBe(toHex(again.kic));
  });
});

describe('FinaliseISDRhandover refusals', () => {
  it('unknown key set, part of a key set, the key set securing the script, the last SCP80 key set: nothing deleted', () => {
    const r = setUp();
    const { d, sr1 } = r;
    const { kic, kid } = scp80KeysFromKeyset(establish(r, sr1, SR2_SCP80));
    const sr2 = new Channel(aesKeys(kic, kid), 2, 0x10);
    const del = (refs: Parameters<typeof finaliseIsdrHandoverApdu>[0]) => finaliseIsdrHandoverApdu(refs);
    expect(sr2.sws(d, [del([isdrKeysetReference(5)])])).toEqual(['6A88']);
    expect(sr2.sws(d, [del([isdrKeysetReference(0x41)])])).toEqual(['6A88']);
    expect(sr2.sws(d, [del([{ kvn: 1, kidFirst: 1, kidLast: 1 }])])).toEqual(['6A80']);
    // All or nothing: SM-SR1's SCP81 set is fine, but KVN 2 secures this very script.
    expect(sr2.sws(d, [del([isdrKeysetReference(0x40), isdrKeysetReference(2)])])).toEqual(['6985']);
    expect(sr1.sws(d, [del([isdrKeysetReference(1)])])).toEqual(['6985']);
    expect(sr2.sws(d, [hex('80E4000000')])).toEqual(['6A80']);
    expect(sr2.sws(d, [hex('80E4004005F203010103')])).toEqual(['6A86']);
    expect(kvns(d)).toEqual({ scp80: [1, 2], scp81: [0x40] });
    // Without a channel that names its key set: never the last SCP80 key set.
    const e = euiccOf(d.card);
    const script = (apdus: Uint8Array[]) => {
      const out = decodeResponseScript(runIsdrScript(e, commandScript(apdus)).response);
      return out.ok
        ? out.value.items.flatMap((i) => (i.type === 'r-apdu' ? [toHex(i.statusWord).toUpperCase()] : []))
        : [];
    };
    expect(script([del([isdrKeysetReference(1), isdrKeysetReference(2)])])).toEqual(['6985']);
    expect(script([del([isdrKeysetReference(1)])])).toEqual(['9000']);
    expect(kvns(d)).toEqual({ scp80: [2], scp81: [0x40] });
  });
});

// SGP.02 key establishment scenario #3 (ES8.EstablishISDPKeySet / ES5.EstablishISDRKeySet), both ends.
// Threats: a party without SK.X.ECDSA (or replaying an old STORE DATA against a new RC) making the card
// accept its key set; an SM-SR on the path altering the CRT, ePK, signature or the card's answer; a
// card that is not this ECASD. Golden vectors in test/fixtures/esim/sgp-02-key-establishment.json were
// made once by an independent implementation (pyca/cryptography, the .py beside it).

import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildKeyEstablishmentRequest,
  decodeEcPublicKeyTlvValue,
  decodeKeyEstablishmentCrt,
  decodeKeyEstablishmentResponse,
  ecdsaSignSha256,
  ecdsaVerifySha256,
  eckaSharedSecret,
  ecPublicKeyFromPrivate,
  encodeKeyEstablishmentCrt,
  establishKeysOnCard,
  generateEcKeyPair,
  type KeyEstablishmentParameters,
  type KeyUsageQualifier,
  keyEstablishmentSharedInfo,
  type Sgp02Curve,
  scp03KeysFromKeyset,
  scp80KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../src/crypto/sgp-02-key-establishment.js';
import { Scp03tCard, Scp03tHost } from '../../src/crypto/sgp-02-scp03t.js';
import { hex, toHex } from '../../src/lib/hex.js';
import golden from '../fixtures/esim/sgp-02-key-establishment.json' with { type: 'json' };

interface GoldenCase {
  name: string;
  curve: Sgp02Curve;
  ecasdPrivateKey: string;
  ecasdPublicKey: string;
  offCardPrivateKey: string;
  offCardPublicKey: string;
  ephemeralPrivateKey: string;
  ephemeralPublicKey: string;
  randomChallenge: string;
  derivationRandom: string;
  parameters: {
    keyUsageQualifier: number;
    kvn: number;
    kid: number;
    initialCounter: string;
    hostIdentification?: { hostId: string; sin: string; sdin: string };
  };
  crt: string;
  signedData: string;
  signature: string;
  storeData: string;
  sharedSecret: string;
  sharedInfo: string;
  keyData: string;
  receipt: string;
  response: string;
  keys: string[];
}

const CASES = golden.cases as GoldenCase[];

function params(c: GoldenCase): KeyEstablishmentParameters {
  const h = c.parameters.hostIdentification;
  return {
    keyUsageQualifier: c.parameters.keyUsageQualifier as KeyUsageQualifier,
    kvn: c.parameters.kvn,
    kid: c.parameters.kid,
    initialCounter: hex(c.parameters.initialCounter),
    ...(h ? { hostIdentification: { hostId: hex(h.hostId), sin: hex(h.sin), sdin: hex(h.sdin) } } : {}),
  };
}

function onCard(
  c: GoldenCase,
  storeData: Uint8Array,
  overrides: { randomChallenge?: Uint8Array; offCardPublicKey?: Uint8Array } = {},
) {
  return establishKeysOnCard({
    storeData,
    curve: c.curve,
    ecasdPrivateKey: hex(c.ecasdPrivateKey),
    offCardPublicKey: overrides.offCardPublicKey ?? hex(c.offCardPublicKey),
    randomChallenge: overrides.randomChallenge ?? hex(c.randomChallenge),
    derivationRandom: hex(c.derivationRandom),
    ...(c.parameters.hostIdentification ? { sin: hex(c.parameters.hostIdentification.sin) } : {}),
  });
}

describe('golden vectors (independent implementation)', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it('keys, CRT, ECKA shared secret and SharedInfo', () => {
        expect(toHex(ecPublicKeyFromPrivate(c.curve, hex(c.ecasdPrivateKey)))).toBe(c.ecasdPublicKey);
        expect(toHex(ecPublicKeyFromPrivate(c.curve, hex(c.offCardPrivateKey)))).toBe(c.offCardPublicKey);
        expect(toHex(ecPublicKeyFromPrivate(c.curve, hex(c.ephemeralPrivateKey)))).toBe(c.ephemeralPublicKey);
        expect(toHex(encodeKeyEstablishmentCrt(params(c)))).toBe(c.crt);
        const card = eckaSharedSecret(c.curve, hex(c.ecasdPrivateKey), hex(c.ephemeralPublicKey));
        const host = eckaSharedSecret(c.curve, hex(c.ephemeralPrivateKey), hex(c.ecasdPublicKey));
        expect(card.ok && toHex(card.value)).toBe(c.sharedSecret);
        expect(host.ok && toHex(host.value)).toBe(c.sharedSecret);
        expect(toHex(keyEstablishmentSharedInfo(params(c), hex(c.derivationRandom)))).toBe(c.sharedInfo);
      });

      it('off-card: the 3A02 STORE DATA matches byte for byte up to the (randomised) signature, which verifies', () => {
        const request = buildKeyEstablishmentRequest({
          curve: c.curve,
          parameters: params(c),
          signingKey: hex(c.offCardPrivateKey),
          randomChallenge: hex(c.randomChallenge),
          ephemeral: { privateKey: hex(c.ephemeralPrivateKey), publicKey: hex(c.ephemeralPublicKey) },
        });
        const unsignedLength = c.storeData.length / 2 - 2 - 1 - 64;
        expect(toHex(request.storeData.subarray(0, unsignedLength))).toBe(
          c.storeData.slice(0, unsignedLength * 2),
        );
        expect(
          ecdsaVerifySha256(c.curve, hex(c.offCardPublicKey), hex(c.signedData), request.signature),
        ).toBe(true);
        expect(ecdsaVerifySha256(c.curve, hex(c.offCardPublicKey), hex(c.signedData), hex(c.signature))).toBe(
          true,
        );
      });

      it("on-card: accepts the vector's STORE DATA and answers with the vector's DR and receipt and keys", () => {
        const r = onCard(c, hex(c.storeData));
        if (!r.ok) throw new Error(r.error.message);
        expect(toHex(r.value.response)).toBe(c.response);
        expect(r.value.keyset.keys.map(toHex)).toEqual(c.keys);
        expect(r.value.keyset.kvn).toBe(c.parameters.kvn);
      });

      it("off-card: verifies the vector's receipt and derives the same keys", () => {
        const r = verifyKeyEstablishmentReceipt({
          curve: c.curve,
          parameters: params(c),
          ephemeralPrivateKey: hex(c.ephemeralPrivateKey),
          ecasdPublicKey: hex(c.ecasdPublicKey),
          response: hex(c.response),
        });
        expect(r.ok && r.value.keys.map(toHex)).toEqual(c.keys);
      });
    });
  }
});

const CURVES: Sgp02Curve[] = ['P-256', 'brainpoolP256r1'];

describe('both ends against each other', () => {
  it('random keys, both curves, one and three keys: the card and the SM-DP/SM-SR hold the same key set', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURVES),
        fc.constantFrom<KeyUsageQualifier>(0x5c, 0x10),
        fc.integer({ min: 0x30, max: 0x3f }),
        fc.uint8Array({ minLength: 16, maxLength: 32 }),
        fc.boolean(),
        (curve, usage, kvn, rc, withHost) => {
          const ecasd = generateEcKeyPair(curve);
          const dp = generateEcKeyPair(curve);
          const h = { hostId: hex('00112233445566778899aabbccddeeff'), sin: hex('0102'), sdin: hex('0304') };
          const parameters: KeyEstablishmentParameters = {
            keyUsageQualifier: usage,
            kvn,
            kid: 1,
            initialCounter: new Uint8Array(0),
            ...(withHost ? { hostIdentification: h } : {}),
          };
          const req = buildKeyEstablishmentRequest({
            curve,
            parameters,
            signingKey: dp.privateKey,
            randomChallenge: rc,
          });
          const card = establishKeysOnCard({
            storeData: req.storeData,
            curve,
            ecasdPrivateKey: ecasd.privateKey,
            offCardPublicKey: dp.publicKey,
            randomChallenge: rc,
            ...(withHost ? { sin: h.sin } : {}),
          });
          if (!card.ok) throw new Error(card.error.message);
          const host = verifyKeyEstablishmentReceipt({
            curve,
            parameters,
            ephemeralPrivateKey: req.ephemeral.privateKey,
            ecasdPublicKey: ecasd.publicKey,
            response: card.value.response,
          });
          expect(host.ok && host.value.keys.map(toHex)).toEqual(card.value.keyset.keys.map(toHex));
          expect(card.value.keyset.keys.length).toBe(usage === 0x5c ? 1 : 3);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('the ISD-P key set opens SCP03t between the SM-DP and the ISD-P (one key as ENC = MAC = DEK)', () => {
    const c = CASES[0] as GoldenCase;
    const card = onCard(c, hex(c.storeData));
    if (!card.ok) throw new Error('vector');
    const keys = scp03KeysFromKeyset(card.value.keyset);
    const host = new Scp03tHost({ keys, kvn: card.value.keyset.kvn });
    const isdp = new Scp03tCard({
      keys,
      kvn: 0x30,
      keyDiversificationData: new Uint8Array(10),
      sdAid: hex('A0000005591010FFFFFFFF8900001000'),
      sequenceCounter: 0,
    });
    const iu = isdp.receive(host.initializeUpdate());
    const ext = host.externalAuthenticate(
      iu.ok && iu.value.kind === 'initialize-update' ? iu.value.response : new Uint8Array(),
    );
    expect(ext.ok).toBe(true);
    expect(isdp.receive(ext.ok ? ext.value : new Uint8Array()).ok).toBe(true);
    expect(() => scp80KeysFromKeyset(card.value.keyset)).toThrow(RangeError);
    const isdr = onCard(CASES[1] as GoldenCase, hex((CASES[1] as GoldenCase).storeData));
    expect(isdr.ok && toHex(scp80KeysFromKeyset(isdr.value.keyset).kid)).toBe(
      (CASES[1] as GoldenCase).keys[1],
    );
  });
});

describe('keys held as node KeyObjects (as the platform decrypts them from the store)', () => {
  it('a KeyObject signing key and ECASD key give the same results as their raw scalars', () => {
    for (const c of CASES) {
      // RFC 5915 ECPrivateKey without the optional public key, written out by hand.
      const oid = c.curve === 'P-256' ? '06082a8648ce3d030107' : '06092b2403030208010107';
      const asObject = (d: string) => {
        const body = `020101 0420${d} a0${(oid.length / 2).toString(16).padStart(2, '0')}${oid}`.replace(
          / /g,
          '',
        );
        const der = hex(`30${(body.length / 2).toString(16)}${body}`);
        return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'sec1' });
      };
      const ecasd = asObject(c.ecasdPrivateKey);
      expect(toHex(ecPublicKeyFromPrivate(c.curve, ecasd))).toBe(c.ecasdPublicKey);
      const card = establishKeysOnCard({
        storeData: hex(c.storeData),
        curve: c.curve,
        ecasdPrivateKey: ecasd,
        offCardPublicKey: hex(c.offCardPublicKey),
        randomChallenge: hex(c.randomChallenge),
        derivationRandom: hex(c.derivationRandom),
        ...(c.parameters.hostIdentification ? { sin: hex(c.parameters.hostIdentification.sin) } : {}),
      });
      expect(card.ok && toHex(card.value.response), c.name).toBe(c.response);
      const signer = asObject(c.offCardPrivateKey);
      const sig = ecdsaSignSha256(c.curve, signer, hex(c.signedData));
      expect(ecdsaVerifySha256(c.curve, hex(c.offCardPublicKey), hex(c.signedData), sig)).toBe(true);
    }
  });

  it('a KeyObject on another curve, or a public key object, is refused', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' });
    expect(() => ecdsaSignSha256('P-256', privateKey, hex('00'))).toThrow(RangeError);
    expect(() => ecdsaSignSha256('brainpoolP256r1', publicKey, hex('00'))).toThrow(RangeError);
  });
});

describe('threats', () => {
  const c = CASES[0] as GoldenCase;

  it('any flipped bit of the STORE DATA (DGI, CRT, ePK, signature) is refused by the card', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const data = hex(c.storeData);
        const index = at % data.length;
        data[index] = (data[index] as number) ^ (1 << bit);
        const r = onCard(c, data);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toMatch(/^SGP02_KE_/);
      }),
      { numRuns: 300 },
    );
  });

  it('every byte of the signature and of the ePK matters (exhaustive, one bit each)', () => {
    const data = hex(c.storeData);
    const epkStart = 3 + hex(c.crt).length;
    for (let i = epkStart; i < data.length; i++) {
      const copy = data.slice();
      copy[i] = (copy[i] as number) ^ 0x40;
      expect(onCard(c, copy).ok, `byte ${i}`).toBe(false);
    }
  });

  it('a replayed STORE DATA against a new RC, or one signed by another key, is refused', () => {
    const rc = hex(c.randomChallenge);
    rc[0] = (rc[0] as number) ^ 1;
    const replay = onCard(c, hex(c.storeData), { randomChallenge: rc });
    expect(!replay.ok && replay.error.code).toBe('SGP02_KE_SIGNATURE');
    const other = generateEcKeyPair('P-256');
    const impostor = onCard(c, hex(c.storeData), { offCardPublicKey: other.publicKey });
    expect(!impostor.ok && [impostor.error.code, impostor.error.sw]).toEqual(['SGP02_KE_SIGNATURE', 0x6982]);
  });

  it('any flipped bit of the card answer (DR or receipt) is refused off-card; so is another ECASD', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const response = hex(c.response);
        const index = at % response.length;
        response[index] = (response[index] as number) ^ (1 << bit);
        const r = verifyKeyEstablishmentReceipt({
          curve: c.curve,
          parameters: params(c),
          ephemeralPrivateKey: hex(c.ephemeralPrivateKey),
          ecasdPublicKey: hex(c.ecasdPublicKey),
          response,
        });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
    const r = verifyKeyEstablishmentReceipt({
      curve: c.curve,
      parameters: params(c),
      ephemeralPrivateKey: hex(c.ephemeralPrivateKey),
      ecasdPublicKey: generateEcKeyPair('P-256').publicKey,
      response: hex(c.response),
    });
    expect(!r.ok && r.error.code).toBe('SGP02_KE_RECEIPT');
  });

  it('an ePK off the curve, or on another curve than the ECASD, is refused even when properly signed', () => {
    const dp = hex(c.offCardPrivateKey);
    // brainpool ePK signed with a valid signature for a P-256 ECASD.
    const bp = CASES[2] as GoldenCase;
    const req = buildKeyEstablishmentRequest({
      curve: 'brainpoolP256r1',
      parameters: params(c),
      signingKey: dp.slice(),
      randomChallenge: hex(c.randomChallenge),
      ephemeral: { privateKey: hex(bp.ephemeralPrivateKey), publicKey: hex(bp.ephemeralPublicKey) },
    });
    const r = establishKeysOnCard({
      storeData: req.storeData,
      curve: 'P-256',
      ecasdPrivateKey: hex(c.ecasdPrivateKey),
      offCardPublicKey: ecPublicKeyFromPrivate('brainpoolP256r1', dp),
      offCardCurve: 'brainpoolP256r1',
      randomChallenge: hex(c.randomChallenge),
    });
    expect(!r.ok && r.error.code).toBe('SGP02_KE_CURVE');
    const offCurve = hex(c.ephemeralPublicKey);
    offCurve[64] = (offCurve[64] as number) ^ 1;
    expect(decodeEcPublicKeyTlvValue(hex(`b041${toHex(offCurve)}f00100`)).ok).toBe(false);
    expect(eckaSharedSecret('P-256', hex(c.ecasdPrivateKey), offCurve).ok).toBe(false);
  });

  it('ECDSA: r ‖ s of the wrong length or a key off the curve verify as false, never throw', () => {
    const sig = ecdsaSignSha256('P-256', hex(c.offCardPrivateKey), hex('01'));
    expect(ecdsaVerifySha256('P-256', hex(c.offCardPublicKey), hex('01'), sig)).toBe(true);
    expect(ecdsaVerifySha256('P-256', hex(c.offCardPublicKey), hex('01'), sig.subarray(1))).toBe(false);
    expect(ecdsaVerifySha256('P-256', new Uint8Array(65), hex('01'), sig)).toBe(false);
    expect(ecdsaVerifySha256('P-256', hex(c.offCardPublicKey), hex('01'), new Uint8Array(64))).toBe(false);
  });
});

describe('decoders are total (fuzz)', () => {
  const c = CASES[1] as GoldenCase;

  it('the on-card STORE DATA decoder: random and mutated inputs give a typed error or a result', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(
              fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
              fc.nat({ max: 200 }),
            )
            .map(([edits, cut]) => {
              const data = hex(c.storeData);
              for (const [at, v] of edits) data[at % data.length] = v;
              return data.subarray(0, Math.max(0, data.length - cut));
            }),
          fc
            .uint8Array({ maxLength: 200 })
            .map((tail) => Uint8Array.from([0x3a, 0x02, tail.length, ...tail])),
        ),
        (bytes) => {
          const r = onCard(c, bytes);
          if (!r.ok) expect(r.error.code).toMatch(/^SGP02_KE_[A-Z_]+$/);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the CRT decoder: decode(encode(p)) = p, and hostile values fail with a code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<KeyUsageQualifier>(0x5c, 0x10),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        (usage, kvn, kid, counter, del, host) => {
          const h = { hostId: hex('aa'), sin: hex('bb'), sdin: hex('cc') };
          const p: KeyEstablishmentParameters = {
            keyUsageQualifier: usage,
            kvn,
            kid,
            initialCounter: counter,
            ...(del ? { deleteExistingKeys: true } : {}),
            ...(host ? { hostIdentification: h } : {}),
          };
          const crt = encodeKeyEstablishmentCrt(p);
          const r = decodeKeyEstablishmentCrt(crt.subarray(2), h.sin);
          expect(r.ok && toHex(encodeKeyEstablishmentCrt(r.value))).toBe(toHex(crt));
        },
      ),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const r = decodeKeyEstablishmentCrt(bytes, hex('01'));
        if (r.ok) expect(toHex(encodeKeyEstablishmentCrt(r.value).subarray(2))).toBe(toHex(bytes));
        else expect(r.error.code).toBe('SGP02_KE_CRT');
      }),
    );
  });

  it('the answer and ePK decoders', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const a = decodeKeyEstablishmentResponse(bytes);
        if (!a.ok) expect(a.error.code).toMatch(/^SGP02_KE_/);
        const b = decodeEcPublicKeyTlvValue(bytes);
        if (!b.ok) expect(b.error.code).toMatch(/^SGP02_KE_/);
      }),
    );
    const ok = decodeKeyEstablishmentResponse(hex(c.response));
    expect(ok.ok && toHex(ok.value.receipt)).toBe(c.receipt);
  });

  it('ECKA and ECDSA with raw keys: hostile public keys give an error or false, never a throw; results as with imported KeyObjects', () => {
    const jwkOf = (curve: Sgp02Curve, k: { privateKey: Uint8Array; publicKey: Uint8Array }) => ({
      kty: 'EC',
      crv: curve === 'P-256' ? 'P-256' : 'brainpoolP256r1',
      d: Buffer.from(k.privateKey).toString('base64url'),
      x: Buffer.from(k.publicKey.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(k.publicKey.subarray(33)).toString('base64url'),
    });
    fc.assert(
      fc.property(
        fc.constantFrom<Sgp02Curve>('P-256'),
        fc.uint8Array({ minLength: 0, maxLength: 70 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 255 }),
        (curve, junk, at, flip) => {
          const mine = generateEcKeyPair(curve);
          const peer = generateEcKeyPair(curve);
          // The reference: node's diffieHellman over KeyObjects imported independently (JWK).
          const reference = diffieHellman({
            privateKey: createPrivateKey({ key: jwkOf(curve, mine), format: 'jwk' }),
            publicKey: createPublicKey({
              key: { ...jwkOf(curve, peer), d: undefined },
              format: 'jwk',
            }),
          });
          const shs = eckaSharedSecret(curve, mine.privateKey, peer.publicKey);
          expect(shs.ok && toHex(shs.value)).toBe(toHex(reference));
          // A point with one byte changed (off the curve, or another point), and any bytes at all.
          const bent = peer.publicKey.slice();
          bent[at] = (bent[at] ?? 0) ^ flip;
          for (const hostile of [bent, junk, Uint8Array.of(0x04, ...junk)]) {
            const r = eckaSharedSecret(curve, mine.privateKey, hostile);
            if (!r.ok) expect(r.error.code).toBe('SGP02_KE_PUBLIC_KEY');
            else expect(hostile[0]).toBe(0x04);
            const data = Uint8Array.of(1, 2, 3);
            const signature = ecdsaSignSha256(curve, peer.privateKey, data);
            expect(ecdsaVerifySha256(curve, hostile, data, signature)).toBe(false);
            // The key memo does not turn a refusal into an acceptance, nor the reverse.
            expect(ecdsaVerifySha256(curve, peer.publicKey, data, signature)).toBe(true);
            expect(ecdsaVerifySha256(curve, hostile, data, signature)).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

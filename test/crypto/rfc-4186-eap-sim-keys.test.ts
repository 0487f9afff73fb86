import { describe, expect, it } from 'vitest';
import { deriveSimKeys, simMasterKey } from '../../src/crypto/rfc-4186-eap-sim-keys.js';
import { hex, toHex } from '../../src/lib/hex.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

// RFC 4186 Appendix A (test vectors): identity, the three triplets' Kc, NONCE_MT, version list and the
// MK / keys the RFC lists.
const rfc4186 = {
  identity: '1244070100000001@eapsim.foo',
  kcs: ['a0a1a2a3a4a5a6a7', 'b0b1b2b3b4b5b6b7', 'c0c1c2c3c4c5c6c7'],
  nonceMt: '0123456789abcdeffedcba9876543210',
  versionList: [1],
  selectedVersion: 1,
  mk: 'e576d5ca332e9930018bf1baee2763c795b3c712',
  kEncr: '536e5ebc4465582aa6a8ec9986ebb620',
  kAut: '25af1942efcbf4bc72b3943421f2a974',
  msk: '39d45aeaf4e30601983e972b6cfd46d1c363773365690d09cd44976b525f47d3a60a985e955c53b090b2e4b73719196a402542968fd14a888f46b9a7886e4488',
  emsk: '5949eab0fff69d52315c6c634fd14a7f0d52023d56f79698fa6596abeed4f93fbb48eb534d985414ceed0d9a8ed33c387c9dfdab92ffbdf240fcecf65a2c93b9',
};

describe('RFC 4186 §7 EAP-SIM keys', () => {
  const input = {
    identity: utf8(rfc4186.identity),
    kcs: rfc4186.kcs.map(hex),
    nonceMt: hex(rfc4186.nonceMt),
    versionList: rfc4186.versionList,
    selectedVersion: rfc4186.selectedVersion,
  };

  it('derives the RFC 4186 Appendix A master key', () => {
    expect(toHex(simMasterKey(input))).toBe(rfc4186.mk);
  });

  it('derives K_encr, K_aut, MSK and EMSK of RFC 4186 Appendix A', () => {
    const keys = deriveSimKeys(input);
    expect(toHex(keys.mk)).toBe(rfc4186.mk);
    expect(toHex(keys.kEncr)).toBe(rfc4186.kEncr);
    expect(toHex(keys.kAut)).toBe(rfc4186.kAut);
    expect(toHex(keys.msk)).toBe(rfc4186.msk);
    expect(toHex(keys.emsk)).toBe(rfc4186.emsk);
  });

  it('depends on the order of the Kc values', () => {
    const swapped = { ...input, kcs: [...input.kcs].reverse() };
    expect(toHex(simMasterKey(swapped))).not.toBe(rfc4186.mk);
  });
});

import { describe, expect, it } from 'vitest';
import {
  akaMasterKey,
  deriveAkaKeys,
  deriveReauthKeys,
  eapSessionId,
  keysFromMasterKey,
} from '../../src/crypto/rfc-4187-eap-aka-keys.js';
import { hex, toHex } from '../../src/lib/hex.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('RFC 4187 §7 EAP-AKA keys', () => {
  // A live hostapd 2.10 ⇄ wpa_supplicant (eapol_test) EAP-AKA run: the identity, IK and CK the server
  // used and every key it printed (reference/cellular.md §2.4).
  const live = {
    identity: '0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org',
    ik: '2865f4362b3a931e578dd287625f2f3a',
    ck: '5b9e5bce1b0ac5c4db6525871713cf1b',
    mk: '6c36748ff34f56f1ba3c3e7effe4071c712c6cbe',
    kEncr: '5813d4229a79ef058e94b819cca44fdb',
    kAut: 'c661c9a84ab42fd6f87cfd66c6c62b6a',
    msk: '5185690e416ccee364e19c04236c7f5c68a49a2f5fd63f12ee4fa266038da3c5eb49876a5e7a368da9b283ba297a616dead6544b335af45bfbe9d649e3191f08',
    emsk: '4442f0aabb18ba035621a6c02cdb8e2268667df8a7d81155c371d53b74f0fafb81ff8c4cfe936c1d65f32e2bf4fe2dcbce33b438a807e564436f955b2b12001c',
  };

  it('derives MK, K_encr, K_aut, MSK and EMSK of the live hostapd run', () => {
    const keys = deriveAkaKeys(utf8(live.identity), hex(live.ik), hex(live.ck));
    expect(toHex(keys.mk)).toBe(live.mk);
    expect(toHex(keys.kEncr)).toBe(live.kEncr);
    expect(toHex(keys.kAut)).toBe(live.kAut);
    expect(toHex(keys.msk)).toBe(live.msk);
    expect(toHex(keys.emsk)).toBe(live.emsk);
  });

  it('MK is SHA1(Identity | IK | CK) — IK before CK', () => {
    expect(toHex(akaMasterKey(utf8(live.identity), hex(live.ik), hex(live.ck)))).toBe(live.mk);
    expect(toHex(akaMasterKey(utf8(live.identity), hex(live.ck), hex(live.ik)))).not.toBe(live.mk);
  });

  it('matches FreeRADIUS eap_aka_sim test "rfc4187_vector0" (Milenage set 19 IK/CK)', () => {
    const keys = deriveAkaKeys(
      utf8('0555444333222111'),
      hex('9744871ad32bf9bbd1dd5ce54e3e2e5a'),
      hex('5349fbe098649f948f5d2e973a81c00f'),
    );
    expect(toHex(keys.kEncr)).toBe('18e8b20bcda70486fd5959586a9e7c3d');
    expect(toHex(keys.kAut)).toBe('18c044070e5e642a2643876ff7a83812');
    expect(toHex(keys.msk)).toBe(
      '352ffaef2df120cb22410b9c0b70623cb5a35bc9fcd6bca0fc337b48b17630890a03375cfd1e64cbd6bf8304374dd2e139d64ed1a6d618ffefb08c26a6bb3585',
    );
    expect(toHex(keys.emsk)).toBe(
      '9e0659ae03977dcbb1d64d2405e11082a91adb9ac7f7bd0b74a61ec0e980b36fa0c3988b6e11ef12528e3804b32df1bc52f6249fa96dc94c94a3d9b148f4f996',
    );
  });

  it('derives fast re-authentication MSK/EMSK (FreeRADIUS eap_aka_sim rfc4186_vector0_reauth: RFC 4186 MK and re-auth id)', () => {
    const reauth = deriveReauthKeys(
      utf8('Y24fNSrz8BP274jOJaF17WfxI8YO7QX00pMXk9XMMVOw7broaNhTczuFq53aEpOkk3L0dm@eapsim.foo'),
      1,
      hex('0123456789abcdeffedcba9876543210'),
      hex('e576d5ca332e9930018bf1baee2763c795b3c712'),
    );
    expect(toHex(reauth.msk)).toBe(
      '6263f614973895e1335f7e30cff028ee2176f519002c9abe732fe0ef00cf167c756d9e4ced6d5ed640eb3fe38565ca076e7fb8a817cfe8d9adbce441d47c4f5e',
    );
    expect(toHex(reauth.emsk)).toBe(
      '3d8ff7863a630b2b06e2cf209684c13f6b82f992f2b06f1b54bf51ef237f2a401ef5e0d7e098a34c533eaebf34578854b772152620a777f0e0340884a294fb73',
    );
  });

  it('keysFromMasterKey splits the 160 PRF bytes in the RFC order', () => {
    const keys = keysFromMasterKey(hex(live.mk));
    expect([keys.kEncr.length, keys.kAut.length, keys.msk.length, keys.emsk.length]).toEqual([
      16, 16, 64, 64,
    ]);
    expect(toHex(keys.kEncr)).toBe(live.kEncr);
  });

  it("builds the RFC 5247 Session-Id: 0x17 | RAND | AUTN for EAP-AKA, 0x32 for AKA'", () => {
    const rand = hex('81e92b6c0ee0e12ebceba8d92a99dfa5');
    const autn = hex('bb52e91c747ac3ab2a5c23d15ee351d5');
    expect(toHex(eapSessionId('aka', rand, autn))).toBe(`17${toHex(rand)}${toHex(autn)}`);
    expect(toHex(eapSessionId('akaPrime', rand, autn)).slice(0, 2)).toBe('32');
    expect(toHex(eapSessionId('sim', rand)).slice(0, 2)).toBe('12');
  });
});

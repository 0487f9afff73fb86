// An eUICC card with known keys, a modem around it, and the SM-SR's side of ES5 over SMS: ES5 C-APDUs
// in a TS 102 226 expanded script, secured with SCP80 for the ISD-R TAR (src/lib, as the platform
// does), delivered as SMS-PP; the PoR and the default notifications opened from the MO SMS.

import { expect } from 'vitest';
import { type CardFile, cardFromFile } from '../../../src/card/card-file.js';
import type { Euicc } from '../../../src/card/euicc/euicc.js';
import { newEuiccCardFile } from '../../../src/card/euicc/issue.js';
import { ISD_R_TAR, isdpAid } from '../../../src/card/euicc/sgp-02-annex-h.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../src/lib/identities.js';
import { type DefaultNotification, decodeNotification } from '../../../src/lib/sgp-02-es5.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  reassembleSecuredPacket,
  type UserData,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import {
  type OpenedResponsePacket,
  openCommandPacket,
  openResponsePacket,
} from '../../../src/lib/ts-102-225-secured-packet.js';
import { commandScript, decodeResponseScript } from '../../../src/lib/ts-102-226-remote-command.js';
import type { TestPki } from '../../helpers/esim-pki.js';
import { fixtureOptions } from '../fixture.js';
import {
  type CommandOptions,
  cell,
  commandSms,
  type Device,
  device,
  KEYS,
  KIC,
  KIC_BYTE,
  KID,
  KID_BYTE,
  openSecured,
  PLATFORM,
} from '../toolkit/fixture.js';

export const EID = '89049032123451234512345678901235';
export const TAR = hex(ISD_R_TAR);
export const BOOTSTRAP = isdpAid(0x10);
export const SECOND = isdpAid(0x11);
export const THIRD = isdpAid(0x12);
/** An opaque CERT.ECASD.ECKA stand-in (the PKI issues the real one). */
export const ECASD_CERT = hex('7F2108930101420101F00100');

export const SECOND_PROFILE = {
  identity: {
    iccid: iccidWithCheckDigit('894400000000000002'),
    imsi: '001010000000002',
    msisdn: '817000000002',
    mncLength: 2 as const,
  },
  ki: hex('000102030405060708090a0b0c0d0e0f'),
  opc: hex('0f0e0d0c0b0a09080706050403020100'),
};

export const THIRD_PROFILE = {
  identity: {
    iccid: iccidWithCheckDigit('894400000000000003'),
    imsi: '001010000000003',
    mncLength: 2 as const,
  },
  ki: hex('101112131415161718191a1b1c1d1e1f'),
  opc: hex('1f1e1d1c1b1a19181716151413121110'),
};

/** The eUICC card file: fixture USIM as the bootstrap profile, ISD-R SCP80 KVN 1 = the toolkit fixture's keys. */
export function euiccFile(): CardFile {
  const { file } = newEuiccCardFile({
    ...fixtureOptions,
    pin1Enabled: false,
    eid: EID,
    ecasdCertificate: ECASD_CERT,
    smsrAddress: PLATFORM,
  });
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc section');
  return {
    ...file,
    euicc: {
      ...e,
      isdr: {
        ...e.isdr,
        scp80: [{ ...(e.isdr.scp80[0] as (typeof e.isdr.scp80)[number]), kic: KIC, kid: KID }],
      },
    },
  };
}

export const newEuicc = (file: CardFile = euiccFile()): Uicc => cardFromFile(file);

export function euiccOf(card: Uicc): Euicc {
  const e = card.euicc;
  if (e === undefined) throw new Error('not an eUICC');
  return e;
}

/** A booted device around the card, attached with normal service. */
export function booted(card: Uicc = newEuicc()): Device {
  const d = device(card, undefined, cell(1));
  const b = d.modem.boot();
  if (!b.ok) throw new Error(b.error.message);
  return d;
}

export interface Answer {
  readonly data: string;
  readonly sw: string;
}

/** MO SMS (segments regrouped) split into PoRs (IEI 71) and notifications (IEI 70, opened with the ISD-R keys). */
export function moSms(d: Device): { pors: Uint8Array[]; notifications: DefaultNotification[] } {
  const groups = new Map<string, UserData[]>();
  d.sms.forEach((t, i) => {
    const s = decodeSmsSubmit(t);
    if (!s.ok) throw new Error(s.error.message);
    const concat = concatenationOf(s.value.userData.header ?? []);
    const key = concat === undefined ? `single-${i}` : `concat-${concat.reference}`;
    groups.set(key, [...(groups.get(key) ?? []), s.value.userData]);
  });
  const pors: Uint8Array[] = [];
  const notifications: DefaultNotification[] = [];
  for (const uds of groups.values()) {
    const packet = reassembleSecuredPacket(uds);
    if (!packet.ok) throw new Error(packet.error.message);
    if (packet.value.identifier === 0x71) {
      pors.push(packet.value.packet);
      continue;
    }
    const opened = openCommandPacket(packet.value.packet, {
      keysFor: () => KEYS,
      lastCounter: () => 0,
      minimumSecurity: () => ({ checksum: true, ciphering: true, counter: 'none' }),
    });
    if (!opened.ok) throw new Error(opened.error.code);
    expect(toHex(opened.value.header.tar).toUpperCase()).toBe(ISD_R_TAR);
    expect(opened.value.counter).toBe(0);
    const n = decodeNotification(opened.value.data);
    if (!n.ok) throw new Error(n.error.code);
    notifications.push(n.value);
  }
  return { pors, notifications };
}

/**
 * The SM-SR sends `apdus` to the ISD-R in one secured packet (counter `counter`); the card's PoR is
 * opened (verified when it carries a CC: with `o.keys` when given, else key set 1), and each R-APDU
 * returned, with the notifications sent meanwhile.
 */
export function es5(d: Device, apdus: readonly Uint8Array[], counter: number, o: CommandOptions = {}) {
  d.sms.length = 0;
  for (const tpdu of commandSms(commandScript(apdus), counter, { tar: TAR, ...o })) {
    const r = d.modem.deliverSms(tpdu);
    if (!r.ok) throw new Error(r.error.message);
  }
  const { pors, notifications } = moSms(d);
  const packet = pors[0];
  if (packet === undefined) throw new Error('no PoR');
  let por: OpenedResponsePacket;
  try {
    if (o.keys === undefined) por = openSecured(packet);
    else {
      const opened = openResponsePacket(packet, {
        integrity: 'cc',
        ciphered: true,
        keys: o.keys,
        kic: o.kic ?? KIC_BYTE,
        kid: o.kid ?? KID_BYTE,
        udh: hex('027100'),
      });
      if (!opened.ok) throw new Error(opened.error.code);
      por = opened.value;
    }
  } catch {
    const clear = openResponsePacket(packet, {
      integrity: 'none',
      ciphered: false,
      udh: hex('027100'),
      kic: 0,
      kid: 0,
    });
    if (!clear.ok) throw new Error(clear.error.code);
    por = clear.value;
  }
  const script = decodeResponseScript(por.data);
  const answers: Answer[] = [];
  if (script.ok && por.status === 0)
    for (const i of script.value.items)
      if (i.type === 'r-apdu')
        answers.push({ data: toHex(i.data).toUpperCase(), sw: toHex(i.statusWord).toUpperCase() });
  return { por, answers, notifications };
}

/**
 * An eUICC card file whose ECASD key and certificate come from the test EUM, with PK.CI of the test
 * CI (the ISD-R's SCP80 key set 1 is still the toolkit fixture's), and PK.ECASD.ECKA for the off-card side.
 */
export function pkiEuiccFile(pki: TestPki): { file: CardFile; ecasdPublicKey: Uint8Array } {
  const ecasd = pki.ecasd(EID);
  const file = euiccFile();
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const jwk = ecasd.privateKey.export({ format: 'jwk' });
  const spki = ecasd.publicKey.export({ format: 'der', type: 'spki' });
  return {
    file: {
      ...file,
      euicc: {
        ...e,
        ecasd: {
          certificate: toHex(ecasd.certificate),
          privateKey: Buffer.from(jwk.d ?? '', 'base64url').toString('hex'),
          ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
        },
      },
    },
    ecasdPublicKey: new Uint8Array(spki.subarray(spki.length - 65)),
  };
}

export { cell, type Device, device, KEYS, PLATFORM };

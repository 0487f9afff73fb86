// eUICC card files in the simulator without a platform: cardsFromFiles reads `simtrust card new
// --euicc` files (errors name the file), importCsv lists every profile an eUICC holds so the platform
// knows the IMSI a switch will attach with, and SmsNetwork routes SMS to any profile of the card and
// sends MO SMS from the MSISDN of the profile in use. Threats: a profile switch leaving the device
// unreachable by SMS (the SM-SR could never confirm the notification), or its MO SMS presented as a
// blocked card's (from a bare IMSI).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CardFile, withState } from '../../src/card/card-file.js';
import { newEuiccCardFile } from '../../src/card/euicc/issue.js';
import { ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID } from '../../src/card/euicc/sgp-02-annex-h.js';
import { toHex } from '../../src/lib/hex.js';
import { createIsdpApdu } from '../../src/lib/sgp-02-es5.js';
import {
  encodeSmsSubmit,
  encodeUserData,
  internationalAddress,
  userDataLengthFor,
} from '../../src/lib/ts-23-040-sms-tpdu.js';
import { cardsFromFiles, importCsv, profilesOf, simulatedCard } from '../../src/simulator/cards.js';
import { type SimDataMessage, SmsNetwork } from '../../src/simulator/sms-network.js';
import { es5, euiccFile, euiccOf, newEuicc, SECOND, SECOND_PROFILE } from '../card/euicc/fixture.js';
import { ICCID, IMSI, KI, OPC } from '../card/fixture.js';
import { device } from '../card/toolkit/fixture.js';

/** The fixture eUICC with SECOND_PROFILE installed in ISD-P SECOND, as a card file. */
function twoProfileFile(): CardFile {
  const card = newEuicc();
  const d = device(card);
  d.modem.boot();
  es5(
    d,
    [createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND })],
    1,
  );
  expect(euiccOf(card).installProfile(SECOND, SECOND_PROFILE).ok).toBe(true);
  return withState(euiccFile(), card);
}

describe('eUICC card files in the simulator', () => {
  it('profilesOf and importCsv: the live profile, then each stored one, with its keys', () => {
    const file = twoProfileFile();
    expect(profilesOf(file)).toEqual([
      { iccid: ICCID, imsi: IMSI, msisdn: '817000000001', ki: KI, opc: OPC },
      {
        iccid: SECOND_PROFILE.identity.iccid,
        imsi: SECOND_PROFILE.identity.imsi,
        msisdn: SECOND_PROFILE.identity.msisdn,
        ki: toHex(SECOND_PROFILE.ki),
        opc: toHex(SECOND_PROFILE.opc),
      },
    ]);
    const csv = importCsv([simulatedCard(file)])
      .trim()
      .split('\n');
    expect(csv).toEqual([
      'iccid,imsi,msisdn,ki,opc',
      `${ICCID},${IMSI},817000000001,${KI},${OPC}`,
      `${SECOND_PROFILE.identity.iccid},${SECOND_PROFILE.identity.imsi},${SECOND_PROFILE.identity.msisdn},${toHex(SECOND_PROFILE.ki)},${toHex(SECOND_PROFILE.opc)}`,
    ]);
    // A card without an eUICC has just its own profile.
    const plain = newEuiccCardFile({ imsi: '001010000000077', pin1Enabled: false }).file;
    expect(profilesOf({ ...plain, euicc: undefined } as CardFile).map((p) => p.imsi)).toEqual([
      '001010000000077',
    ]);
  });

  it('cardsFromFiles: reads eUICC card files as they are on disk; a bad file is refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-euicc-cards-'));
    const good = join(dir, 'card.json');
    writeFileSync(good, JSON.stringify(twoProfileFile()), { mode: 0o600 });
    const read = cardsFromFiles([good]);
    if (!read.ok) throw new Error(read.error.message);
    const card = read.value[0];
    expect(card?.uicc.euicc?.snapshot().isdps.map((i) => i.aid)).toEqual([
      expect.stringMatching(/^A0000005591010FFFFFFFF8900001000$/),
      SECOND,
    ]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"simtrust-card/1"}');
    const refused = cardsFromFiles([good, bad]);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toContain(bad);
    const missing = cardsFromFiles([join(dir, 'none.json')]);
    expect(!missing.ok && missing.error.code).toBe('CARD_FILE_READ');
  });

  it('SmsNetwork: SMS to either profile reach the card; MO come from the MSISDN of the profile in use', () => {
    const delivered: string[] = [];
    const mo: SimDataMessage[] = [];
    let using = IMSI;
    const second = SECOND_PROFILE.identity;
    const network = new SmsNetwork({
      systemId: 'ota',
      subscribers: [
        { imsi: IMSI, msisdn: '817000000001' },
        { imsi: second.imsi, msisdn: second.msisdn, card: IMSI },
      ],
    });
    network.connect(
      {
        deliverSms: (imsi) => {
          delivered.push(imsi);
          return undefined;
        },
        deviceState: () => ({ cardImsi: IMSI, imsi: using }),
      },
      {
        deliverMo: (_s, m) => {
          mo.push(m);
          return true;
        },
      },
    );
    const ud = encodeUserData({
      header: [{ iei: 0x70, data: new Uint8Array(0) }],
      body: Uint8Array.of(0, 1),
    });
    for (const destination of ['817000000001', second.msisdn, second.imsi])
      network.onSimData({
        source: '8170000999',
        destination,
        protocolId: 0x7f,
        dataCoding: 0xf6,
        userData: ud,
      });
    expect(delivered).toEqual([IMSI, IMSI, IMSI]);
    const submitUd = { header: [{ iei: 0x70, data: new Uint8Array(0) }], body: Uint8Array.of(1, 2) };
    const tpdu = encodeSmsSubmit({
      type: 'submit',
      rejectDuplicates: false,
      statusReportRequest: false,
      replyPath: false,
      messageReference: 1,
      destinationAddress: internationalAddress('8170000999'),
      protocolIdentifier: 0x7f,
      dataCodingScheme: 0xf6,
      validityPeriod: { format: 'none' },
      userDataLength: userDataLengthFor(0xf6, submitUd),
      userData: submitUd,
    });
    if (!tpdu.ok) throw new Error(tpdu.error.message);
    network.onCardSms(IMSI, tpdu.value);
    using = second.imsi;
    network.onCardSms(second.imsi, tpdu.value);
    // An identity the network has no subscription for (a quarantine IMSI): sent from that IMSI.
    using = '001990000000001';
    network.onCardSms(using, tpdu.value);
    expect(mo.map((m) => m.source)).toEqual(['817000000001', second.msisdn, '001990000000001']);
    expect(toHex(mo[0]?.userData ?? new Uint8Array(0))).toBe(toHex(encodeUserData(submitUd)));
    network.close();
  });
});

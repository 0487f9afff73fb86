// The network side of `npm run bench -- ota`: the lab SMSC and one software card (anti-theft applet,
// fixture key set) per MSISDN. An OTA command the platform submits reaches its card as SMS-PP
// download; what the card sends back (its PoR by SMS-SUBMIT) goes to the platform as deliver_sm.
//
// `startNetwork` runs it in the caller's process. Run as a script (forked with an IPC channel) it is
// the network in a process of its own — as in production, where the SMSC and the cards are not in
// the platform's process: it gets `{ msisdns }`, answers `{ url }`, and stops on `'close'`.

import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeUserData,
  internationalAddress,
  simDataDownload,
} from '../src/lib/ts-23-040-sms-tpdu.js';
import { Smsc } from '../src/servers/smpp/smsc.js';
import { cell, type Device, device, IMEI, newCard } from '../test/card/toolkit/fixture.js';

export const PLATFORM_ADDRESS = '8170000999';
export const SMSC_ACCOUNT = { systemId: 'ota', password: 'bench' } as const;

export async function startNetwork(msisdns: readonly string[]): Promise<Smsc> {
  const devices = new Map<string, Device>();
  for (const msisdn of msisdns) {
    const d = device(newCard(), IMEI, cell(1));
    d.modem.boot();
    devices.set(msisdn, d);
  }
  let smsc: Smsc | undefined;
  smsc = await Smsc.start({
    accounts: { [SMSC_ACCOUNT.systemId]: SMSC_ACCOUNT.password },
    onSimData: (m) => {
      const d = devices.get(m.destination);
      const ud = decodeUserData(m.userData, true);
      if (d === undefined || !ud.ok) return;
      const tpdu = encodeSmsDeliver(
        simDataDownload({
          originatingAddress: internationalAddress(m.source),
          serviceCentreTimeStamp: Uint8Array.of(0x62, 0x01, 0x21, 0x11, 0, 0, 0),
          userData: ud.value,
        }),
      );
      if (!tpdu.ok) return;
      d.modem.deliverSms(tpdu.value);
      for (const sms of d.sms.splice(0)) {
        const s = decodeSmsSubmit(sms);
        if (!s.ok) continue;
        smsc?.deliverMo(SMSC_ACCOUNT.systemId, {
          source: m.destination,
          destination: PLATFORM_ADDRESS,
          protocolId: s.value.protocolIdentifier,
          dataCoding: s.value.dataCodingScheme,
          userData: encodeUserData(s.value.userData),
        });
      }
    },
  });
  return smsc;
}

const send = process.send?.bind(process);
if (send !== undefined) {
  let smsc: Smsc | undefined;
  process.on('message', (m: { msisdns: string[] } | 'close') => {
    if (m === 'close') {
      void smsc?.close().then(() => process.exit(0));
      return;
    }
    void startNetwork(m.msisdns).then((s) => {
      smsc = s;
      send({ url: s.url });
    });
  });
  process.on('disconnect', () => process.exit(0));
}

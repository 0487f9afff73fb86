// The SMS-SUBMIT TPDUs the card hands to SEND SHORT MESSAGE (TS 102 223 §6.4.10, TS 23.040 §9.2.2.2):
// PoRs and applet reports as 8-bit class-2 "SIM data download" messages (TP-PID 7F, TP-DCS F6).

import {
  decodeUserData,
  encodeSmsSubmit,
  internationalAddress,
  SIM_DATA_DOWNLOAD,
  userDataLengthFor,
} from '../../lib/ts-23-040-sms-tpdu.js';

/** SMS-SUBMIT to an international number carrying `userData` (UDHL and header included). */
export function encodeSubmitTpdu(
  destination: string,
  userData: Uint8Array,
  reference: number,
): Uint8Array | undefined {
  const ud = decodeUserData(userData, true);
  if (!ud.ok) return undefined;
  const tpdu = encodeSmsSubmit({
    type: 'submit',
    rejectDuplicates: false,
    statusReportRequest: false,
    replyPath: false,
    messageReference: reference & 0xff,
    destinationAddress: internationalAddress(destination),
    ...SIM_DATA_DOWNLOAD,
    validityPeriod: { format: 'none' },
    userDataLength: userDataLengthFor(SIM_DATA_DOWNLOAD.dataCodingScheme, ud.value),
    userData: ud.value,
  });
  return tpdu.ok ? tpdu.value : undefined;
}

// The demo's eUICC (docs/esim.md, Demo): a card file made as `simtrust card new --euicc` makes it, with
// an ECASD certificate the deployment's EUM issues, and its EIS (SGP.02 §5.1.1.2) signed by that EUM
// as the ES1-RegisterEISRequest an EUM sends. The EIS carries the ISD-R key sets the SM-SR needs:
// SCP80 KVN 01 (ES5 over SMS) and SCP81 KVN 40 (the PSK of ES5 over HTTPS).

import { randomUUID } from 'node:crypto';
import type { CardFile } from '../card/card-file.js';
import { newEuiccCardFile } from '../card/euicc/issue.js';
import { ECASD_AID, ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID, ISD_R_AID } from '../card/euicc/sgp-02-annex-h.js';
import { ecPublicKeyFromPrivate } from '../crypto/sgp-02-key-establishment.js';
import { hex, toHex } from '../lib/hex.js';
import { PLATFORM_OWNER } from '../platform/esim/ci/pki-service.js';
import { signEis } from '../platform/esim/es-soap/sgp-02-eis-signature.js';
import { MESSAGE_BY_ELEMENT } from '../platform/esim/es-soap/sgp-02-messages.js';
import type { Eis } from '../platform/esim/es-soap/sgp-02-xml-types.js';
import { encodeSoapMessage } from '../platform/esim/es-soap/soap-envelope.js';
import type { Platform } from '../platform/platform.js';

export interface DemoProfile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string;
  /** Hex. */
  readonly ki: string;
  /** Hex. */
  readonly opc: string;
}

export interface IssuedDemoEuicc {
  readonly file: CardFile;
  readonly eid: string;
  /** The ES1-RegisterEISRequest envelope (SOAP 1.2), EUM-signed EIS inside. */
  readonly registerEisRequest: string;
  /** The EUM certificate (PEM) that signed it. */
  readonly eumCertificate: string;
}

/**
 * A new eUICC whose bootstrap profile (Enabled, fall-back) is `profile`, owned by MNO `mnoId`, for the
 * SM-SR `smsrId` whose MO address is `smsrAddress`. Needs the deployment's CI and EUM (ensureDemo).
 */
export async function issueDemoEuicc(
  platform: Platform,
  o: { profile: DemoProfile; smsrId: string; smsrAddress: string; mnoId: string },
): Promise<IssuedDemoEuicc> {
  const pki = platform.esimPki;
  const { eum } = await pki.ensureDemo();
  const trusted = (await pki.trustedCis())[0];
  if (trusted === undefined) throw new Error('the deployment trusts no eSIM CI');
  const { file } = newEuiccCardFile({
    imsi: o.profile.imsi,
    iccid: o.profile.iccid,
    msisdn: o.profile.msisdn,
    ki: hex(o.profile.ki),
    opc: hex(o.profile.opc),
    pin1Enabled: false,
    smsrAddress: o.smsrAddress,
    smsrId: o.smsrId,
    eumId: eum.subject,
    ci: { keyId: trusted.keyId, publicKey: trusted.publicKey },
  });
  const section = file.euicc;
  if (section === undefined) throw new Error('no euicc section');
  const ecasd = await pki.issueEcasd({
    eid: section.eid,
    publicKey: ecPublicKeyFromPrivate('P-256', hex(section.ecasd.privateKey)),
  });
  const withCert: CardFile = {
    ...file,
    euicc: { ...section, ecasd: { ...section.ecasd, certificate: toHex(ecasd.certificate) } },
  };
  const eumKey = await pki.signingKey(eum.certId, PLATFORM_OWNER);
  const eis = signEis(
    eisOf(withCert, ecasd.certificate, {
      eumId: eum.subject,
      smsrId: o.smsrId,
      mnoId: o.mnoId,
      productionDate: new Date(platform.clock.now()),
    }),
    eumKey.privateKey,
  );
  return {
    file: withCert,
    eid: section.eid,
    registerEisRequest: registerEisEnvelope(eis),
    eumCertificate: ecasd.eumCertificate,
  };
}

/** The ES1-RegisterEISRequest SOAP envelope an EUM sends for `eis`. */
export function registerEisEnvelope(eis: Eis): string {
  const spec = MESSAGE_BY_ELEMENT.get('ES1-RegisterEISRequest');
  if (spec === undefined) throw new Error('ES1-RegisterEISRequest is not declared');
  return encodeSoapMessage({
    addressing: { action: spec.action, messageId: `urn:uuid:${randomUUID()}`, to: 'urn:simtrust:sm-sr:ES1' },
    message: {
      element: 'ES1-RegisterEISRequest',
      body: { functionCallIdentifier: `demo-${randomUUID()}`, eis },
    },
  });
}

/** The EIS (SGP.02 §5.1.1.2) of a card file's eUICC before the EUM signs it. */
export function eisOf(
  file: CardFile,
  ecasdCertificate: Uint8Array,
  o: { eumId: string; smsrId: string; mnoId: string; productionDate: Date },
): Omit<Eis, 'eumSignature'> {
  const e = file.euicc;
  if (e === undefined) throw new Error('not an eUICC card file');
  const scp80 = e.isdr.scp80[0];
  const scp81 = e.isdr.scp81[0];
  const bootstrap = e.isdps[0];
  if (scp80 === undefined || bootstrap === undefined) throw new Error('no SCP80 key set or bootstrap ISD-P');
  const key = (index: number, value: string) => ({
    index,
    kcv: hex('000000'),
    components: [{ type: 0x88, value: hex(value) }],
  });
  return {
    eumSignedInfo: {
      eid: e.eid,
      eumId: o.eumId,
      productionDate: o.productionDate,
      platformType: 'simtrust-software-euicc',
      platformVersion: '1.0.0',
      isdPLoadFileAid: ISD_P_LOAD_FILE_AID,
      isdPModuleAid: ISD_P_MODULE_AID,
      ecasd: {
        aid: ECASD_AID,
        tars: [],
        sin: hex('9F7F'),
        sdin: hex('0102'),
        role: 'ECASD',
        keysets: [
          {
            version: 0x73,
            type: 'CA',
            keys: [],
            certificates: [{ index: 1, caId: o.eumId, value: ecasdCertificate }],
          },
        ],
      },
      euiccCapabilities: {
        cattpSupport: false,
        httpSupport: true,
        securePacketVersion: '9.2.0',
        remoteProvisioningVersion: '3.1.0',
      },
    },
    remainingMemory: e.memory - bootstrap.memory,
    availableMemoryForProfiles: e.memory,
    smsrId: o.smsrId,
    profiles: [
      {
        iccid: file.iccid,
        isdPAid: bootstrap.aid,
        mnoId: o.mnoId,
        fallbackAttribute: true,
        subscriptionAddress: { imsi: file.imsi, ...(file.msisdn ? { msisdn: file.msisdn } : {}) },
        state: 'Enabled',
        allocatedMemory: bootstrap.memory,
        pol2: { rules: [] },
      },
    ],
    isdR: {
      aid: ISD_R_AID,
      tars: ['000001'],
      sin: hex('9F7F'),
      sdin: hex('0A0B'),
      role: 'ISD-R',
      keysets: [
        {
          version: scp80.kvn,
          type: 'SCP80',
          cntr: 0,
          keys: [key(1, scp80.kic), key(2, scp80.kid), key(3, scp80.dek)],
          certificates: [],
        },
        ...(scp81 === undefined
          ? []
          : [{ version: scp81.kvn, type: 'SCP81' as const, keys: [key(1, scp81.psk)], certificates: [] }]),
      ],
    },
  };
}

// `simtrust card …`: make a software SIM, talk to it in APDUs, and plug it into real programs
// (PC/SC through vpcd, wpa_supplicant's external_sim). docs/card.md is the user guide.

import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runVpcdBridge, VPCD_DEFAULT } from '../../card/bridges/vpcd.js';
import { runWpaBridge } from '../../card/bridges/wpa-external-sim.js';
import {
  type CardFile,
  csvLine,
  type NewCardOptions,
  newCardFile,
  PersistentCard,
  writeCardFile,
} from '../../card/card-file.js';
import { newEuiccCardFile } from '../../card/euicc/issue.js';
import { parseResponseApdu } from '../../card/iso-7816-4.js';
import { formatResponse } from '../../card/terminal.js';
import { DEFAULT_SQN_POLICY } from '../../card/ts-33-102-sqn.js';
import { computeOpc, MILENAGE } from '../../crypto/milenage.js';
import { trustedCiFromCertificate } from '../../crypto/sgp-02-certificate-chain.js';
import { isDigits } from '../../lib/bcd.js';
import { SimtrustError } from '../../lib/errors.js';
import { fromHex } from '../../lib/hex.js';
import { isIccid, isImsi } from '../../lib/identities.js';
import { quarantineImsiOf, vendorCsvHeader, vendorCsvLine, withAntiTheft } from '../../simulator/cards.js';
import { hexOption, writeErr, writeOut } from './aka.js';

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);

interface NewOptions {
  imsi?: string;
  iccid?: string;
  msisdn?: string;
  mncLength?: string;
  spn?: string;
  ki?: string;
  opc?: string;
  op?: string;
  amf?: string;
  pin1?: string;
  pin1Enabled?: boolean;
  puk1?: string;
  adm1?: string;
  sqn?: string;
  indBits?: string;
  delta?: string;
  out?: string;
  force?: boolean;
  csvLine?: boolean;
  csvHeader?: boolean;
  antiTheft?: boolean;
  alertDestination?: string;
  quarantineImsi?: string;
  learning?: string;
  euicc?: boolean;
  eid?: string;
  smsrAddress?: string;
  smsrId?: string;
  ecasdCertificate?: string;
  ciCertificate?: string;
  eis?: string;
}

function digitsOption(name: string, value: string | undefined, min: number, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (!isDigits(value, min, max))
    throw usage(`${name} must be ${min === max ? min : `${min} to ${max}`} digits`);
  return value;
}

/** `--euicc`: the card file and the EIS to register (esim.md §2); docs/euicc.md. */
function buildEuicc(o: NewOptions, options: NewCardOptions): { file: CardFile; eis: unknown } {
  if (o.antiTheft) throw usage('--euicc and --anti-theft do not go together (yet)');
  const smsrAddress = digitsOption('--smsr-address', o.smsrAddress, 1, 20);
  const certificate = o.ecasdCertificate === undefined ? undefined : fromHex(o.ecasdCertificate);
  if (certificate === undefined && o.ecasdCertificate !== undefined)
    throw usage('--ecasd-certificate is hex (the EUM-signed GP certificate, 7F21 …)');
  if (o.eid !== undefined && !/^\d{30}(\d{2})?$/.test(o.eid))
    throw usage('--eid is 30 digits, or 32 with check digits');
  let ci: { keyId: Uint8Array; publicKey: Uint8Array } | undefined;
  if (o.ciCertificate !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(o.ciCertificate, 'utf8');
    } catch {
      throw usage(`--ci-certificate: cannot read ${o.ciCertificate}`);
    }
    const trusted = trustedCiFromCertificate(pem);
    if (!trusted.ok) throw usage(`--ci-certificate: ${trusted.error.reason}`);
    ci = { keyId: trusted.value.keyId, publicKey: trusted.value.publicKey };
  }
  try {
    return newEuiccCardFile({
      ...options,
      ...(o.eid === undefined ? {} : { eid: o.eid }),
      ...(smsrAddress === undefined ? {} : { smsrAddress }),
      ...(o.smsrId === undefined ? {} : { smsrId: o.smsrId }),
      ...(certificate === undefined ? {} : { ecasdCertificate: certificate }),
      ...(ci === undefined ? {} : { ci }),
    });
  } catch (e) {
    throw usage(`--eid: ${(e as Error).message}`);
  }
}

function buildCardAndEis(o: NewOptions): { file: CardFile; eis?: unknown } {
  if (o.imsi === undefined || !isImsi(o.imsi)) throw usage('--imsi is required: 6 to 15 digits');
  if (o.iccid !== undefined && !isIccid(o.iccid)) {
    throw usage('--iccid must be 19 or 20 digits ending in its Luhn check digit');
  }
  const mncLength = o.mncLength === undefined ? 2 : Number(o.mncLength);
  if (mncLength !== 2 && mncLength !== 3) throw usage('--mnc-length must be 2 or 3');
  if (o.spn !== undefined && o.spn.length > 16) throw usage('--spn is at most 16 characters');
  if (o.opc !== undefined && o.op !== undefined) throw usage('give at most one of --opc and --op');
  const ki = o.ki === undefined ? undefined : hexOption('--ki', o.ki, MILENAGE.K);
  if (o.op !== undefined && ki === undefined) throw usage('--op needs --ki (OPc is derived from both)');
  const opc =
    o.opc !== undefined
      ? hexOption('--opc', o.opc, MILENAGE.OPC)
      : o.op !== undefined && ki !== undefined
        ? computeOpc(ki, hexOption('--op', o.op, MILENAGE.OP))
        : undefined;
  const indBits = o.indBits === undefined ? DEFAULT_SQN_POLICY.indBits : Number(o.indBits);
  if (!Number.isInteger(indBits) || indBits < 0 || indBits > 10) throw usage('--ind-bits must be 0 to 10');
  const delta = o.delta === undefined ? DEFAULT_SQN_POLICY.delta : Number(o.delta);
  if (!Number.isSafeInteger(delta) || delta < 1) throw usage('--delta must be a positive integer');
  const pin1 = digitsOption('--pin1', o.pin1, 4, 8);
  const puk1 = digitsOption('--puk1', o.puk1, 8, 8);
  const adm1 = digitsOption('--adm1', o.adm1, 1, 8);
  const msisdn = digitsOption('--msisdn', o.msisdn, 1, 15);
  if (
    !o.euicc &&
    (o.eid ?? o.smsrAddress ?? o.smsrId ?? o.ecasdCertificate ?? o.ciCertificate ?? o.eis) !== undefined
  )
    throw usage(
      '--eid, --smsr-address, --smsr-id, --ecasd-certificate, --ci-certificate and --eis go with --euicc',
    );
  if (!o.antiTheft && (o.alertDestination ?? o.quarantineImsi ?? o.learning) !== undefined)
    throw usage('--alert-destination, --quarantine-imsi and --learning go with --anti-theft');
  const options: NewCardOptions = {
    imsi: o.imsi,
    mncLength,
    sqnPolicy: { indBits, delta },
    ...(o.iccid === undefined ? {} : { iccid: o.iccid }),
    ...(msisdn === undefined ? {} : { msisdn }),
    ...(o.spn === undefined ? {} : { spn: o.spn }),
    ...(ki === undefined ? {} : { ki }),
    ...(opc === undefined ? {} : { opc }),
    ...(o.amf === undefined
      ? {}
      : { amf: Buffer.from(hexOption('--amf', o.amf, MILENAGE.AMF)).toString('hex') }),
    ...(pin1 === undefined ? {} : { pin1 }),
    ...(puk1 === undefined ? {} : { puk1 }),
    ...(adm1 === undefined ? {} : { adm1 }),
    ...(o.pin1Enabled ? { pin1Enabled: true } : {}),
    ...(o.sqn === undefined ? {} : { acceptedSqn: hexOption('--sqn', o.sqn, MILENAGE.SQN) }),
  };
  if (o.euicc) return buildEuicc(o, options);
  if (!o.antiTheft) return { file: newCardFile(options) };
  const alertDestination = digitsOption('--alert-destination', o.alertDestination, 1, 20);
  if (alertDestination === undefined)
    throw usage(
      "--anti-theft needs --alert-destination: the platform's OTA number (otaSmppSourceAddr) the applet sends alerts to",
    );
  const quarantineImsi = o.quarantineImsi ?? quarantineImsiOf(o.imsi);
  if (!isImsi(quarantineImsi) || quarantineImsi === o.imsi)
    throw usage('--quarantine-imsi must be 6 to 15 digits, an IMSI no subscriber has (not the card’s own)');
  const learning = o.learning === undefined ? undefined : Number(o.learning);
  if (learning !== undefined && (!Number.isInteger(learning) || learning < 0 || learning > 86_399))
    throw usage('--learning must be 0 to 86399 seconds');
  return {
    file: newCardFile(
      withAntiTheft(options, {
        alertDestination,
        quarantineImsi,
        ...(learning === undefined ? {} : { learningSeconds: learning }),
      }),
    ),
  };
}

function openCard(path: string): PersistentCard {
  const card = PersistentCard.open(path);
  if (!card.ok) throw usage(card.error.message);
  return card.value;
}

/** Resolve on SIGINT/SIGTERM; the long-running bridges stop through this signal. */
function untilSignalled(): AbortController {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  controller.signal.addEventListener('abort', () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
  return controller;
}

export function registerCardCommand(program: Command): void {
  // exitOverride: commander's own usage errors throw to the caller (see aka.ts).
  const card = program
    .command('card')
    .exitOverride()
    .description('software UICC/USIM: create cards, send APDUs, bridge to PC/SC and wpa_supplicant')
    .addHelpText(
      'after',
      '\nExamples:\n  $ simtrust card new --imsi 001010000000001 --out card.json --csv-line\n  $ simtrust card apdu card.json 00A4040C07A0000000871002 00B0870009\n  $ simtrust card serve card.json\n  $ simtrust card wpa-bridge card.json --ctrl /tmp/eapol-ctrl',
    );

  card
    .command('new')
    .description('make a card with random Ki/OPc (unless given); write it to --out or print it')
    .option('--imsi <digits>', 'IMSI (required)')
    .option('--iccid <digits>', 'ICCID with its Luhn check digit (default: random 89000…)')
    .option('--msisdn <digits>', 'MSISDN stored in EF.MSISDN')
    .option('--mnc-length <n>', 'MNC digits in the IMSI: 2 or 3', '2')
    .option('--spn <name>', 'service provider name (EF.SPN)')
    .option('--ki <hex>', 'Ki, 32 hex digits (default: random)')
    .option('--opc <hex>', 'OPc, 32 hex digits (default: random)')
    .option('--op <hex>', 'OP, 32 hex digits: OPc is derived from Ki and OP')
    .option('--amf <hex>', 'AMF for the AuC, 4 hex digits', '8000')
    .option('--pin1 <digits>', 'PIN1, 4 to 8 digits', '1234')
    .option('--pin1-enabled', 'require PIN1 verification (default: disabled, as on most IoT SIMs)')
    .option('--puk1 <digits>', 'PUK1, 8 digits (default: random)')
    .option('--adm1 <digits>', 'ADM1 key, up to 8 digits (default: random)')
    .option('--sqn <hex>', 'start with the SEQ of this SQN (12 hex digits) accepted in every IND slot')
    .option('--ind-bits <n>', 'IND length of the SQN array (TS 33.102 Annex C)', '5')
    .option('--delta <n>', 'Δ: the largest SEQ jump the card accepts (TS 33.102 Annex C)', String(2 ** 28))
    .option('--out <file>', 'write the card file here (mode 0600)')
    .option('--force', 'overwrite --out if it exists (its Ki is lost)')
    .option(
      '--csv-line',
      'print the vendor CSV line iccid,imsi,msisdn,ki,opc (with --anti-theft also kic,kid,kvn,quarantine_imsi)',
    )
    .option('--csv-header', 'print the CSV header line before --csv-line (a file `sims import` takes)')
    .option(
      '--anti-theft',
      'install the anti-theft applet with a new AES OTA key set (KVN 1), shared with the platform through --csv-line',
    )
    .option(
      '--alert-destination <number>',
      "with --anti-theft: where alerts go, the platform's otaSmppSourceAddr (required)",
    )
    .option(
      '--quarantine-imsi <digits>',
      'with --anti-theft: the IMSI the SIM switches to when it blocks (default: its digits on 001/99)',
    )
    .option(
      '--learning <seconds>',
      'with --anti-theft: the learning period after the first boot (default 3600)',
    )
    .option(
      '--euicc',
      'an SGP.02 eUICC: EID, ECASD key pair, ISD-R keysets (SCP80 KVN 1, SCP81 KVN 40); the card is its bootstrap profile',
    )
    .option('--eid <digits>', 'with --euicc: the EID, 32 digits (check digits verified) or 30 (completed)')
    .option('--smsr-address <number>', "with --euicc: the SM-SR's SMS number, where notifications go")
    .option('--smsr-id <oid>', 'with --euicc: the managing SM-SR, recorded in the EIS')
    .option('--ecasd-certificate <hex>', 'with --euicc: CERT.ECASD.ECKA signed by the EUM (7F21 …)')
    .option(
      '--ci-certificate <file>',
      "with --euicc: the CI's X.509 certificate (PEM): the ECASD keeps PK.CI to verify SM-DP/SM-SR certificates (ES8)",
    )
    .option('--eis <file>', 'with --euicc: write the EIS (JSON, holds ISD-R keys: mode 0600) for RegisterEIS')
    .addHelpText(
      'after',
      '\nExamples:\n  $ simtrust card new --imsi 001010000000001 --msisdn 817000000001 --out card.json --csv-line\n  8900000…,001010000000001,817000000001,<ki>,<opc>\n  $ simtrust card new --imsi 001010000000002 --msisdn 817000000002 --anti-theft --alert-destination 8170000999 \\\n      --out card.json --csv-header --csv-line > sims.csv && simtrust sims import sims.csv',
    )
    .action(function (this: Command, o: NewOptions) {
      const { file, eis } = buildCardAndEis(o);
      if (o.eis !== undefined) {
        if (existsSync(o.eis)) {
          if (!o.force) throw usage(`${o.eis} exists; give --force to replace it`);
          unlinkSync(o.eis);
        }
        writeFileSync(o.eis, `${JSON.stringify(eis, null, 1)}\n`, { mode: 0o600 });
        writeErr(this, `wrote ${o.eis}: EIS of EID ${file.euicc?.eid ?? ''}\n`);
      }
      if (o.out !== undefined) {
        if (existsSync(o.out) && !o.force)
          throw usage(`${o.out} exists; give --force to replace it (and lose its Ki)`);
        writeCardFile(o.out, file);
        writeErr(this, `wrote ${o.out}: ICCID ${file.iccid}, IMSI ${file.imsi}\n`);
      }
      if (o.csvHeader && !o.csvLine) throw usage('--csv-header goes with --csv-line');
      const ota = file.ota !== undefined;
      if (o.csvHeader) writeOut(this, `${vendorCsvHeader([file])}\n`);
      if (o.csvLine) writeOut(this, `${ota ? vendorCsvLine(file, true) : csvLine(file)}\n`);
      else if (o.out === undefined) writeOut(this, `${JSON.stringify(file, null, 1)}\n`);
    });

  card
    .command('apdu')
    .description('send command APDUs to a card in order and print each response as "<data> <SW>"')
    .argument('<card-file>', 'card file from `simtrust card new`')
    .argument('<apdu...>', 'command APDUs in hex (case 1-4, short)')
    .addHelpText(
      'after',
      '\nEach run is one card session (as after a reset): verify PINs in the same run.\nExample (select ADF.USIM, read EF.IMSI by SFI, STATUS):\n  $ simtrust card apdu card.json 00A4040C07A0000000871002 00B0870009 80F2000000',
    )
    .action(function (this: Command, path: string, apdus: string[]) {
      const commands = apdus.map((text) => {
        const bytes = fromHex(text.replace(/[\s:]/g, ''));
        if (bytes === undefined || bytes.length < 4)
          throw usage(`"${text}" is not an APDU (at least 4 bytes of hex)`);
        return bytes;
      });
      const c = openCard(path);
      c.reset();
      for (const command of commands) {
        const r = parseResponseApdu(c.transmit(command));
        if (r.ok) writeOut(this, `${formatResponse(r.value)}\n`);
      }
    });

  card
    .command('serve')
    .description('insert the card into the PC/SC virtual reader of vsmartcard (pcscd + vpcd)')
    .argument('<card-file>', 'card file from `simtrust card new`')
    .option('--vpcd <host:port>', 'where vpcd listens', `${VPCD_DEFAULT.host}:${VPCD_DEFAULT.port}`)
    .addHelpText(
      'after',
      '\nNeeds pcscd with the vpcd driver (Debian: pcscd, vsmartcard-vpcd). Runs until interrupted.\nExample:\n  $ simtrust card serve card.json --vpcd 127.0.0.1:35963 & pcsc_scan',
    )
    .action(async function (this: Command, path: string, o: { vpcd: string }) {
      const m = /^(.+):(\d{1,5})$/.exec(o.vpcd);
      const port = Number(m?.[2]);
      if (m === null || port < 1 || port > 65535) throw usage('--vpcd must be host:port');
      const c = openCard(path);
      const controller = untilSignalled();
      await runVpcdBridge({
        host: m[1] as string,
        port,
        card: c,
        log: (line) => writeErr(this, `card serve: ${line}\n`),
        signal: controller.signal,
      });
    });

  card
    .command('wpa-bridge')
    .description("answer wpa_supplicant's external_sim requests (EAP-AKA/AKA'/SIM) with the card")
    .argument('<card-file>', 'card file from `simtrust card new`')
    .option('--ctrl <dir>', "wpa_supplicant's ctrl_interface directory (required)")
    .option('--ifname <name>', 'control interface name (eapol_test uses "test")', 'test')
    .option('--pin <digits>', 'PIN1, when the card has PIN verification enabled')
    .addHelpText(
      'after',
      '\nNeeds wpa_cli (Debian: wpasupplicant) and a supplicant with external_sim=1. Runs until interrupted.\nExample:\n  $ eapol_test -W -c eapol-aka.conf -a 127.0.0.1 -s testsecret &\n  $ simtrust card wpa-bridge card.json --ctrl /tmp/eapol-ctrl',
    )
    .action(async function (this: Command, path: string, o: { ctrl?: string; ifname: string; pin?: string }) {
      if (o.ctrl === undefined || o.ctrl === '') throw usage('--ctrl is required');
      if (o.pin !== undefined && !isDigits(o.pin, 4, 8)) throw usage('--pin must be 4 to 8 digits');
      const c = openCard(path);
      const controller = untilSignalled();
      await runWpaBridge({
        ctrlDir: o.ctrl,
        ifname: o.ifname,
        transmit: (apdu) => c.transmit(apdu),
        reset: () => c.reset(),
        ...(o.pin === undefined ? {} : { pin: o.pin }),
        log: (line) => writeErr(this, `card wpa-bridge: ${line}\n`),
        signal: controller.signal,
      });
    });
}

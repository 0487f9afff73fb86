// `simtrust simulate`: a fleet of simulated devices against a running platform (docs/simulator.md).
// The API sets the stage — the cards are imported (idempotent) and the simulator's packet gateway is
// registered as a NAS client for the run — then the devices speak only GSUP and RADIUS, and, with
// --smsc, SMS over the lab SMSC the platform's OTA link binds to (src/simulator/sms-network.ts).

import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import { apiClient } from '../context.js';

interface SimulateOptions {
  devices: string;
  fromCsv?: string;
  card?: string[];
  duration?: string;
  radiusHost: string;
  authPort: string;
  acctPort: string;
  gsup: string;
  nasAddress?: string;
  secret?: string;
  import: boolean;
  interim: string;
  moveEvery: string;
  swap: string;
  swapAfter: string;
  steal: string;
  stealAfter: string;
  antiTheft: string;
  alertDestination?: string;
  learning: string;
  smsc?: string;
  smscSystemId: string;
  smscPassword?: string;
  heavy: string;
  saveCards?: string;
}

const usage = (message: string) => new SimtrustError('ERR_CLI_USAGE', message);

function count(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw usage(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

function hostPort(text: string, name = '--gsup', min = 1): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  if (!m) throw usage(`${name} must be HOST:PORT`);
  return { host: m[1] ?? '', port: count(`${name} port`, m[2] ?? '', min, 65535) };
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'Run simulated devices against the platform: software SIMs authenticate over GSUP, a packet gateway opens sessions over RADIUS, devices send traffic',
    )
    .option('--devices <n>', 'number of devices', '10')
    .option(
      '--from-csv <file>',
      'card vendor CSV (iccid,imsi,msisdn,ki,opc[,imei]) to build the cards from (default: new cards)',
    )
    .option(
      '--card <files...>',
      'card files (simtrust card new, with --euicc for eUICCs) to run as the devices, one device each; eUICC devices get the BIP relay (HTTPS to the SM-SR) and SMS',
    )
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--radius-host <host>', 'address of the RADIUS server', '127.0.0.1')
    .option('--auth-port <port>', 'RADIUS authentication port', '1812')
    .option('--acct-port <port>', 'RADIUS accounting port', '1813')
    .option(
      '--gsup <host:port>',
      'GSUP (HLR/AuC) server: simtrust with SIMTRUST_GSUP_PORT set, or osmo-hlr',
      '127.0.0.1:4222',
    )
    .option(
      '--nas-address <ip>',
      'loopback address the packet gateway sends from (default: 127.0.1.<random>)',
    )
    .option(
      '--secret <secret>',
      'shared secret of a NAS client already registered for --nas-address (default: register one for this run)',
    )
    .option('--no-import', 'do not import the cards through the API (they are there already)')
    .option('--interim <seconds>', 'Interim-Update interval', '10')
    .option('--move-every <seconds>', 'move every device to a neighbouring cell this often (0: never)', '0')
    .option('--swap <n>', 'put the SIMs of N devices into devices with other IMEIs', '0')
    .option('--swap-after <seconds>', 'when the swap happens', '10')
    .option(
      '--steal <n>',
      'carry N devices (after the swapped ones) away through far cells: an anti-theft SIM blocks',
      '0',
    )
    .option('--steal-after <seconds>', 'when the theft happens (after the learning period)', '60')
    .option(
      '--anti-theft <n>',
      'N of the new cards carry the anti-theft applet and an OTA key set (imported with them)',
      '0',
    )
    .option(
      '--alert-destination <number>',
      "where anti-theft alerts go: the platform's otaSmppSourceAddr (needed with anti-theft cards)",
    )
    .option('--learning <seconds>', "the anti-theft applet's learning period after the first boot", '30')
    .option(
      '--smsc <host:port>',
      "run the lab SMSC here (the platform's otaSmppUrl): OTA SMS reach the cards, their PoRs and alerts go back",
    )
    .option(
      '--smsc-system-id <id>',
      'system_id the platform binds with (its otaSmppSystemId)',
      'simtrust-ota',
    )
    .option(
      '--smsc-password <password>',
      'password of that bind (default $SIMTRUST_SMSC_PASSWORD; the platform has it as otaSmppPassword)',
    )
    .option('--heavy <n>', 'N devices send heavy traffic', '0')
    .option(
      '--save-cards <file>',
      'write the new cards as vendor CSV (mode 0600; holds Ki) to rerun with --from-csv',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ SIMTRUST_GSUP_PORT=4222 simtrust up --demo &\n  $ simtrust simulate --devices 20 --duration 60 --move-every 15 --swap 1 --heavy 2\n  $ SIMTRUST_SMSC_PASSWORD=lab simtrust simulate --devices 10 --anti-theft 2 --alert-destination 8170000999 \\\n      --smsc 127.0.0.1:2775 --swap 1 --steal 1 --steal-after 60   # the platform: otaSmppUrl=smpp://127.0.0.1:2775',
    )
    .action(async (o: SimulateOptions, command: Command) => {
      const { cardsFromCsv, cardsFromFiles, importCsv, newCards, profilesOf, simulatedImei } = await import(
        '../../simulator/cards.js'
      );
      const { Fleet, summaryLine } = await import('../../simulator/fleet.js');
      const { SmsNetwork } = await import('../../simulator/sms-network.js');
      if (o.card !== undefined && o.fromCsv !== undefined)
        throw usage('--card and --from-csv do not go together: give the cards one way');
      if (o.card !== undefined && command.getOptionValueSource('devices') === 'cli')
        throw usage('--card runs one device per card file: leave out --devices');
      const devices =
        o.card === undefined
          ? count('--devices', o.devices, 1, 100_000)
          : count('--card files', String(o.card.length), 1, 100_000);
      const duration = o.duration === undefined ? undefined : count('--duration', o.duration, 1, 31_536_000);
      const gsup = hostPort(o.gsup);
      const antiTheft = count('--anti-theft', o.antiTheft, 0, devices);
      const learningSeconds = count('--learning', o.learning, 0, 86_399);
      if (o.alertDestination !== undefined && !/^\d{1,20}$/.test(o.alertDestination))
        throw usage('--alert-destination must be 1 to 20 digits (international number without "+")');
      const settings =
        o.alertDestination === undefined
          ? undefined
          : { alertDestination: o.alertDestination, learningSeconds };
      if (antiTheft > 0 && settings === undefined)
        throw usage(
          "--anti-theft needs --alert-destination: the platform's otaSmppSourceAddr, where the applets send alerts",
        );
      const smscAt = o.smsc === undefined ? undefined : hostPort(o.smsc, '--smsc', 0);
      const smscPassword = o.smscPassword ?? process.env.SIMTRUST_SMSC_PASSWORD;
      if (smscAt !== undefined && (smscPassword === undefined || smscPassword === ''))
        throw usage(
          '--smsc needs the bind password: --smsc-password or SIMTRUST_SMSC_PASSWORD (the platform has it as otaSmppPassword)',
        );
      let cards: ReturnType<typeof newCards>;
      if (o.card !== undefined) {
        const read = cardsFromFiles(o.card);
        if (!read.ok) throw usage(read.error.message);
        cards = read.value;
      } else if (o.fromCsv !== undefined) {
        const parsed = cardsFromCsv(readFileSync(o.fromCsv, 'utf8'), settings);
        if (!parsed.ok) throw usage(`${o.fromCsv}: ${parsed.error.message}`);
        if (parsed.value.length < devices)
          throw usage(`${o.fromCsv} has ${parsed.value.length} cards, fewer than --devices`);
        cards = parsed.value.slice(0, devices);
      } else {
        cards = newCards(
          devices,
          settings === undefined ? {} : { antiTheft: { ...settings, count: antiTheft } },
        );
        if (o.saveCards !== undefined) writeFileSync(o.saveCards, importCsv(cards), { mode: 0o600 });
      }
      const client = o.import || o.secret === undefined ? await apiClient(command) : undefined;
      if (o.import && client) {
        await client.request('POST', '/v1/sims/import', {
          raw: { data: importCsv(cards), contentType: 'text/csv' },
        });
        process.stderr.write(`imported ${cards.length} SIMs\n`);
      }
      const nasAddress = o.nasAddress ?? `127.0.1.${randomInt(1, 255)}`;
      const secret = o.secret ?? randomBytes(18).toString('base64url');
      const heavy = count('--heavy', o.heavy, 0, devices);
      const tty = process.stdout.isTTY === true;
      const network = new SmsNetwork({
        systemId: o.smscSystemId,
        // An eUICC's stored profiles too: SMS to the profile enabled later reach the same card.
        subscribers: cards.flatMap((c) =>
          profilesOf(c.file).map((p) => ({
            imsi: p.imsi,
            msisdn: p.msisdn,
            ...(p.imsi === c.file.imsi ? {} : { card: c.file.imsi }),
          })),
        ),
      });
      const { Smsc } = await import('../../servers/smpp/smsc.js');
      const smsc =
        smscAt === undefined
          ? undefined
          : await Smsc.start({
              host: smscAt.host,
              port: smscAt.port,
              accounts: { [o.smscSystemId]: smscPassword as string },
              receipt: false,
              onSimData: network.onSimData,
            });
      if (smsc) process.stderr.write(`lab SMSC at ${smsc.url} (system_id ${o.smscSystemId})\n`);
      const fleet = await Fleet.open({
        devices: cards.map((card, i) => ({
          card,
          imei: card.extra.imei ?? simulatedImei(i + 1),
          cell: {
            mcc: card.file.imsi.slice(0, 3),
            mnc: card.file.imsi.slice(3, 5),
            tac: 1 + (i % 16),
            eci: 0x100 + i,
          },
          heavy: i < heavy,
        })),
        gsup,
        radius: {
          host: o.radiusHost,
          authPort: count('--auth-port', o.authPort, 1, 65535),
          acctPort: count('--acct-port', o.acctPort, 1, 65535),
          secret,
        },
        nasAddress,
        interimSeconds: count('--interim', o.interim, 1, 86_400),
        moveEverySeconds: count('--move-every', o.moveEvery, 0, 86_400),
        swap: count('--swap', o.swap, 0, devices),
        swapAfterSeconds: count('--swap-after', o.swapAfter, 0, 86_400),
        steal: count('--steal', o.steal, 0, devices),
        stealAfterSeconds: count('--steal-after', o.stealAfter, 0, 86_400),
        onCardSms: network.onCardSms,
        // eUICCs open their SCP81 session to the SM-SR over BIP (a TCP channel from this host).
        ...(cards.some((c) => c.file.euicc !== undefined) ? { bip: {} } : {}),
        log: (e) => {
          if (
            e.kind === 'rejected' ||
            e.kind === 'swapped' ||
            e.kind === 'stolen' ||
            e.kind === 'refreshed' ||
            e.kind === 'rate' ||
            (e.kind === 'detached' && e.cause === 'Admin-Reset')
          )
            process.stderr.write(`${tty ? '\r\x1b[K' : ''}${JSON.stringify(e)}\n`);
        },
      });
      if (smsc) network.connect(fleet, smsc);
      let clientId: string | undefined;
      if (o.secret === undefined && client) {
        const registered = await client.request<{ clientId: string }>('POST', '/v1/radius_clients', {
          body: { address: nasAddress, secret, coaPort: fleet.coaPort, name: `simulator-${process.pid}` },
        });
        clientId = registered.clientId;
      }
      fleet.start();
      const ticker = setInterval(
        () =>
          process.stdout.write(
            tty ? `\r\x1b[K${summaryLine(fleet.summary())}` : `${summaryLine(fleet.summary())}\n`,
          ),
        tty ? 500 : 10_000,
      );
      await new Promise<void>((resolve) => {
        const timer = duration === undefined ? undefined : setTimeout(resolve, duration * 1000);
        const stop = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(ticker);
      await fleet.stop();
      network.close();
      await smsc?.close();
      if (clientId !== undefined && client) await client.request('DELETE', `/v1/radius_clients/${clientId}`);
      process.stdout.write(`${tty ? '\r\x1b[K' : ''}${summaryLine(fleet.summary())}\n`);
    });
}

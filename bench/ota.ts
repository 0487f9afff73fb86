// `npm run bench -- ota [seconds] [--db sqlite|postgres] [--sims N]`: OTA commands per second end to
// end — secure (counter moved in the database) → submit_sm → lab SMSC → SMS-PP into the software
// card → the applet runs READ STATE → PoR as deliver_sm → opened, verified and settled in the
// database — with N SIMs in flight at once (one command outstanding per SIM, as an OTA server keeps
// per-card order). Twice: with the SMSC and the cards in this process (one thread does it all), and
// with them in a process of their own (bench/_ota-network.ts), as in production. Beside it, in the
// same run: raw AES-CBC + AES-CMAC over a command-sized packet, and securing + opening a packet in
// process (no database, no SMPP, no card).

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  cipherSpec,
  cryptographicChecksum,
  encipher,
  type OtaKeySet,
} from '../src/crypto/ts-102-225-scp80.js';
import { encodeCommands } from '../src/lib/anti-theft-encoding.js';
import { hex } from '../src/lib/hex.js';
import {
  openResponsePacket,
  secureCommandPacket,
  secureResponsePacket,
} from '../src/lib/ts-102-225-secured-packet.js';
import { OtaInbound } from '../src/platform/ota/ota-inbound.js';
import { COMMAND_SPI, OtaService } from '../src/platform/ota/ota-service.js';
import { OtaSmppLink } from '../src/platform/ota/ota-smpp.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { openStore } from '../src/platform/store/database.js';
import { KIC, KID } from '../test/card/toolkit/fixture.js';
import { PLATFORM_ADDRESS, SMSC_ACCOUNT, startNetwork } from './_ota-network.js';
import { type BenchDialect, flag, fmt, freshDatabase, table } from './_support.js';

const KEYS: OtaKeySet = {
  kic: { algorithm: 'aes-cbc', key: hex(KIC) },
  kid: { algorithm: 'aes-cmac', key: hex(KID) },
};

function measureSync(seconds: number, batch: () => number): number {
  const warm = performance.now() + 200;
  while (performance.now() < warm) batch();
  let ops = 0;
  const start = performance.now();
  while (performance.now() < start + seconds * 1000) ops += batch();
  return ops / ((performance.now() - start) / 1000);
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const sims = Number(flag(args, '--sims') ?? 128);
  let sink = 0;

  // Reference 1: raw AES-CBC + AES-CMAC over a 48-octet command packet body.
  const body = new Uint8Array(randomBytes(48));
  const raw = measureSync(seconds, () => {
    for (let i = 0; i < 256; i++) {
      sink ^= cryptographicChecksum(KEYS.kid, body)[0] as number;
      sink ^= encipher(KEYS.kic, body)[0] as number;
    }
    return 256;
  });

  // Reference 2: secure a command and open its PoR in process.
  const data = encodeCommands([{ op: 'readState' }]);
  const tar = hex('C0A7C0');
  const kic = 0x10 | cipherSpec('aes-cbc').nibble;
  const kid = 0x12;
  let counter = 0;
  const inProcess = measureSync(seconds, () => {
    for (let i = 0; i < 256; i++) {
      counter++;
      const packet = secureCommandPacket({ spi: COMMAND_SPI, kic, kid, tar, counter, keys: KEYS, data });
      const por = secureResponsePacket({
        tar,
        counter,
        status: 0,
        data: Uint8Array.of(0x90, 0x02, 0x01, 0x00),
        integrity: 'cc',
        ciphered: true,
        keys: KEYS,
        kic,
        kid,
      });
      if (!packet.ok || !por.ok) throw new Error('secure failed');
      const opened = openResponsePacket(por.value, { integrity: 'cc', ciphered: true, keys: KEYS, kic, kid });
      sink ^= opened.ok ? opened.value.status : 1;
    }
    return 256;
  });

  // End to end.
  const { url, drop } = await freshDatabase(dialect);
  const store = await openStore(url);
  const ota = new OtaService(store, await KeyRing.open(store, randomBytes(32)), { now: () => Date.now() });
  const msisdns: string[] = [];
  const simIds: string[] = [];
  for (let i = 0; i < sims; i++) {
    const simId = `89810000000009${String(i).padStart(5, '0')}`;
    const msisdn = `8190${String(i).padStart(8, '0')}`;
    await store.db
      .insertInto('sim_profiles')
      .values({
        iccid: simId,
        sim_id: simId,
        operator_id: 'OPBENCH',
        imsi: `0010190${String(i).padStart(8, '0')}`,
        msisdn,
        secrets: 'unused',
        amf: '8000',
        sqn: 0,
        ind_bits: 5,
        is_primary: 1,
        created_at: 0,
      })
      .execute();
    await ota.provision(
      store.db,
      'OPBENCH',
      simId,
      [{ kvn: 1, kicAlgorithm: 'aes-cbc', kic: hex(KIC), kidAlgorithm: 'aes-cmac', kid: hex(KID) }],
      { kvn: 1, reportKvn: 1, quarantineImsi: `0010199${String(i).padStart(8, '0')}` },
    );
    simIds.push(simId);
    msisdns.push(msisdn);
  }

  /** Commands per second through the network at `url`, one lane per SIM. */
  const endToEnd = async (url: string) => {
    const settled = new Map<number, () => void>();
    // PoRs verified before their send resolved (the card may answer within the SMSC's accept).
    const early = new Set<number>();
    const link = await OtaSmppLink.connect(
      { url, ...SMSC_ACCOUNT, sourceAddr: PLATFORM_ADDRESS },
      new OtaInbound(store, ota),
      (o) => {
        if (o.kind === 'por') {
          const done = settled.get(o.commandId);
          if (done === undefined) early.add(o.commandId);
          else done();
        } else throw new Error(`unexpected ${o.kind}: ${'code' in o ? o.code : ''}`);
      },
    );
    const lane = async (simId: string, until: number) => {
      let n = 0;
      while (performance.now() < until) {
        const sent = await ota.sendAntiTheftCommands('OPBENCH', simId, [{ op: 'readState' }], link);
        if (!early.delete(sent.commandId))
          await new Promise<void>((resolve) => settled.set(sent.commandId, resolve));
        settled.delete(sent.commandId);
        n++;
      }
      return n;
    };
    await Promise.all(simIds.map((s) => lane(s, performance.now() + 300)));
    const before = { ...ota.writeStats };
    const cpu = process.cpuUsage();
    const start = performance.now();
    const until = start + seconds * 1000;
    const counts = await Promise.all(simIds.map((s) => lane(s, until)));
    const commands = counts.reduce((a, b) => a + b, 0);
    const perSecond = commands / ((performance.now() - start) / 1000);
    const used = process.cpuUsage(cpu);
    const after = ota.writeStats;
    await link.close();
    const perCommit = (after.operations - before.operations) / Math.max(1, after.commits - before.commits);
    // CPU time this process spent per command (user + system): unlike the rate, it does not depend
    // on what else the machine runs.
    const cpuMs = (used.user + used.system) / 1000 / commands;
    return { perSecond, perCommit, cpuMs };
  };

  // 1. Everything in this process: the platform, the SMSC and the cards share one thread.
  const smsc = await startNetwork(msisdns);
  const inline = await endToEnd(smsc.url);
  await smsc.close();

  // 2. The SMSC and the cards in a process of their own, as in production.
  const network = fork(fileURLToPath(new URL('./_ota-network.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
  });
  const networkUrl = await new Promise<string>((resolve, reject) => {
    network.once('message', (m) => resolve((m as { url: string }).url));
    network.once('error', reject);
    network.send({ msisdns });
  });
  const separate = await endToEnd(networkUrl);
  network.send('close');
  await new Promise((resolve) => network.once('exit', resolve));
  await store.close();
  await drop();

  const e2e = `OTA end to end (${dialect}, ${sims} SIMs)`;
  table([
    { measure: 'raw AES-CBC + AES-CMAC (48-octet packet)', 'per second': fmt(raw) },
    { measure: 'secure command + open PoR, in process', 'per second': fmt(inProcess) },
    {
      measure: `${e2e}: SMSC + cards in this process`,
      'per second': fmt(inline.perSecond),
      'platform CPU ms per command': fmt(inline.cpuMs, 3),
      'writes per commit': fmt(inline.perCommit, 1),
    },
    {
      measure: `${e2e}: SMSC + cards in their own`,
      'per second': fmt(separate.perSecond),
      'platform CPU ms per command': fmt(separate.cpuMs, 3),
      'writes per commit': fmt(separate.perCommit, 1),
    },
  ]);
  if (sink === 0x1_0000) console.log('');
}

// `npm run bench -- ota [seconds] [--db sqlite|postgres] [--sims N]`: OTA commands per second end to
// end — secure (counter moved in the database) → submit_sm → lab SMSC → SMS-PP into the software
// card → the applet runs READ STATE → PoR as deliver_sm → opened, verified and settled in the
// database — with N SIMs in flight at once (one command outstanding per SIM, as an OTA server keeps
// per-card order). Beside it, in the same run: raw AES-CBC + AES-CMAC over a command-sized
// packet, and securing + opening a packet in process (no database, no SMPP, no card).

import { randomBytes } from 'node:crypto';
import {
  cipherSpec,
  cryptographicChecksum,
  encipher,
  type OtaKeySet,
} from '../src/crypto/ts-102-225-scp80.js';
import { encodeCommands } from '../src/lib/anti-theft-encoding.js';
import { hex } from '../src/lib/hex.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeUserData,
  internationalAddress,
  simDataDownload,
} from '../src/lib/ts-23-040-sms-tpdu.js';
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
import { Smsc } from '../src/servers/smpp/smsc.js';
import { cell, type Device, device, IMEI, KIC, KID, newCard } from '../test/card/toolkit/fixture.js';
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
  const devices = new Map<string, Device>();
  const simOf = new Map<string, string>();
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
    const d = device(newCard(), IMEI, cell(1));
    d.modem.boot();
    devices.set(msisdn, d);
    simOf.set(simId, msisdn);
  }
  const settled = new Map<number, () => void>();
  let smsc: Smsc | undefined;
  smsc = await Smsc.start({
    accounts: { ota: 'bench' },
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
        smsc?.deliverMo('ota', {
          source: m.destination,
          destination: '8170000999',
          protocolId: s.value.protocolIdentifier,
          dataCoding: s.value.dataCodingScheme,
          userData: encodeUserData(s.value.userData),
        });
      }
    },
  });
  const link = await OtaSmppLink.connect(
    { url: smsc.url, systemId: 'ota', password: 'bench', sourceAddr: '8170000999' },
    new OtaInbound(store, ota),
    (o) => {
      if (o.kind === 'por') settled.get(o.commandId)?.();
      else throw new Error(`unexpected ${o.kind}: ${'code' in o ? o.code : ''}`);
    },
  );
  // The PoR may arrive before the send resolves: the row tells whether it settled already.
  const lane = async (simId: string, until: number) => {
    let n = 0;
    while (performance.now() < until) {
      const sent = await ota.sendAntiTheftCommands('OPBENCH', simId, [{ op: 'readState' }], link);
      await new Promise<void>((resolve) => {
        settled.set(sent.commandId, resolve);
        void store.db
          .selectFrom('ota_commands')
          .select('status')
          .where('id', '=', sent.commandId)
          .executeTakeFirst()
          .then((r) => r?.status !== 'pending' && resolve());
      });
      n++;
    }
    return n;
  };
  await Promise.all([...simOf.keys()].map((s) => lane(s, performance.now() + 300)));
  const start = performance.now();
  const until = start + seconds * 1000;
  const counts = await Promise.all([...simOf.keys()].map((s) => lane(s, until)));
  const e2e = counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
  await link.close();
  await smsc.close();
  await store.close();
  await drop();

  table([
    { measure: 'raw AES-CBC + AES-CMAC (48-octet packet)', 'per second': fmt(raw) },
    { measure: 'secure command + open PoR, in process', 'per second': fmt(inProcess) },
    {
      measure: `OTA commands end to end (${dialect}, ${sims} SIMs, SMPP, card, verified PoR)`,
      'per second': fmt(e2e),
    },
  ]);
  if (sink === 0x1_0000) console.log('');
}

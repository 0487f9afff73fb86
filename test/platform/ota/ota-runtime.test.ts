// The server's OTA link (keepOtaLink, startOtaLink): bound to the lab SMSC over TCP it is what
// OtaService sends through; when the SMSC drops every link it is withdrawn (sends answer
// ERR_OTA_UNAVAILABLE instead of vanishing) and bound again; incomplete settings refuse to start.
// SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { OtaInbound } from '../../../src/platform/ota/ota-inbound.js';
import { startOtaLink } from '../../../src/platform/ota/ota-runtime.js';
import { generateOtaKeySet, OtaService } from '../../../src/platform/ota/ota-service.js';
import { keepOtaLink } from '../../../src/platform/ota/ota-smpp.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';
import { startTestApi } from '../../platform/aaa/fixture.js';

let t: TestDatabase;
let ota: OtaService;
let smsc: Smsc;
const SIM = '8981000000000900033';

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), new ManualClock());
  await t.store.db
    .insertInto('sim_profiles')
    .values({
      iccid: SIM,
      sim_id: SIM,
      operator_id: 'OP1',
      imsi: '001019000000033',
      msisdn: '819012340033',
      secrets: 'unused',
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
  await ota.provision(t.store.db, 'OP1', SIM, [generateOtaKeySet(1)], {
    kvn: 1,
    reportKvn: 1,
    quarantineImsi: '001019999000033',
  });
  smsc = await Smsc.start({ accounts: { ota: 'pw' } });
});
afterAll(async () => {
  await smsc.close();
  await t.cleanup();
});

describe(`OTA link of the server on ${testDialect}`, () => {
  it('binds, is withdrawn when the SMSC drops it, and binds again', async () => {
    const events: string[] = [];
    const waiters: Array<[string, () => void]> = [];
    const next = (kind: string) =>
      new Promise<void>((resolve) => {
        if (events.includes(kind)) {
          events.splice(events.indexOf(kind), 1);
          resolve();
        } else waiters.push([kind, resolve]);
      });
    const kept = keepOtaLink(
      { url: smsc.url, systemId: 'ota', password: 'pw', sourceAddr: '8170000999' },
      ota,
      new OtaInbound(t.store, ota),
      (e) => {
        const i = waiters.findIndex(([k]) => k === e.kind);
        if (i >= 0) waiters.splice(i, 1)[0]?.[1]();
        else events.push(e.kind);
      },
    );
    try {
      await next('bound');
      const sent = await ota.send('OP1', SIM, [{ op: 'readState' }]);
      expect(sent.counter).toBe(1);
      smsc.dropLinks();
      await next('lost');
      await expect(ota.send('OP1', SIM, [{ op: 'readState' }])).rejects.toMatchObject({
        code: 'ERR_OTA_UNAVAILABLE',
      });
      await next('bound');
      expect(smsc.binds).toBe(2);
      expect((await ota.send('OP1', SIM, [{ op: 'readState' }])).counter).toBe(2);
    } finally {
      await kept.close();
    }
    await expect(ota.send('OP1', SIM, [{ op: 'readState' }])).rejects.toMatchObject({
      code: 'ERR_OTA_UNAVAILABLE',
    });
  });

  it('refuses to start with otaSmppUrl but no password or source address, saying what to set', async () => {
    const api = await startTestApi({ config: { otaSmppUrl: smsc.url } });
    try {
      expect(() => startOtaLink(api.platform, pino({ level: 'silent' }))).toThrow(
        /otaSmppPassword and otaSmppSourceAddr/,
      );
    } finally {
      await api.close();
    }
  });
});

// OTA key provisioning where SIMs come in (issue 13): the `ota` section of POST /v1/sims and the OTA
// columns of the card vendor CSV (kic, kid, kvn, quarantine_imsi). Threats: OTA keys echoed in an
// answer or an error, stored unsealed, a half-provisioned SIM (SIM without its keys or keys without
// their SIM), a quarantine identity that is someone's IMSI, hostile CSV values reaching the store.
// Runs on SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { ImportSummary } from '../../../src/platform/sims/csv-import.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { testDialect } from '../../helpers/database.js';

let api: TestApi;
let serial = 1;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

/** A fresh SIM's identities and keys (IMSIs on 001/77, quarantine IMSIs on 001/78). */
function newSim() {
  const n = serial++;
  const body = `8900177${String(n).padStart(11, '0')}`;
  return {
    iccid: body + luhnCheckDigit(body),
    imsi: `00177${String(n).padStart(10, '0')}`,
    quarantine: `00178${String(n).padStart(10, '0')}`,
    ki: randomBytes(16).toString('hex'),
    opc: randomBytes(16).toString('hex'),
    kic: randomBytes(16).toString('hex'),
    kid: randomBytes(16).toString('hex'),
  };
}

type NewSim = ReturnType<typeof newSim>;

const HEADER = 'iccid,imsi,msisdn,ki,opc,kic,kid,kvn,quarantine_imsi';
const line = (s: NewSim, o: Partial<Record<'kic' | 'kid' | 'kvn' | 'quarantine', string>> = {}) =>
  [
    s.iccid,
    s.imsi,
    '',
    s.ki,
    s.opc,
    o.kic ?? s.kic,
    o.kid ?? s.kid,
    o.kvn ?? '1',
    o.quarantine ?? s.quarantine,
  ]
    .map((v) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v))
    .join(',');

function importText(text: string): Promise<ImportSummary> {
  const ctx = systemContext(api.operator.operatorId, 'Sim:importSims', 'test');
  return api.platform.importer.importCsv(ctx, Readable.from([Buffer.from(text)]));
}

async function stored(simId: string) {
  const db = api.platform.store.db;
  const [sim, keysets, applet] = await Promise.all([
    db.selectFrom('sims').select('sim_id').where('sim_id', '=', simId).executeTakeFirst(),
    db.selectFrom('ota_key_sets').selectAll().where('sim_id', '=', simId).execute(),
    db.selectFrom('anti_theft_sims').selectAll().where('sim_id', '=', simId).executeTakeFirst(),
  ]);
  return { sim, keysets, applet };
}

describe(`OTA key provisioning on ${testDialect}`, () => {
  it('POST /v1/sims with ota: keys sealed, never echoed, the applet known to the platform', async () => {
    const s = newSim();
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: {
        iccid: s.iccid,
        imsi: s.imsi,
        ki: s.ki,
        opc: s.opc,
        ota: { keySets: [{ kvn: 1, kic: s.kic, kid: s.kid }], antiTheft: { quarantineImsi: s.quarantine } },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.body.toLowerCase()).not.toContain(s.kic);
    expect(res.body.toLowerCase()).not.toContain(s.kid);
    const { keysets, applet } = await stored(s.iccid);
    expect(keysets).toHaveLength(1);
    expect(keysets[0]).toMatchObject({ kvn: 1, kic_algorithm: 'aes-cbc', kid_algorithm: 'aes-cmac' });
    expect(JSON.stringify(keysets).toLowerCase()).not.toContain(s.kic);
    expect(applet).toMatchObject({ kvn: 1, report_kvn: 1, quarantine_imsi: s.quarantine, tar: 'C0A7C0' });
    const view = await api.call({ method: 'GET', url: `/v1/sims/${s.iccid}/anti_theft` });
    expect(view.statusCode, view.body).toBe(200);
    expect(view.json()).toMatchObject({ quarantineImsi: s.quarantine });
    expect(view.body.toLowerCase()).not.toContain(s.kic);
    const audit = await api.platform.store.db.selectFrom('audit_logs').selectAll().execute();
    expect(JSON.stringify(audit).toLowerCase()).not.toContain(s.kic);
  });

  it('POST /v1/sims refuses a bad key without echoing it, and stores no SIM', async () => {
    const s = newSim();
    const shortKic = s.kic.slice(0, 30);
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: {
        iccid: s.iccid,
        imsi: s.imsi,
        ki: s.ki,
        opc: s.opc,
        ota: { keySets: [{ kvn: 1, kic: `${shortKic}00`, kid: s.kid, kicAlgorithm: '3des-3key-cbc' }] },
      },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().message).toMatch(/kic of key version 1/);
    expect(res.body.toLowerCase()).not.toContain(shortKic);
    expect(res.body.toLowerCase()).not.toContain(s.kid);
    expect((await stored(s.iccid)).sim).toBeUndefined();
    // Refused by the schema already (not hex): the answer does not carry the value either.
    const notHex = `${s.kic.slice(0, 30)}zz`;
    const schema = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: {
        iccid: s.iccid,
        imsi: s.imsi,
        ki: s.ki,
        opc: s.opc,
        ota: { keySets: [{ kvn: 1, kic: notHex, kid: s.kid }] },
      },
    });
    expect(schema.statusCode, schema.body).toBe(400);
    expect(schema.body).toMatch(/kic/);
    expect(schema.body.toLowerCase()).not.toContain(notHex.slice(0, 30));
    expect(schema.body.toLowerCase()).not.toContain(s.kid);
    expect((await stored(s.iccid)).sim).toBeUndefined();
  });

  it('a quarantine IMSI that is a subscriber IMSI or another SIM’s quarantine identity is refused, nothing stored', async () => {
    const a = newSim();
    const b = newSim();
    const create = (s: NewSim, quarantineImsi: string) =>
      api.call({
        method: 'POST',
        url: '/v1/sims',
        payload: {
          iccid: s.iccid,
          imsi: s.imsi,
          ki: s.ki,
          opc: s.opc,
          ota: { keySets: [{ kvn: 2, kic: s.kic, kid: s.kid }], antiTheft: { quarantineImsi } },
        },
      });
    expect((await create(a, a.quarantine)).statusCode).toBe(201);
    for (const taken of [a.quarantine, a.imsi]) {
      const res = await create(b, taken);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().message).toMatch(/quarantine IMSI/);
      expect(await stored(b.iccid)).toMatchObject({ sim: undefined, keysets: [], applet: undefined });
    }
    const own = await create(b, b.imsi);
    expect(own.statusCode).toBe(400);
  });

  it('CSV import with OTA columns provisions each SIM; re-import is unchanged; other keys conflict', async () => {
    const [a, b, c] = [newSim(), newSim(), newSim()];
    const plain = newSim();
    const text = `${HEADER}\n${line(a)}\n${line(b, { quarantine: '' })}\n${line(c, { kvn: '3' })}\n${[plain.iccid, plain.imsi, '', plain.ki, plain.opc, '', '', '', ''].join(',')}\n`;
    const first = await importText(text);
    expect(first).toMatchObject({ rows: 4, created: 4, rejected: 0 });
    expect((await stored(a.iccid)).applet).toMatchObject({ quarantine_imsi: a.quarantine, kvn: 1 });
    expect(await stored(b.iccid)).toMatchObject({ applet: undefined, keysets: [{ kvn: 1 }] });
    expect(await stored(c.iccid)).toMatchObject({ applet: { kvn: 3, report_kvn: 3 }, keysets: [{ kvn: 3 }] });
    expect(await stored(plain.iccid)).toMatchObject({ keysets: [], applet: undefined });

    const again = await importText(text);
    expect(again).toMatchObject({ rows: 4, created: 0, unchanged: 4, rejected: 0 });

    const otherKid = randomBytes(16).toString('hex');
    const changed = await importText(`${HEADER}\n${line(a, { kid: otherKid })}\n`);
    expect(changed).toMatchObject({ rejected: 1, unchanged: 0 });
    expect(changed.errors[0]?.reason).toMatch(/OTA key sets/);
    expect(JSON.stringify(changed).toLowerCase()).not.toContain(otherKid);
  });

  it('CSV: a quarantine IMSI used twice in the file or already taken is refused for that row only', async () => {
    const [a, b, c] = [newSim(), newSim(), newSim()];
    const s = await importText(
      `${HEADER}\n${line(a)}\n${line(b, { quarantine: a.quarantine })}\n${line(c, { quarantine: a.imsi })}\n`,
    );
    expect(s).toMatchObject({ rows: 3, created: 1, rejected: 2 });
    expect((await stored(b.iccid)).sim).toBeUndefined();
    expect((await stored(c.iccid)).sim).toBeUndefined();
    const later = newSim();
    const taken = await importText(`${HEADER}\n${line(later, { quarantine: a.quarantine })}\n`);
    expect(taken).toMatchObject({ created: 0, rejected: 1 });
    expect(taken.errors[0]?.reason).toMatch(/quarantine IMSI/);
    expect(await stored(later.iccid)).toMatchObject({ sim: undefined, keysets: [] });
  });

  it('property: hostile values in the OTA columns are refused per row, nothing stored, never echoed', async () => {
    const hex = (n: number) =>
      fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
    const validKey = (v: string) => /^[0-9a-fA-F]+$/.test(v) && [32, 48, 64].includes(v.trim().length);
    const badKey = fc.oneof(
      fc.string({ maxLength: 80 }),
      hex(15),
      hex(17),
      hex(16).map((h) => `${h.slice(0, 31)}g`),
      hex(16).map((h) => `${h}\u0000`),
      hex(16).map((h) => `0x${h}`),
      fc.constantFrom('=cmd|calc', "'; DROP TABLE ota_key_sets; --", '../../etc/passwd', '%00', '\u202e'),
    );
    const badKvn = fc.oneof(
      fc.constantFrom('0', '16', '-1', '1.5', '1e1', '01a', ' 99', 'NaN', '٣'),
      fc.string({ maxLength: 8 }).filter((k) => !/^\s*(\d{1,2})?\s*$/.test(k)),
    );
    const badImsi = fc.oneof(
      fc.string({ maxLength: 20 }).filter((q) => q.trim() !== '' && !/^\d{6,15}$/.test(q.trim())),
      fc.constantFrom('12345', '1234567890123456', '00101０１２３４５', '00101123456789x'),
    );
    type Hostile = { kic?: string; kid?: string; kvn?: string; quarantine?: string };
    const hostile: fc.Arbitrary<Hostile> = fc.oneof(
      badKey.filter((v) => !validKey(v) && v.trim() !== '').map((kic) => ({ kic })),
      badKey.filter((v) => !validKey(v) && v.trim() !== '').map((kid) => ({ kid })),
      badKvn.map((kvn) => ({ kvn })),
      badImsi.map((quarantine) => ({ quarantine })),
      fc.constant({ kic: '' }),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (bad) => {
        const good = newSim();
        const victim = newSim();
        const s = await importText(`${HEADER}\n${line(good)}\n${line(victim, bad)}\n`);
        expect(s.created).toBe(1);
        expect(s.rejected).toBe(1);
        expect(s.errors[0]).toMatchObject({ line: 3, code: 'ERR_IMPORT_ROW' });
        const answer = JSON.stringify(s).toLowerCase();
        for (const secret of [victim.kic, victim.kid, good.kic, good.kid])
          expect(answer).not.toContain(secret);
        for (const value of [bad.kic, bad.kid].filter((v): v is string => v !== undefined && v.length >= 8))
          expect(answer).not.toContain(JSON.stringify(value.toLowerCase()).slice(1, -1));
        expect(await stored(victim.iccid)).toMatchObject({ sim: undefined, keysets: [], applet: undefined });
        expect((await stored(good.iccid)).keysets).toHaveLength(1);
      }),
      { numRuns: 40 },
    );
  });
});

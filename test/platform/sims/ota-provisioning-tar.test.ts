// Issue 13 follow-up: the platform side of applet provisioning applies the card file's TAR rule
// (src/lib/ts-101-220-tar.ts, TS 101 220 §6). Threat: an applet provisioned on the platform at a TAR
// the card keeps for the issuer security domain ('000000') or for ETSI/3GPP applications, remote file
// management included ('B00000'-'BFFFFF'): the platform's commands would then be addressed to RFM or
// the ISD instead of the applet, and a card file with that TAR would not even load. Such a TAR is
// refused with a clear error wherever the platform takes it (the `ota` section of POST /v1/sims and
// OtaService.provision), and nothing is stored. Runs on SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CardFile, parseCardFile } from '../../../src/card/card-file.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import { applicationTarProblem, isApplicationTar, tarAllocation } from '../../../src/lib/ts-101-220-tar.js';
import { DEFAULT_ANTI_THEFT_TAR, generateOtaKeySet } from '../../../src/platform/ota/ota-service.js';
import { checkSimOta } from '../../../src/platform/sims/ota-provisioning.js';
import { antiTheftCardFile } from '../../card/toolkit/fixture.js';
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

/** A fresh SIM's identities and keys (IMSIs on 001/79, quarantine IMSIs on 001/80). */
function newSim() {
  const n = serial++;
  const body = `8900179${String(n).padStart(11, '0')}`;
  return {
    iccid: body + luhnCheckDigit(body),
    imsi: `00179${String(n).padStart(10, '0')}`,
    quarantine: `00180${String(n).padStart(10, '0')}`,
    ki: randomBytes(16).toString('hex'),
    opc: randomBytes(16).toString('hex'),
    kic: randomBytes(16).toString('hex'),
    kid: randomBytes(16).toString('hex'),
  };
}

const hex6 = (n: number) => n.toString(16).padStart(6, '0');
const anyCase = (tar: string, upper: readonly boolean[]) =>
  [...tar].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join('');

/** TARs of the reserved blocks (with their edges), in any letter case. */
const reservedTar = fc
  .tuple(
    fc.oneof(
      fc.constant(0x000000),
      fc.integer({ min: 0xb00000, max: 0xbfffff }),
      fc.constantFrom(0xb00000, 0xb00011, 0xb0ffff, 0xb10000, 0xbfffff),
    ),
    fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  )
  .map(([n, upper]) => anyCase(hex6(n), upper));

/** Any 24-bit TAR, edges of the blocks included. */
const anyTar = fc
  .tuple(
    fc.oneof(
      fc.integer({ min: 0, max: 0xffffff }),
      fc.constantFrom(0x000000, 0x000001, 0xafffff, 0xb00000, 0xbfffff, 0xc00000, 0xc0a7c0, 0xffffff),
    ),
    fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  )
  .map(([n, upper]) => anyCase(hex6(n), upper));

/** Hostile values where a TAR is expected: near misses, padding, other encodings, other types. */
const hostileTar: fc.Arbitrary<unknown> = fc.oneof(
  reservedTar,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  reservedTar.map((t) => ` ${t}`),
  reservedTar.map((t) => `${t}\n`),
  reservedTar.map((t) => `0x${t}`),
  reservedTar.map((t) => t.slice(1)),
  reservedTar.map((t) => `${t}00`),
  fc.constantFrom('B0 00 00', 'b0-00-00', '０００００', 'ＢＯＯＯＯＯ', 'C0A7C', 'C0A7C0C0', '', 'GGGGGG'),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
);

const section = (quarantineImsi: string, tar: unknown) => ({
  keySets: [{ kvn: 1, kic: randomBytes(16).toString('hex'), kid: randomBytes(16).toString('hex') }],
  antiTheft: { quarantineImsi, tar: tar as string },
});

/** Whether the card loads a card file whose anti-theft applet has this TAR. */
function cardAccepts(tar: string): boolean {
  const file = antiTheftCardFile();
  const withTar: CardFile = {
    ...file,
    applets: (file.applets ?? []).map((a) => ({ ...a, tar })),
  };
  return parseCardFile(JSON.parse(JSON.stringify(withTar))).ok;
}

async function stored(simId: string) {
  const db = api.platform.store.db;
  const [sim, keysets, applet] = await Promise.all([
    db.selectFrom('sims').select('sim_id').where('sim_id', '=', simId).executeTakeFirst(),
    db.selectFrom('ota_key_sets').select('kvn').where('sim_id', '=', simId).execute(),
    db.selectFrom('anti_theft_sims').select('tar').where('sim_id', '=', simId).executeTakeFirst(),
  ]);
  return { sim, keysets, applet };
}

describe('the applet TAR rule, pure', () => {
  it('the default TAR is an application TAR', () => {
    expect(isApplicationTar(DEFAULT_ANTI_THEFT_TAR)).toBe(true);
    expect(checkSimOta(section('001019999000001', DEFAULT_ANTI_THEFT_TAR), '001010000000001').ok).toBe(true);
  });

  it('property: the platform takes exactly the TARs the card file takes', () => {
    fc.assert(
      fc.property(anyTar, (tar) => {
        const platform = checkSimOta(section('001019999000001', tar), '001010000000001');
        expect(platform.ok).toBe(cardAccepts(tar));
        expect(platform.ok).toBe(tarAllocation(tar) === 'application');
        if (platform.ok) expect(platform.ota.antiTheft?.tar).toBe(tar.toUpperCase());
      }),
      { numRuns: 2000 },
    );
  });

  it('property: hostile TARs are refused with a reason that says what to use, never thrown', () => {
    fc.assert(
      fc.property(hostileTar, (tar) => {
        const checked = checkSimOta(section('001019999000001', tar), '001010000000001');
        expect(checked.ok).toBe(false);
        if (checked.ok) return;
        expect(checked.reason).toMatch(/^ota\.antiTheft\.tar /);
        expect(checked.reason).toMatch(/6 hex digits|C0A7C0/);
        expect(checked.reason.length).toBeLessThan(300);
      }),
      { numRuns: 2000 },
    );
  });

  it('the reason names the block', () => {
    expect(applicationTarProblem('000000')).toMatch(/issuer security domain/);
    expect(applicationTarProblem('b00000')).toMatch(
      /^B00000 is in 'B00000'-'BFFFFF'.*remote file management/,
    );
    expect(applicationTarProblem('BFFFFF')).toMatch(/ETSI\/3GPP/);
    expect(applicationTarProblem('C0A7C0')).toBeUndefined();
    expect(applicationTarProblem('AFFFFF')).toBeUndefined();
    expect(applicationTarProblem('C00000')).toBeUndefined();
  });
});

describe(`the applet TAR rule where SIMs come in, on ${testDialect}`, () => {
  it('property: POST /v1/sims with a reserved or hostile TAR is 400 with a clear error, and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileTar, async (tar) => {
        const s = newSim();
        const res = await api.call({
          method: 'POST',
          url: '/v1/sims',
          payload: {
            iccid: s.iccid,
            imsi: s.imsi,
            ki: s.ki,
            opc: s.opc,
            ota: {
              keySets: [{ kvn: 1, kic: s.kic, kid: s.kid }],
              antiTheft: { quarantineImsi: s.quarantine, tar },
            },
          },
        });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
        expect(res.json().message).toMatch(/tar/);
        if (typeof tar === 'string' && tarAllocation(tar) !== undefined)
          expect(res.json().message).toMatch(/TS 101 220.*C0A7C0/);
        expect(res.body.toLowerCase()).not.toContain(s.kic);
        expect(res.body.toLowerCase()).not.toContain(s.kid);
        expect(await stored(s.iccid)).toEqual({ sim: undefined, keysets: [], applet: undefined });
      }),
      { numRuns: 40 },
    );
  });

  it('property: POST /v1/sims with an application TAR provisions the applet at that TAR', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyTar.filter((t) => isApplicationTar(t)),
        async (tar) => {
          const s = newSim();
          const res = await api.call({
            method: 'POST',
            url: '/v1/sims',
            payload: {
              iccid: s.iccid,
              imsi: s.imsi,
              ki: s.ki,
              opc: s.opc,
              ota: {
                keySets: [{ kvn: 1, kic: s.kic, kid: s.kid }],
                antiTheft: { quarantineImsi: s.quarantine, tar },
              },
            },
          });
          expect(res.statusCode, res.body).toBe(201);
          expect((await stored(s.iccid)).applet).toEqual({ tar: tar.toUpperCase() });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('property: OtaService.provision refuses a reserved TAR (ERR_VALIDATION) and writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(reservedTar, async (tar) => {
        const s = newSim();
        let thrown: unknown;
        try {
          await api.platform.store.transaction((trx) =>
            api.platform.ota.provision(trx, api.operator.operatorId, s.iccid, [generateOtaKeySet(1)], {
              kvn: 1,
              reportKvn: 1,
              quarantineImsi: s.quarantine,
              tar,
            }),
          );
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(SimtrustError);
        expect(thrown).toMatchObject({ code: 'ERR_VALIDATION' });
        expect((thrown as Error).message).toMatch(/^the anti-theft TAR .*TS 101 220/);
        expect(await stored(s.iccid)).toEqual({ sim: undefined, keysets: [], applet: undefined });
      }),
      { numRuns: 25 },
    );
  });
});

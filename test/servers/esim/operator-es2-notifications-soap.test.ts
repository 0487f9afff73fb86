// serve's operator layer as receiver of a partner SM-DP's ES2 notifications over the SGP.02 SOAP
// listener (mutual TLS; esim-runtime.ts: operatorEs2Notifications, issue 16). Threats: a party that is
// not a partner, or a partner in another role, changing the operator's inventory; a registered SM-DP
// that repoints an eUICC of ours at another SM-SR although it installed none of our profiles there
// (the EIS names no profile of ours from it). Each is refused and changes nothing; the SM-DP of our
// profile reaches the operator layer: the profile's state and the eUICC's SM-SR follow, audited.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { soapEs2Notifications } from '../../../src/platform/esim/es-soap/port-clients.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { Eis, ProfileInfo } from '../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { EsimPartners, type PartnerRole } from '../../../src/platform/esim/partners/partners-registry.js';
import { DEFAULT_SPEED_CLASS } from '../../../src/platform/sims/model.js';
import { newSimRow } from '../../../src/platform/sims/sim-service.js';
import {
  mnoIdOf,
  operatorEs2Notifications,
  type RunningEsim,
  startEsim,
} from '../../../src/servers/esim/esim-runtime.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { waitFor } from '../../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { sampleBody } from '../../platform/esim/es-soap/fixtures.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const SMDP = '1.3.6.1.4.1.99999.4.7';
const OTHER_SMDP = '1.3.6.1.4.1.99999.4.8';
const SMSR_PARTNER = '1.3.6.1.4.1.99999.1.9';
const NEW_SMSR = '1.3.6.1.4.1.99999.1.3';
const OTHER_MNO = '1.3.6.1.4.1.99999.3.77';
const EID = '89049032123451234512345678901235';
const ICCID = '8944000000000000017';
let dir: string;
let ours: TlsIdentity;
let api: TestApi | undefined;
let esim: RunningEsim | undefined;
const nodes: SoapNode[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esim-op-es2-soap-'));
  ours = await issueTlsIdentity('operator.this-deployment');
  writeFileSync(join(dir, 'key.pem'), ours.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'cert.pem'), ours.certificatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  await esim?.close();
  esim = undefined;
  await api?.platform.esimOperations.drained();
  await api?.close();
  api = undefined;
});

describe('serve: a partner SM-DP notifies the operator layer on ES2', () => {
  it('a non-partner and a partner in another role change nothing; the SM-DP of our profile moves its state and the SM-SR; a foreign SM-DP is refused', async () => {
    // What the listener logs: the handlers' refusals.
    const logged: { err?: { message?: string } }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, done) {
          logged.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    api = await startTestApi({
      config: {
        esimSoapPort: 0,
        esimSoapKeyFile: join(dir, 'key.pem'),
        esimSoapCertificateFile: join(dir, 'cert.pem'),
      },
    });
    await api.platform.esimPki.ensureDemo();
    const operatorId = api.operator.operatorId;
    const mno = mnoIdOf(operatorId);
    esim = await startEsim(api.platform, operatorId, log);
    const url = esim.soap?.url ?? '';
    const { store, clock } = api.platform;
    const db = store.db;

    // An eUICC of our inventory at our SM-SR, with a profile of our MNO (rows as registration and a
    // download write them).
    const now = clock.now();
    await db
      .insertInto('sims')
      .values(
        newSimRow(operatorId, EID, now, {
          type: 'euicc',
          speedClass: DEFAULT_SPEED_CLASS,
          groupId: null,
          serialNumber: null,
        }),
      )
      .execute();
    await db
      .insertInto('esim_euiccs')
      .values({ sim_id: EID, operator_id: operatorId, eid: EID, smsr_id: esim.smsrId, created_at: now })
      .execute();
    await db
      .insertInto('esim_profiles')
      .values({
        iccid: ICCID,
        sim_id: EID,
        operator_id: operatorId,
        mno_id: mno,
        state: 'Disabled',
        imsi: null,
        msisdn: null,
        profile_type: 'simtrust-usim',
        updated_at: now,
      })
      .execute();

    // Peers of another deployment: a registered SM-DP, a registered SM-SR, and a stranger.
    const peer = async (name: string, entityId?: string, role?: PartnerRole) => {
      const tls = await issueTlsIdentity(name);
      const node = await SoapNode.start({
        name,
        tls,
        partners: [{ name: 'operator', url, certificatePem: ours.certificatePem }],
        handlers: {},
      });
      nodes.push(node);
      if (entityId !== undefined && role !== undefined)
        await new EsimPartners(store, clock).add({
          operatorId,
          entityId,
          role,
          endpoint: node.url,
          certificatePem: tls.certificatePem,
        });
      return soapEs2Notifications(node, { partner: 'operator' });
    };
    const smdp = await peer('sm-dp.partner', SMDP, 'sm-dp');
    const smsr = await peer('sm-sr.partner', SMSR_PARTNER, 'sm-sr');
    const stranger = await peer('sm-dp.stranger');
    await esim.soap?.refresh();

    const stateOf = async () =>
      (
        await db
          .selectFrom('esim_profiles')
          .select('state')
          .where('iccid', '=', ICCID)
          .executeTakeFirstOrThrow()
      ).state;
    const smsrOf = async () =>
      (await db.selectFrom('esim_euiccs').select('smsr_id').where('eid', '=', EID).executeTakeFirstOrThrow())
        .smsr_id;
    const audits = (operation: string) =>
      db
        .selectFrom('audit_logs')
        .select(['actor_kind', 'detail'])
        .where('operation_id', '=', operation)
        .orderBy('id')
        .execute();
    const enabled = { eid: EID, iccid: ICCID, completionTimestamp: new Date(now) };

    // Not a partner: 403 before the body is read.
    await expect(stranger.handleProfileEnabledNotification(enabled)).rejects.toThrow(/HTTP 403/);
    // A partner SM-SR sending ES2 (the SM-DP's interface): refused by interface, nothing runs.
    await expect(smsr.handleProfileEnabledNotification(enabled)).rejects.toThrow(
      /HTTP 403, SOAP_NOT_ALLOWED: .* may not use ES2/,
    );
    expect(await stateOf()).toBe('Disabled');

    // The partner SM-DP: the profile is Enabled in the inventory, audited.
    await smdp.handleProfileEnabledNotification(enabled);
    expect(await waitFor('the profile enabled', stateOf, (s) => s === 'Enabled', 20_000)).toBe('Enabled');
    const [enabledRecord, ...moreEnabled] = await audits('Esim:handleProfileEnabledNotification');
    expect(moreEnabled).toEqual([]);
    expect(JSON.parse(enabledRecord?.detail ?? '{}')).toMatchObject({
      eid: EID,
      iccid: ICCID,
      previousState: 'Disabled',
      state: 'Enabled',
    });

    // The SM-SR change relayed: the EIS as the relaying SM-DP sends it (our MNO's profiles only).
    const sample = sampleBody(
      MESSAGE_BY_ELEMENT.get('ES2-HandleSMSRChangeNotification') ?? (undefined as never),
    ) as unknown as { eis: Eis };
    const template = sample.eis.profiles[0] as ProfileInfo;
    const eisWith = (profiles: Partial<ProfileInfo>[]): Eis => ({
      ...sample.eis,
      smsrId: NEW_SMSR,
      eumSignedInfo: { ...sample.eis.eumSignedInfo, eid: EID },
      profiles: profiles.map((p) => ({ ...template, iccid: ICCID, mnoId: mno, ...p })),
    });
    const refusals = () => logged.filter((l) => l.err?.message?.startsWith('refused: '));

    // Our profile, but installed by another SM-DP: refused, the SM-SR unchanged.
    await smdp.handleSMSRChangeNotification?.({
      eis: eisWith([{ smdpId: OTHER_SMDP }]),
      completionTimestamp: new Date(now),
    });
    const first = await waitFor('the refusal in the log', refusals, (r) => r.length === 1, 20_000);
    expect(first[0]?.err?.message).toMatch(new RegExp(`SM-DP ${SMDP} .* no profile of operator ${mno}`));
    // A profile from this SM-DP, but of another MNO: refused too.
    await smdp.handleSMSRChangeNotification?.({
      eis: eisWith([{ smdpId: SMDP, mnoId: OTHER_MNO }]),
      completionTimestamp: new Date(now),
    });
    await waitFor('the second refusal in the log', refusals, (r) => r.length === 2, 20_000);
    expect(await smsrOf()).toBe(esim.smsrId);
    expect(await audits('Esim:handleSMSRChangeNotification')).toEqual([]);

    // Our profile, installed by this SM-DP: the eUICC's SM-SR follows, audited.
    await smdp.handleSMSRChangeNotification?.({
      eis: eisWith([{ smdpId: SMDP }]),
      completionTimestamp: new Date(now),
    });
    expect(await waitFor('the SM-SR changed', smsrOf, (s) => s === NEW_SMSR, 20_000)).toBe(NEW_SMSR);
    const [changed, ...moreChanged] = await audits('Esim:handleSMSRChangeNotification');
    expect(moreChanged).toEqual([]);
    expect(JSON.parse(changed?.detail ?? '{}')).toMatchObject({
      eid: EID,
      previousSmsrId: esim.smsrId,
      smsrId: NEW_SMSR,
      completionTimestamp: now,
    });
    expect(refusals()).toHaveLength(2);
  }, 90_000);
});

describe('operatorEs2Notifications: the SM-SR change is bound to the relaying SM-DP', () => {
  it('any sender, MNO and profiles: forwarded exactly when a profile of that MNO names that SM-DP, else refused', async () => {
    const sample = sampleBody(
      MESSAGE_BY_ELEMENT.get('ES2-HandleSMSRChangeNotification') ?? (undefined as never),
    ) as unknown as { eis: Eis };
    const template = sample.eis.profiles[0] as ProfileInfo;
    const ids = fc.oneof(
      fc.constantFrom(SMDP, OTHER_SMDP, OTHER_MNO, '2.999.15.4.1', '', '__proto__'),
      fc.string({ maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(
        ids,
        ids,
        fc.array(fc.record({ mnoId: ids, smdpId: fc.option(ids, { nil: undefined }) }), { maxLength: 5 }),
        async (sender, mno, profiles) => {
          const heard: Eis[] = [];
          const ignore = async () => undefined;
          const port = operatorEs2Notifications(
            {
              handleProfileEnabledNotification: ignore,
              handleProfileDisabledNotification: ignore,
              handleProfileDeletedNotification: ignore,
              handleSMSRChangeNotification: async (b) => {
                heard.push(b.eis);
              },
            },
            mno,
            sender,
          );
          const eis: Eis = {
            ...sample.eis,
            profiles: profiles.map(({ mnoId, smdpId }) => {
              const { smdpId: _drop, ...rest } = template;
              return { ...rest, mnoId, ...(smdpId === undefined ? {} : { smdpId }) };
            }),
          };
          const expected = profiles.some((p) => p.mnoId === mno && p.smdpId === sender);
          const sent = port.handleSMSRChangeNotification?.({ eis, completionTimestamp: new Date(0) });
          if (expected) {
            await sent;
            expect(heard).toEqual([eis]);
          } else {
            await expect(sent).rejects.toThrow(/^refused: /);
            expect(heard).toEqual([]);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

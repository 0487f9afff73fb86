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
import { DEMO_ENTITY_IDS, PLATFORM_OWNER } from '../../../src/platform/esim/ci/pki-service.js';
import {
  soapEs2Notifications,
  soapEs3Notifications,
} from '../../../src/platform/esim/es-soap/port-clients.js';
import { signEis } from '../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { Eis, ProfileInfo } from '../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { EsimPartners, type PartnerRole } from '../../../src/platform/esim/partners/partners-registry.js';
import { insertDownload } from '../../../src/platform/esim/sm-dp/download-store.js';
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
let second: { api: TestApi; esim: RunningEsim } | undefined;
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
  await second?.esim.close();
  await second?.api.platform.esimOperations.drained();
  await second?.api.close();
  second = undefined;
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

describe('two deployments: our SM-DP relays the SM-SR change to a partner operator on ES2', () => {
  it("the new SM-SR's ES3 notification at deployment A reaches, through A's SM-DP and ES2 over SOAP, B's operator layer", async () => {
    // A: the SM-DP that installed B's profile; B: the operator. Each its own database and listener.
    const tlsB = await issueTlsIdentity('operator.b');
    writeFileSync(join(dir, 'key-b.pem'), tlsB.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'cert-b.pem'), tlsB.certificatePem);
    const soapConfig = (key: string, cert: string) => ({
      config: { esimSoapPort: 0, esimSoapKeyFile: join(dir, key), esimSoapCertificateFile: join(dir, cert) },
    });
    const [apiA, apiB] = await Promise.all([
      startTestApi(soapConfig('key.pem', 'cert.pem')),
      startTestApi(soapConfig('key-b.pem', 'cert-b.pem')),
    ]);
    api = apiA;
    const { eum } = await apiA.platform.esimPki.ensureDemo();
    await apiB.platform.esimPki.ensureDemo();
    const quiet = pino({ level: 'silent' });
    esim = await startEsim(apiA.platform, apiA.operator.operatorId, quiet);
    second = { api: apiB, esim: await startEsim(apiB.platform, apiB.operator.operatorId, quiet) };
    const a = esim;
    const b = second.esim;
    const mnoB = mnoIdOf(apiB.operator.operatorId);

    // The new SM-SR (of a third party), a partner SM-SR of A.
    const tlsSmsr = await issueTlsIdentity('sm-sr.new');
    const smsrNode = await SoapNode.start({
      name: 'sm-sr.new',
      tls: tlsSmsr,
      partners: [{ name: 'a', url: a.soap?.url ?? '', certificatePem: ours.certificatePem }],
      handlers: {},
    });
    nodes.push(smsrNode);
    const partnersA = new EsimPartners(apiA.platform.store, apiA.platform.clock);
    await partnersA.add({
      operatorId: apiA.operator.operatorId,
      entityId: NEW_SMSR,
      role: 'sm-sr',
      endpoint: smsrNode.url,
      certificatePem: tlsSmsr.certificatePem,
    });
    // B is A's partner operator; A is B's partner SM-DP.
    await partnersA.add({
      operatorId: apiA.operator.operatorId,
      entityId: mnoB,
      role: 'operator',
      endpoint: b.soap?.url ?? '',
      certificatePem: tlsB.certificatePem,
    });
    await new EsimPartners(apiB.platform.store, apiB.platform.clock).add({
      operatorId: apiB.operator.operatorId,
      entityId: a.smdpId,
      role: 'sm-dp',
      endpoint: a.soap?.url ?? '',
      certificatePem: ours.certificatePem,
    });
    await a.soap?.refresh();
    await b.soap?.refresh();

    // A's SM-DP installed B's profile on EID (through A's SM-SR); B's inventory holds the eUICC.
    const now = apiA.platform.clock.now();
    await apiA.platform.store.db.transaction().execute((tx) =>
      insertDownload(
        tx,
        {
          download_id: 'dl-b-1',
          operator_id: apiA.operator.operatorId,
          mno_id: mnoB,
          function_call_id: 'fc-dl-b',
          eid: EID,
          smsr_id: a.smsrId,
          iccid: ICCID,
          active_iccid: null,
          profile_type: 'simtrust-usim',
          enable: 0,
          deadline: null,
          created_at: now,
          updated_at: now,
        },
        'prepare-profile',
      ),
    );
    await apiA.platform.store.db
      .updateTable('esim_dp_downloads')
      .set({ status: 'EXECUTED_SUCCESS' })
      .where('download_id', '=', 'dl-b-1')
      .execute();
    const dbB = apiB.platform.store.db;
    const opB = apiB.operator.operatorId;
    await dbB
      .insertInto('sims')
      .values(
        newSimRow(opB, EID, now, {
          type: 'euicc',
          speedClass: DEFAULT_SPEED_CLASS,
          groupId: null,
          serialNumber: null,
        }),
      )
      .execute();
    await dbB
      .insertInto('esim_euiccs')
      .values({ sim_id: EID, operator_id: opB, eid: EID, smsr_id: a.smsrId, created_at: now })
      .execute();

    // The new SM-SR's ES3 HandleSMSRChangeNotification to A's SM-DP: the EIS it holds (EUM-signed),
    // listing B's profile installed by A's SM-DP.
    const sample = sampleBody(
      MESSAGE_BY_ELEMENT.get('ES3-HandleSMSRChangeNotification') ?? (undefined as never),
    ) as unknown as { eis: Eis };
    const eumKey = await apiA.platform.esimPki.signingKey(eum.certId, PLATFORM_OWNER);
    const eis = signEis(
      {
        ...sample.eis,
        smsrId: NEW_SMSR,
        eumSignedInfo: { ...sample.eis.eumSignedInfo, eid: EID, eumId: DEMO_ENTITY_IDS.eum },
        profiles: [
          { ...(sample.eis.profiles[0] as ProfileInfo), iccid: ICCID, mnoId: mnoB, smdpId: a.smdpId },
          { ...(sample.eis.profiles[0] as ProfileInfo), iccid: '8944000000000000025', mnoId: OTHER_MNO },
        ],
      },
      eumKey.privateKey,
    );
    await soapEs3Notifications(smsrNode, { partner: 'a' }).handleSMSRChangeNotification?.({
      eis,
      mnoId: mnoB,
      completionTimestamp: new Date(now),
    });

    // At B: the eUICC's SM-SR is the new one, audited once.
    const smsrAtB = async () =>
      (await dbB.selectFrom('esim_euiccs').select('smsr_id').where('eid', '=', EID).executeTakeFirstOrThrow())
        .smsr_id;
    expect(await waitFor("B's inventory follows", smsrAtB, (s) => s === NEW_SMSR, 30_000)).toBe(NEW_SMSR);
    const records = await dbB
      .selectFrom('audit_logs')
      .select('detail')
      .where('operation_id', '=', 'Esim:handleSMSRChangeNotification')
      .execute();
    expect(records.map((r) => JSON.parse(r.detail))).toMatchObject([
      { eid: EID, previousSmsrId: a.smsrId, smsrId: NEW_SMSR },
    ]);
    // A's relay row: delivered to B's MNO.
    const relay = await waitFor(
      "A's relay row delivered",
      () =>
        apiA.platform.store.db
          .selectFrom('esim_notification_outbox')
          .selectAll()
          .where('receiver_id', '=', mnoB)
          .execute(),
      (rows) => rows.length === 1 && rows[0]?.state === 'delivered',
      30_000,
    );
    expect(relay[0]).toMatchObject({ interface: 'ES2', kind: 'smsr-changed' });
  }, 120_000);
});

// Two deployments configured only through their partners registries (as `simtrust esim partners
// add` leaves them): an SM-DP operator's listener and an SM-SR operator's listener, each with its own
// database. The SM-DP gets an Es3Port only for a registered SM-SR; the SM-SR serves ES3 only to the
// registered SM-DP (bound to its entity id) and sends it its notifications; a partner removed from
// the registry is refused at the next refresh; an operator registered as such cannot call ES3.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import type { Es3NotificationPort } from '../../../src/platform/esim/es-ports.js';
import {
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { EsimPartners } from '../../../src/platform/esim/partners/partners-registry.js';
import { EsimSoapListener } from '../../../src/servers/esim/soap-listener.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const SMDP = '1.3.6.1.4.1.99999.1.1';
const SMSR = '1.3.6.1.4.1.99999.1.2';
const MNO = '1.3.6.1.4.1.99999.3.1';
const EID = '89049032123451234512345678901235';
const OP_DP = 'OP0000000001';
const OP_SR = 'OP0000000002';

let dpDb: TestDatabase;
let srDb: TestDatabase;
let dpTls: TlsIdentity;
let srTls: TlsIdentity;
let mnoTls: TlsIdentity;
let dp: EsimSoapListener;
let sr: EsimSoapListener;
let mno: EsimSoapListener;
const served: string[] = [];
const notified: string[] = [];

beforeAll(async () => {
  [dpDb, srDb] = await Promise.all([openTestDatabase(), openTestDatabase()]);
  [dpTls, srTls, mnoTls] = await Promise.all([
    issueTlsIdentity('sm-dp.op1'),
    issueTlsIdentity('sm-sr.op2'),
    issueTlsIdentity('mno.op2'),
  ]);
  const smdpNotifications: Es3NotificationPort = {
    handleProfileEnabledNotification: async (n) => void notified.push(`enabled ${n.iccid}`),
    handleProfileDisabledNotification: async () => {},
    handleProfileDeletedNotification: async () => {},
  };
  dp = await EsimSoapListener.start({
    store: dpDb.store,
    operatorId: OP_DP,
    tls: dpTls,
    ports: { es3Notifications: () => smdpNotifications },
  });
  sr = await EsimSoapListener.start({
    store: srDb.store,
    operatorId: OP_SR,
    tls: srTls,
    ports: {
      es3: (peer) =>
        ({
          getEIS: async () => {
            served.push(`getEIS for ${peer.entityId}`);
            return { functionExecutionStatus: SUCCESS };
          },
        }) as never,
    },
  });
  mno = await EsimSoapListener.start({
    store: dpDb.store,
    operatorId: 'OP0000000003',
    tls: mnoTls,
    ports: {},
  });
  const dpPartners = new EsimPartners(dpDb.store, systemClock);
  const srPartners = new EsimPartners(srDb.store, systemClock);
  await dpPartners.add({
    operatorId: OP_DP,
    entityId: SMSR,
    role: 'sm-sr',
    endpoint: sr.url,
    certificatePem: srTls.certificatePem,
  });
  await srPartners.add({
    operatorId: OP_SR,
    entityId: SMDP,
    role: 'sm-dp',
    endpoint: dp.url,
    certificatePem: dpTls.certificatePem,
  });
  await srPartners.add({
    operatorId: OP_SR,
    entityId: MNO,
    role: 'operator',
    endpoint: mno.url,
    certificatePem: mnoTls.certificatePem,
  });
  await dpPartners.add({
    operatorId: 'OP0000000003',
    entityId: SMSR,
    role: 'sm-sr',
    endpoint: sr.url,
    certificatePem: srTls.certificatePem,
  });
  await Promise.all([dp.refresh(), sr.refresh(), mno.refresh()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([dp?.close(), sr?.close(), mno?.close()]);
  await Promise.all([dpDb?.cleanup(), srDb?.cleanup()]);
});

describe(`the SGP.02 SOAP listener from the partners registry (${testDialect})`, () => {
  it('the SM-DP reaches the registered SM-SR on ES3, bound to its own entity id; the SM-SR notifies it back', async () => {
    expect(dp.es3PortOf('1.3.6.1.4.1.99999.1.9')).toBeUndefined();
    const r = await dp.es3PortOf(SMSR)?.getEIS({ functionCallIdentifier: 'f1', eid: EID });
    expect(r?.functionExecutionStatus).toEqual(SUCCESS);
    expect(served).toEqual([`getEIS for ${SMDP}`]);
    await sr.es3NotificationsOf(SMDP)?.handleProfileEnabledNotification({
      eid: EID,
      iccid: '8944000000000005557',
      mnoId: MNO,
      completionTimestamp: new Date(),
    });
    expect(notified).toEqual(['enabled 8944000000000005557']);
  });

  it('an operator registered as an operator cannot call ES3 (FAILED 1.1 / 1.2, nothing run)', async () => {
    served.length = 0;
    const r = await mno.es3PortOf(SMSR)?.getEIS({ functionCallIdentifier: 'f2', eid: EID });
    expect(r?.functionExecutionStatus.status).toBe('FAILED');
    expect(r?.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.FUNCTION_REQUESTER,
      reason: REASON_CODES.NOT_ALLOWED,
    });
    expect(served).toEqual([]);
  });

  it('a partner removed from the registry is refused after the refresh', async () => {
    served.length = 0;
    await new EsimPartners(srDb.store, systemClock).remove(OP_SR, SMDP);
    await sr.refresh();
    const r = await dp.es3PortOf(SMSR)?.getEIS({ functionCallIdentifier: 'f3', eid: EID });
    expect(r?.functionExecutionStatus.status).toBe('FAILED');
    expect(r?.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.FUNCTION_REQUESTER,
      reason: REASON_CODES.UNKNOWN_REQUESTER,
    });
    expect(served).toEqual([]);
    expect(sr.es3NotificationsOf(SMDP)).toBeUndefined();
  });
});

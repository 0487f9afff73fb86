// The SM-SR on a test database in front of the software eUICC: an ES5 transport that runs the real
// ES5 C-APDUs on the card model (runIsdrScript: the ISD-R's own APDU handling, the same as behind
// SCP80), the card's default notifications fed back as E1 bytes, an in-memory PKI (CI, EUM, ECASD
// certificate for the card's EID) and ports that record the notifications sent.

import { randomBytes } from 'node:crypto';
import type { CardFile } from '../../../../src/card/card-file.js';
import { runIsdrScript } from '../../../../src/card/euicc/isd-r-ota.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { hex } from '../../../../src/lib/hex.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../../../../src/lib/ts-102-226-remote-command.js';
import type { Es3NotificationPort, Es4NotificationPort } from '../../../../src/platform/esim/es-ports.js';
import { signEis } from '../../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import type { Es5Outcome, Es5Transport } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import { SmSr, type SmSrOptions } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../../../../src/platform/secrets/key-ring.js';
import { BOOTSTRAP, EID, euiccFile, euiccOf, newEuicc } from '../../../card/euicc/fixture.js';
import { ICCID, IMSI } from '../../../card/fixture.js';
import { KIC, KID } from '../../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase } from '../../../helpers/database.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';

export const SMSR_ID = '1.3.6.1.4.1.99999.1.2';
export const SMDP_ID = '1.3.6.1.4.1.99999.1.1';
export const MNO_ID = '1.3.6.1.4.1.99999.3.1';
export const OTHER_MNO = '1.3.6.1.4.1.99999.3.2';
export const EUM_ID = '1.3.6.1.4.1.99999.9';
export { BOOTSTRAP, EID, ICCID };

/** The software card behind the SM-SR: ES5 scripts run by the ISD-R as they would behind SCP80. */
export class CardTransport implements Es5Transport {
  readonly scripts: Uint8Array[][] = [];
  /** 'up' answers; 'down' times out; 'crash-after' runs the card and never answers (the process dies). */
  mode: 'up' | 'down' | 'crash-before' | 'crash-after' = 'up';
  /** Runs once after the card ran the next script and before its answer returns. */
  beforeAnswer: (() => Promise<unknown>) | undefined;

  constructor(readonly card: Uicc) {}

  async send(eid: string, _aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const euicc = euiccOf(this.card);
    if (eid !== euicc.eid) return { ok: false, code: 'ES5_NO_KEYSET', message: 'unknown eUICC' };
    if (this.mode === 'down') return { ok: false, code: 'ES5_TIMEOUT', message: 'no PoR' };
    if (this.mode === 'crash-before') return new Promise(() => undefined);
    this.scripts.push([...commands]);
    const { response } = runIsdrScript(euicc, commandScript(commands));
    if (this.mode === 'crash-after') return new Promise(() => undefined);
    // The network may deliver the card's MO SMS (a notification) before its PoR.
    const hook = this.beforeAnswer;
    this.beforeAnswer = undefined;
    await hook?.();
    const script = decodeResponseScript(response);
    if (!script.ok) return { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code };
    const responses = script.value.items.flatMap((i) =>
      i.type === 'r-apdu'
        ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
        : [],
    );
    return { ok: true, responses };
  }
}

export interface Sent {
  readonly to: string;
  readonly kind: string;
  readonly iccid: string;
}

export interface Bench {
  db: TestDatabase;
  keyRing: KeyRing;
  clock: ManualClock;
  pki: TestPki;
  file: CardFile;
  card: Uicc;
  transport: CardTransport;
  smsr: SmSr;
  sent: Sent[];
  eis: Eis;
  /** A new SmSr over the same database (a restart), with its own transport. */
  restart(transport?: Es5Transport): SmSr;
  /** A new SmSr over the same database and transport, with other options. */
  restartWith(options: Partial<SmSrOptions>): SmSr;
  /** The card restarts and attaches: its pending default notifications reach the SM-SR. */
  attach(to?: SmSr): Promise<number>;
}

function recordingPorts(sent: Sent[]): {
  smdp: Es3NotificationPort;
  operator: Es4NotificationPort;
} {
  const rec =
    (to: string, kind: string) =>
    async (b: { iccid: string }): Promise<void> => {
      sent.push({ to, kind, iccid: b.iccid });
    };
  return {
    smdp: {
      handleProfileEnabledNotification: rec('smdp', 'enabled'),
      handleProfileDisabledNotification: rec('smdp', 'disabled'),
      handleProfileDeletedNotification: rec('smdp', 'deleted'),
    },
    operator: {
      handleProfileEnabledNotification: rec('operator', 'enabled'),
      handleProfileDisabledNotification: rec('operator', 'disabled'),
      handleProfileDeletedNotification: rec('operator', 'deleted'),
    },
  };
}

/** The EIS of the fixture card (esim.md §2), signed by `eumKey` (default: the test EUM). */
export function eisOf(
  file: CardFile,
  pki: TestPki,
  ecasdCertificate: Uint8Array,
  eumKey = pki.eum.privateKey,
): Eis {
  const e = file.euicc;
  if (e === undefined) throw new Error('not an eUICC file');
  const ks = e.isdr.scp80[0];
  if (ks === undefined) throw new Error('no SCP80 key set');
  return signEis(
    {
      eumSignedInfo: {
        eid: e.eid,
        eumId: EUM_ID,
        productionDate: new Date(PKI_NOW),
        platformType: 'simtrust-software-euicc',
        platformVersion: '1.0.0',
        isdPLoadFileAid: 'A0000005591010FFFFFFFF8900000D00',
        isdPModuleAid: 'A0000005591010FFFFFFFF8900000E00',
        ecasd: {
          aid: 'A0000005591010FFFFFFFF8900000200',
          tars: [],
          sin: hex('9F7F'),
          sdin: hex('0102'),
          role: 'ECASD',
          keysets: [
            {
              version: 0x73,
              type: 'CA',
              keys: [],
              certificates: [{ index: 1, caId: EUM_ID, value: ecasdCertificate }],
            },
          ],
        },
        euiccCapabilities: {
          cattpSupport: false,
          httpSupport: true,
          securePacketVersion: '9.2.0',
          remoteProvisioningVersion: '3.1.0',
        },
      },
      remainingMemory: e.memory - 16 * 1024,
      availableMemoryForProfiles: e.memory,
      smsrId: SMSR_ID,
      profiles: [
        {
          iccid: ICCID,
          isdPAid: BOOTSTRAP,
          mnoId: MNO_ID,
          fallbackAttribute: true,
          subscriptionAddress: { imsi: IMSI, msisdn: '817000000001' },
          state: 'Enabled',
          allocatedMemory: 16 * 1024,
          pol2: { rules: [] },
        },
      ],
      isdR: {
        aid: 'A0000005591010FFFFFFFF8900000100',
        tars: ['000001'],
        sin: hex('9F7F'),
        sdin: hex('0A0B'),
        role: 'ISD-R',
        keysets: [
          {
            version: 1,
            type: 'SCP80',
            cntr: 0,
            keys: [
              { index: 1, kcv: hex('000000'), components: [{ type: 0x88, value: hex(KIC) }] },
              { index: 2, kcv: hex('000000'), components: [{ type: 0x88, value: hex(KID) }] },
              { index: 3, kcv: hex('000000'), components: [{ type: 0x88, value: hex(ks.dek) }] },
            ],
            certificates: [],
          },
        ],
      },
    },
    eumKey,
  );
}

export async function bench(
  options: { register?: boolean; database?: () => Promise<TestDatabase> } = {},
): Promise<Bench> {
  const db = await (options.database ?? openTestDatabase)();
  const keyRing = await KeyRing.open(db.store, randomBytes(32));
  const clock = new ManualClock(PKI_NOW);
  const pki = await createTestPki();
  const file = euiccFile();
  const card = newEuicc(file);
  const transport = new CardTransport(card);
  const sent: Sent[] = [];
  const ports = recordingPorts(sent);
  const make = (t: Es5Transport, extra: Partial<SmSrOptions> = {}) =>
    new SmSr({
      ...extra,
      store: db.store,
      keyRing,
      clock,
      transport: t,
      smsrId: SMSR_ID,
      chains: {
        verify: async (input) =>
          verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() }),
      },
      directory: {
        smdp: (id) => (id === SMDP_ID ? ports.smdp : undefined),
        operator: (id) => (id === MNO_ID ? ports.operator : undefined),
      },
    });
  const smsr = make(transport);
  const eis = eisOf(file, pki, pki.ecasd(EID).certificate);
  if (options.register !== false) {
    const r = await smsr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: 'reg-1', eis });
    if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
      throw new Error(JSON.stringify(r.functionExecutionStatus));
  }
  const b: Bench = {
    db,
    keyRing,
    clock,
    pki,
    file,
    card,
    transport,
    smsr,
    sent,
    eis,
    restart: (t = new CardTransport(card)) => make(t),
    restartWith: (extra) => make(transport, extra),
    async attach(to = b.smsr) {
      const euicc = euiccOf(card);
      euicc.reset();
      const { send } = euicc.connectivity(0);
      for (const n of send) {
        const e1 = encodeNotification({ eid: euicc.eid, type: n.type, aid: n.aid, seq: n.seq });
        if (!e1.ok) throw new Error(e1.error.message);
        await to.handleNotification(euicc.eid, e1.value);
      }
      return send.length;
    },
  };
  // The card's first attach: its eUICC declaration (type 01) reaches the SM-SR and is confirmed.
  if (options.register !== false && (await b.attach()) !== 1) throw new Error('no eUICC declaration');
  return b;
}

/** Lets pending promise callbacks (the SM-SR's awaits on the database) run. */
export async function settle(until: () => Promise<boolean>, rounds = 500): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await until()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

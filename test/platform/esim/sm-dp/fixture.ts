// The SM-DP on a test database in front of the real SM-SR (sm-sr-service.ts) and the software eUICC:
// the card's ECASD key and PK.CI come from the test PKI (as `card new --euicc` makes them), the EIS
// carries its EUM-signed ECASD certificate, the SM-SR reaches the card through an ES5 transport that
// runs ISD-R scripts (runIsdrScript, as behind SCP80) and hands SCP03t TLVs to the ISD-P
// (processIsdpData, as the SCP81 agent does for X-Admin-Targeted-Application = the ISD-P AID). The
// operator's SIMs are rows of the inventory, their Ki/OPc sealed as the platform seals them.

import { randomBytes } from 'node:crypto';
import { type CardFile, cardFromFile } from '../../../../src/card/card-file.js';
import { runIsdrScript } from '../../../../src/card/euicc/isd-r-ota.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { toHex } from '../../../../src/lib/hex.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../../../../src/lib/ts-102-226-remote-command.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import type { ProfileType } from '../../../../src/platform/esim/sm-dp/profile-types.js';
import { type Es2NotificationPort, SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import type {
  Es5Outcome,
  Es5Response,
  Es5Transport,
} from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../../../../src/platform/secrets/key-ring.js';
import { packSecrets, profileSecretContext } from '../../../../src/platform/sims/model.js';
import { EID, euiccFile, euiccOf } from '../../../card/euicc/fixture.js';
import { openTestDatabase, type TestDatabase } from '../../../helpers/database.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../sm-sr/fixture.js';

export { EID, MNO_ID, SMDP_ID, SMSR_ID };
export const OPERATOR = 'op-smdp-test';
const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';

/** ES5 to the software eUICC: GP C-APDUs through the ISD-R, SCP03t TLVs straight to the ISD-P. */
export class CardTransport implements Es5Transport {
  /** Changes a command on its way to the card (a flipped bit in a segment). */
  tamperCommand: ((aid: string, command: Uint8Array) => Uint8Array) | undefined;
  /** Changes the card's answer on its way back (a forged receipt). */
  tamperAnswer: ((command: Uint8Array, r: Es5Response) => Es5Response) | undefined;
  readonly sent: { aid: string; command: Uint8Array }[] = [];

  constructor(readonly card: Uicc) {}

  async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const euicc = euiccOf(this.card);
    if (eid !== euicc.eid) return { ok: false, code: 'ES5_NO_KEYSET', message: 'unknown eUICC' };
    const cmds = commands.map((c) => this.tamperCommand?.(aid, c) ?? c);
    for (const c of cmds) this.sent.push({ aid, command: c });
    let responses: Es5Response[];
    if (aid !== ISD_R_AID && cmds.length === 1 && [0x84, 0x85, 0x86].includes(cmds[0]?.[0] ?? 0)) {
      responses = [{ data: euicc.processIsdpData(aid, cmds[0] as Uint8Array), sw: 0x9000 }];
    } else {
      const script = decodeResponseScript(runIsdrScript(euicc, commandScript(cmds)).response);
      if (!script.ok) return { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code };
      responses = script.value.items.flatMap((i) =>
        i.type === 'r-apdu'
          ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
          : [],
      );
    }
    const last = cmds[cmds.length - 1] as Uint8Array;
    return { ok: true, responses: responses.map((r) => this.tamperAnswer?.(last, r) ?? r) };
  }
}

export interface Sim {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string;
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
  readonly algorithm: 'milenage' | 'test';
}

export interface DpBench {
  db: TestDatabase;
  keyRing: KeyRing;
  clock: ManualClock;
  pki: TestPki;
  /** The card file the card was made from (withState(file, card) saves the card). */
  file: CardFile;
  card: Uicc;
  transport: CardTransport;
  smsr: SmSr;
  smdp: SmDp;
  /** The ES3 port the SM-DP uses (replace it to lose messages). */
  es3: { port: (real: Es3Port) => Es3Port };
  /** Progress reports the SM-DP made: request id, step, state. */
  progress: { id: string; step: string; state: string }[];
  /** ES2 notifications the operator received: kind and ICCID (HandleSMSRChangeNotification: the EIS's Smsr-id). */
  notified: { kind: string; iccid: string; body?: unknown }[];
  /** Further SM-SRs the SM-DP reaches by id (e.g. the new SM-SR after an SM-SR change). */
  otherSmsrs: Map<string, () => Es3Port>;
  /** A new SmDp over the same database (a restart). */
  restartSmdp(): SmDp;
  addSim(sim: Sim): Promise<void>;
  /** The card restarts and attaches: its pending default notifications reach the SM-SR. */
  attach(): Promise<number>;
}

export async function dpBench(
  options: { segmentSize?: number; profileTypes?: ReadonlyMap<string, ProfileType> } = {},
): Promise<DpBench> {
  const db = await openTestDatabase();
  const keyRing = await KeyRing.open(db.store, randomBytes(32));
  const clock = new ManualClock(PKI_NOW);
  const pki = await createTestPki();
  const ecasd = pki.ecasd(EID);
  const file = euiccFile();
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const jwk = ecasd.privateKey.export({ format: 'jwk' });
  const cardFile: CardFile = {
    ...file,
    euicc: {
      ...e,
      ecasd: {
        certificate: toHex(ecasd.certificate),
        privateKey: Buffer.from(jwk.d ?? '', 'base64url').toString('hex'),
        ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
      },
    },
  };
  const card = cardFromFile(cardFile, { clock });
  const transport = new CardTransport(card);
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  const es3 = { port: (real: Es3Port) => real };
  const notified: { kind: string; iccid: string; body?: unknown }[] = [];
  const otherSmsrs = new Map<string, () => Es3Port>();
  const progress: { id: string; step: string; state: string }[] = [];
  const record = (kind: string) => async (n: { iccid: string }) => {
    notified.push({ kind, iccid: n.iccid });
  };
  const operatorPort: Es2NotificationPort = {
    handleProfileEnabledNotification: record('enabled'),
    handleProfileDisabledNotification: record('disabled'),
    handleProfileDeletedNotification: record('deleted'),
    handleSMSRChangeNotification: async (n) => {
      notified.push({ kind: 'smsr-changed', iccid: n.eis.smsrId, body: n });
    },
  };
  const b = {} as DpBench;
  const smsr = new SmSr({
    store: db.store,
    keyRing,
    clock,
    transport,
    smsrId: SMSR_ID,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? b.smdp.es3Notifications() : undefined),
      operator: () => undefined,
    },
  });
  const makeSmdp = () =>
    new SmDp({
      store: db.store,
      keyRing,
      clock,
      smdpId: SMDP_ID,
      // Several segments even for a small package, so tests can reach the middle of a download.
      segmentSize: options.segmentSize ?? 96,
      ...(options.profileTypes ? { profileTypes: options.profileTypes } : {}),
      smsr: (id) => (id === SMSR_ID ? es3.port(smsr.es3For(SMDP_ID)) : otherSmsrs.get(id)?.()),
      signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
      verify,
      eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
      operators: (id) => (id === MNO_ID ? operatorPort : undefined),
      progress: {
        report: async (r) => {
          progress.push({ id: r.functionCallIdentifier, step: r.step, state: r.state });
        },
      },
      onError: (error) => {
        throw error;
      },
    });
  await db.store.db
    .insertInto('operators')
    .values({
      operator_id: OPERATOR,
      email: 'smdp@example.test',
      password_hash: 'x',
      created_at: 0,
      updated_at: 0,
    })
    .execute();
  Object.assign(b, {
    db,
    keyRing,
    clock,
    pki,
    file: cardFile,
    card,
    transport,
    smsr,
    smdp: makeSmdp(),
    es3,
    notified,
    otherSmsrs,
    progress,
    restartSmdp: () => {
      b.smdp = makeSmdp();
      return b.smdp;
    },
    async addSim(sim: Sim) {
      const simId = `sim-${sim.iccid}`;
      await db.store.db
        .insertInto('sims')
        .values({
          sim_id: simId,
          operator_id: OPERATOR,
          type: 'esim',
          status: 'ready',
          speed_class: 's1.standard',
          group_id: null,
          imei_lock: null,
          imei_lock_anonymous: 0,
          termination_enabled: 0,
          serial_number: null,
          created_at: 0,
          updated_at: 0,
          expiry_time: null,
          expiry_action: null,
        })
        .execute();
      await db.store.db
        .insertInto('sim_profiles')
        .values({
          iccid: sim.iccid,
          sim_id: simId,
          operator_id: OPERATOR,
          imsi: sim.imsi,
          msisdn: sim.msisdn ?? null,
          secrets: keyRing.seal(packSecrets(sim.ki, sim.opc, sim.algorithm), profileSecretContext(sim.iccid)),
          amf: '8000',
          sqn: 0,
          ind_bits: 5,
          is_primary: 1,
          created_at: 0,
        })
        .execute();
    },
    async attach() {
      const euicc = euiccOf(card);
      euicc.reset();
      const { send } = euicc.connectivity(0);
      for (const n of send) {
        const e1 = encodeNotification({ eid: euicc.eid, type: n.type, aid: n.aid, seq: n.seq });
        if (!e1.ok) throw new Error(e1.error.message);
        await b.smsr.handleNotification(euicc.eid, e1.value);
      }
      return send.length;
    },
  } satisfies Partial<DpBench>);
  const eis = eisOf(file, pki, ecasd.certificate);
  const r = await smsr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: 'reg-1', eis });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    throw new Error(JSON.stringify(r.functionExecutionStatus));
  if ((await b.attach()) !== 1) throw new Error('no eUICC declaration');
  return b;
}

/** Lets pending promise callbacks run until `until` holds. */
export async function settle(until: () => Promise<boolean>, rounds = 2000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await until()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

// The eSIM benchmark's rig (bench/esim.ts): the real SM-DP (sm-dp-service.ts) → ES3 in-process port →
// the real SM-SR (sm-sr-service.ts) → an ES5 transport → N software eUICCs, on a fresh database.
//
// The ES5 transport here is in-process: GP C-APDUs for the ISD-R (and the ISD-P through it) run as a
// TS 102 226 expanded command script in the card's ISD-R (runIsdrScript — what the SCP80 applet and
// the SCP81 agent call once the packet or the HTTP body is open), SCP03t TLVs go to the ISD-P
// (processIsdpData — what the SCP81 agent does for X-Admin-Targeted-Application = the ISD-P AID).
// What it leaves out is the bearer: no SMS/SCP80 ciphering, no PSK-TLS, no BIP relay. After a script
// that ends in a REFRESH (EnableProfile) the card resets, reports normal service and its default
// notification reaches the SM-SR, as the device would send it once attached.

import { randomBytes } from 'node:crypto';
import { cardFromFile } from '../src/card/card-file.js';
import { LIFE_CYCLE } from '../src/card/euicc/euicc-state.js';
import { runIsdrScript } from '../src/card/euicc/isd-r-ota.js';
import { newEuiccCardFile } from '../src/card/euicc/issue.js';
import type { Uicc } from '../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../src/lib/clock.js';
import { toHex } from '../src/lib/hex.js';
import { iccidWithCheckDigit } from '../src/lib/identities.js';
import { withEidCheckDigits } from '../src/lib/sgp-02-eid.js';
import { encodeNotification } from '../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../src/lib/ts-102-226-remote-command.js';
import { SmDp } from '../src/platform/esim/sm-dp/sm-dp-service.js';
import type { Es5Outcome, Es5Response, Es5Transport } from '../src/platform/esim/sm-sr/es5-transport.js';
import { SmSr } from '../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { packSecrets, profileSecretContext } from '../src/platform/sims/model.js';
import { openStore, type Store } from '../src/platform/store/database.js';
import { GroupCommit } from '../src/platform/store/group-commit.js';
import { KIC, KID, PLATFORM } from '../test/card/toolkit/fixture.js';
import { createTestPki, PKI_NOW, type TestPki } from '../test/helpers/esim-pki.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../test/platform/esim/sm-sr/fixture.js';
import type { CryptoCounts } from './_esim-crypto-count.js';
import { type BenchDialect, freshDatabase } from './_support.js';

const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
export const BENCH_OPERATOR = 'op-esim-bench';
const OPERATOR = BENCH_OPERATOR;

interface BenchCard {
  readonly eid: string;
  readonly card: Uicc;
  /** Profile B, in the inventory, to download. */
  readonly iccidB: string;
  readonly imsiB: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** ES5 in-process to the software eUICCs, by EID (see the header); `onRefresh` after a REFRESH. */
export class CardsTransport implements Es5Transport {
  constructor(
    readonly onRefresh: (eid: string) => void,
    readonly cards = new Map<string, Uicc>(),
  ) {}

  async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const euicc = this.cards.get(eid)?.euicc;
    if (euicc === undefined) return { ok: false, code: 'ES5_NO_KEYSET', message: 'unknown eUICC' };
    const first = commands[0];
    if (
      aid !== ISD_R_AID &&
      commands.length === 1 &&
      first !== undefined &&
      [0x84, 0x85, 0x86].includes(first[0] ?? 0)
    )
      return { ok: true, responses: [{ data: euicc.processIsdpData(aid, first), sw: 0x9000 }] };
    const run = runIsdrScript(euicc, commandScript(commands));
    const script = decodeResponseScript(run.response);
    if (!script.ok) return { ok: false, code: 'ES5_BAD_RESPONSE', message: script.error.code };
    const responses: Es5Response[] = script.value.items.flatMap((i) =>
      i.type === 'r-apdu'
        ? [{ data: i.data, sw: ((i.statusWord[0] ?? 0) << 8) | (i.statusWord[1] ?? 0) }]
        : [],
    );
    if (run.refresh) setImmediate(() => this.onRefresh(eid));
    return { ok: true, responses };
  }
}

export interface EsimRig {
  readonly cards: readonly { readonly eid: string }[];
  readonly store: Store;
  /** DownloadProfile(enable = true) of profile B on card `i`; resolves with the ES2 status. */
  download(i: number, callId: string): Promise<string>;
  /** For each card: it has profile B in an ENABLED ISD-P (what a completed procedure leaves). */
  enabledB(): Promise<boolean[]>;
  /** The devices run in a process of their own (their CPU and crypto measured there). */
  readonly simulator?: {
    readonly description: string;
    /** The devices' process CPU so far (user + system, µs). */
    cpuMicros(): Promise<number>;
    /** Starts (on) or stops counting node:crypto there; the counts when stopped. */
    countCrypto(on: boolean): Promise<CryptoCounts | null>;
  };
  close(): Promise<void>;
}

export async function esimRig(o: { cards: number; dialect: BenchDialect }): Promise<EsimRig> {
  const database = await freshDatabase(o.dialect);
  const store = await openStore(database.url);
  const keyRing = await KeyRing.open(store, randomBytes(32));
  // The SM-SR and the SM-DP share one group commit, as serve wires them.
  const writer = new GroupCommit(store, { maxBatch: 256, concurrency: 2 });
  const clock = new ManualClock(PKI_NOW);
  const pki: TestPki = await createTestPki();
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });

  let smsr: SmSr | undefined;
  const transport = new CardsTransport((eid) => {
    const euicc = transport.cards.get(eid)?.euicc;
    if (euicc === undefined || smsr === undefined) return;
    void notifyAttached(smsr, eid, euicc);
  });
  let smdp: SmDp | undefined;
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport,
    smsrId: SMSR_ID,
    writer,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? smdp?.es3Notifications() : undefined),
      operator: () => undefined,
    },
  });
  const sr = smsr;
  smdp = new SmDp({
    store,
    keyRing,
    clock,
    smdpId: SMDP_ID,
    writer,
    smsr: (id) => (id === SMSR_ID ? sr.es3For(SMDP_ID) : undefined),
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify,
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
  });
  const dp = smdp;

  await store.db
    .insertInto('operators')
    .values({
      operator_id: OPERATOR,
      email: 'esim-bench@example.test',
      password_hash: 'x',
      created_at: 0,
      updated_at: 0,
    })
    .execute();

  const cards: BenchCard[] = [];
  for (let i = 0; i < o.cards; i++) {
    const eid = withEidCheckDigits(`890490320000000000000${pad(i, 9)}`);
    if (!eid.ok) throw new Error(eid.error.message);
    const ecasd = pki.ecasd(eid.value);
    const iccidA = iccidWithCheckDigit(`894400771${pad(i, 9)}`);
    const imsiA = `00101771${pad(i, 7)}`;
    const iccidB = iccidWithCheckDigit(`894400772${pad(i, 9)}`);
    const imsiB = `00101772${pad(i, 7)}`;
    const { file } = newEuiccCardFile({
      imsi: imsiA,
      iccid: iccidA,
      ki: randomBytes(16),
      opc: randomBytes(16),
      pin1Enabled: false,
      eid: eid.value,
      ecasdCertificate: ecasd.certificate,
      smsrAddress: PLATFORM,
    });
    const e = file.euicc;
    if (e === undefined) throw new Error('no euicc section');
    const d = ecasd.privateKey.export({ format: 'jwk' }).d ?? '';
    const card = cardFromFile(
      {
        ...file,
        euicc: {
          ...e,
          ecasd: {
            certificate: toHex(ecasd.certificate),
            privateKey: Buffer.from(d, 'base64url').toString('hex'),
            ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
          },
          isdr: {
            ...e.isdr,
            scp80: [{ ...(e.isdr.scp80[0] as (typeof e.isdr.scp80)[number]), kic: KIC, kid: KID }],
          },
        },
      },
      { clock },
    );
    transport.cards.set(eid.value, card);
    const signed = eisOf(file, pki, ecasd.certificate);
    const eis = {
      ...signed,
      profiles: signed.profiles.map((p) => ({ ...p, iccid: iccidA, subscriptionAddress: { imsi: imsiA } })),
    };
    const r = await sr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: `reg-${i}`, eis });
    if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
      throw new Error(`RegisterEIS: ${JSON.stringify(r.functionExecutionStatus)}`);
    // First attach: the eUICC declares itself (notification type 01), the SM-SR confirms.
    const euicc = card.euicc;
    if (euicc === undefined) throw new Error('not an eUICC');
    await notifyAttached(sr, eid.value, euicc);
    await addBenchSim(store, keyRing, { iccid: iccidB, imsi: imsiB });
    cards.push({ eid: eid.value, card, iccidB, imsiB });
  }

  const es2 = dp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID });
  return {
    cards,
    store,
    async download(i, callId) {
      const c = cards[i];
      if (c === undefined) throw new Error(`no card ${i}`);
      const r = await es2.downloadProfile({
        functionCallIdentifier: callId,
        eid: c.eid,
        smsrId: SMSR_ID,
        iccid: c.iccidB,
        enableProfile: true,
      });
      return r.functionExecutionStatus.status;
    },
    async enabledB() {
      return cards.map(
        (c) =>
          c.card.euicc?.snapshot().isdps.find((p) => p.profile?.identity.iccid === c.iccidB)?.state ===
          LIFE_CYCLE.ENABLED,
      );
    },
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

/** The card restarted and attached with normal service: its pending notifications reach the SM-SR. */
async function notifyAttached(smsr: SmSr, eid: string, euicc: NonNullable<Uicc['euicc']>): Promise<void> {
  euicc.reset();
  for (const n of euicc.connectivity(0).send) {
    const e1 = encodeNotification({ eid, type: n.type, aid: n.aid, seq: n.seq });
    if (!e1.ok) throw new Error(e1.error.message);
    await smsr.handleNotification(eid, e1.value);
  }
}

export async function addBenchSim(
  store: Store,
  keyRing: KeyRing,
  sim: { iccid: string; imsi: string },
): Promise<void> {
  const simId = `sim-${sim.iccid}`;
  await store.db
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
  await store.db
    .insertInto('sim_profiles')
    .values({
      iccid: sim.iccid,
      sim_id: simId,
      operator_id: OPERATOR,
      imsi: sim.imsi,
      msisdn: null,
      secrets: keyRing.seal(
        packSecrets(randomBytes(16), randomBytes(16), 'milenage'),
        profileSecretContext(sim.iccid),
      ),
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
}

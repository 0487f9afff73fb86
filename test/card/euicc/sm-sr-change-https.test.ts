// After an SM-SR change, SM-SR2 reaches the ISD-R over HTTPS with the SCP81 key set it created (SGP.02
// §3.8 step 26): the push under SM-SR2's SCP80 key set, PSK-TLS over real loopback TCP with the new
// PSK, RAM over HTTP to the ISD-R. Threat: a FinaliseISDRhandover carried over HTTPS deleting the PSK
// of its own session (the SM-SR would cut itself off mid-session) — the card names the session's key
// set to the ISD-R and refuses.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { cardFromFile } from '../../../src/card/card-file.js';
import { ISD_R_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import { Terminal } from '../../../src/card/terminal.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import {
  buildKeyEstablishmentRequest,
  type EstablishedKeyset,
  isdrKeysetParameters,
  type KeyEstablishmentParameters,
  scp80KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../../src/crypto/sgp-02-key-establishment.js';
import type { OtaKeySet } from '../../../src/crypto/ts-102-225-scp80.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { AdminSessionTriggerTlv } from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex } from '../../../src/lib/hex.js';
import {
  decodeRandomChallenge,
  establishIsdrKeySetApdu,
  establishIsdrKeySetCertificateApdu,
  finaliseIsdrHandoverApdu,
  getStatusApdu,
  isdrKeysetReference,
} from '../../../src/lib/sgp-02-es5.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../../../src/platform/esim/sm-sr/ram-over-http.js';
import { type Scp81Listener, startScp81Listener } from '../../../src/servers/esim/scp81-listener.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../helpers/esim-pki.js';
import { cell, commandSms, IMEI, SPI_REPORT } from '../toolkit/fixture.js';
import { type Device, EID, es5, euiccOf, KEYS, pkiEuiccFile, TAR } from './fixture.js';

let listener: Scp81Listener | undefined;
let modem: ToolkitModem | undefined;
afterEach(async () => {
  modem?.bip?.shutdown();
  await listener?.close();
  listener = undefined;
  modem = undefined;
});

/** A device whose modem relays BIP to real TCP, and keeps the MO SMS for es5(); PK.ECASD.ECKA. */
function bipDevice(pki: TestPki): { d: Device; ecasdPublicKey: Uint8Array } {
  const { file, ecasdPublicKey } = pkiEuiccFile(pki);
  const card = cardFromFile(file, { clock: new ManualClock(PKI_NOW) });
  const sms: Uint8Array[] = [];
  card.reset();
  const m = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    onSms: (tpdu) => sms.push(tpdu),
    bip: { pollMs: 2 },
  });
  modem = m;
  const booted = m.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  const d: Device = { card, modem: m, sms, refreshes: [], moveCardTo: () => d };
  return { d, ecasdPublicKey };
}

interface Scp80 {
  readonly kvn: number;
  readonly keys: OtaKeySet;
  counter: number;
}

const options = (via: Scp80) => {
  const byte = (via.kvn << 4) | 0x02;
  return { keys: via.keys, kic: byte, kid: byte };
};

/** 3A01 + 3A02 over SCP80 (`via`), SM-SR2 signing; the key set from the verified receipt. */
function establish(
  pki: TestPki,
  d: Device,
  ecasdPublicKey: Uint8Array,
  via: Scp80,
  parameters: KeyEstablishmentParameters,
): EstablishedKeyset {
  const first = es5(
    d,
    [establishIsdrKeySetCertificateApdu(pki.smsr.certificate)],
    ++via.counter,
    options(via),
  );
  const rc = decodeRandomChallenge(hex(first.answers[0]?.data ?? ''));
  if (!rc.ok) throw new Error(rc.error.message);
  const request = buildKeyEstablishmentRequest({
    curve: 'P-256',
    parameters,
    signingKey: pki.smsr.privateKey,
    randomChallenge: rc.value,
  });
  const second = es5(d, [establishIsdrKeySetApdu(request.storeData)], ++via.counter, options(via));
  const keyset = verifyKeyEstablishmentReceipt({
    curve: 'P-256',
    parameters,
    ephemeralPrivateKey: request.ephemeral.privateKey,
    ecasdPublicKey,
    response: hex(second.answers[0]?.data ?? ''),
  });
  if (!keyset.ok) throw new Error(keyset.error.message);
  return keyset.value;
}

describe('SM-SR2 over HTTPS with the SCP81 key set it created', () => {
  it("push under SM-SR2's SCP80 key set, PSK-TLS with the new PSK, scripts run; deleting the session's own PSK is refused", async () => {
    const pki = await createTestPki();
    const { d, ecasdPublicKey } = bipDevice(pki);
    const sr1: Scp80 = { kvn: 1, keys: KEYS, counter: 0 };
    const ks2 = scp80KeysFromKeyset(
      establish(
        pki,
        d,
        ecasdPublicKey,
        sr1,
        isdrKeysetParameters({ kind: 'scp80', kvn: 3, initialCounter: 100 }),
      ),
    );
    const sr2: Scp80 = {
      kvn: 3,
      keys: { kic: { algorithm: 'aes-cbc', key: ks2.kic }, kid: { algorithm: 'aes-cmac', key: ks2.kid } },
      counter: 100,
    };
    const finalise = finaliseIsdrHandoverApdu([isdrKeysetReference(1), isdrKeysetReference(0x40)]);
    expect(es5(d, [finalise], ++sr2.counter, options(sr2)).answers.map((a) => a.sw)).toEqual(['9000']);
    const psk = establish(pki, d, ecasdPublicKey, sr2, isdrKeysetParameters({ kind: 'scp81', kvn: 0x41 }))
      .keys[0] as Uint8Array;

    // SM-SR2's SCP81 listener knows only the new PSK (KVN 41).
    const sessions = new RamOverHttpSessions();
    listener = await startScp81Listener({
      sessions,
      psk: (id) => (id.eid === EID && id.kvn === 0x41 ? psk : undefined),
    });
    const port = listener.port;
    const push = () => {
      const trigger = adminSessionTrigger({
        eid: EID,
        isdRAid: ISD_R_AID,
        kvn: 0x41,
        kid: 0x01,
        address: '127.0.0.1',
        port,
        adminUri: sessions.adminUri,
      });
      for (const sms of commandSms(AdminSessionTriggerTlv.encode(trigger), ++sr2.counter, {
        ...options(sr2),
        tar: TAR,
        spi: SPI_REPORT,
      })) {
        const r = d.modem.deliverSms(sms);
        if (!r.ok) throw new Error(r.error.message);
      }
    };
    const first = sessions.queue(EID, ISD_R_AID, [getStatusApdu()]);
    push();
    expect((await first).responses.map((r) => r.sw)).toEqual([0x9000]);
    // One session at a time (GP Amd B §3.2): the next push once this one has closed.
    await vi.waitFor(() => expect(d.modem.bip?.open).toBe(false), { timeout: 20_000 });

    // Over this session (PSK KVN 41): its own key set may not go; KVN 3 (SCP80) is not in use here,
    // but it is the last SCP80 key set.
    const own = sessions.queue(EID, ISD_R_AID, [
      finaliseIsdrHandoverApdu([isdrKeysetReference(0x41)]),
      finaliseIsdrHandoverApdu([isdrKeysetReference(3)]),
    ]);
    push();
    expect((await own).responses.map((r) => r.sw)).toEqual([0x6985]);
    const state = euiccOf(d.card).persistentState();
    expect(state.scp80.map((k) => k.kvn)).toEqual([3]);
    expect(state.scp81.map((k) => k.kvn)).toEqual([0x41]);
    expect(d.card.toolkitFaults).toBe(0);
  }, 60_000);
});

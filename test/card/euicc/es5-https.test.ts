// ES5 over HTTPS to the eUICC of a card file (SCP81, GP Amd B): the SM-SR queues a script for the ISD-R,
// pushes the '81' trigger by SMS to the ISD-R TAR (which the ISD-R hands to its SCP81 agent), the card
// opens a BIP channel, PSK-TLS with the ISD-R's SCP81 key set (KVN 40) runs over loopback TCP, and the
// ES5 functions answer. An EnableProfile carried this way ends the session first, then the REFRESH.
// Threat: the push must come through SCP80 like every ES5 command (a push without the ISD-R keys is
// refused before the agent sees it).

import { afterEach, describe, expect, it, vi } from 'vitest';
import { cardFromFile } from '../../../src/card/card-file.js';
import { ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID, ISD_R_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import { Terminal } from '../../../src/card/terminal.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { AdminSessionTriggerTlv } from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex } from '../../../src/lib/hex.js';
import {
  createIsdpApdu,
  decodeIsdpStatusList,
  enableProfileApdu,
  getStatusApdu,
} from '../../../src/lib/sgp-02-es5.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../../../src/platform/esim/sm-sr/ram-over-http.js';
import { type Scp81Listener, startScp81Listener } from '../../../src/servers/esim/scp81-listener.js';
import { IMSI } from '../fixture.js';
import { cell, commandSms, IMEI, SPI_REPORT } from '../toolkit/fixture.js';
import { EID, euiccFile, euiccOf, SECOND, SECOND_PROFILE, TAR } from './fixture.js';

const PSK = hex('505152535455565758595a5b5c5d5e5f');

interface Rig {
  card: Uicc;
  modem: ToolkitModem;
  sessions: RamOverHttpSessions;
  listener: Scp81Listener;
  push(counter: number, o?: { keys?: 'wrong' }): void;
}

let rig: Rig | undefined;
afterEach(async () => {
  rig?.modem.bip?.shutdown();
  await rig?.listener.close();
  rig = undefined;
});

async function setUp(): Promise<Rig> {
  const file = euiccFile();
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const card = cardFromFile({
    ...file,
    euicc: { ...e, isdr: { ...e.isdr, scp81: [{ kvn: 0x40, psk: '505152535455565758595a5b5c5d5e5f' }] } },
  });
  const sessions = new RamOverHttpSessions();
  const listener = await startScp81Listener({
    sessions,
    psk: (id) => (id.eid === EID && id.kvn === 0x40 ? PSK : undefined),
  });
  card.reset();
  const modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    bip: { pollMs: 2 },
  });
  const booted = modem.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  return {
    card,
    modem,
    sessions,
    listener,
    push(counter, o = {}) {
      const trigger = adminSessionTrigger({
        eid: EID,
        isdRAid: ISD_R_AID,
        kvn: 0x40,
        kid: 0x01,
        address: '127.0.0.1',
        port: listener.port,
        adminUri: sessions.adminUri,
      });
      const keys =
        o.keys === 'wrong'
          ? {
              kic: { algorithm: 'aes-cbc' as const, key: new Uint8Array(16) },
              kid: { algorithm: 'aes-cmac' as const, key: new Uint8Array(16) },
            }
          : undefined;
      for (const sms of commandSms(AdminSessionTriggerTlv.encode(trigger), counter, {
        tar: TAR,
        spi: SPI_REPORT,
        ...(keys ? { keys } : {}),
      })) {
        const r = modem.deliverSms(sms);
        if (!r.ok) throw new Error(r.error.message);
      }
    },
  };
}

describe('ES5 over SCP81 (RAM over HTTP) to the ISD-R', () => {
  it('CreateISDP and GET STATUS in one HTTPS session', async () => {
    rig = await setUp();
    const result = rig.sessions.queue(EID, ISD_R_AID, [
      createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND }),
      getStatusApdu(SECOND),
    ]);
    rig.push(1);
    const r = await result;
    expect(r.scriptStatus).toBe('ok');
    expect(r.responses.map((x) => x.sw)).toEqual([0x9000, 0x9000]);
    const status = decodeIsdpStatusList(r.responses[1]?.data ?? new Uint8Array(0));
    expect(status.ok && status.value.map((s) => [s.aid, s.lifeCycle])).toEqual([[SECOND, 0x07]]);
    expect(rig.card.toolkitFaults).toBe(0);
  });

  it('EnableProfile over HTTPS: the session ends, then REFRESH, and the modem reads the new IMSI', async () => {
    rig = await setUp();
    const first = rig.sessions.queue(EID, ISD_R_AID, [
      createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND }),
    ]);
    rig.push(1);
    expect((await first).responses[0]?.sw).toBe(0x9000);
    expect(euiccOf(rig.card).installProfile(SECOND, SECOND_PROFILE).ok).toBe(true);
    await vi.waitFor(() => expect(rig?.modem.bip?.open).toBe(false));
    expect(rig.modem.imsi).toBe(IMSI);
    const enable = rig.sessions.queue(EID, ISD_R_AID, [enableProfileApdu(SECOND)]);
    rig.push(2);
    expect((await enable).responses.map((x) => x.sw)).toEqual([0x9000]);
    await vi.waitFor(() => expect(rig?.modem.imsi).toBe(SECOND_PROFILE.identity.imsi));
    expect(rig.card.toolkitFaults).toBe(0);
  });

  it('a push secured with other keys is refused by SCP80: no session opens', async () => {
    rig = await setUp();
    const r = rig.sessions.queue(EID, ISD_R_AID, [getStatusApdu()]);
    r.catch(() => undefined);
    rig.push(1, { keys: 'wrong' });
    expect(rig.modem.bip?.open ?? false).toBe(false);
    expect(rig.modem.log.some((x) => x.typeOfCommand === 0x40)).toBe(false);
  });
});

// A card with the SCP81 administration agent at the ISD-R TAR, a BIP-capable modem around it, and the
// SM-SR's SCP81 listener on loopback: the whole ES5 HTTPS path through real TCP and Node's PSK-TLS.

import { cardFromFile, keysOf, toolkitSetupOf } from '../../../src/card/card-file.js';
import {
  Scp81AdminAgent,
  type Scp81AgentOptions,
  type SessionOutcome,
} from '../../../src/card/euicc/scp81-admin-agent.js';
import { Terminal } from '../../../src/card/terminal.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { Uicc } from '../../../src/card/uicc.js';
import { AdminSessionTriggerTlv, type PskIdentity } from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex } from '../../../src/lib/hex.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../../../src/platform/esim/sm-sr/ram-over-http.js';
import { type Scp81Listener, startScp81Listener } from '../../../src/servers/esim/scp81-listener.js';
import { antiTheftCardFile, cell, commandSms, IMEI, SPI_REPORT } from '../toolkit/fixture.js';

export const EID = '89049032123451234512345678901235';
export const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
export const ISD_R_TAR = hex('000001');
export const PSK = hex('404142434445464748494a4b4c4d4e4f');
export const KVN = 0x40;
export const KID = 0x01;

export interface Bench {
  readonly card: Uicc;
  readonly agent: Scp81AdminAgent;
  readonly modem: ToolkitModem;
  readonly sessions: RamOverHttpSessions;
  readonly listener: Scp81Listener;
  readonly outcomes: SessionOutcome[];
  readonly refused: string[];
  /** The next session's end. */
  ended(): Promise<SessionOutcome>;
  /** SM-SR: send the push SMS (SCP80 to the ISD-R TAR) naming the listener. */
  push(o?: { port?: number; kvn?: number; counter?: number }): void;
  /** SM-SR: a push whose secured data is `data` as given. */
  pushData(data: Uint8Array, counter?: number): void;
  close(): Promise<void>;
}

export async function bench(
  o: {
    cardPsk?: Uint8Array;
    serverPsk?: (id: PskIdentity) => Uint8Array | undefined;
    /** The card's stored session parameters, given the listener's port. */
    defaults?: (port: number) => Scp81AgentOptions['defaults'];
  } = {},
): Promise<Bench> {
  const sessions = new RamOverHttpSessions();
  const refused: string[] = [];
  const listener = await startScp81Listener({
    sessions,
    psk: o.serverPsk ?? ((id) => (id.eid === EID && id.kvn === KVN && id.kid === KID ? PSK : undefined)),
    onRefused: (r) => refused.push(r),
  });
  const outcomes: SessionOutcome[] = [];
  let waiters: ((o: SessionOutcome) => void)[] = [];
  const agent = new Scp81AdminAgent({
    eid: EID,
    isdRAid: ISD_R_AID,
    psk: (kvn, kid) => (kvn === KVN && kid === KID ? (o.cardPsk ?? PSK) : undefined),
    ...(o.defaults === undefined ? {} : { defaults: o.defaults(listener.port) }),
    onSessionEnd: (outcome) => {
      outcomes.push(outcome);
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve(outcome);
    },
  });
  const f = antiTheftCardFile();
  const setup = toolkitSetupOf(f);
  const card = new Uicc(keysOf(f), cardFromFile(f).snapshot(), {
    ...setup,
    applets: [...setup.applets, { id: 'scp81', tar: ISD_R_TAR, applet: agent, reportKvn: 1 }],
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
  let counter = 1;
  const pushData = (data: Uint8Array, at?: number) => {
    for (const sms of commandSms(data, at ?? counter++, { tar: ISD_R_TAR, spi: SPI_REPORT })) {
      const r = modem.deliverSms(sms);
      if (!r.ok) throw new Error(r.error.message);
    }
  };
  return {
    card,
    agent,
    modem,
    sessions,
    listener,
    outcomes,
    refused,
    ended: () => new Promise((resolve) => waiters.push(resolve)),
    push(p = {}) {
      const trigger = adminSessionTrigger({
        eid: EID,
        isdRAid: ISD_R_AID,
        kvn: p.kvn ?? KVN,
        kid: KID,
        address: '127.0.0.1',
        port: p.port ?? listener.port,
        adminUri: sessions.adminUri,
      });
      pushData(AdminSessionTriggerTlv.encode(trigger), p.counter);
    },
    pushData,
    async close() {
      modem.bip?.shutdown();
      await listener.close();
    },
  };
}

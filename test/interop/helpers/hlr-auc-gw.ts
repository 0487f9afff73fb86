// A small AuC for hostapd, speaking the text protocol of hostap's hlr_auc_gw (hostapd/hlr_auc_gw.c)
// over the UNIX datagram socket hostapd's `eap_sim_db=unix:<path>` points at. Debian ships no
// hlr_auc_gw, so the test answers with our Milenage:
//
//   AKA-REQ-AUTH <IMSI>                 → AKA-RESP-AUTH <IMSI> <RAND> <AUTN> <IK> <CK> <RES>
//   AKA-AUTS <IMSI> <AUTS> <RAND>       → (no reply) verify MAC-S, SQN_HE := SQN_MS
//   SIM-REQ-AUTH <IMSI> <max_chal>      → SIM-RESP-AUTH <IMSI> Kc:SRES:RAND Kc:SRES:RAND …
//
// SQN follows hlr_auc_gw's profile: each vector takes SEQ + 1 and the next IND slot (5-bit IND).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { gsmMilenage } from '../../../src/crypto/gsm-milenage.js';
import {
  generateVector,
  recoverSqnFromAuts,
  sqnFromNumber,
  sqnToNumber,
} from '../../../src/crypto/milenage.js';
import { hex, toHex } from '../../../src/lib/hex.js';

export interface Subscriber {
  readonly ki: string;
  readonly opc: string;
  readonly amf: string;
  /** Last SQN used (SEQ ‖ IND). */
  sqn: number;
}

const IND_BITS = 5;

export class HlrAucGw {
  readonly requests: string[] = [];
  readonly #db = new Map<string, Subscriber>();
  #bridge: ChildProcess | undefined;

  add(imsi: string, s: Omit<Subscriber, 'sqn'> & { sqn?: number }): void {
    this.#db.set(imsi, { ...s, sqn: s.sqn ?? 0 });
  }

  subscriber(imsi: string): Subscriber | undefined {
    return this.#db.get(imsi);
  }

  /** Answer one request line; undefined when the protocol wants no reply. */
  answer(line: string): string | undefined {
    this.requests.push(line);
    const [command, imsi = '', ...args] = line.split(' ');
    const s = this.#db.get(imsi);
    switch (command) {
      case 'AKA-REQ-AUTH': {
        if (s === undefined) return `AKA-RESP-AUTH ${imsi} FAILURE`;
        const size = 2 ** IND_BITS;
        const seq = Math.floor(s.sqn / size) + 1;
        const ind = ((s.sqn % size) + 1) % size;
        s.sqn = seq * size + ind;
        const v = generateVector(hex(s.ki), hex(s.opc), randomBytes(16), sqnFromNumber(s.sqn), hex(s.amf));
        return `AKA-RESP-AUTH ${imsi} ${toHex(v.rand)} ${toHex(v.autn)} ${toHex(v.ik)} ${toHex(v.ck)} ${toHex(v.res)}`;
      }
      case 'AKA-AUTS': {
        const [auts = '', rand = ''] = args;
        if (s === undefined) return undefined;
        const sqnMs = recoverSqnFromAuts(hex(s.ki), hex(s.opc), hex(rand), hex(auts));
        // TS 33.102 §6.3.5: a genuine AUTS resets SQN_HE to SQN_MS; a bad MAC-S changes nothing.
        if (sqnMs.ok) s.sqn = sqnToNumber(sqnMs.value);
        return undefined;
      }
      case 'SIM-REQ-AUTH': {
        if (s === undefined) return `SIM-RESP-AUTH ${imsi} FAILURE`;
        const count = Math.min(3, Math.max(2, Number(args[0] ?? 3)));
        const triplets = Array.from({ length: count }, () => {
          const rand = randomBytes(16);
          const { sres, kc } = gsmMilenage(hex(s.ki), hex(s.opc), rand);
          return `${toHex(kc)}:${toHex(sres)}:${toHex(rand)}`;
        });
        return `SIM-RESP-AUTH ${imsi} ${triplets.join(' ')}`;
      }
      default:
        return undefined;
    }
  }

  /** Bind `socketPath` through the Python datagram bridge and serve until `stop`. */
  async listen(socketPath: string): Promise<void> {
    const bridge = spawn(
      '/usr/bin/python3',
      [resolve('test/interop/helpers/unix-dgram-bridge.py'), socketPath],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    this.#bridge = bridge;
    const lines = createInterface({ input: bridge.stdout });
    await new Promise<void>((ready, fail) => {
      bridge.once('exit', (code) => fail(new Error(`datagram bridge exited (${code})`)));
      lines.on('line', (line) => {
        if (line === 'ready') {
          ready();
          return;
        }
        const space = line.indexOf(' ');
        const reply = this.answer(line.slice(space + 1));
        bridge.stdin.write(`${line.slice(0, space)} ${reply ?? ''}\n`);
      });
    });
  }

  async stop(): Promise<void> {
    const b = this.#bridge;
    if (b?.pid === undefined || b.exitCode !== null || b.signalCode !== null) return;
    const exited = new Promise((r) => b.once('exit', r));
    process.kill(b.pid, 'SIGTERM');
    await exited;
  }
}

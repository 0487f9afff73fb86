// Bridge from wpa_supplicant's `external_sim=1` mode to the software card. wpa_supplicant (or
// eapol_test) asks the SIM over its control interface; `wpa_cli` attached as a monitor prints the
// request and forwards our answer (hostap src/eap_peer/eap_aka.c, eap_sim.c):
//
//   <3>CTRL-REQ-SIM-<id>:UMTS-AUTH:<RAND>:<AUTN> needed for SSID <ssid>
//       → sim <id> UMTS-AUTH:<IK>:<CK>:<RES>   |  sim <id> UMTS-AUTS:<AUTS>   |  sim <id> UMTS-FAIL
//   <3>CTRL-REQ-SIM-<id>:GSM-AUTH:<RAND1>:<RAND2>[:<RAND3>] needed for SSID <ssid>
//       → sim <id> GSM-AUTH:<Kc1>:<SRES1>:<Kc2>:<SRES2>[…]  |  sim <id> GSM-FAIL
//
// Every answer comes from real AUTHENTICATE APDUs sent to the card (terminal.ts); the bridge never
// sees Ki. "UMTS-FAIL"/"GSM-FAIL" are the strings Android's supplicant HAL sends for a SIM failure;
// wpa_supplicant treats any unrecognised answer as failure and replies Authentication-Reject.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fromHex, toHex } from '../../lib/hex.js';
import { Terminal, type Transmit } from '../terminal.js';

export interface WpaBridgeOptions {
  /** wpa_supplicant's ctrl_interface directory. */
  readonly ctrlDir: string;
  /** Interface name in that directory (eapol_test uses "test"). */
  readonly ifname: string;
  readonly transmit: Transmit;
  /** Resets the card (new session) before the bridge starts. */
  readonly reset: () => void;
  /** PIN1, when the card has PIN verification enabled. */
  readonly pin?: string;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
  readonly wpaCli?: string;
}

const REQUEST = /CTRL-REQ-SIM-(\d+):(UMTS-AUTH|GSM-AUTH):([0-9A-Fa-f:]+)/;

/** The answer to one external SIM request (without the `sim <id> ` prefix). */
export function answerSimRequest(
  terminal: Terminal,
  pin: string | undefined,
  kind: 'UMTS-AUTH' | 'GSM-AUTH',
  params: string,
): { answer: string; outcome: string } {
  const failure = kind === 'UMTS-AUTH' ? 'UMTS-FAIL' : 'GSM-FAIL';
  const ready = terminal.selectUsim();
  const unlocked = ready.ok ? terminal.verifyPin1IfNeeded(pin) : ready;
  if (!unlocked.ok) return { answer: failure, outcome: unlocked.error.message };

  const values = params.split(':').map((p) => fromHex(p));
  if (values.some((v) => v?.length !== 16)) return { answer: failure, outcome: 'malformed request' };
  const [first, second, third] = values as Uint8Array[];

  if (kind === 'UMTS-AUTH') {
    if (first === undefined || second === undefined || third !== undefined)
      return { answer: failure, outcome: 'malformed request' };
    const r = terminal.authenticateUmts(first, second);
    if (!r.ok) return { answer: failure, outcome: r.error.message };
    switch (r.value.kind) {
      case 'success':
        return {
          answer: `UMTS-AUTH:${toHex(r.value.ik)}:${toHex(r.value.ck)}:${toHex(r.value.res)}`,
          outcome: 'success',
        };
      case 'sync_failure':
        return { answer: `UMTS-AUTS:${toHex(r.value.auts)}`, outcome: 'synchronisation failure, sent AUTS' };
      case 'mac_failure':
        return { answer: failure, outcome: 'MAC failure (9862): the network is not genuine for this card' };
    }
  }

  if (values.length < 2 || values.length > 3) return { answer: failure, outcome: 'malformed request' };
  const parts: string[] = [];
  for (const rand of values as Uint8Array[]) {
    const r = terminal.authenticateGsm(rand);
    if (!r.ok) return { answer: failure, outcome: r.error.message };
    parts.push(toHex(r.value.kc), toHex(r.value.sres));
  }
  return { answer: `GSM-AUTH:${parts.join(':')}`, outcome: `success (${values.length} triplets)` };
}

/** Run `wpa_cli` as a monitor and answer SIM requests until `signal` aborts or wpa_cli exits. */
export function runWpaBridge(o: WpaBridgeOptions): Promise<void> {
  o.reset();
  const terminal = new Terminal(o.transmit);
  const cli: ChildProcess = spawn(o.wpaCli ?? 'wpa_cli', ['-p', o.ctrlDir, '-i', o.ifname], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  o.log(`listening for external SIM requests on ${o.ctrlDir}/${o.ifname}`);
  const lines = createInterface({ input: cli.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    const m = REQUEST.exec(line);
    if (m === null) return;
    const [, id, kind, params] = m as unknown as [string, string, 'UMTS-AUTH' | 'GSM-AUTH', string];
    const { answer, outcome } = answerSimRequest(terminal, o.pin, kind, params);
    o.log(`${kind} request ${id}: ${outcome}`);
    cli.stdin?.write(`sim ${id} ${answer}\n`);
  });
  return new Promise((resolve, reject) => {
    const stop = () => cli.kill('SIGTERM');
    o.signal.addEventListener('abort', stop, { once: true });
    cli.on('error', (e) => {
      o.signal.removeEventListener('abort', stop);
      reject(e);
    });
    cli.on('exit', (code, sig) => {
      o.signal.removeEventListener('abort', stop);
      if (o.signal.aborted) resolve();
      else reject(new Error(`wpa_cli exited (${sig ?? `code ${code}`})`));
    });
  });
}

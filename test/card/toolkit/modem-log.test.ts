// ToolkitModem.log is a ring of the latest proactive exchanges. Threat: a simulated device that runs
// for days (src/simulator/fleet.ts) kept every FETCH/TERMINAL RESPONSE it ever made, so its memory
// grew without end. Each boot of the anti-theft card makes several exchanges (SET UP EVENT LIST, PLI
// IMEI, TIMER MANAGEMENT, PLI location, …); many boots must leave the log at its bound, holding the
// newest ones in order, exactly as an unbounded log's tail.

import { describe, expect, it } from 'vitest';
import { Terminal } from '../../../src/card/terminal.js';
import { MODEM_LOG_SIZE, ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { toHex } from '../../../src/lib/hex.js';
import { cell, IMEI, newCard } from './fixture.js';

const BOOTS = 60;

function bootedModem(logSize?: number) {
  const card = newCard();
  card.reset();
  const modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    ...(logSize === undefined ? {} : { logSize }),
  });
  for (let i = 0; i < BOOTS; i++) {
    card.reset();
    expect(modem.boot().ok).toBe(true);
  }
  return modem;
}

const hexes = (m: ToolkitModem) =>
  m.log.map((e) => `${toHex(e.command)}/${toHex(e.response ?? new Uint8Array(0))}`);

describe('ToolkitModem.log is bounded', () => {
  it('keeps the newest exchanges of a long run, in order, as an unbounded log would end', () => {
    const all = bootedModem(Number.MAX_SAFE_INTEGER);
    // The run is long enough to matter: it made more exchanges than the default bound.
    expect(all.log.length).toBeGreaterThan(MODEM_LOG_SIZE * 2);
    const ring = bootedModem();
    expect(ring.log).toHaveLength(MODEM_LOG_SIZE);
    expect(hexes(ring)).toEqual(hexes(all).slice(-MODEM_LOG_SIZE));
  });

  it('takes its size from the options; 0 records nothing', () => {
    const small = bootedModem(5);
    expect(small.log).toHaveLength(5);
    expect(bootedModem(0).log).toEqual([]);
  });
});

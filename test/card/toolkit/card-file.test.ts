// The toolkit sections of the card file: OTA key sets (secrets, like Ki), installed applets and the
// toolkit's persistent state (applet memory, counters) — validated totally, saved after a change and
// only then, and surviving power cycles and a reload from disk.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentCard, parseCardFile, writeCardFile } from '../../../src/card/card-file.js';
import { Terminal } from '../../../src/card/terminal.js';
import { ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { antiTheftCardFile, cell, IMEI, OTHER_IMEI, QUARANTINE_IMSI } from './fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function onDisk() {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-toolkit-'));
  dirs.push(dir);
  const path = join(dir, 'card.json');
  writeCardFile(path, antiTheftCardFile());
  return path;
}

function boot(path: string, imei: string) {
  const opened = PersistentCard.open(path);
  if (!opened.ok) throw new Error(opened.error.message);
  const card = opened.value;
  card.reset();
  const modem = new ToolkitModem(new Terminal((a) => card.transmit(a)), { imei, cell: cell(1) });
  const booted = modem.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  return { card, modem, imsi: booted.value };
}

describe('card file: toolkit sections', () => {
  it('accepts the anti-theft card and refuses bad sections with the field named', () => {
    const good = antiTheftCardFile();
    expect(parseCardFile(JSON.parse(JSON.stringify(good))).ok).toBe(true);
    const bad: [string, unknown][] = [
      ['applets[0].name', { applets: [{ ...good.applets?.[0], name: 'nope' }] }],
      ['applets[0].tar', { applets: [{ ...good.applets?.[0], tar: 'B0' }] }],
      [
        'applets[0].parameters',
        { applets: [{ ...good.applets?.[0], parameters: { quarantineImsi: '12' } }] },
      ],
      ['ota.keysets[0].kic', { ota: { keysets: [{ ...good.ota?.keysets[0], kic: '00' }] } }],
      ['ota.keysets[1]', { ota: { keysets: [good.ota?.keysets[0], good.ota?.keysets[0]] } }],
      [
        'ota.keysets[0].kidAlgorithm',
        { ota: { keysets: [{ ...good.ota?.keysets[0], kidAlgorithm: 'md5' }] } },
      ],
      ['toolkit.counters', { toolkit: { counters: { '99': 1 }, reportCounter: 0, appletData: {} } }],
      [
        'toolkit.appletData',
        { toolkit: { counters: {}, reportCounter: 0, appletData: { 'anti-theft': 'zz' } } },
      ],
    ];
    for (const [field, patch] of bad) {
      const r = parseCardFile({ ...JSON.parse(JSON.stringify(good)), ...(patch as object) });
      expect(r.ok, field).toBe(false);
      if (!r.ok) expect(r.error.message, field).toContain(field);
    }
  });

  it('the applet memory and the counters survive power cycles and a reload from disk', () => {
    const path = onDisk();
    boot(path, IMEI);
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.toolkit.appletData['anti-theft']).toMatch(/^a0/);
    // The OTA keys stay in the file (like Ki), never in the toolkit state.
    expect(JSON.stringify(saved.toolkit)).not.toContain(saved.ota.keysets[0].kic);
    boot(path, IMEI); // second boot arms
    const thief = boot(path, OTHER_IMEI);
    expect(thief.imsi).toBe(QUARANTINE_IMSI);
    expect(boot(path, OTHER_IMEI).imsi).toBe(QUARANTINE_IMSI);
  });

  it('a boot that changes nothing does not write the card file', () => {
    const path = onDisk();
    boot(path, IMEI);
    boot(path, IMEI);
    const before = statSync(path).mtimeMs;
    const text = readFileSync(path, 'utf8');
    const again = boot(path, IMEI);
    // Coverage comes and goes on the registered cell: 50 location status events, no change.
    for (let i = 0; i < 50; i++) again.modem.moveTo(cell(1), i % 2 === 0 ? 'no_service' : 'normal_service');
    expect(again.modem.eventList).toEqual([0x03]);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(statSync(path).mtimeMs).toBe(before);
  });
});

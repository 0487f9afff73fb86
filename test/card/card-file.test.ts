// The card file: validation (total), persistence after every state change, atomic writes, and the
// roll-back to the last saved state when a write fails.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CARD_FILE_FORMAT,
  csvLine,
  newCardFile,
  PersistentCard,
  parseCardFile,
  readCardFile,
  writeCardFile,
} from '../../src/card/card-file.js';
import { Terminal } from '../../src/card/terminal.js';
import { computeOpc, generateVector, sqnFromNumber } from '../../src/crypto/milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { hasValidLuhn } from '../../src/lib/luhn.js';
import { fixtureFile, KI, OPC, PIN1, pinHex, sendHex } from './fixture.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'simtrust-card-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const challenge = (sqn: number) =>
  generateVector(hex(KI), hex(OPC), hex('00112233445566778899aabbccddeeff'), sqnFromNumber(sqn), hex('8000'));

describe('a new card', () => {
  it('has random keys, a valid ICCID and a full SQN array', () => {
    const a = newCardFile({ imsi: '001010000000001' });
    const b = newCardFile({ imsi: '001010000000001' });
    expect(a.ki).not.toBe(b.ki);
    expect(a.opc).not.toBe(b.opc);
    expect(hasValidLuhn(a.iccid)).toBe(true);
    expect(a.sqn.seq).toHaveLength(32);
    expect(parseCardFile(JSON.parse(JSON.stringify(a)))).toEqual({ ok: true, value: a });
  });

  it('prints the vendor CSV line iccid,imsi,msisdn,ki,opc (OPc even when the card holds OP)', () => {
    const f = fixtureFile();
    expect(csvLine(f)).toBe(`${f.iccid},${f.imsi},817000000001,${KI},${OPC}`);
    const { opc: _opc, ...rest } = f;
    const withOp = { ...rest, op: 'cdc202d5123e20f62b6d676ac72cb318' };
    expect(csvLine(withOp).split(',')[4]).toBe(
      toHex(computeOpc(hex(KI), hex('cdc202d5123e20f62b6d676ac72cb318'))),
    );
  });
});

describe('parseCardFile is total and names the field', () => {
  const good = fixtureFile();
  it.each([
    ['not an object', [], 'card'],
    ['format', { ...good, format: 'x' }, 'format'],
    ['iccid Luhn', { ...good, iccid: '8949440000001155315' }, 'iccid'],
    ['imsi', { ...good, imsi: '12' }, 'imsi'],
    ['msisdn', { ...good, msisdn: '+81' }, 'msisdn'],
    ['mncLength', { ...good, mncLength: 4 }, 'mncLength'],
    ['ki', { ...good, ki: 'zz' }, 'ki'],
    ['opc and op', { ...good, op: KI }, 'opc'],
    ['amf', { ...good, amf: '800' }, 'amf'],
    ['pin1', { ...good, pin1: '12' }, 'pin1'],
    ['puk1', { ...good, puk1: '1234' }, 'puk1'],
    ['pin1Enabled', { ...good, pin1Enabled: 'yes' }, 'pin1Enabled'],
    ['retries', { ...good, retries: { pin1: 4, puk1: 10, adm1: 10 } }, 'retries.pin1'],
    ['sqn.seq length', { ...good, sqn: { ...good.sqn, seq: [0] } }, 'sqn.seq'],
    ['sqn.indBits', { ...good, sqn: { ...good.sqn, indBits: 11 } }, 'sqn.indBits'],
    ['unknown file', { ...good, files: { '3F00/1234': '00' } }, 'files["3F00/1234"]'],
    ['file size', { ...good, files: { '3F00/2FE2': '00' } }, 'files["3F00/2FE2"]'],
    ['record count', { ...good, files: { '3F00/2F00': ['00'] } }, 'files["3F00/2F00"]'],
  ])('%s', (_name, json, field) => {
    const r = parseCardFile(json);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message.startsWith(`${field}:`)).toBe(true);
  });

  it('reports unreadable and non-JSON files', () => {
    const dir = tempDir();
    expect(readCardFile(join(dir, 'missing.json'))).toMatchObject({
      ok: false,
      error: { code: 'CARD_FILE_READ' },
    });
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(readCardFile(join(dir, 'bad.json'))).toMatchObject({
      ok: false,
      error: { code: 'CARD_FILE_JSON' },
    });
  });
});

describe('persistence', () => {
  it('writes atomically with mode 0600 and leaves no temporary file', () => {
    const dir = tempDir();
    const path = join(dir, 'card.json');
    writeCardFile(path, fixtureFile());
    writeCardFile(path, fixtureFile());
    expect(readdirSync(dir)).toEqual(['card.json']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8')).format).toBe(CARD_FILE_FORMAT);
  });

  it('SQN survives a restart: a challenge accepted before is refused after reopening', () => {
    const path = join(tempDir(), 'card.json');
    writeCardFile(path, fixtureFile({ pin1Enabled: false }));
    const v = challenge(0x21);
    const open = () => {
      const c = PersistentCard.open(path);
      if (!c.ok) throw new Error(c.error.message);
      return new Terminal((a) => c.value.transmit(a));
    };
    const first = open();
    first.selectUsim();
    expect(first.authenticateUmts(v.rand, v.autn)).toMatchObject({ ok: true, value: { kind: 'success' } });
    const second = open();
    second.selectUsim();
    expect(second.authenticateUmts(v.rand, v.autn)).toMatchObject({
      ok: true,
      value: { kind: 'sync_failure' },
    });
  });

  it('PIN changes, retry counters and file updates are saved; read-only commands do not write', () => {
    const path = join(tempDir(), 'card.json');
    writeCardFile(path, fixtureFile());
    const c = PersistentCard.open(path);
    if (!c.ok) throw new Error(c.error.message);
    const before = statSync(path).mtimeMs;
    const before2 = readFileSync(path, 'utf8');
    sendHex(c.value, '00A4000C023F00');
    sendHex(c.value, '00B0820000');
    expect(readFileSync(path, 'utf8')).toBe(before2);
    expect(statSync(path).mtimeMs).toBe(before);
    expect(sendHex(c.value, `0020000108${pinHex('0000')}`)).toBe('63C2');
    expect(sendHex(c.value, `0024000110${pinHex(PIN1)}${pinHex('4321')}`)).toBe('9000');
    sendHex(c.value, '00A4040C07A0000000871002');
    expect(sendHex(c.value, '00D68D000362F210')).toBe('9000');
    const saved = readCardFile(path);
    if (!saved.ok) throw new Error(saved.error.message);
    expect(saved.value.pin1).toBe('4321');
    expect(saved.value.retries.pin1).toBe(3);
    expect(saved.value.files?.['3F00/7FF0/6F7B']).toBe(`62f210${'ff'.repeat(9)}`);
  });

  it('a failed write answers 6581 and rolls the card back to the last saved state', () => {
    const dir = tempDir();
    const path = join(dir, 'card.json');
    writeCardFile(path, fixtureFile({ pin1Enabled: false }));
    const c = PersistentCard.open(path);
    if (!c.ok) throw new Error(c.error.message);
    const t = new Terminal((a) => c.value.transmit(a));
    t.selectUsim();
    rmSync(dir, { recursive: true, force: true });
    const v = challenge(0x41);
    expect(t.send(hex(`008800812210${toHex(v.rand)}10${toHex(v.autn)}`)).sw).toBe(0x6581);
    // Nothing was accepted: once the file can be written again, the same challenge still works
    // (the roll-back is a fresh card session, as after a reset).
    mkdirSync(dir);
    expect(t.selectUsim().ok).toBe(true);
    expect(t.authenticateUmts(v.rand, v.autn)).toMatchObject({ ok: true, value: { kind: 'success' } });
    const saved = readCardFile(path);
    expect(saved.ok && saved.value.sqn.seq[1]).toBe(2);
  });
});

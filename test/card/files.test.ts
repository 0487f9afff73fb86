// STYLE.md #1 for the file system: every EF is declared once (fid, sfi, structure, size, access
// conditions, codec, example). One generic test walks all of them: the example decodes to its
// value and encodes back to the same bytes, the initial content of a new card decodes, and the FCP
// the card returns for the file says what the declaration says.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  encodeContent,
  type FileNode,
  initialContent,
  isDf,
  isEf,
  walk,
} from '../../src/card/file-system.js';
import { CARD_TREE } from '../../src/card/profile.js';
import {
  ARR_RECORDS,
  arrRecordCodec,
  arrRecordFor,
  buildFcp,
  DF_ARR_RECORD,
} from '../../src/card/ts-102-221.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { FcpTemplateTlv } from '../../src/lib/ts-102-221-tlv.js';

const identity = {
  iccid: '8949440000001155314',
  imsi: '310410123456789',
  mncLength: 3 as const,
  msisdn: '15551234567',
};
const nodes = walk(CARD_TREE);
const efs = nodes.filter(isEf);

describe('file tree', () => {
  it('has the files TS 102 221 / TS 31.102 require of this card', () => {
    const names = nodes.map((n) => n.decl.name);
    for (const name of [
      'MF',
      'EF.DIR',
      'EF.ICCID',
      'EF.PL',
      'DF.TELECOM',
      'ADF.USIM',
      'EF.IMSI',
      'EF.AD',
      'EF.UST',
      'EF.EST',
      'EF.LOCI',
      'EF.PSLOCI',
      'EF.EPSLOCI',
      'EF.FPLMN',
      'EF.ACC',
      'EF.MSISDN',
      'EF.SPN',
      'EF.Keys',
      'EF.KeysPS',
      'EF.ARR',
    ]) {
      expect(names, name).toContain(name);
    }
  });

  it('file ids and SFIs are unique within each DF', () => {
    for (const df of nodes.filter(isDf)) {
      const fids = df.children.map((c) => c.decl.fid);
      expect(new Set(fids).size, df.decl.name).toBe(fids.length);
      const sfis = df.children.flatMap((c) =>
        c.decl.kind === 'ef' && c.decl.sfi !== undefined ? [c.decl.sfi] : [],
      );
      expect(new Set(sfis).size, df.decl.name).toBe(sfis.length);
    }
  });
});

const label = (n: FileNode) => `${n.decl.name} (${n.path})`;

describe.each(efs.map((n) => [label(n), n] as const))('%s', (_name, node) => {
  const d = node.decl;

  it(`example ${d.example.hex.slice(0, 24)}… decodes and encodes back`, () => {
    expect(d.example.hex.length / 2, 'example is one whole file or record').toBe(d.size);
    expect(d.codec.decode(hex(d.example.hex))).toEqual({ ok: true, value: d.example.value });
    expect(toHex(encodeContent(d, d.example.value))).toBe(d.example.hex.toLowerCase());
  });

  it('initial content has the declared size and decodes', () => {
    const content = initialContent(d, identity);
    const parts = Array.isArray(content) ? content : [content];
    if (d.structure === 'linear_fixed') expect(parts.length).toBe(d.records);
    for (const part of parts) {
      expect(part.length).toBe(d.size);
      expect(d.codec.decode(part).ok, toHex(part)).toBe(true);
    }
  });

  it('FCP: descriptor, file id, SFI, size and the EF.ARR record of its access conditions', () => {
    const fcp = FcpTemplateTlv.decode(buildFcp(node, true));
    if (!fcp.ok) throw new Error(fcp.error.message);
    const v = fcp.value;
    expect(v.fileIdentifier).toBe(d.fid);
    expect(v.fileDescriptor?.structure).toBe(d.structure);
    expect(v.shortFileId).toBe(d.sfi ?? null);
    expect(v.fileSize).toBe(d.structure === 'transparent' ? d.size : d.size * d.records);
    const record = v.securityAttributes?.record ?? 0;
    expect(record).toBe(arrRecordFor(d.read, d.update));
    const rules = ARR_RECORDS[record - 1] ?? [];
    expect(rules).toContainEqual({ accessMode: 0x01, condition: d.read });
    expect(rules).toContainEqual({ accessMode: 0x02, condition: d.update });
  });
});

describe('DF FCPs', () => {
  it.each(nodes.filter(isDf).map((n) => [label(n), n] as const))(
    '%s carries its AID and PIN status',
    (_n, node) => {
      const fcp = FcpTemplateTlv.decode(buildFcp(node, false));
      if (!fcp.ok) throw new Error(fcp.error.message);
      expect(fcp.value.fileDescriptor?.type).toBe('df');
      expect(fcp.value.dfName).toBe(node.decl.kind === 'adf' ? node.decl.aid : undefined);
      expect(fcp.value.securityAttributes?.record).toBe(DF_ARR_RECORD);
      expect(fcp.value.pinStatus?.[0]).toEqual({ keyReference: 0x01, enabled: false });
    },
  );
});

describe('EF.ARR records', () => {
  it('every record encodes in 32 bytes and decodes to its rules', () => {
    for (const rules of ARR_RECORDS) {
      const bytes = arrRecordCodec.encode([...rules]);
      expect(bytes.length).toBeLessThanOrEqual(32);
      expect(arrRecordCodec.decode(bytes)).toEqual({ ok: true, value: rules });
    }
  });

  it('refuses an access rule pair that has no record', () => {
    expect(() => arrRecordFor('NEV', 'ALW')).toThrow(/no EF.ARR record/);
  });
});

describe('docs/card.md', () => {
  const docs = readFileSync('docs/card.md', 'utf8');

  it.each(efs.map((n) => [label(n), n] as const))(
    'lists %s with its SFI and access conditions',
    (_n, node) => {
      const d = node.decl;
      const sfi = d.sfi === undefined ? '—' : d.sfi.toString(16).toUpperCase().padStart(2, '0');
      expect(docs).toContain(`| ${d.name} | ${node.path} | ${sfi} |`);
      const row = docs.split('\n').find((l) => l.startsWith(`| ${d.name} | ${node.path} |`)) ?? '';
      expect(row).toContain(`| ${d.read} | ${d.update} |`);
    },
  );
});

// The card's implementation of the FileView an applet or the RFM (remote file management) server uses:
// administrative access to the file contents (TS 102 241 uicc.access.FileView with the ADM access
// domain; TS 102 226 §6 RFM). It walks the same declaration tree as the APDU interface and refuses
// what no access condition allows (NEV). Every write goes through `changed`, so the card saves it.

import { type DfNode, type EfNode, type FileNode, isDf, isEf } from '../file-system.js';
import { CARD_TREE } from '../profile.js';
import { SW } from '../ts-102-221.js';
import type { FileView } from './ts-102-241-applet-api.js';

export type FileContents = Map<string, Uint8Array | Uint8Array[]>;

const USIM = CARD_TREE.children.find((n): n is DfNode => isDf(n) && n.decl.kind === 'adf');

export class CardFileView implements FileView {
  #df: DfNode = CARD_TREE;
  #ef: EfNode | undefined;
  readonly #files: FileContents;
  readonly #changed: () => void;

  constructor(files: FileContents, changed: () => void) {
    this.#files = files;
    this.#changed = changed;
  }

  select(fid: string): number {
    const id = fid.toUpperCase();
    let target: FileNode | undefined;
    if (id === '3F00') target = CARD_TREE;
    else if (id === '7FFF') target = USIM;
    else
      target =
        this.#df.children.find((n) => n.decl.fid === id) ??
        (this.#df.parent?.decl.fid === id ? this.#df.parent : undefined) ??
        this.#df.parent?.children.find((n) => isDf(n) && n.decl.fid === id);
    if (target === undefined) return SW.FILE_NOT_FOUND;
    if (isDf(target)) {
      this.#df = target;
      this.#ef = undefined;
    } else if (isEf(target) && target.parent) {
      this.#df = target.parent;
      this.#ef = target;
    }
    return SW.OK;
  }

  #transparent(): Uint8Array | number {
    if (this.#ef === undefined) return SW.NO_EF_SELECTED;
    if (this.#ef.decl.structure !== 'transparent') return SW.INCOMPATIBLE_FILE_STRUCTURE;
    const content = this.#files.get(this.#ef.path);
    return content instanceof Uint8Array ? content : SW.TECHNICAL_PROBLEM;
  }

  #records(): Uint8Array[] | number {
    if (this.#ef === undefined) return SW.NO_EF_SELECTED;
    if (this.#ef.decl.structure === 'transparent') return SW.INCOMPATIBLE_FILE_STRUCTURE;
    const content = this.#files.get(this.#ef.path);
    return Array.isArray(content) ? content : SW.TECHNICAL_PROBLEM;
  }

  readBinary(offset: number, length: number): { sw: number; data: Uint8Array } {
    const content = this.#transparent();
    if (typeof content === 'number') return { sw: content, data: new Uint8Array(0) };
    if (this.#ef?.decl.read === 'NEV')
      return { sw: SW.SECURITY_STATUS_NOT_SATISFIED, data: new Uint8Array(0) };
    if (offset < 0 || offset >= content.length) return { sw: SW.WRONG_OFFSET, data: new Uint8Array(0) };
    const n = length === 0 ? content.length - offset : length;
    if (offset + n > content.length) return { sw: SW.END_OF_FILE, data: content.slice(offset) };
    return { sw: SW.OK, data: content.slice(offset, offset + n) };
  }

  updateBinary(offset: number, data: Uint8Array): number {
    const content = this.#transparent();
    if (typeof content === 'number') return content;
    if (this.#ef?.decl.update === 'NEV') return SW.SECURITY_STATUS_NOT_SATISFIED;
    if (offset < 0 || offset >= content.length) return SW.WRONG_OFFSET;
    if (data.length === 0 || offset + data.length > content.length) return SW.WRONG_LENGTH;
    if (content.subarray(offset, offset + data.length).every((b, i) => b === data[i])) return SW.OK;
    content.set(data, offset);
    this.#changed();
    return SW.OK;
  }

  readRecord(record: number): { sw: number; data: Uint8Array } {
    const records = this.#records();
    if (typeof records === 'number') return { sw: records, data: new Uint8Array(0) };
    const r = records[record - 1];
    return r === undefined
      ? { sw: SW.RECORD_NOT_FOUND, data: new Uint8Array(0) }
      : { sw: SW.OK, data: r.slice() };
  }

  updateRecord(record: number, data: Uint8Array): number {
    const records = this.#records();
    if (typeof records === 'number') return records;
    if (this.#ef?.decl.update === 'NEV') return SW.SECURITY_STATUS_NOT_SATISFIED;
    const current = records[record - 1];
    if (current === undefined) return SW.RECORD_NOT_FOUND;
    if (data.length !== current.length) return SW.WRONG_LENGTH;
    if (current.every((b, i) => b === data[i])) return SW.OK;
    records[record - 1] = data.slice();
    this.#changed();
    return SW.OK;
  }
}

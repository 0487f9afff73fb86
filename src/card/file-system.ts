// The UICC file system as data (ETSI TS 102 221 §8): every DF and EF is declared once with its file
// id, short file id, structure, size and access conditions, plus a content codec and an example so
// one generic test can check each declaration (test/card/files.test.ts). The card (uicc.ts) keeps
// only the contents; the shape comes from here.

import type { ValueCodec } from '../lib/tlv-registry.js';

/**
 * Access conditions the card enforces (TS 102 221 §9.2 / §9.5). A PIN1 condition is met when PIN1
 * was verified in this session or is disabled; ADM only by ADM1 verification.
 */
export type AccessCondition = 'ALW' | 'PIN1' | 'ADM' | 'NEV';

/** The EF structures this card uses (TS 102 221 §8.3); cyclic EFs are not part of its profile. */
export type EfStructure = 'transparent' | 'linear_fixed';

/** What a card is built from: the data that seeds the initial file contents. */
export interface CardIdentity {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string;
  /** Number of MNC digits in the IMSI (EF.AD byte 4). */
  readonly mncLength: 2 | 3;
  readonly spn?: string;
}

interface FileBase {
  /** The name used in the specifications, e.g. 'EF.IMSI', 'ADF.USIM'. */
  readonly name: string;
  /** Four upper-case hex digits. */
  readonly fid: string;
  /** Where the file is defined. */
  readonly spec: string;
  readonly description: string;
}

interface EfBase<T> extends FileBase {
  readonly kind: 'ef';
  readonly sfi?: number;
  readonly read: AccessCondition;
  readonly update: AccessCondition;
  /** Content codec: the whole file (transparent) or one record (linear fixed). */
  readonly codec: ValueCodec<T>;
  /** A content example (one record for record EFs, padding included) and what it decodes to. */
  readonly example: { readonly hex: string; readonly value: T };
}

export interface TransparentEfDeclaration<T = unknown> extends EfBase<T> {
  readonly structure: 'transparent';
  /** File size in bytes. */
  readonly size: number;
  /** Content of a new card. */
  initial(identity: CardIdentity): T;
}

export interface RecordEfDeclaration<T = unknown> extends EfBase<T> {
  readonly structure: 'linear_fixed';
  /** Record length in bytes. */
  readonly size: number;
  readonly records: number;
  /** Records of a new card (fewer than `records`: the rest are empty, all FF). */
  initial(identity: CardIdentity): readonly T[];
}

export type EfDeclaration<T = unknown> = TransparentEfDeclaration<T> | RecordEfDeclaration<T>;

export interface DfDeclaration extends FileBase {
  readonly kind: 'mf' | 'df' | 'adf';
  /** ADF only: the application identifier (TS 101 220 §4). */
  readonly aid?: string;
  readonly label?: string;
  readonly children: readonly FileDeclaration[];
}

export type FileDeclaration = EfDeclaration | DfDeclaration;

/** A declaration placed in the tree: knows its parent and its path of file ids from the MF. */
export interface FileNode {
  readonly decl: FileDeclaration;
  readonly parent: DfNode | undefined;
  /** '3F00', '3F00/7FF0/6F07', … — also the key of the file's content in a card file. */
  readonly path: string;
}

export interface DfNode extends FileNode {
  readonly decl: DfDeclaration;
  readonly children: readonly FileNode[];
}

export interface EfNode extends FileNode {
  readonly decl: EfDeclaration;
}

export const isDf = (n: FileNode): n is DfNode => n.decl.kind !== 'ef';
export const isEf = (n: FileNode): n is EfNode => n.decl.kind === 'ef';

/** Build the node tree of a declaration tree rooted at the MF. */
export function buildTree(mf: DfDeclaration): DfNode {
  const make = (decl: FileDeclaration, parent: DfNode | undefined): FileNode => {
    const path = parent === undefined ? decl.fid : `${parent.path}/${decl.fid}`;
    if (decl.kind === 'ef') return { decl, parent, path };
    const node: { decl: DfDeclaration; parent: DfNode | undefined; path: string; children: FileNode[] } = {
      decl,
      parent,
      path,
      children: [],
    };
    for (const child of decl.children) node.children.push(make(child, node));
    return node;
  };
  return make(mf, undefined) as DfNode;
}

/** Every node of the tree, depth first. */
export function walk(root: DfNode): FileNode[] {
  const out: FileNode[] = [root];
  for (const child of root.children) {
    if (isDf(child)) out.push(...walk(child));
    else out.push(child);
  }
  return out;
}

/** Encode a content value with a declaration's codec into exactly the file's (or record's) size. */
export function encodeContent<T>(decl: EfDeclaration<T>, value: T): Uint8Array {
  const bytes = decl.codec.encode(value);
  const out = new Uint8Array(decl.size).fill(0xff);
  out.set(bytes.subarray(0, decl.size));
  return out;
}

/** The initial content of an EF: its bytes, or one byte array per record. */
export function initialContent(decl: EfDeclaration, identity: CardIdentity): Uint8Array | Uint8Array[] {
  if (decl.structure === 'transparent') return encodeContent(decl, decl.initial(identity));
  const values = decl.initial(identity);
  return Array.from({ length: decl.records }, (_, i) =>
    i < values.length ? encodeContent(decl, values[i]) : new Uint8Array(decl.size).fill(0xff),
  );
}

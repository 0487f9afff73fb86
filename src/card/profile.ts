// The card's file tree: the MF with the TS 102 221 files, DF.TELECOM and ADF.USIM (TS 31.102).

import { buildTree, type DfDeclaration, type DfNode } from './file-system.js';
import { ADF_USIM } from './ts-31-102.js';
import { DF_TELECOM, EF_DIR, EF_ICCID, EF_PL, efArr } from './ts-102-221.js';

export const MF: DfDeclaration = {
  kind: 'mf',
  name: 'MF',
  fid: '3F00',
  spec: 'TS 102 221 §8.2',
  description: 'Master file',
  children: [EF_DIR, EF_ICCID, EF_PL, efArr('2F06', 0x06, 'TS 102 221 §13.4'), DF_TELECOM, ADF_USIM],
};

/** The node tree, built once: it is immutable, only file contents differ between cards. */
export const CARD_TREE: DfNode = buildTree(MF);

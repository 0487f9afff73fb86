// `simtrust aka gen|auts`: a Milenage vector tool in the spirit of osmo-auc-gen, on the same crypto
// the AuC and the software card use (src/crypto/milenage.ts).

import type { Command } from 'commander';
import { c2Sres, c3Kc } from '../../crypto/gsm-milenage.js';
import { computeOpc, generateVector, MILENAGE, recoverSqnFromAuts } from '../../crypto/milenage.js';
import { SimtrustError } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/hex.js';

interface KeyOptions {
  k?: string;
  opc?: string;
  op?: string;
  json?: boolean;
}

/** A hex option of an exact length; anything else is a usage error (exit 2). */
export function hexOption(name: string, value: string | undefined, bytes: number): Uint8Array {
  if (value === undefined)
    throw new SimtrustError('ERR_CLI_USAGE', `${name} is required (${bytes * 2} hex digits)`);
  const parsed = fromHex(value.trim());
  if (parsed === undefined)
    throw new SimtrustError('ERR_CLI_USAGE', `${name} must be hex digits, got "${value}"`);
  if (parsed.length !== bytes) {
    throw new SimtrustError(
      'ERR_CLI_USAGE',
      `${name} must be ${bytes * 2} hex digits (${bytes} bytes), got ${value.length}`,
    );
  }
  return parsed;
}

/** K and OPc from --k and exactly one of --opc / --op. */
function keys(o: KeyOptions): { k: Uint8Array; opc: Uint8Array } {
  const k = hexOption('--k', o.k, MILENAGE.K);
  if ((o.opc === undefined) === (o.op === undefined)) {
    throw new SimtrustError('ERR_CLI_USAGE', 'give exactly one of --opc and --op');
  }
  const opc =
    o.opc !== undefined
      ? hexOption('--opc', o.opc, MILENAGE.OPC)
      : computeOpc(k, hexOption('--op', o.op, MILENAGE.OP));
  return { k, opc };
}

/** Output goes through commander's output configuration, so a caller (or a test) can capture it. */
export function writeOut(command: Command, text: string): void {
  const out = command.configureOutput().writeOut;
  if (out) out(text);
  else process.stdout.write(text);
}

export function writeErr(command: Command, text: string): void {
  const err = command.configureOutput().writeErr;
  if (err) err(text);
  else process.stderr.write(text);
}

/** Print `fields` as aligned "Name: value" lines, or as one JSON object with the given keys. */
function print(
  command: Command,
  json: boolean | undefined,
  fields: readonly [label: string, key: string, value: string][],
) {
  if (json) {
    writeOut(
      command,
      `${JSON.stringify(Object.fromEntries(fields.map(([, key, value]) => [key, value])), null, 2)}\n`,
    );
    return;
  }
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  const lines = fields.map(([label, , value]) => `${`${label}:`.padEnd(width)} ${value}\n`);
  writeOut(command, lines.join(''));
}

const EXAMPLE_K = '465b5ce8b199b49faa5f0a2ee238a6bc';
const EXAMPLE_OPC = 'cd63cb71954a9f4e48a5994e37a02baf';

export function registerAkaCommand(program: Command): void {
  // exitOverride: commander's own usage errors (unknown option, missing value) then throw to the
  // caller like ours do, so `main` can exit 2 for them, whatever order it configures things in.
  const aka = program
    .command('aka')
    .exitOverride()
    .description('Milenage authentication vectors (TS 35.206) and AUTS resynchronisation (TS 33.102)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ simtrust aka gen --k ${EXAMPLE_K} --opc ${EXAMPLE_OPC} --rand 23553cbe9637a89d218ae64dae47bf35 --sqn ff9bb4d0b607 --amf b9b9\n  $ simtrust aka auts --k 90dca4eda45b53cf0f12d7c9c3bc6a89 --opc cb9cccc4b9258e6dca4760379fb82581 --rand aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --auts 43681ad3daf006bcde405a207267`,
    );

  aka
    .command('gen')
    .description('compute MAC-A, MAC-S, RES, CK, IK, AK, AK*, AUTN, SRES and Kc for one challenge')
    .option('--k <hex>', 'subscriber key K (Ki), 32 hex digits')
    .option('--opc <hex>', 'OPc, 32 hex digits')
    .option('--op <hex>', 'OP, 32 hex digits (OPc is derived)')
    .option('--rand <hex>', 'RAND, 32 hex digits')
    .option('--sqn <hex>', 'SQN, 12 hex digits')
    .option('--amf <hex>', 'AMF, 4 hex digits')
    .option('--json', 'print a JSON object (mac_a, mac_s, res, ck, ik, ak, ak_star, autn, sres, kc)')
    .addHelpText(
      'after',
      `\nExample (TS 35.208 test set 1):\n  $ simtrust aka gen --k ${EXAMPLE_K} --opc ${EXAMPLE_OPC} --rand 23553cbe9637a89d218ae64dae47bf35 --sqn ff9bb4d0b607 --amf b9b9 --json`,
    )
    .action(function (this: Command, o: KeyOptions & { rand?: string; sqn?: string; amf?: string }) {
      const { k, opc } = keys(o);
      const rand = hexOption('--rand', o.rand, MILENAGE.RAND);
      const sqn = hexOption('--sqn', o.sqn, MILENAGE.SQN);
      const amf = hexOption('--amf', o.amf, MILENAGE.AMF);
      const v = generateVector(k, opc, rand, sqn, amf);
      print(this, o.json, [
        ['MAC-A', 'mac_a', toHex(v.macA)],
        ['MAC-S', 'mac_s', toHex(v.macS)],
        ['RES', 'res', toHex(v.res)],
        ['CK', 'ck', toHex(v.ck)],
        ['IK', 'ik', toHex(v.ik)],
        ['AK', 'ak', toHex(v.ak)],
        ['AK*', 'ak_star', toHex(v.akStar)],
        ['AUTN', 'autn', toHex(v.autn)],
        // TS 33.102 §6.8.1.2 c2/c3, as a USIM answers a GSM challenge with the same keys.
        ['SRES', 'sres', toHex(c2Sres(v.res))],
        ['Kc', 'kc', toHex(c3Kc(v.ck, v.ik))],
      ]);
    });

  aka
    .command('auts')
    .description('verify MAC-S of an AUTS and print the SQN_MS it carries (TS 33.102 §6.3.5)')
    .option('--k <hex>', 'subscriber key K (Ki), 32 hex digits')
    .option('--opc <hex>', 'OPc, 32 hex digits')
    .option('--op <hex>', 'OP, 32 hex digits (OPc is derived)')
    .option('--rand <hex>', 'the RAND of the challenge the card refused, 32 hex digits')
    .option('--auts <hex>', 'AUTS from the card, 28 hex digits')
    .option('--json', 'print a JSON object { sqn_ms }')
    .addHelpText(
      'after',
      '\nExample (hostap test vector; prints SQN_MS 00000000002a):\n  $ simtrust aka auts --k 90dca4eda45b53cf0f12d7c9c3bc6a89 --opc cb9cccc4b9258e6dca4760379fb82581 --rand aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --auts 43681ad3daf006bcde405a207267',
    )
    .action(function (this: Command, o: KeyOptions & { rand?: string; auts?: string }) {
      const { k, opc } = keys(o);
      const rand = hexOption('--rand', o.rand, MILENAGE.RAND);
      const auts = hexOption('--auts', o.auts, MILENAGE.AUTS);
      const sqnMs = recoverSqnFromAuts(k, opc, rand, auts);
      if (!sqnMs.ok) {
        // Not a usage error: the input is well-formed, it just does not verify.
        writeErr(this, `error: ${sqnMs.error.message} (wrong K/OPc/RAND, or a forged AUTS)\n`);
        process.exitCode = 1;
        return;
      }
      print(this, o.json, [['SQN_MS', 'sqn_ms', toHex(sqnMs.value)]]);
    });
}

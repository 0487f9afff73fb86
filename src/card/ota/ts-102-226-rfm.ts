// Remote File Management (ETSI TS 102 226 §6, over TS 102 225 secured packets): the C-APDUs of an
// expanded command script run one after another against the card's file system with administrative
// access, and the card answers with an expanded response script. Supported: SELECT (by file id, or
// by path from the MF with P1 = 08), READ BINARY, UPDATE BINARY, READ RECORD, UPDATE RECORD; anything
// else answers '6D00'. As TS 102 226 §5.2.1 says, execution stops at the first command whose status
// word is not a success, and the response holds the R-APDUs of the commands executed.

import {
  decodeCommandScript,
  encodeResponseScript,
  responseScript,
} from '../../lib/ts-102-226-remote-command.js';
import { type CommandApdu, parseCommandApdu } from '../iso-7816-4.js';
import type { FileView } from '../toolkit/ts-102-241-applet-api.js';
import { SW } from '../ts-102-221.js';

type RApdu = { data: Uint8Array; statusWord: Uint8Array };

const swBytes = (sw: number) => Uint8Array.of(sw >> 8, sw & 0xff);
const done = (sw: number, data: Uint8Array = new Uint8Array(0)): RApdu => ({ data, statusWord: swBytes(sw) });

/** One C-APDU of a script (CLA 00 or 80 class bits ignored: the script has no logical channels). */
function execute(view: FileView, c: CommandApdu): RApdu {
  switch (c.ins) {
    case 0xa4: {
      if (c.p1 === 0x00 && c.data.length === 2) return done(view.select(hexOf(c.data)));
      if (c.p1 === 0x08 && c.data.length >= 2 && c.data.length % 2 === 0) {
        let sw = view.select('3F00');
        for (let i = 0; i < c.data.length && sw === SW.OK; i += 2)
          sw = view.select(hexOf(c.data.subarray(i, i + 2)));
        return done(sw);
      }
      return done(SW.INCORRECT_P1_P2);
    }
    case 0xb0: {
      if (c.p1 & 0x80) return done(SW.INCORRECT_P1_P2);
      const r = view.readBinary((c.p1 << 8) | c.p2, c.le ?? 0);
      return done(r.sw, r.data);
    }
    case 0xd6:
      if (c.p1 & 0x80) return done(SW.INCORRECT_P1_P2);
      return done(view.updateBinary((c.p1 << 8) | c.p2, c.data));
    case 0xb2: {
      if (c.p2 !== 0x04) return done(SW.INCORRECT_P1_P2);
      const r = view.readRecord(c.p1);
      return done(r.sw, r.data);
    }
    case 0xdc:
      if (c.p2 !== 0x04) return done(SW.INCORRECT_P1_P2);
      return done(view.updateRecord(c.p1, c.data));
    default:
      return done(SW.INS_NOT_SUPPORTED);
  }
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

const isSuccess = (sw: Uint8Array) => sw[0] === 0x90 || sw[0] === 0x91 || sw[0] === 0x62 || sw[0] === 0x63;

/** Run a TS 102 226 expanded command script; a script that does not parse gives Bad Format (90). */
export function runRemoteFileScript(view: FileView, secured: Uint8Array): Uint8Array {
  const script = decodeCommandScript(secured);
  if (!script.ok)
    return encodeResponseScript({
      form: 'definite',
      items: [{ type: 'bad-format', value: Uint8Array.of(0x01) }],
    });
  const responses: RApdu[] = [];
  for (const item of script.value.items) {
    if (item.type !== 'c-apdu') continue;
    const parsed = parseCommandApdu(item.apdu);
    const r = parsed.ok ? execute(view, parsed.value) : done(SW.WRONG_LENGTH);
    responses.push(r);
    if (!isSuccess(r.statusWord)) break;
  }
  return responseScript(responses, script.value.form);
}

// The reference of the RADIUS benchmark: the least a RADIUS server must do per request — decode,
// check the authenticators, sign and send an answer — with no database at all (so nothing durable).
// Run as its own process, like the server under test:
//   node --import tsx bench/_radius-reference.ts <authPort> <acctPort> <secret>

import { createSocket } from 'node:dgram';
import {
  encodeResponse,
  messageAuthenticator,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
} from '../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../src/lib/radius/rfc-2865-packet.js';

const [authPort = '0', acctPort = '0', secret = ''] = process.argv.slice(2);

for (const [port, accounting] of [
  [Number(authPort), false],
  [Number(acctPort), true],
] as const) {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const raw = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    const packet = decodePacket(raw);
    if (!packet.ok) return;
    const authentic = accounting
      ? verifyRequestAuthenticator(raw, secret)
      : verifyMessageAuthenticator(raw, secret) === 'valid';
    if (!authentic) return;
    const answer = encodeResponse(
      accounting
        ? { code: RADIUS_CODES['Accounting-Response'], identifier: packet.value.identifier, attributes: [] }
        : {
            code: RADIUS_CODES['Access-Accept'],
            identifier: packet.value.identifier,
            attributes: [messageAuthenticator(), ['Framed-IP-Address', '127.64.0.1']],
          },
      packet.value.authenticator,
      secret,
    );
    if (answer.ok) socket.send(answer.value, rinfo.port, rinfo.address);
  });
  // The same receive buffer as the server under test.
  socket.bind(port, '127.0.0.1', () => socket.setRecvBufferSize(4 * 1024 * 1024));
}
process.stdout.write('ready\n');

// The receiver of bench/_events-radius.ts's web request action, in a process of its own: the load
// generator's event loop (16 sockets, 2,048 Interims outstanding) would otherwise hold each arriving
// request until it got round to it, and the arrival times would be the generator's lag, not the
// engine's. `node --import tsx bench/_events-receiver.ts <host>` listens on <host>, port 0, writes
// its port as the first line of stdout, then one line per IMSI at its first arrival:
// `<imsi> <time>`, the time in ms since the epoch with sub-millisecond precision
// (performance.timeOrigin + performance.now(), comparable with the parent's own). Answers 204 to
// /crossed/<imsi>, 404 to anything else.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const host = process.argv[2] ?? '127.0.0.2';
const seen = new Set<string>();
const server = createServer((req, res) => {
  const at = performance.timeOrigin + performance.now();
  const imsi = /^\/crossed\/(\d{6,15})$/.exec(req.url ?? '')?.[1];
  if (imsi !== undefined && !seen.has(imsi)) {
    seen.add(imsi);
    process.stdout.write(`${imsi} ${at}\n`);
  }
  req.resume();
  req.once('end', () => {
    res.statusCode = imsi === undefined ? 404 : 204;
    res.end();
  });
});
server.listen(0, host, () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

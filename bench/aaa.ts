// npm run bench -- aaa [--seconds S] [--db sqlite|postgres]
//
// 1. Full EAP-AKA authentications per second from concurrent software-card peers (every round trip)
//    against simtrust and, in the same run, against hostapd as the reference server.
// 2. Accounting Interim-Updates per second acknowledged after a durable write (SQLite, PostgreSQL)
//    and p99 of packet-gateway Access-Request at half the maximum rate, against a RADIUS responder
//    with no database measured in the same run.

import { runEapBench } from './_aaa-eap.js';
import { runRadiusBench } from './_aaa-radius.js';

export async function run(args: string[]): Promise<void> {
  console.log('\n-- EAP-AKA full authentications: simtrust vs hostapd');
  await runEapBench(args);
  console.log('\n-- packet-gateway AAA and accounting');
  await runRadiusBench(args);
}

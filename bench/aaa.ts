// npm run bench -- aaa [--part eap|radius] [--seconds S] [--db sqlite|postgres]
//
// 1. Full EAP-AKA authentications per second from concurrent software-card peers (every round trip)
//    against simtrust and, in the same run, against hostapd as the reference server.
// 2. Accounting Interim-Updates per second acknowledged after a durable write (SQLite, PostgreSQL)
//    and p99 of packet-gateway Access-Request at half the maximum rate, against a RADIUS responder
//    with no database measured in the same run.
// `--part` runs one of the two; with SIMTRUST_BENCH_CPU_PROFILE=<dir> the simtrust server writes a
// V8 CPU profile there.

import { runEapBench } from './_aaa-eap.js';
import { runRadiusBench } from './_aaa-radius.js';
import { flag } from './_support.js';

export async function run(args: string[]): Promise<void> {
  const part = flag(args, '--part');
  if (part !== undefined && part !== 'eap' && part !== 'radius')
    throw new Error('--part takes eap or radius');
  if (part !== 'radius') {
    console.log('\n-- EAP-AKA full authentications: simtrust vs hostapd');
    await runEapBench(args);
  }
  if (part !== 'eap') {
    console.log('\n-- packet-gateway AAA and accounting');
    await runRadiusBench(args);
  }
}

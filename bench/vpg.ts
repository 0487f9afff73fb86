// `npm run bench -- vpg` (issue 18, root only): the time the data plane takes to apply a 10,000-SIM
// group change to the kernel — render the VPG's ruleset and apply it with `nft -f -` in the VPG's
// namespace (one transaction) — with 1,000 allow-list entries, beside the same transaction with no
// devices and no rules (the fixed cost of one nft run) measured in the same run. Target ≤ 1 s.
// Not measured here yet: the database read of 10,000 sessions, and throughput through the VPG
// (iperf3 with mirroring on) — see docs/vpg.md, Not yet.
// Usage: npm run bench -- vpg [rounds=5]

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { UplinkRule } from '../src/platform/vpg/filter-rules.js';
import type { VpgDesiredState } from '../src/platform/vpg/vpg-service.js';
import { applyRuleset, deleteNamespace, ensureNamespace } from '../src/servers/dataplane/kernel.js';
import { renderRuleset } from '../src/servers/dataplane/ruleset.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function run(args: string[]): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('vpg: skipped — needs root (CAP_NET_ADMIN) to create a namespace and apply nftables');
    return;
  }
  const rounds = Number(args[0] ?? 5);
  const id = `${randomBytes(4).toString('hex')}-0000-4000-8000-${randomBytes(6).toString('hex')}`;
  const ns = `st-bench-${id.slice(0, 8)}`;
  const rules: UplinkRule[] = Array.from({ length: 1000 }, (_, i) => ({
    ipRange: `172.${16 + (i >> 8)}.${i & 255}.0/24`,
    protocol: 'tcp',
    fromPort: 443,
    toPort: 443,
  }));
  const devices = (offset: number) =>
    Array.from({ length: 10_000 }, (_, i) => ((10 << 24) | (128 << 16)) + offset + i);
  const state = (deviceAddresses: number[], withRules: boolean): VpgDesiredState => ({
    vpgId: id,
    operatorId: 'OPBENCH',
    status: 'running',
    deviceSubnet: { base: (10 << 24) | (128 << 16), prefix: 9 },
    trafficFiltering: true,
    rules: withRules ? rules : [],
    deviceAddresses,
  });
  await ensureNamespace(ns);
  try {
    const timed = async (s: VpgDesiredState) => {
      const t0 = performance.now();
      await applyRuleset(ns, renderRuleset(s));
      return performance.now() - t0;
    };
    await timed(state(devices(0), true)); // warm: the table exists from here on
    const empty: number[] = [];
    const change: number[] = [];
    for (let r = 0; r < rounds; r++) {
      empty.push(await timed(state([], false)));
      await timed(state(devices(0), true));
      // the group change: 10,000 devices leave, 10,000 others arrive, 1,000 rules re-applied
      change.push(await timed(state(devices(20_000 + r), true)));
    }
    const count = execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'nft',
      'list',
      'set',
      'ip',
      `simtrust_vpg_${id.replaceAll('-', '')}`,
      'device_addrs',
    ])
      .toString()
      .split(',').length;
    console.log(`vpg: device_addrs holds ${count} elements after the change`);
    console.log(`vpg: empty transaction (reference)        median ${median(empty).toFixed(1)} ms`);
    console.log(
      `vpg: 10,000-SIM change + 1,000 rules       median ${median(change).toFixed(1)} ms (target ≤ 1000 ms; ${(median(change) / median(empty)).toFixed(1)}× the empty transaction)`,
    );
  } finally {
    await deleteNamespace(ns);
  }
}

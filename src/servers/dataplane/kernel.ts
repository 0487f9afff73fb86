// The few Linux programs the data plane runs: `ip` (iproute2) and `nft` (nftables), each through
// execFile with an argument vector (no shell), names made by ruleset.ts from a VPG id's hex digits,
// and rulesets passed on stdin. Nothing here is built from request text.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const NAME = /^[a-z0-9_-]{1,64}$/;

/** Runs a program; never rejects (the code tells). */
export function run(program: 'ip' | 'nft', args: readonly string[], stdin?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      program,
      [...args],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code =
          error === null
            ? 0
            : typeof (error as NodeJS.ErrnoException).code === 'number'
              ? (error as unknown as { code: number }).code
              : 127;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (error?.message ?? '')) });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new Error('bad kernel object name');
  return name;
}

/** Names of the network namespaces that exist (from `ip netns list`). */
export async function listNamespaces(): Promise<Set<string>> {
  const r = await run('ip', ['netns', 'list']);
  if (r.code !== 0) throw new Error(`ip netns list failed: ${r.stderr.trim()}`);
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n !== ''),
  );
}

/** Creates a namespace with its loopback up and IPv4 forwarding OFF (rules come first). */
export async function ensureNamespace(ns: string): Promise<boolean> {
  checkName(ns);
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0 && !/exist/i.test(add.stderr))
    throw new Error(`ip netns add failed: ${add.stderr.trim()}`);
  const lo = await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  if (lo.code !== 0) throw new Error(`ip link set lo up failed: ${lo.stderr.trim()}`);
  return add.code === 0;
}

export async function deleteNamespace(ns: string): Promise<void> {
  checkName(ns);
  const r = await run('ip', ['netns', 'del', ns]);
  if (r.code !== 0 && !/No such file|not found|does not exist/i.test(r.stderr))
    throw new Error(`ip netns del failed: ${r.stderr.trim()}`);
}

/** Applies an nftables file in the namespace as one transaction (`nft -f -`). */
export async function applyRuleset(ns: string, ruleset: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', checkName(ns), 'nft', '-f', '-'], ruleset);
  if (r.code !== 0) throw new Error(`nft -f - failed: ${r.stderr.trim().slice(0, 500)}`);
}

/** Turns IPv4 forwarding on in the namespace (after its ruleset, whose policy is drop, exists). */
export async function enableForwarding(ns: string): Promise<void> {
  // /proc/sys of the namespace is reached through `ip netns exec … sysctl` (procps).
  const r = await run('ip', ['netns', 'exec', checkName(ns), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  if (r.code !== 0) throw new Error(`sysctl net.ipv4.ip_forward=1 failed: ${r.stderr.trim()}`);
}

/** Per-source refused counters of a VPG table: address → packets/bytes. */
export async function refusedCounters(
  ns: string,
  table: string,
): Promise<Map<string, { packets: number; bytes: number }>> {
  const r = await run('ip', [
    'netns',
    'exec',
    checkName(ns),
    'nft',
    '-j',
    'list',
    'set',
    'ip',
    checkName(table),
    'refused_src',
  ]);
  if (r.code !== 0) throw new Error(`nft list set failed: ${r.stderr.trim()}`);
  const out = new Map<string, { packets: number; bytes: number }>();
  const doc = JSON.parse(r.stdout) as { nftables?: unknown[] };
  for (const item of doc.nftables ?? []) {
    const set = (item as { set?: { elem?: unknown[] } }).set;
    for (const e of set?.elem ?? []) {
      const elem = (e as { elem?: { val?: unknown; counter?: { packets?: unknown; bytes?: unknown } } }).elem;
      if (typeof elem?.val === 'string' && elem.counter)
        out.set(elem.val, {
          packets: Number(elem.counter.packets ?? 0),
          bytes: Number(elem.counter.bytes ?? 0),
        });
    }
  }
  return out;
}

/**
 * Can this process program the kernel? Creates and removes a throwaway namespace and lists its
 * nftables tables — harmless, and exactly what a VPG needs (CAP_SYS_ADMIN for namespaces,
 * CAP_NET_ADMIN for nftables). Returns the reason when not.
 */
export async function probeDataPlane(): Promise<{ available: true } | { available: false; reason: string }> {
  const ns = `st-probe-${randomBytes(4).toString('hex')}`;
  const ipv = await run('ip', ['-V']);
  if (ipv.code !== 0) return { available: false, reason: 'the program ip (iproute2) is not installed' };
  const nftv = await run('nft', ['--version']);
  if (nftv.code !== 0) return { available: false, reason: 'the program nft (nftables) is not installed' };
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0)
    return {
      available: false,
      reason: `cannot create a network namespace (needs CAP_SYS_ADMIN and CAP_NET_ADMIN): ${add.stderr.trim().slice(0, 200)}`,
    };
  try {
    const list = await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables']);
    if (list.code !== 0)
      return {
        available: false,
        reason: `nftables refused (needs CAP_NET_ADMIN): ${list.stderr.trim().slice(0, 200)}`,
      };
    return { available: true };
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

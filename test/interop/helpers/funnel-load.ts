// The at-least-once check of Funnel's interop tests: devices post numbered messages through the HTTP
// entry point while the broker is restarted, each device sending a number again until it hears 204
// (as a device does), and afterwards every number a device heard 204 for must be at the broker.
// Numbers the broker holds more than once (stored, but the confirmation lost in the restart, then
// sent again) are allowed and counted.

import { type FunnelWorld, postFrom } from '../../servers/beam/funnel-fixture.js';

export interface LoadResult {
  /** Numbers a device heard 204 for. */
  readonly acked: ReadonlySet<number>;
  /** Requests answered with something else (refused while the broker was away). */
  readonly notAcked: number;
  /** Statuses of those answers, with their counts. */
  readonly statuses: ReadonlyMap<number, number>;
  /** Acknowledged before the restart began, and after it ended. */
  readonly ackedBeforeRestart: number;
  readonly ackedAfterRestart: number;
}

async function until(condition: () => boolean, what: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function loadThroughRestart(o: {
  readonly world: FunnelWorld;
  /** The devices' session addresses. */
  readonly devices: readonly string[];
  readonly restart: () => Promise<void>;
  /** Messages acknowledged before the restart, and after it, before the load stops. */
  readonly before: number;
  readonly after: number;
}): Promise<LoadResult> {
  const acked = new Set<number>();
  const statuses = new Map<number, number>();
  let notAcked = 0;
  let next = 0;
  let stopped = false;
  const loops = o.devices.map(async (address, device) => {
    while (!stopped) {
      const seq = next++;
      // The same number again until the broker has confirmed it.
      for (;;) {
        const r = await postFrom(o.world, address, JSON.stringify({ seq, device }));
        if (r.status === 204) {
          acked.add(seq);
          break;
        }
        notAcked++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status < 500) throw new Error(`device ${device}: refused ${r.status} ${r.body}`);
        if (stopped) break;
        // A device backs off a little while the broker is away.
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  });
  let failure: unknown;
  const watch = Promise.all(loops).catch((e: unknown) => {
    failure = e;
    stopped = true;
  });
  try {
    await until(
      () => acked.size >= o.before || failure !== undefined,
      `${o.before} acknowledged messages`,
      60_000,
    );
    if (failure) throw failure;
    const ackedBeforeRestart = acked.size;
    await o.restart();
    const atRestartEnd = acked.size;
    await until(
      () => acked.size >= atRestartEnd + o.after || failure !== undefined,
      `${o.after} acknowledged messages after the restart`,
      60_000,
    );
    if (failure) throw failure;
    stopped = true;
    await watch;
    return {
      acked,
      notAcked,
      statuses,
      ackedBeforeRestart,
      ackedAfterRestart: acked.size - atRestartEnd,
    };
  } finally {
    stopped = true;
    await watch;
  }
}

/** Checks what the broker holds against what was acknowledged; returns the duplicates count. */
export function checkAtLeastOnce(
  acked: ReadonlySet<number>,
  stored: readonly number[],
): {
  missing: number[];
  duplicates: number;
} {
  const seen = new Set(stored);
  const missing = [...acked].filter((n) => !seen.has(n)).sort((a, b) => a - b);
  return { missing, duplicates: stored.length - seen.size };
}

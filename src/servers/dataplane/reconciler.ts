// The data plane (issue 18; ARCHITECTURE.md flow 9): keeps Linux in step with the VPGs' desired
// state (platform/vpg). Packets never pass through Node — this only programs the kernel.
//
// - At start it probes the kernel (kernel.ts probeDataPlane). Without CAP_NET_ADMIN (or without ip
//   and nft) it logs ONCE that the data plane is off and why, tells the VPG service (whose change
//   routes then answer ERR_DATAPLANE_UNAVAILABLE) and does nothing else; the platform runs on.
// - With it, every VPG is a network namespace `st-vpg-<12 hex>` holding one nftables table
//   (ruleset.ts), applied with `nft -f -` as one transaction. A new namespace gets its ruleset
//   (policy drop) BEFORE IPv4 forwarding is turned on, and a rebuilt one is replaced atomically, so
//   no packet ever passes outside the rules — also across a restart, which re-renders everything
//   from the database.
// - It reconciles when the VPG service says something changed (API changes, session start/stop
//   through accounting), coalescing bursts into one pass, and on a timer (a lost event heals).
//   A ruleset is applied only when its text changed (or its namespace had to be made).
// - Namespaces of terminated VPGs are removed; namespaces it does not know are left alone (another
//   instance or test may own them).

import type { Logger } from 'pino';
import type { VpgService } from '../../platform/vpg/vpg-service.js';
import {
  applyRuleset,
  deleteNamespace,
  enableForwarding,
  ensureNamespace,
  listNamespaces,
  probeDataPlane,
  refusedCounters,
} from './kernel.js';
import { namespaceName, renderRuleset, tableName } from './ruleset.js';

export interface DataPlaneOptions {
  /** Full reconcile period (ms). */
  readonly intervalMs: number;
  /** Skip the probe result (tests that want the off state). */
  readonly probe?: () => Promise<{ available: true } | { available: false; reason: string }>;
}

export class DataPlane {
  readonly #applied = new Map<string, string>();
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  #available = false;
  /** Passes completed (tests wait on this with a deadline through `settled`). */
  #passes = 0;

  constructor(
    private readonly vpg: VpgService,
    private readonly logger: Logger,
    private readonly options: DataPlaneOptions,
  ) {}

  get available(): boolean {
    return this.#available;
  }

  /** Probes the kernel and, when it can, rebuilds every VPG and starts listening. */
  async start(): Promise<void> {
    const probe = await (this.options.probe ?? probeDataPlane)();
    if (!probe.available) {
      this.vpg.setDataPlane({ available: false, reason: probe.reason });
      this.logger.warn(
        { reason: probe.reason },
        'data plane off: VPGs can be listed but not created or changed (run serve as root or with CAP_NET_ADMIN, with iproute2 and nftables)',
      );
      return;
    }
    this.#available = true;
    this.vpg.setDataPlane({ available: true, reason: '', refused: (vpgId) => this.refused(vpgId) });
    // Listen first: a change committed during the first pass makes one more pass.
    this.#unsubscribe = this.vpg.onChange(() => this.schedule());
    await this.reconcile();
    this.#timer = setInterval(() => this.schedule(), this.options.intervalMs);
    this.#timer.unref();
    this.logger.info(
      'data plane on: VPG namespaces and nftables rulesets are kept in step with the database',
    );
  }

  /** Asks for a reconcile pass; several requests during a pass make one more pass. */
  schedule(): void {
    if (this.#closed || !this.#available) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#launch();
  }

  /** Runs a full pass now (after any running one) and resolves when the kernel matches. */
  async reconcile(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#launch();
  }

  #launch(): Promise<void> {
    this.#again = false;
    const pass = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) this.schedule();
    });
    this.#running = pass;
    return pass;
  }

  /** Resolves when no pass is running or pending (for tests and shutdown). */
  async settled(): Promise<void> {
    // A pass that ends with a request pending starts the next one before it resolves.
    while (this.#running) await this.#running;
  }

  get passes(): number {
    return this.#passes;
  }

  async #pass(): Promise<void> {
    try {
      const states = await this.vpg.desiredStates();
      const existing = await listNamespaces();
      for (const state of states) {
        const ns = namespaceName(state.vpgId);
        try {
          if (state.status === 'terminating') {
            await deleteNamespace(ns);
            this.#applied.delete(state.vpgId);
            await this.vpg.markApplied(state.vpgId, { ok: true });
            this.logger.info({ vpgId: state.vpgId, namespace: ns }, 'VPG terminated: namespace removed');
            continue;
          }
          const text = renderRuleset(state);
          const fresh = !existing.has(ns);
          if (fresh || this.#applied.get(state.vpgId) !== text) {
            if (fresh) await ensureNamespace(ns);
            await applyRuleset(ns, text);
            // Forwarding only once the drop-policy table exists (a no-op after the first time).
            await enableForwarding(ns);
            this.#applied.set(state.vpgId, text);
          }
          if (state.status !== 'running') await this.vpg.markApplied(state.vpgId, { ok: true });
        } catch (e) {
          this.#applied.delete(state.vpgId);
          const reason = e instanceof Error ? e.message : String(e);
          this.logger.error(
            { vpgId: state.vpgId, namespace: ns, reason },
            'VPG could not be applied to the kernel',
          );
          await this.vpg.markApplied(state.vpgId, { ok: false, reason }).catch(() => undefined);
        }
      }
    } catch (e) {
      this.logger.error({ err: e }, 'data plane reconcile failed; the next pass retries');
    } finally {
      this.#passes++;
    }
  }

  /** Refused packets per device address of a VPG (its nftables per-source counters). */
  async refused(vpgId: string): Promise<Map<string, { packets: number; bytes: number }>> {
    return refusedCounters(namespaceName(vpgId), tableName(vpgId));
  }

  /** Stops listening; kernel state stays (it keeps enforcing the rules while serve is down). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.settled();
  }
}

// Keeps a SoapNode's partners equal to the partners registry (platform/esim/partners): added rows
// become pinned partners, changed rows replace them, removed rows are forgotten — a removed partner's
// certificate no longer authenticates at our listener and no call goes to it. One node partner per
// certificate: the rows of one party in several roles (an SM-SR that is also an operator) are one
// partner whose name lists them. Call `apply` with the owner's current rows (at start, after each
// CLI/API change, or periodically).
import {
  type PartnerRole,
  type PartnerView,
  partnerName,
  peersOfName,
  soapPartnersOf,
} from '../../platform/esim/partners/partners-registry.js';
import type { PeerIdentity } from './soap-dispatch.js';
import type { SoapNode } from './soap-node.js';

export class SoapPartnerSync {
  /** node partner name → fingerprint/url currently configured in the node. */
  private readonly current = new Map<string, string>();
  /** `<role>:<entity id>` → the node partner name that carries it. */
  private readonly byRole = new Map<string, string>();

  constructor(private readonly node: Pick<SoapNode, 'addPartner' | 'removePartner'>) {}

  apply(partners: readonly PartnerView[]): { added: number; removed: number } {
    const wanted = soapPartnersOf(partners);
    const names = new Set(wanted.map((p) => p.name));
    let removed = 0;
    let added = 0;
    for (const name of [...this.current.keys()]) {
      if (names.has(name)) continue;
      this.node.removePartner(name);
      this.current.delete(name);
      removed++;
    }
    for (const { roles: _roles, ...p } of wanted) {
      const key = `${p.url}\u0000${p.certificatePem}`;
      if (this.current.get(p.name) === key) continue;
      this.node.addPartner(p);
      this.current.set(p.name, key);
      added++;
    }
    this.byRole.clear();
    for (const p of wanted) for (const r of p.roles) this.byRole.set(partnerName(r.role, r.entityId), p.name);
    return { added, removed };
  }

  /** For soapHandlersFor: the registry identities behind a node partner name (one per role). */
  peerOf(name: string): readonly PeerIdentity[] | undefined {
    return this.current.has(name) ? peersOfName(name) : undefined;
  }

  /** The node partner name to call `entityId` in `role` by (undefined: not a partner in that role). */
  nodeNameOf(role: PartnerRole, entityId: string): string | undefined {
    return this.byRole.get(partnerName(role, entityId));
  }
}

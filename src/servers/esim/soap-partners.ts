// Keeps a SoapNode's partners equal to the partners registry (platform/esim/partners): added rows
// become pinned partners, changed rows replace them, removed rows are forgotten — a removed partner's
// certificate no longer authenticates at our listener and no call goes to it. Call `apply` with the
// owner's current rows (at start, after each CLI/API change, or periodically).
import {
  type PartnerView,
  peerOfName,
  soapPartnersOf,
} from '../../platform/esim/partners/partners-registry.js';
import type { PeerIdentity } from './soap-dispatch.js';
import type { SoapNode } from './soap-node.js';

export class SoapPartnerSync {
  /** name → fingerprint/url currently configured in the node. */
  private readonly current = new Map<string, string>();

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
    for (const p of wanted) {
      const key = `${p.url}\u0000${p.certificatePem}`;
      if (this.current.get(p.name) === key) continue;
      this.node.addPartner(p);
      this.current.set(p.name, key);
      added++;
    }
    return { added, removed };
  }

  /** For soapHandlersFor: the registry identity behind a node partner name. */
  peerOf(name: string): PeerIdentity | undefined {
    return this.current.has(name) ? peerOfName(name) : undefined;
  }
}

// The SGP.02 SOAP listener of a deployment (issue 15/16), as `simtrust serve` runs it: a SoapNode
// (mutual TLS, pinned partner certificates) whose partners are the owner's rows of the partners
// registry (refreshed periodically, so `simtrust esim partners add|remove` takes effect on a running
// server), whose requests go to the local ports (the SM-SR service for ES1/ES3/ES4, its SmSrChange
// for ES7 and ES4 PrepareSMSRChange/SMSRChange, the SM-DP for ES2 and the ES3 notifications, the
// operator layer for ES2/ES4 notifications), and which gives the local roles SOAP ports to the
// remote partners (an SM-DP's Es3Port to a partner SM-SR, the SM-SR's notification ports to a
// partner SM-DP or operator, SmSrChange's Es7Port to a partner SM-SR). A party that is not a partner — or is no longer
// one — gets 403 before its body is read; a partner in the wrong role gets FAILED from the dispatch.
import { type Clock, systemClock } from '../../lib/clock.js';
import type {
  Es3NotificationPort,
  Es3Port,
  Es4NotificationPort,
  Es4Port,
} from '../../platform/esim/es-ports.js';
import {
  soapEs2Notifications,
  soapEs2Port,
  soapEs3Notifications,
  soapEs3Port,
  soapEs4Notifications,
  soapEs4Port,
  soapEs4SmSrChangePort,
  soapEs7Port,
} from '../../platform/esim/es-soap/port-clients.js';
import { EsimPartners, type PartnerRole } from '../../platform/esim/partners/partners-registry.js';
import type { Es2NotificationPort, Es2Port } from '../../platform/esim/sm-dp/sm-dp-service.js';
import type { Es4SmSrChangePort, Es7Port } from '../../platform/esim/sm-sr-change/sm-sr-change-service.js';
import type { Store } from '../../platform/store/database.js';
import { type LocalPorts, soapHandlersFor } from './soap-dispatch.js';
import { SoapNode, type SoapNodeLimits, type SoapNodeLog } from './soap-node.js';
import { SoapPartnerSync } from './soap-partners.js';

export interface EsimSoapListenerOptions {
  readonly store: Store;
  readonly clock?: Clock;
  /** Whose partners ('' = the platform's own SM-DP/SM-SR). */
  readonly operatorId: string;
  /** Our TLS key and certificate (PEM): the listener's and our client certificate. */
  readonly tls: { readonly keyPem: string; readonly certificatePem: string };
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  /** Our URL as partners configure it (default from host/port/path). */
  readonly publicUrl?: string;
  readonly ports: LocalPorts;
  /** How often the partners registry is read again; default 10 s. */
  readonly refreshMs?: number;
  readonly limits?: Partial<SoapNodeLimits>;
  readonly log?: SoapNodeLog;
}

export class EsimSoapListener {
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  private constructor(
    readonly node: SoapNode,
    private readonly sync: SoapPartnerSync,
    private readonly partners: EsimPartners,
    private readonly operatorId: string,
    private readonly log: SoapNodeLog | undefined,
  ) {}

  static async start(o: EsimSoapListenerOptions): Promise<EsimSoapListener> {
    const partners = new EsimPartners(o.store, o.clock ?? systemClock);
    let sync: SoapPartnerSync | undefined;
    const node = await SoapNode.start({
      name: `esim-soap${o.operatorId === '' ? '' : `-${o.operatorId}`}`,
      tls: o.tls,
      ...(o.host === undefined ? {} : { host: o.host }),
      ...(o.port === undefined ? {} : { port: o.port }),
      ...(o.path === undefined ? {} : { path: o.path }),
      ...(o.publicUrl === undefined ? {} : { publicUrl: o.publicUrl }),
      ...(o.clock === undefined ? {} : { clock: o.clock }),
      ...(o.limits === undefined ? {} : { limits: o.limits }),
      ...(o.log === undefined ? {} : { log: o.log }),
      partners: [],
      handlers: soapHandlersFor(o.ports, (name) => sync?.peerOf(name), o.log),
    });
    sync = new SoapPartnerSync(node);
    const listener = new EsimSoapListener(node, sync, partners, o.operatorId, o.log);
    try {
      await listener.refresh();
    } catch (e) {
      await node.close();
      throw e;
    }
    listener.timer = setInterval(() => {
      void listener.refresh().catch((e: unknown) => o.log?.warn({ err: e }, 'eSIM partners not refreshed'));
    }, o.refreshMs ?? 10_000);
    listener.timer.unref();
    return listener;
  }

  /** Our listener URL (what partners configure as our endpoint). */
  get url(): string {
    return this.node.url;
  }

  /** Reads the partners registry and applies it to the node (one refresh at a time). */
  async refresh(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshing = (async () => {
      const partners = await this.partners.list(this.operatorId);
      const changes = this.sync.apply(partners);
      // Which roles each certificate now has (role:entity id): what the listener accepts from here on.
      if (changes.added + changes.removed > 0)
        this.log?.warn(
          {
            ...changes,
            operatorId: this.operatorId,
            partners: partners.map((p) => `${p.role}:${p.entityId}`).sort(),
          },
          'eSIM partners changed',
        );
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private has(role: PartnerRole, entityId: string): string | undefined {
    return this.sync.nodeNameOf(role, entityId);
  }

  /** ES3 at a partner SM-SR (for the local SM-DP's `smsr` option); undefined: not a partner. */
  es3PortOf(smsrId: string): Es3Port | undefined {
    const partner = this.has('sm-sr', smsrId);
    return partner === undefined ? undefined : soapEs3Port(this.node, { partner });
  }

  /** ES4 at a partner SM-SR (for the local operator layer). */
  es4PortOf(smsrId: string): Es4Port | undefined {
    const partner = this.has('sm-sr', smsrId);
    return partner === undefined ? undefined : soapEs4Port(this.node, { partner });
  }

  /** ES4 PrepareSMSRChange / SMSRChange at a partner SM-SR (for the local operator layer). */
  es4SmSrChangePortOf(smsrId: string): Es4SmSrChangePort | undefined {
    const partner = this.has('sm-sr', smsrId);
    return partner === undefined ? undefined : soapEs4SmSrChangePort(this.node, { partner });
  }

  /** ES7 at a partner SM-SR (for the local SmSrChange's `partner`); undefined: not a partner. */
  es7PortOf(smsrId: string): Es7Port | undefined {
    const partner = this.has('sm-sr', smsrId);
    return partner === undefined ? undefined : soapEs7Port(this.node, { partner });
  }

  /** ES2 at a partner SM-DP (for the local operator layer). */
  es2PortOf(smdpId: string): Es2Port | undefined {
    const partner = this.has('sm-dp', smdpId);
    return partner === undefined ? undefined : soapEs2Port(this.node, { partner });
  }

  /** ES3 notifications to a partner SM-DP (for the local SM-SR's directory.smdp). */
  es3NotificationsOf(smdpId: string): Es3NotificationPort | undefined {
    const partner = this.has('sm-dp', smdpId);
    return partner === undefined ? undefined : soapEs3Notifications(this.node, { partner });
  }

  /** ES4 notifications to a partner operator (for the local SM-SR's directory.operator). */
  es4NotificationsOf(mnoId: string): Es4NotificationPort | undefined {
    const partner = this.has('operator', mnoId);
    return partner === undefined ? undefined : soapEs4Notifications(this.node, { partner });
  }

  /** ES2 notifications to a partner operator (for the local SM-DP's `operators`). */
  es2NotificationsOf(mnoId: string): Es2NotificationPort | undefined {
    const partner = this.has('operator', mnoId);
    return partner === undefined ? undefined : soapEs2Notifications(this.node, { partner });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    await this.node.close();
  }
}

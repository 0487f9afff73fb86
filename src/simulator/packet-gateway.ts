// The simulated packet gateway (a GGSN/P-GW as 3GPP TS 29.061 §16 has it talk to its AAA server):
// - Access-Request when a device opens a PDN connection, with 3GPP-IMSI, 3GPP-IMEISV,
//   3GPP-User-Location-Info, 3GPP-RAT-Type and the APN in Called-Station-Id (§16.4.1); an Accept
//   gives the device its address (Framed-IP-Address);
// - Accounting-Request Start / Interim-Update / Stop (RFC 2866, §16.4.2–16.4.3) with the traffic
//   counters (RFC 2869 Gigawords above 4 GiB), the address, the IMEISV and the current cell;
// - a Dynamic Authorization Server (RFC 5176) on its CoA port: a Disconnect-Request ends the session
//   it names (Acct-Session-Id), a CoA-Request changes its rate (WISPr-Bandwidth-Max-Up/-Down).

import { randomBytes } from 'node:crypto';
import { type AttributeInput, getAttribute } from '../lib/radius/attributes.js';
import {
  ACCT_STATUS_TYPE,
  ACCT_TERMINATE_CAUSE,
  FRAMED_PROTOCOL,
  RAT_TYPE,
  SERVICE_TYPE,
} from '../lib/radius/dictionary.js';
import type { Secret } from '../lib/radius/rfc-2865-authenticators.js';
import { RADIUS_CODES, type RadiusPacket } from '../lib/radius/rfc-2865-packet.js';
import { splitOctets } from '../lib/radius/rfc-2869-gigawords.js';
import { err, ok, type Result } from '../lib/result.js';
import {
  type DynamicAnswer,
  DynamicAuthorizationServer,
  ERROR_CAUSE,
  RadiusClient,
} from './radius-client.js';
import type { TrafficCounters } from './traffic.js';

export interface Cell {
  readonly mcc: string;
  readonly mnc: string;
  readonly tac: number;
  readonly eci: number;
}

/** What the gateway knows of a subscriber's session. */
export interface GatewaySession {
  readonly acctSessionId: string;
  readonly imsi: string;
  readonly imeisv: string;
  readonly address: string;
  readonly startedAt: number;
  cell: Cell;
  counters: TrafficCounters;
}

export interface PacketGatewayOptions {
  readonly host: string;
  readonly authPort: number;
  readonly acctPort: number;
  readonly secret: Secret;
  /** Address the gateway sends from and takes Disconnect/CoA on (the registered NAS address). */
  readonly nasAddress: string;
  /** CoA port (0: any free port; register it with the NAS client). */
  readonly coaPort: number;
  readonly apn: string;
  /** A Disconnect-Request named this session: end it (the gateway sends the Stop). */
  readonly onDisconnect: (session: GatewaySession) => void;
  /** A CoA-Request changed the session's rate (bits per second). */
  readonly onRateChange: (session: GatewaySession, rate: { up: number; down: number }) => void;
}

export type AccountingKind = 'start' | 'interim' | 'stop';

export class PacketGateway {
  readonly sessions = new Map<string, GatewaySession>();
  readonly stats = { disconnects: 0, coa: 0, accountingFailures: 0 };
  private sequence = 0;
  private readonly prefix = randomBytes(3).toString('hex');

  private constructor(
    private readonly o: PacketGatewayOptions,
    private readonly auth: RadiusClient,
    private readonly acct: RadiusClient,
    private readonly das: DynamicAuthorizationServer,
  ) {}

  static async start(o: PacketGatewayOptions): Promise<PacketGateway> {
    const auth = await RadiusClient.open({
      host: o.host,
      port: o.authPort,
      secret: o.secret,
      bindAddress: o.nasAddress,
    });
    const acct = await RadiusClient.open({
      host: o.host,
      port: o.acctPort,
      secret: o.secret,
      bindAddress: o.nasAddress,
    });
    let gateway: PacketGateway | undefined;
    const das = await DynamicAuthorizationServer.start({
      bindAddress: o.nasAddress,
      port: o.coaPort,
      secret: o.secret,
      handle: (kind, packet) =>
        gateway === undefined
          ? { ack: false, errorCause: ERROR_CAUSE['Session-Context-Not-Found'] }
          : gateway.dynamic(kind, packet),
    });
    gateway = new PacketGateway(o, auth, acct, das);
    return gateway;
  }

  get coaPort(): number {
    return this.das.port;
  }

  private dynamic(kind: 'disconnect' | 'coa', packet: RadiusPacket): DynamicAnswer {
    const id = getAttribute(packet, 'Acct-Session-Id');
    const session = id?.ok ? this.sessions.get(id.value) : undefined;
    if (session === undefined) return { ack: false, errorCause: ERROR_CAUSE['Session-Context-Not-Found'] };
    if (kind === 'disconnect') {
      this.stats.disconnects++;
      this.o.onDisconnect(session);
      return { ack: true };
    }
    const up = getAttribute(packet, 'WISPr-Bandwidth-Max-Up');
    const down = getAttribute(packet, 'WISPr-Bandwidth-Max-Down');
    if (!up?.ok || !down?.ok) return { ack: false, errorCause: ERROR_CAUSE['Unsupported-Attribute'] };
    this.stats.coa++;
    this.o.onRateChange(session, { up: up.value, down: down.value });
    return { ack: true };
  }

  private subscriberAttributes(imsi: string, imeisv: string | undefined, cell: Cell): AttributeInput[] {
    return [
      ['User-Name', imsi],
      ['3GPP-IMSI', imsi],
      ...(imeisv === undefined ? [] : ([['3GPP-IMEISV', imeisv]] as const)),
      [
        '3GPP-User-Location-Info',
        { type: 'TAI+ECGI', mcc: cell.mcc, mnc: cell.mnc, tac: cell.tac, eci: cell.eci },
      ],
      ['3GPP-RAT-Type', RAT_TYPE.EUTRAN],
      ['Called-Station-Id', this.o.apn],
      ['NAS-IP-Address', this.o.nasAddress],
    ];
  }

  /** TS 29.061 §16.4.1: may this device open a session; with which address. */
  async authorize(o: {
    imsi: string;
    imeisv: string | undefined;
    cell: Cell;
  }): Promise<Result<{ address: string }, string>> {
    let answer: RadiusPacket;
    try {
      answer = (
        await this.auth.request(RADIUS_CODES['Access-Request'], [
          ...this.subscriberAttributes(o.imsi, o.imeisv, o.cell),
          ['Service-Type', SERVICE_TYPE.Framed],
          ['Framed-Protocol', FRAMED_PROTOCOL['GPRS-PDP-Context']],
        ])
      ).packet;
    } catch (e) {
      return err((e as Error).message);
    }
    if (answer.code !== RADIUS_CODES['Access-Accept']) {
      const reason = getAttribute(answer, 'Reply-Message');
      return err(reason?.ok ? reason.value : 'Access-Reject');
    }
    const address = getAttribute(answer, 'Framed-IP-Address');
    if (!address?.ok) return err('Access-Accept without Framed-IP-Address');
    return ok({ address: address.value });
  }

  /** A new session after an Accept (its Start is sent by `account`). */
  open(o: {
    imsi: string;
    imeisv: string;
    address: string;
    cell: Cell;
    counters: TrafficCounters;
  }): GatewaySession {
    this.sequence++;
    const session: GatewaySession = {
      acctSessionId: `${this.prefix}${this.sequence.toString(16).padStart(8, '0')}`,
      imsi: o.imsi,
      imeisv: o.imeisv,
      address: o.address,
      startedAt: Date.now(),
      cell: o.cell,
      counters: o.counters,
    };
    this.sessions.set(session.acctSessionId, session);
    return session;
  }

  /** RFC 2866 accounting for a session; resolves once the server acknowledged it. */
  async account(
    kind: AccountingKind,
    session: GatewaySession,
    cause?: keyof typeof ACCT_TERMINATE_CAUSE,
  ): Promise<boolean> {
    const c = session.counters;
    const up = splitOctets(c.upOctets);
    const down = splitOctets(c.downOctets);
    const status = {
      start: ACCT_STATUS_TYPE.Start,
      interim: ACCT_STATUS_TYPE['Interim-Update'],
      stop: ACCT_STATUS_TYPE.Stop,
    }[kind];
    const attributes: AttributeInput[] = [
      ['Acct-Status-Type', status],
      ['Acct-Session-Id', session.acctSessionId],
      ...this.subscriberAttributes(session.imsi, session.imeisv, session.cell),
      ['Framed-IP-Address', session.address],
      ['Event-Timestamp', Math.floor(Date.now() / 1000)],
    ];
    if (kind !== 'start') {
      attributes.push(
        ['Acct-Input-Octets', up.octets],
        ['Acct-Input-Gigawords', up.gigawords],
        ['Acct-Output-Octets', down.octets],
        ['Acct-Output-Gigawords', down.gigawords],
        ['Acct-Input-Packets', c.upPackets % 2 ** 32],
        ['Acct-Output-Packets', c.downPackets % 2 ** 32],
        ['Acct-Session-Time', Math.floor((Date.now() - session.startedAt) / 1000)],
      );
    }
    if (kind === 'stop') {
      attributes.push(['Acct-Terminate-Cause', ACCT_TERMINATE_CAUSE[cause ?? 'User-Request']]);
      this.sessions.delete(session.acctSessionId);
    }
    try {
      const answer = await this.acct.request(RADIUS_CODES['Accounting-Request'], attributes);
      return answer.packet.code === RADIUS_CODES['Accounting-Response'];
    } catch {
      this.stats.accountingFailures++;
      return false;
    }
  }

  close(): void {
    this.auth.close();
    this.acct.close();
    this.das.close();
  }
}

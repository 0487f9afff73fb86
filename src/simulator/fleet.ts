// The simulated fleet: devices with a software SIM, an IMEI and a serving cell, attaching through
// the network (GSUP authentication, UpdateLocation) and the packet gateway (RADIUS authorisation and
// accounting), sending real traffic from their session address, and reacting as the platform tells
// them (Disconnect, CoA). It reaches the platform only through those protocols.
//
// Life of a device: attach → session (Start, traffic, Interim-Update every interimSeconds and at
// each cell change) → detach (Stop) when told, when its card moves to another device, or at the end;
// a refused or disconnected device tries again after retrySeconds.
//
// Movement. A fixed device reselects between two overlapping cells, its home cell and one neighbour
// (moveEverySeconds): the cells an anti-theft applet learns, so normal movement never blocks. A
// stolen device (steal / stealDevice) is carried away through cells far from home, each one
// unregistered, until the applet's tolerance is used up and the SIM blocks itself. A card moved into
// another device (swap / moveCardInto) boots there with the new IMEI.
//
// Roaming (homeNetworks). A device reaches the core network of the cell it camps on (the visited
// network); that network authenticates a subscriber at the HLR/AuC of the subscriber's home network,
// found by the IMSI's MCC + MNC (TS 23.003 §2.2), and — home-routed roaming, the usual case for IoT
// data — the PDN connection ends at the home network's packet gateway, whose AAA is the home
// operator's RADIUS (TS 29.061 §16). So each home network is a GSUP and a RADIUS endpoint chosen by
// IMSI prefix; the top-level gsup/radius serve every other IMSI. The serving cell (its MCC/MNC in
// 3GPP-User-Location-Info) stays the visited network's: a device whose IMSI is not of the cell's PLMN
// attaches roaming (its `attached` event says so). An eUICC switched to a profile of the visited
// country's operator attaches at home there, through that operator's AuC and RADIUS.

import type { BipOptions } from '../card/toolkit/ts-102-223-bip-terminal.js';
import { REFRESH } from '../card/toolkit/ts-102-223-constants.js';
import { type ServiceState, type ServingCell, ToolkitModem } from '../card/toolkit/ts-102-223-terminal.js';
import { imeiWithCheckDigit } from '../lib/identities.js';
import type { SimulatedCard } from './cards.js';
import { GsupClient } from './gsup-client.js';
import { authenticateCard, registerLocation } from './network.js';
import { type Cell, type GatewaySession, PacketGateway } from './packet-gateway.js';
import { DeviceTraffic, TrafficSink } from './traffic.js';

export interface DeviceSpec {
  readonly card: SimulatedCard;
  readonly imei: string;
  readonly cell: Cell;
  /** Heavy traffic (bigger and more frequent datagrams). */
  readonly heavy?: boolean;
}

/** A home network other than the default one: its subscribers' AuC (GSUP) and AAA (RADIUS). */
export interface HomeNetwork {
  /** MCC + MNC (5 or 6 digits) of its IMSIs, e.g. '44010'; the longest matching prefix wins. */
  readonly imsiPrefix: string;
  readonly gsup: { readonly host: string; readonly port: number };
  readonly radius: {
    readonly host: string;
    readonly authPort: number;
    readonly acctPort: number;
    readonly secret: string;
  };
  /** The address its packet gateway sends from (registered as a NAS client there). */
  readonly nasAddress?: string;
  /** Its packet gateway's Disconnect/CoA port (default: any free port; see Fleet.coaPortOf). */
  readonly coaPort?: number;
}

export interface FleetOptions {
  readonly devices: readonly DeviceSpec[];
  readonly gsup: { readonly host: string; readonly port: number };
  readonly radius: {
    readonly host: string;
    readonly authPort: number;
    readonly acctPort: number;
    readonly secret: string;
  };
  /** The address the packet gateway sends from (registered as the NAS client). */
  readonly nasAddress?: string;
  /** Its Disconnect/CoA port (default: any free port). */
  readonly coaPort?: number;
  readonly apn?: string;
  readonly interimSeconds?: number;
  readonly retrySeconds?: number;
  /**
   * Every so many seconds each device reselects: from its home cell to its neighbour, or back home
   * (0: never). Alternating between two cells keeps a fixed device on cells its applet knows.
   */
  readonly moveEverySeconds?: number;
  /** After this many seconds, move the card of `swap` devices into a device with another IMEI. */
  readonly swapAfterSeconds?: number;
  /** The first `swap` devices (those with a toolkit applet first, then the others). */
  readonly swap?: number;
  /** After this many seconds, `steal` devices (the next ones after the swapped) are carried away. */
  readonly stealAfterSeconds?: number;
  readonly steal?: number;
  /** Seconds between the far cells a stolen device passes through (default 2). */
  readonly stealStepSeconds?: number;
  /** Spread the first attaches over this many milliseconds. */
  readonly attachSpreadMs?: number;
  readonly log?: (event: FleetEvent) => void;
  /** An SMS the card sent (SEND SHORT MESSAGE: PoRs, applet alerts), as an SMS-SUBMIT TPDU. */
  readonly onCardSms?: (imsi: string, tpdu: Uint8Array) => void;
  /**
   * Bearer Independent Protocol in every device's modem: a card's OPEN CHANNEL (the eUICC's SCP81
   * session after a push SMS) gets a real TCP connection from the simulator's host. Absent: the modems
   * announce no BIP, as before.
   */
  readonly bip?: BipOptions;
  /** Home networks besides the default one (roaming, see the header), by IMSI prefix. */
  readonly homeNetworks?: readonly HomeNetwork[];
}

export type FleetEvent =
  | {
      readonly kind: 'attached';
      readonly imsi: string;
      readonly imei: string;
      readonly address: string;
      readonly boundTo: string;
      /** Present when the IMSI is not of the serving cell's PLMN: the visited and the home network. */
      readonly roaming?: { readonly visited: string; readonly home: string };
    }
  | { readonly kind: 'rejected'; readonly imsi: string; readonly imei: string; readonly reason: string }
  | { readonly kind: 'detached'; readonly imsi: string; readonly cause: string }
  | { readonly kind: 'moved'; readonly imsi: string; readonly cell: Cell }
  | { readonly kind: 'swapped'; readonly imsi: string; readonly imei: string }
  | { readonly kind: 'stolen'; readonly imsi: string; readonly cell: Cell }
  | { readonly kind: 'refreshed'; readonly imsi: string; readonly previousImsi: string }
  | { readonly kind: 'rate'; readonly imsi: string; readonly up: number; readonly down: number };

/** A device as the fleet sees it (Fleet.deviceState, Fleet.state). */
export interface DeviceState {
  /** The IMSI provisioned on the card (its card file): how tests and the CLI name the device. */
  readonly cardImsi: string;
  /** The IMSI the device reads from the card now (differs once an applet switched it). */
  readonly imsi: string;
  readonly imei: string;
  readonly cell: Cell;
  readonly attached: boolean;
  /** The SIM blocked itself: the device reads another IMSI (the quarantine identity) than the card's. */
  readonly blocked: boolean;
  /** The session's address while attached. */
  readonly address: string | undefined;
  /** Why the last attach was refused; cleared by a successful attach. */
  readonly lastRefusal: string | undefined;
}

export interface FleetSummary {
  readonly devices: number;
  readonly attached: number;
  /** Refused attaches (authentication, location update or RADIUS), counted each time. */
  readonly rejected: number;
  /** Sessions opened since the start. */
  readonly sessions: number;
  readonly upOctets: number;
  readonly downOctets: number;
  readonly disconnects: number;
  readonly rateChanges: number;
  /** Devices whose SIM blocked itself: they read another IMSI (the quarantine identity) than their card's. */
  readonly blocked: number;
}

interface Device {
  readonly spec: DeviceSpec;
  imei: string;
  cell: Cell;
  /** The cell the device was installed at (moves alternate between it and its neighbour). */
  readonly home: Cell;
  session: GatewaySession | undefined;
  traffic: DeviceTraffic | undefined;
  interim: NodeJS.Timeout | undefined;
  retry: NodeJS.Timeout | undefined;
  busy: boolean;
  lastRefusal: string | undefined;
  /** The modem's toolkit side: TERMINAL PROFILE at boot, proactive commands, location events. */
  modem: ToolkitModem;
  booted: boolean;
  /** The IMSI the device read from EF.IMSI at boot or after REFRESH. */
  imsi: string;
  /** A REFRESH came while an attach was running: attach again with the new identity once it ends. */
  reattach: boolean;
  /** The core network of the session (its packet gateway holds it), while attached. */
  core: Core | undefined;
}

/** A core network the fleet is connected to: its HLR/AuC over GSUP and its packet gateway. */
interface Core {
  /** undefined: the default network (every IMSI no home network claims). */
  readonly imsiPrefix: string | undefined;
  /** The GSUP link; opened again at the next attach once the HLR closed it (it restarted). */
  gsup: GsupClient;
  readonly gsupAt: { readonly host: string; readonly port: number };
  readonly gateway: PacketGateway;
}

/** The fleet's cell as the toolkit reports it (TS 102 223 §8.19, E-UTRAN: ECI + 'F'). */
const servingCell = (cell: Cell): ServingCell => ({
  mcc: cell.mcc,
  mnc: cell.mnc,
  areaCode: cell.tac,
  cellIdentity: `${cell.eci.toString(16).padStart(7, '0')}F`.toUpperCase(),
  accessTechnology: 'e_utran',
});

/** An IMEISV (TS 23.003 §6.2.2): the IMEI's TAC and serial number with a software version. */
const imeisvOf = (imei: string) => `${imei.slice(0, 14)}01`;
const neighbour = (cell: Cell): Cell => ({ ...cell, eci: (cell.eci + 1) % 0x10000000 });

/** How many far cells a stolen device passes through: more than the applet's default 3 strikes. */
export const STOLEN_CELLS = 4;

/**
 * The `k`-th cell far from `home` (another tracking area, k = 1, 2, …): where a stolen device is
 * carried. None of them is a cell the device used at home.
 */
export const farCell = (home: Cell, k: number): Cell => ({
  mcc: home.mcc,
  mnc: home.mnc,
  tac: (home.tac + 0x4000 + k) % 0x10000,
  eci: (home.eci + 0x800000 + k * 0x100) % 0x10000000,
});

export class Fleet {
  private readonly devices: Device[];
  private stopped = false;
  private totals = { rejected: 0, sessions: 0, upOctets: 0, downOctets: 0, rateChanges: 0 };
  private timers: NodeJS.Timeout[] = [];

  private constructor(
    private readonly o: FleetOptions,
    /** The default network first, then the home networks. */
    private readonly cores: readonly Core[],
    private readonly sink: TrafficSink,
  ) {
    this.devices = o.devices.map((spec) => {
      const d = {
        spec,
        imei: spec.imei,
        cell: spec.cell,
        home: spec.cell,
        session: undefined,
        traffic: undefined,
        interim: undefined,
        retry: undefined,
        busy: false,
        lastRefusal: undefined,
        booted: false,
        imsi: spec.card.file.imsi,
        reattach: false,
        core: undefined,
      } as Omit<Device, 'modem'> as Device;
      d.modem = this.modemFor(d);
      return d;
    });
  }

  /**
   * The device's toolkit loop around its card. A card without applets answers TERMINAL PROFILE with
   * 9000 and never sends a proactive command, so such devices behave exactly as before.
   */
  private modemFor(d: Device): ToolkitModem {
    return new ToolkitModem(d.spec.card.terminal, {
      imei: d.imei,
      cell: servingCell(d.cell),
      reset: () => d.spec.card.uicc.reset(),
      onSms: (tpdu) => this.o.onCardSms?.(d.imsi, tpdu),
      onRefresh: (e) => this.refreshed(d, e.imsi, e.qualifier === REFRESH.UICC_RESET),
      ...(this.o.bip === undefined ? {} : { bip: this.o.bip }),
    });
  }

  /**
   * REFRESH (TS 102 223 §6.4.7): the device re-read EF.IMSI; with a new identity it detaches and
   * attaches again. A UICC reset (`reset`: what an eUICC sends after a profile switch) ends the data
   * session whatever the IMSI: the modem powered the card down and up, as after a power cycle. Other
   * modes with the same IMSI (a file change, an anti-theft applet's NAA initialisation that changed
   * nothing) keep the session.
   */
  private refreshed(d: Device, imsi: string | undefined, reset = false): void {
    if (imsi === undefined || (imsi === d.imsi && !reset)) return;
    const previousImsi = d.imsi;
    d.imsi = imsi;
    if (imsi !== previousImsi) this.emit({ kind: 'refreshed', imsi, previousImsi });
    // A REFRESH with NAA initialisation makes the terminal register again at once with the new
    // identity: a refused device does not wait for its retry timer (an unblocked card is back now).
    if (d.session === undefined) {
      // Mid-attach (an eUICC rolled back on the refusal it was just told of): once that attach ends.
      if (d.busy) {
        d.reattach = true;
        return;
      }
      if (d.retry) clearTimeout(d.retry);
      d.retry = undefined;
      void this.attach(d);
      return;
    }
    void this.detach(d, 'User-Request').then(() => this.attach(d));
  }

  /**
   * SMS-PP download to a device's card (the SMSC's side, for OTA); the data the card put in the
   * RP-ACK, or undefined when no device has that IMSI or the card refused the envelope.
   */
  deliverSms(imsi: string, tpdu: Uint8Array): Uint8Array | undefined {
    const d = this.devices.find((x) => x.imsi === imsi || x.spec.card.file.imsi === imsi);
    if (d === undefined) return undefined;
    if (!d.booted) this.boot(d);
    const r = d.modem.deliverSms(tpdu);
    return r.ok ? r.value : undefined;
  }

  private boot(d: Device): void {
    d.booted = true;
    const booted = d.modem.boot();
    if (booted.ok) d.imsi = booted.value;
  }

  /**
   * Connects to the platform's GSUP and RADIUS ports (and each home network's) and opens the CoA
   * ports; no device attaches yet.
   */
  static async open(o: FleetOptions): Promise<Fleet> {
    for (const h of o.homeNetworks ?? [])
      if (!/^\d{5,6}$/.test(h.imsiPrefix))
        throw new RangeError(
          `home network ${h.imsiPrefix}: imsiPrefix is the MCC + MNC of its IMSIs (5 or 6 digits)`,
        );
    const sink = await TrafficSink.start();
    let fleet: Fleet | undefined;
    const cores: Core[] = [];
    const connect = async (n: Omit<HomeNetwork, 'imsiPrefix'>, imsiPrefix: string | undefined) => {
      const gateway = await PacketGateway.start({
        host: n.radius.host,
        authPort: n.radius.authPort,
        acctPort: n.radius.acctPort,
        secret: n.radius.secret,
        nasAddress: n.nasAddress ?? '127.0.0.1',
        coaPort: n.coaPort ?? 0,
        apn: o.apn ?? 'iot.simtrust',
        onDisconnect: (session) => fleet?.disconnected(session),
        onRateChange: (session, rate) => fleet?.rateChanged(session, rate),
      });
      try {
        const gsup = await GsupClient.open({
          host: n.gsup.host,
          port: n.gsup.port,
          name: 'SIMTRUST-SIMULATOR-SGSN',
        });
        cores.push({ imsiPrefix, gsup, gsupAt: { host: n.gsup.host, port: n.gsup.port }, gateway });
      } catch (e) {
        gateway.close();
        throw e;
      }
    };
    try {
      await connect(o, undefined);
      for (const h of o.homeNetworks ?? []) await connect(h, h.imsiPrefix);
    } catch (e) {
      for (const c of cores) {
        c.gsup.close();
        c.gateway.close();
      }
      sink.close();
      throw e;
    }
    fleet = new Fleet(o, cores, sink);
    return fleet;
  }

  /** The default network's packet gateway. */
  get gateway(): PacketGateway {
    return (this.cores[0] as Core).gateway;
  }

  get coaPort(): number {
    return this.gateway.coaPort;
  }

  /** The Disconnect/CoA port of the packet gateway that serves `imsi` (its home network's). */
  coaPortOf(imsi: string): number {
    return this.coreOf(imsi).gateway.coaPort;
  }

  /** The home network of an IMSI: the longest matching prefix, else the default network. */
  private coreOf(imsi: string): Core {
    let best = this.cores[0] as Core;
    for (const c of this.cores)
      if (
        c.imsiPrefix !== undefined &&
        imsi.startsWith(c.imsiPrefix) &&
        c.imsiPrefix.length > (best.imsiPrefix?.length ?? 0)
      )
        best = c;
    return best;
  }

  /**
   * The core's GSUP link, opened again when the HLR closed it (a restarted HLR/AuC), as an SGSN
   * reconnects; when that fails too the closed link is returned and the attach is refused (retried).
   */
  private async gsupOf(core: Core): Promise<GsupClient> {
    if (!core.gsup.isClosed || this.stopped) return core.gsup;
    try {
      const link = await GsupClient.open({ ...core.gsupAt, name: 'SIMTRUST-SIMULATOR-SGSN' });
      if (this.stopped) link.close();
      else core.gsup = link;
    } catch {
      // Still down: this attach fails and is retried after retrySeconds.
    }
    return core.gsup;
  }

  /** Starts every device (attaches spread over attachSpreadMs) and the movement and swap schedules. */
  start(): void {
    const spread = this.o.attachSpreadMs ?? 1000;
    this.devices.forEach((d, i) => {
      const t = setTimeout(
        () => void this.attach(d),
        Math.floor((spread * i) / Math.max(1, this.devices.length)),
      );
      this.timers.push(t);
    });
    const move = this.o.moveEverySeconds ?? 0;
    if (move > 0) this.timers.push(setInterval(() => this.moveAll(), move * 1000));
    // The cards' toolkit timers (an applet's learning period, its tolerance window) run in real time.
    if (this.devices.some((d) => (d.spec.card.file.applets?.length ?? 0) > 0))
      this.timers.push(setInterval(() => this.tick(), 1000));
    const swaps = this.o.swap ?? 0;
    const steals = this.o.steal ?? 0;
    const chosen = this.eventDevices();
    if (swaps > 0) {
      const cards = chosen.slice(0, swaps);
      this.timers.push(setTimeout(() => void this.swapCards(cards), (this.o.swapAfterSeconds ?? 5) * 1000));
    }
    if (steals > 0) {
      const stolen = chosen.slice(swaps, swaps + steals);
      this.timers.push(
        setTimeout(
          () => {
            for (const d of stolen) void this.stealDevice(d.spec.card.file.imsi);
          },
          (this.o.stealAfterSeconds ?? 30) * 1000,
        ),
      );
    }
  }

  /** The devices swaps and thefts happen to: those with a toolkit applet first, then the others. */
  private eventDevices(): Device[] {
    const withApplet = (d: Device) => (d.spec.card.file.applets?.length ?? 0) > 0;
    return [...this.devices.filter(withApplet), ...this.devices.filter((d) => !withApplet(d))];
  }

  /** One second on every running card timer (TIMER EXPIRATION when one runs out). */
  private tick(): void {
    for (const d of this.devices) if (d.booted && d.modem.timers.size > 0) d.modem.advance(1);
  }

  summary(): FleetSummary {
    let up = this.totals.upOctets;
    let down = this.totals.downOctets;
    for (const d of this.devices) {
      up += d.traffic?.counters.upOctets ?? 0;
      down += d.traffic?.counters.downOctets ?? 0;
    }
    return {
      devices: this.devices.length,
      attached: this.devices.filter((d) => d.session !== undefined).length,
      rejected: this.totals.rejected,
      sessions: this.totals.sessions,
      upOctets: up,
      downOctets: down,
      disconnects: this.cores.reduce((n, c) => n + c.gateway.stats.disconnects, 0),
      rateChanges: this.totals.rateChanges,
      blocked: this.devices.filter((d) => blockedBySim(d)).length,
    };
  }

  /** Every device's state, in fleet order (see deviceState). */
  state(): DeviceState[] {
    return this.devices.map((d) => this.stateOf(d));
  }

  private emit(event: FleetEvent): void {
    this.o.log?.(event);
  }

  private refuse(d: Device, reason: string): void {
    this.totals.rejected++;
    d.lastRefusal = reason;
    this.emit({ kind: 'rejected', imsi: d.imsi, imei: d.imei, reason });
    this.scheduleRetry(d);
  }

  private scheduleRetry(d: Device): void {
    if (this.stopped) return;
    if (d.retry) clearTimeout(d.retry);
    d.retry = setTimeout(() => void this.attach(d), (this.o.retrySeconds ?? 30) * 1000);
  }

  /** Network authentication over GSUP, UpdateLocation, then the packet gateway's session. */
  private async attach(d: Device): Promise<void> {
    if (this.stopped || d.busy || d.session !== undefined) return;
    d.busy = true;
    try {
      // Power on: the toolkit loop runs first (an applet may change EF.IMSI and REFRESH).
      if (!d.booted) this.boot(d);
      const imsi = d.imsi;
      // The visited network asks the subscriber's home network (by IMSI), wherever the device is.
      const core = this.coreOf(imsi);
      const gsup = await this.gsupOf(core);
      const auth = await authenticateCard(gsup, d.spec.card, imsi);
      if (!auth.ok) return this.refuseAttach(d, auth.error);
      const location = await registerLocation(gsup, imsi);
      if (!location.ok) return this.refuseAttach(d, location.error);
      const imeisv = imeisvOf(d.imei);
      const granted = await core.gateway.authorize({ imsi, imeisv, cell: d.cell });
      if (!granted.ok) return this.refuseAttach(d, granted.error);
      if (this.stopped) return;
      const heavy = d.spec.heavy === true;
      const traffic = await DeviceTraffic.start(granted.value.address, this.sink.address, {
        intervalMs: heavy ? 20 : 1000,
        bytes: heavy ? 16_384 : 512,
      });
      const session = core.gateway.open({
        imsi,
        imeisv,
        address: granted.value.address,
        cell: d.cell,
        counters: traffic.counters,
      });
      d.session = session;
      d.core = core;
      d.traffic = traffic;
      d.lastRefusal = undefined;
      this.totals.sessions++;
      await core.gateway.account('start', session);
      const visited = `${d.cell.mcc}${d.cell.mnc}`;
      this.emit({
        kind: 'attached',
        imsi,
        imei: d.imei,
        address: session.address,
        boundTo: traffic.boundTo,
        ...(imsi.startsWith(visited)
          ? {}
          : { roaming: { visited, home: core.imsiPrefix ?? imsi.slice(0, 5) } }),
      });
      const every = (this.o.interimSeconds ?? 10) * 1000;
      d.interim = setInterval(() => {
        if (d.session) void core.gateway.account('interim', d.session);
      }, every);
      // Normal service: an eUICC sends its notifications now (the profile change succeeded).
      this.reportRegistration(d, 'normal_service');
    } catch (e) {
      this.refuse(d, (e as Error).message);
      if (!this.stopped) this.reportRegistration(d, 'no_service');
    } finally {
      d.busy = false;
      if (d.reattach) {
        d.reattach = false;
        if (d.session === undefined && !this.stopped) {
          if (d.retry) clearTimeout(d.retry);
          d.retry = undefined;
          void this.attach(d);
        }
      }
    }
  }

  /** The network refused the attach: the device has limited service (and says so to an eUICC). */
  private refuseAttach(d: Device, reason: string): void {
    this.refuse(d, reason);
    this.reportRegistration(d, 'limited_service');
  }

  /**
   * The registration's outcome to the card as a location status (ToolkitModem.registered): an eUICC
   * whose newly enabled profile is refused rolls back to the previous one, or enables its fall-back
   * profile (SGP.02 §3.2.2), and REFRESHes; the device then attaches with that profile's IMSI. Cards
   * without an eUICC are not told: their applets (anti-theft) keep reacting to cell changes only, as
   * before this report existed.
   */
  private reportRegistration(d: Device, service: ServiceState): void {
    if (!isEuicc(d) || !d.booted) return;
    d.modem.registered(service);
  }

  /** Ends a device's session with a Stop carrying `cause`. */
  private async detach(d: Device, cause: 'User-Request' | 'Admin-Reset' | 'NAS-Request'): Promise<void> {
    const session = d.session;
    if (session === undefined) return;
    if (d.interim) clearInterval(d.interim);
    d.interim = undefined;
    d.traffic?.stop();
    this.totals.upOctets += session.counters.upOctets;
    this.totals.downOctets += session.counters.downOctets;
    d.traffic = undefined;
    d.session = undefined;
    const core = d.core ?? this.coreOf(session.imsi);
    d.core = undefined;
    this.emit({ kind: 'detached', imsi: session.imsi, cause });
    await core.gateway.account('stop', session, cause);
  }

  private disconnected(session: GatewaySession): void {
    const d = this.devices.find((x) => x.session?.acctSessionId === session.acctSessionId);
    if (d === undefined) return;
    void this.detach(d, 'Admin-Reset').then(() => this.scheduleRetry(d));
  }

  private rateChanged(session: GatewaySession, rate: { up: number; down: number }): void {
    const d = this.devices.find((x) => x.session?.acctSessionId === session.acctSessionId);
    if (d?.traffic === undefined) return;
    d.traffic.rateBps = rate.up;
    this.totals.rateChanges++;
    this.emit({ kind: 'rate', imsi: session.imsi, up: rate.up, down: rate.down });
  }

  /**
   * Each device at home or on its neighbour reselects the other one (see moveEverySeconds); a stolen
   * device is elsewhere and stays there.
   */
  private moveAll(): void {
    for (const d of this.devices) {
      if (sameCell(d.cell, d.home)) this.moveTo(d, neighbour(d.home));
      else if (sameCell(d.cell, neighbour(d.home))) this.moveTo(d, d.home);
    }
  }

  /** The cards of these devices go into other devices (new IMEIs): detach, then attach from there. */
  private async swapCards(devices: readonly Device[]): Promise<void> {
    for (const d of devices) {
      if (this.stopped) return;
      await this.moveCardInto(d.spec.card.file.imsi, swappedImei(d.spec.card.file.imsi));
    }
  }

  /**
   * The device with that card's IMSI is stolen: carried through STOLEN_CELLS cells far from home
   * (farCell), one every stealStepSeconds, and left on the last. Each is a location status event to
   * its card; an armed anti-theft applet counts a strike per unregistered cell and blocks at its
   * tolerance. Resolves when the device has reached the last cell. Throws when no device has that IMSI.
   */
  async stealDevice(imsi: string): Promise<void> {
    const d = this.deviceOf(imsi);
    const step = (this.o.stealStepSeconds ?? 2) * 1000;
    for (let k = 1; k <= STOLEN_CELLS && !this.stopped; k++) {
      if (k > 1) await new Promise((r) => setTimeout(r, step));
      if (this.stopped) return;
      const cell = farCell(d.home, k);
      this.emit({ kind: 'stolen', imsi: d.imsi, cell });
      this.moveTo(d, cell);
    }
  }

  /** The device whose card has that IMSI (its provisioned one or the one it attaches with now). */
  private deviceOf(imsi: string): Device {
    const d =
      this.devices.find((x) => x.spec.card.file.imsi === imsi) ?? this.devices.find((x) => x.imsi === imsi);
    if (d === undefined)
      throw new Error(`no simulated device has IMSI ${imsi}: use the IMSI of one of the fleet's cards`);
    return d;
  }

  private moveTo(d: Device, cell: Cell): void {
    d.cell = cell;
    // The modem reselects: a Location Status event to the card's applets when the cell changed.
    if (d.booted) d.modem.moveTo(servingCell(cell));
    this.emit({ kind: 'moved', imsi: d.imsi, cell });
    if (d.session === undefined) return;
    d.session.cell = cell;
    void (d.core ?? this.coreOf(d.session.imsi)).gateway.account('interim', d.session);
  }

  /**
   * The device with that card's IMSI moves to (reselects) `cell`: its modem reports the new location
   * to the card (TS 102 223 Location Status event, when the cell changed) and, when attached, the
   * packet gateway sends an Interim-Update carrying the new cell. A later attach uses that cell.
   * Throws when no device has that IMSI.
   */
  moveDevice(imsi: string, cell: Cell): void {
    this.moveTo(this.deviceOf(imsi), cell);
  }

  /**
   * The card with that IMSI is taken out of its device and put into another one with `imei`: the
   * session stops (Stop, User-Request), the card is reset (powered up again), a new modem boots it
   * (TERMINAL PROFILE, toolkit events) and the device attaches again from the new IMEI. Resolves when
   * the new attach has been tried (attached or refused: see deviceState). Throws when no device has
   * that IMSI.
   */
  async moveCardInto(imsi: string, imei: string): Promise<void> {
    const d = this.deviceOf(imsi);
    if (d.retry) clearTimeout(d.retry);
    for (let i = 0; i < 200 && d.busy; i++) await new Promise((r) => setTimeout(r, 25));
    await this.detach(d, 'User-Request');
    d.imei = imei;
    // Another device: the card is powered up again, in its own modem, booted at the next attach.
    d.spec.card.uicc.reset();
    d.modem = this.modemFor(d);
    d.booted = false;
    this.emit({ kind: 'swapped', imsi: d.imsi, imei: d.imei });
    await this.attach(d);
  }

  /**
   * One device's state, found by its card's IMSI: the IMSI it uses now (the quarantine IMSI once an
   * applet switched it), its IMEI and cell, its session address when attached, the last refusal.
   */
  deviceState(imsi: string): DeviceState {
    return this.stateOf(this.deviceOf(imsi));
  }

  private stateOf(d: Device): DeviceState {
    return {
      cardImsi: d.spec.card.file.imsi,
      imsi: d.imsi,
      imei: d.imei,
      cell: d.cell,
      attached: d.session !== undefined,
      blocked: blockedBySim(d),
      address: d.session?.address,
      lastRefusal: d.lastRefusal,
    };
  }

  /** Stops every session (Stop sent and acknowledged) and closes the sockets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const d of this.devices) if (d.retry) clearTimeout(d.retry);
    for (let i = 0; i < 100 && this.devices.some((d) => d.busy); i++)
      await new Promise((r) => setTimeout(r, 50));
    await Promise.all(this.devices.map((d) => this.detach(d, 'NAS-Request')));
    for (const d of this.devices) d.modem?.bip?.shutdown();
    for (const c of this.cores) {
      c.gsup.close();
      c.gateway.close();
    }
    this.sink.close();
  }
}

/** An eUICC card (SGP.02): its IMSI changes with the enabled profile. */
const isEuicc = (d: Device): boolean => d.spec.card.uicc.euicc !== undefined;

/**
 * The SIM switched the device to another identity by itself (the anti-theft quarantine IMSI). An
 * eUICC reading another profile's IMSI is not blocked: the SM-SR enabled that profile.
 */
const blockedBySim = (d: Device): boolean => !isEuicc(d) && d.imsi !== d.spec.card.file.imsi;

const sameCell = (a: Cell, b: Cell) =>
  a.mcc === b.mcc && a.mnc === b.mnc && a.tac === b.tac && a.eci === b.eci;

/** The IMEI of the device a card is moved into by `swap` (TAC 35999900, from the card's IMSI). */
export const swappedImei = (imsi: string): string => imeiWithCheckDigit(`35999900${imsi.slice(-6)}`);

/** `12.3 MB`-style size for the summary line. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The live one-line summary. */
export const summaryLine = (s: FleetSummary): string =>
  `devices ${s.devices} | attached ${s.attached} | rejected ${s.rejected} | sessions ${s.sessions} | up ${formatBytes(s.upOctets)} down ${formatBytes(s.downOctets)} | disconnects ${s.disconnects} | CoA ${s.rateChanges} | blocked by SIM ${s.blocked}`;

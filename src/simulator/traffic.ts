// User-plane traffic of the simulated devices, so the accounting counters are real: each device
// sends UDP datagrams from a socket bound to the address its session got (Framed-IP-Address — the
// default pool is in 127.64.0.0/16, and all of 127/8 is loopback on Linux) to an echo sink, and
// counts what goes up and what comes back down. A device whose address cannot be bound (a pool
// outside loopback) sends from the default address and says so.

import { createSocket, type Socket } from 'node:dgram';

export class TrafficSink {
  private constructor(private readonly socket: Socket) {}

  static async start(host = '127.0.0.1'): Promise<TrafficSink> {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new TrafficSink(socket);
  }

  get address(): { address: string; port: number } {
    return this.socket.address();
  }

  close(): void {
    this.socket.close();
  }
}

export interface TrafficCounters {
  /** Octets and packets from the device (RFC 2866 Acct-Input-*: received from the user). */
  upOctets: number;
  upPackets: number;
  /** Octets and packets to the device (Acct-Output-*). */
  downOctets: number;
  downPackets: number;
}

export class DeviceTraffic {
  readonly counters: TrafficCounters = { upOctets: 0, upPackets: 0, downOctets: 0, downPackets: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** Bits per second the network allows (CoA), undefined when unlimited. */
  rateBps: number | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly boundTo: string,
  ) {
    socket.on('message', (msg) => {
      this.counters.downOctets += msg.length;
      this.counters.downPackets++;
    });
    socket.on('error', () => undefined);
  }

  /** Bind to `address` (falling back to the default source) and send to `sink` every `intervalMs`. */
  static async start(
    address: string,
    sink: { address: string; port: number },
    o: { intervalMs: number; bytes: number },
  ): Promise<DeviceTraffic> {
    const bind = (host: string | undefined) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = createSocket('udp4');
        socket.once('error', (e) => {
          socket.close();
          reject(e);
        });
        socket.bind({ ...(host === undefined ? {} : { address: host }), port: 0 }, () => resolve(socket));
      });
    let socket: Socket;
    let boundTo = address;
    try {
      socket = await bind(address);
    } catch {
      socket = await bind(undefined);
      boundTo = 'default';
    }
    const traffic = new DeviceTraffic(socket, boundTo);
    const payload = Buffer.alloc(Math.min(o.bytes, 65_000), 0x5a);
    traffic.timer = setInterval(() => {
      let size = payload.length;
      if (traffic.rateBps !== undefined)
        size = Math.min(size, Math.max(1, Math.floor((traffic.rateBps * o.intervalMs) / 8000)));
      socket.send(payload.subarray(0, size), sink.port, sink.address);
      traffic.counters.upOctets += size;
      traffic.counters.upPackets++;
    }, o.intervalMs);
    traffic.timer.unref();
    return traffic;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket.close();
  }
}

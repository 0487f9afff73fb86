// RADIUS side of `npm run bench -- aaa` (the lead's bench/aaa.ts calls runRadiusBench):
//
// 1. Accounting Interim-Updates per second acknowledged after a durable write (the answer is sent
//    only once the group-committed transaction is on disk: SQLite WAL with synchronous=FULL, or
//    PostgreSQL commit), on SQLite and PostgreSQL. Target ≥ 20,000/s on SQLite.
// 2. Packet-gateway Access-Request (TS 29.061 §16: admission, address lease, signed Accept): the
//    maximum rate, then p50/p99 latency at half of it (open loop, so queueing does not hide).
//
// Reference, measured in the same run: a RADIUS responder that decodes, verifies and signs but
// keeps nothing (bench/_radius-reference.ts) — what the protocol work alone costs on this machine.
// The server under test is `simtrust serve` in its own process; the load generator (this process)
// uses many sockets with a window of outstanding requests, like a packet gateway.
//
//   node --import tsx -e "import('./bench/_aaa-radius.ts').then((m) => m.runRadiusBench([]))"
//   args: [--seconds 10] [--sessions 2000] [--db sqlite|postgres|both]

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { resolve } from 'node:path';
import { luhnCheckDigit } from '../src/lib/luhn.js';
import type { AttributeInput } from '../src/lib/radius/attributes.js';
import { encodeRequest, messageAuthenticator } from '../src/lib/radius/rfc-2865-authenticators.js';
import { RADIUS_CODES } from '../src/lib/radius/rfc-2865-packet.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { openStore } from '../src/platform/store/database.js';
import { type BenchDialect, flag, fmt, freshDatabase, startServer, table } from './_support.js';

const SECRET = 'bench-radius-secret';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

/**
 * A packet template: the request encoded once, then per send only the Identifier, the counters and
 * the authenticators change (so the generator, not the server, stays cheap).
 */
export interface Template {
  readonly bytes: Uint8Array;
  /** Offsets of 32-bit values to patch, by attribute type. */
  readonly at: ReadonlyMap<number, number>;
  /** Offset of the Message-Authenticator value, or -1. */
  readonly ma: number;
}

export function template(code: number, attributes: AttributeInput[]): Template {
  const bytes = encodeRequest({ code, identifier: 0, attributes }, SECRET);
  if (!bytes.ok) throw new Error(bytes.error.message);
  const at = new Map<number, number>();
  let ma = -1;
  for (let i = 20; i < bytes.value.length; i += bytes.value[i + 1] ?? 2) {
    const type = bytes.value[i] ?? 0;
    if (type === 80) ma = i + 2;
    else if ((bytes.value[i + 1] ?? 0) === 6) at.set(type, i + 2);
  }
  return { bytes: bytes.value, at, ma };
}

const SECRET_BYTES = Buffer.from(SECRET);
const ZERO16 = new Uint8Array(16);

/** Fills in Identifier, 32-bit counters and authenticators (RFC 2866 §3 / RFC 3579 §3.2). */
export function stamp(t: Template, id: number, values: ReadonlyArray<readonly [number, number]>): Buffer {
  const b = Buffer.from(t.bytes);
  b[1] = id;
  for (const [type, value] of values) {
    const o = t.at.get(type);
    if (o !== undefined) b.writeUInt32BE(value >>> 0, o);
  }
  if (t.ma < 0) {
    b.set(ZERO16, 4);
    createHash('md5').update(b).update(SECRET_BYTES).digest().copy(b, 4);
  } else {
    randomFillSync(b, 4, 16);
    b.set(ZERO16, t.ma);
    createHmac('md5', SECRET_BYTES).update(b).digest().copy(b, t.ma);
  }
  return b;
}

export type Next = () => { readonly port: number; readonly build: (id: number) => Buffer };

/**
 * Sockets with a window of outstanding requests each (one Identifier space per socket). No promise
 * or timer per request: answers are matched by Identifier, and one sweep retransmits (same bytes)
 * what has waited a second, as a NAS does.
 */
export class LoadGenerator {
  private readonly sockets: Socket[] = [];
  private readonly pending: Array<
    Array<
      { bytes: Buffer; port: number; sent: number; first: number; done: (ms: number) => void } | undefined
    >
  > = [];
  private readonly nextId: number[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  retransmits = 0;

  static async open(count: number): Promise<LoadGenerator> {
    const g = new LoadGenerator();
    for (let i = 0; i < count; i++) {
      const socket = createSocket('udp4');
      const slots = new Array(256).fill(undefined);
      socket.on('message', (msg) => {
        const slot = slots[msg[1] ?? 0];
        if (!slot) return;
        slots[msg[1] ?? 0] = undefined;
        slot.done(performance.now() - slot.first);
      });
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      socket.setRecvBufferSize(4 * 1024 * 1024);
      g.sockets.push(socket);
      g.pending.push(slots);
      g.nextId.push(0);
    }
    g.sweeper = setInterval(() => {
      const now = performance.now();
      g.pending.forEach((slots, s) => {
        for (const slot of slots) {
          if (slot && now - slot.sent > 1000) {
            slot.sent = now;
            g.retransmits++;
            g.sockets[s]?.send(slot.bytes, slot.port, '127.0.0.1');
          }
        }
      });
    }, 100);
    return g;
  }

  get width(): number {
    return this.sockets.length;
  }

  /** Sends the next request on socket `s`; `done` gets the latency (ms) once answered. */
  send(s: number, next: Next, done: (ms: number) => void): void {
    const slots = this.pending[s] as NonNullable<(typeof this.pending)[number]>;
    let id = this.nextId[s] as number;
    for (let n = 0; slots[id] && n < 256; n++) id = (id + 1) % 256;
    if (slots[id]) throw new Error('256 requests outstanding on one socket');
    this.nextId[s] = (id + 1) % 256;
    const { port, build } = next();
    const bytes = build(id);
    const now = performance.now();
    slots[id] = { bytes, port, sent: now, first: now, done };
    (this.sockets[s] as Socket).send(bytes, port, '127.0.0.1');
  }

  request(s: number, next: Next): Promise<number> {
    return new Promise((resolve) => this.send(s, next, resolve));
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const s of this.sockets) s.close();
  }
}

export interface Target {
  readonly authPort: number;
  readonly acctPort: number;
  readonly imsis: readonly string[];
}

/** Closed loop: `window` requests outstanding per socket, each answer releasing the next one. */
export function closedLoop(gen: LoadGenerator, window: number, seconds: number, next: Next): Promise<number> {
  return new Promise((resolve) => {
    let done = 0;
    let open = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    const launch = (s: number) => {
      open++;
      gen.send(s, next, () => {
        open--;
        done++;
        if (performance.now() < end) launch(s);
        else if (open === 0) resolve(done / ((performance.now() - start) / 1000));
      });
    };
    for (let s = 0; s < gen.width; s++) for (let w = 0; w < window; w++) launch(s);
  });
}

/** Open loop at `rate` requests/s: latencies measured without the sender waiting for answers. */
async function openLoop(
  gen: LoadGenerator,
  rate: number,
  seconds: number,
  next: Next,
): Promise<{ p50: number; p99: number }> {
  const latencies: number[] = [];
  let outstanding = 0;
  const start = performance.now();
  let sent = 0;
  let s = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) {
      s = (s + 1) % gen.width;
      outstanding++;
      gen.send(s, next, (ms) => {
        outstanding--;
        latencies.push(ms);
      });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  while (outstanding > 0) await new Promise((r) => setTimeout(r, 5));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

interface Figures {
  accountingPerSecond: number;
  accessMax: number;
  accessP50: number;
  accessP99: number;
  retransmits: number;
}

async function measure(target: Target, seconds: number): Promise<Figures> {
  const gen = await LoadGenerator.open(16);
  try {
    const sessions = target.imsis.length;
    const acct = (kind: 1 | 3, i: number) =>
      template(RADIUS_CODES['Accounting-Request'], [
        ['Acct-Status-Type', kind],
        ['Acct-Session-Id', `bench-${i}`],
        ['3GPP-IMSI', target.imsis[i] as string],
        ['Framed-IP-Address', `127.65.${i >> 8}.${i & 0xff}`],
        ['Acct-Input-Octets', 0],
        ['Acct-Output-Octets', 0],
        ['Acct-Input-Packets', 0],
        ['Acct-Output-Packets', 0],
      ]);
    const starts = target.imsis.map((_, i) => acct(1, i));
    const interims = target.imsis.map((_, i) => acct(3, i));
    const step = new Array<number>(sessions).fill(0);
    let cursor = 0;
    // Every session starts (not measured), then Interim-Updates with growing counters.
    const accounting: Next = () => {
      const i = cursor++ % sessions;
      const n = step[i] ?? 0;
      step[i] = n + 1;
      const t = (n === 0 ? starts : interims)[i] as Template;
      return {
        port: target.acctPort,
        build: (id) =>
          stamp(t, id, [
            [42, n * 1500],
            [43, n * 9000],
            [47, n],
            [48, n * 6],
          ]),
      };
    };
    await Promise.all(Array.from({ length: sessions }, (_, i) => gen.request(i % gen.width, accounting)));
    await closedLoop(gen, 32, 1, accounting); // warm-up
    const accountingPerSecond = await closedLoop(gen, 128, seconds, accounting);

    const accessTemplates = target.imsis.map((imsi) =>
      template(RADIUS_CODES['Access-Request'], [
        messageAuthenticator(),
        ['User-Name', imsi],
        ['3GPP-IMSI', imsi],
        ['3GPP-IMEISV', '3534321910800007'],
        ['3GPP-User-Location-Info', { type: 'TAI+ECGI', mcc: '001', mnc: '01', tac: 1, eci: 2 }],
        ['Called-Station-Id', 'bench.example'],
      ]),
    );
    let a = 0;
    const access: Next = () => {
      const t = accessTemplates[a++ % sessions] as Template;
      return { port: target.authPort, build: (id) => stamp(t, id, []) };
    };
    // Every SIM attaches once first (activation, address lease: writes); then the steady state of
    // devices re-attaching is measured.
    await Promise.all(Array.from({ length: sessions }, (_, i) => gen.request(i % gen.width, access)));
    const accessMax = await closedLoop(gen, 16, Math.max(3, seconds / 2), access);
    const half = await openLoop(gen, accessMax / 2, Math.max(3, seconds / 2), access);
    return {
      accountingPerSecond,
      accessMax,
      accessP50: half.p50,
      accessP99: half.p99,
      retransmits: gen.retransmits,
    };
  } finally {
    gen.close();
  }
}

/** `env` adds settings of the server (bench/_events-radius.ts: the web request network it allows). */
export async function platformTarget(
  dialect: BenchDialect,
  sessions: number,
  env: Record<string, string> = {},
): Promise<{
  target: Target;
  /** The API's address and the operator's bearer header (for what an operator would set up). */
  api: { readonly url: string; readonly headers: Record<string, string>; readonly operatorId: string };
  /** The SIM ids (ICCIDs) in the order of `target.imsis`. */
  iccids: readonly string[];
  /** The `simtrust serve` process's id. */
  pid: number | undefined;
  metrics: () => Promise<string>;
  stop: () => Promise<void>;
}> {
  const db = await freshDatabase(dialect);
  const [authPort, acctPort] = [await freeUdpPort(), await freeUdpPort()];
  const masterKey = randomBytes(32).toString('base64');
  const server = await startServer({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey,
    SIMTRUST_RADIUS_AUTH_PORT: String(authPort),
    SIMTRUST_RADIUS_ACCT_PORT: String(acctPort),
    SIMTRUST_DATABASE_POOL_SIZE: '16',
    ...env,
  });
  const store = await openStore(db.url, { migrate: false });
  await createOperator(
    store,
    { now: () => Date.now() },
    { email: 'bench@example.com', password: 'bench-password' },
  );
  await store.close();
  const auth = (await (
    await fetch(`${server.url}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.com', password: 'bench-password' }),
    })
  ).json()) as { token: string; operatorId: string };
  const headers = { authorization: `Bearer ${auth.token}` };
  const client = await fetch(`${server.url}/v1/radius_clients`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ address: '127.0.0.1', secret: SECRET }),
  });
  if (client.status !== 201) throw new Error(`radius client: ${await client.text()}`);
  const imsis: string[] = [];
  const iccids: string[] = [];
  const lines = ['iccid,imsi,msisdn,ki,opc'];
  for (let i = 0; i < sessions; i++) {
    const body = `89811055${String(i).padStart(10, '0')}`;
    const imsi = `00101550${String(i).padStart(7, '0')}`;
    imsis.push(imsi);
    iccids.push(`${body}${luhnCheckDigit(body)}`);
    lines.push(
      `${body}${luhnCheckDigit(body)},${imsi},,${randomBytes(16).toString('hex')},${randomBytes(16).toString('hex')}`,
    );
  }
  const imported = await fetch(`${server.url}/v1/sims/import`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'text/csv' },
    body: `${lines.join('\n')}\n`,
  });
  if (imported.status !== 200) throw new Error(`import: ${await imported.text()}`);
  return {
    target: { authPort, acctPort, imsis },
    api: { url: server.url, headers, operatorId: auth.operatorId },
    iccids,
    pid: server.pid,
    metrics: async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const drops = [...text.matchAll(/^simtrust_radius_dropped_total\{reason="(\w+)"\} (\d+)/gm)]
        .filter((m) => m[2] !== '0')
        .map((m) => `${m[1]}=${m[2]}`);
      const dup = /^simtrust_radius_duplicates_total (\d+)/m.exec(text)?.[1] ?? '0';
      const batches = Number(
        /^simtrust_accounting_commits_total\{what="batches"\} (\d+)/m.exec(text)?.[1] ?? 0,
      );
      const records = Number(
        /^simtrust_accounting_commits_total\{what="records"\} (\d+)/m.exec(text)?.[1] ?? 0,
      );
      const ms = Number(
        /^simtrust_accounting_commits_total\{what="transaction_ms"\} (\d+)/m.exec(text)?.[1] ?? 0,
      );
      return `drops ${drops.join(' ') || 'none'}, duplicates ${dup}, accounting ${records} records in ${batches} transactions (mean ${fmt(records / Math.max(1, batches), 1)}, ${fmt((1000 * ms) / Math.max(1, records), 1)} µs of transaction per record)`;
    },
    stop: async () => {
      await server.stop();
      await db.drop();
    },
  };
}

async function referenceTarget(sessions: number): Promise<{ target: Target; stop: () => Promise<void> }> {
  const [authPort, acctPort] = [await freeUdpPort(), await freeUdpPort()];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', resolve('bench/_radius-reference.ts'), String(authPort), String(acctPort), SECRET],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((ready) => child.stdout?.once('data', () => ready()));
  const imsis = Array.from({ length: sessions }, (_, i) => `00101550${String(i).padStart(7, '0')}`);
  return {
    target: { authPort, acctPort, imsis },
    stop: () =>
      new Promise((stopped) => {
        child.once('exit', () => stopped());
        child.kill('SIGTERM');
      }),
  };
}

export async function runRadiusBench(args: string[]): Promise<void> {
  const seconds = Number(flag(args, '--seconds') ?? 10);
  const sessions = Number(flag(args, '--sessions') ?? 2000);
  const which = flag(args, '--db') ?? 'both';
  const dialects: BenchDialect[] = which === 'both' ? ['sqlite', 'postgres'] : [which as BenchDialect];
  console.log(`RADIUS: ${sessions} sessions, ${seconds} s per accounting run, 16 sockets`);

  const ref = await referenceTarget(sessions);
  let reference: Figures;
  try {
    reference = await measure(ref.target, seconds);
  } finally {
    await ref.stop();
  }
  const rows: Array<Record<string, string | number>> = [
    {
      server: 'reference (no database)',
      'acct Interim/s': fmt(reference.accountingPerSecond),
      'Access-Request max/s': fmt(reference.accessMax),
      'p50 ms @ half': fmt(reference.accessP50, 2),
      'p99 ms @ half': fmt(reference.accessP99, 2),
      retransmits: reference.retransmits,
    },
  ];
  for (const dialect of dialects) {
    const t = await platformTarget(dialect, sessions);
    try {
      const f = await measure(t.target, seconds);
      console.log(`${dialect} server: ${await t.metrics()}`);
      rows.push({
        server: `simtrust, ${dialect} (durable)`,
        'acct Interim/s': fmt(f.accountingPerSecond),
        'Access-Request max/s': fmt(f.accessMax),
        'p50 ms @ half': fmt(f.accessP50, 2),
        'p99 ms @ half': fmt(f.accessP99, 2),
        retransmits: f.retransmits,
      });
      console.log(
        `${dialect}: accounting ${fmt(f.accountingPerSecond)}/s = ${fmt((100 * f.accountingPerSecond) / reference.accountingPerSecond)}% of the reference${dialect === 'sqlite' ? ` (target ≥ 20,000/s: ${f.accountingPerSecond >= 20_000 ? 'met' : 'NOT met'})` : ''}; Access-Request max ${fmt(f.accessMax)}/s = ${fmt((100 * f.accessMax) / reference.accessMax)}% of the reference, p99 ${fmt(f.accessP99, 2)} ms at ${fmt(f.accessMax / 2)}/s`,
      );
    } finally {
      await t.stop();
    }
  }
  table(rows);
}

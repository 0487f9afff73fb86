// Peer admission of the GSUP listener (issue 11). Threat: GSUP has no authentication, so before this
// the listener served any TCP peer, kept idle connections forever and capped them at 1,000 in all —
// one host holding 1,000 silent connections locked out every real MSC/SGSN. Now: only allowed source
// networks, a per-source cap, a global cap whose slots silent connections give back (idle timeout
// with IPA PING), and optionally only named IPA units. Each test holds the limit with raw TCP peers
// and shows a real GSUP peer (the simulator's client, as osmo-sgsn speaks) is still served.
// Runs on SQLite and PostgreSQL (the peers fetch real vectors).

import { connect, isIP, type Socket } from 'node:net';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeGsup, encodeGsup, sendAuthInfoRequest } from '../../../src/lib/gsup/gsup.js';
import {
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IPA_PROTO,
  IpaDeframer,
} from '../../../src/lib/gsup/ipa.js';
import { GsupAdmission, plainPeerAddress } from '../../../src/servers/gsup/admission.js';
import { GsupServer, type GsupServerOptions } from '../../../src/servers/gsup/server.js';
import { GsupClient } from '../../../src/simulator/gsup-client.js';
import { type EapFixture, eapFixture } from '../radius/eap-fixture.js';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** A TCP peer that never answers: records the CCM messages it gets and when it is closed. */
interface RawPeer {
  readonly socket: Socket;
  readonly ccm: string[];
  /** Resolves true once the server sent ID_GET (admitted), false if it closed first (refused). */
  readonly admitted: Promise<boolean>;
  readonly closed: Promise<void>;
  readonly frames: Uint8Array[];
}

function rawPeer(port: number, localAddress: string): RawPeer {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const ccm: string[] = [];
  const frames: Uint8Array[] = [];
  const deframer = new IpaDeframer();
  let settle: (v: boolean) => void = () => {};
  const admitted = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  socket.on('data', (d: Buffer) => {
    for (const frame of deframer.push(new Uint8Array(d))) {
      if (frame.proto !== IPA_PROTO.CCM) {
        const body = gsupPayload(frame);
        if (body !== undefined) frames.push(body);
        continue;
      }
      const m = decodeCcm(frame.payload);
      if (!m.ok) continue;
      ccm.push(m.value.type);
      if (m.value.type === 'ID_GET') settle(true);
    }
  });
  socket.on('error', () => socket.destroy());
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      settle(false);
      resolve();
    }),
  );
  return { socket, ccm, admitted, closed, frames };
}

describe('GSUP listener peer admission (issue 11)', () => {
  let f: EapFixture;
  let server: GsupServer | undefined;
  const peers: RawPeer[] = [];
  const clients: GsupClient[] = [];

  const start = async (o: Partial<GsupServerOptions>) => {
    server = await GsupServer.start({
      db: f.db.store.db,
      auc: f.platform.auc,
      host: '127.0.0.1',
      port: 0,
      logger: silent,
      allowedNetworks: ['127.0.0.0/8'],
      ...o,
    });
    return server;
  };
  const raw = (s: GsupServer, from: string) => {
    const p = rawPeer(s.port, from);
    peers.push(p);
    return p;
  };
  const client = async (s: GsupServer, from: string, name = 'TEST-SGSN') => {
    const c = await GsupClient.open({ host: '127.0.0.1', port: s.port, name, localAddress: from });
    clients.push(c);
    return c;
  };
  /** A real peer is served: SendAuthInfo answers with vectors for a real SIM. */
  const served = async (c: GsupClient) => {
    const card = await f.card();
    const r = await c.sendAuthInfo(card.imsi, { numVectors: 1 });
    return r.ok && r.value.length === 1;
  };

  beforeAll(async () => {
    f = await eapFixture();
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.socket.destroy();
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await f?.close();
  });

  it('issue 11: one source holding its per-source cap is refused more, and another peer is still served', async () => {
    const metrics = new Registry();
    const s = await start({ maxConnectionsPerSource: 4, maxConnections: 100, metrics });
    const held = Array.from({ length: 4 }, () => raw(s, '127.0.0.1'));
    expect(await Promise.all(held.map((p) => p.admitted))).toEqual([true, true, true, true]);
    const fifth = raw(s, '127.0.0.1');
    expect(await fifth.admitted).toBe(false);
    expect(fifth.ccm).toEqual([]);
    expect(s.stats.refused.per_source).toBe(1);
    // A real GSUP peer from another host (a loopback alias) is served while the cap is held.
    expect(await served(await client(s, '127.0.0.2'))).toBe(true);
    // A slot given back is usable again.
    held[0]?.socket.destroy();
    await held[0]?.closed;
    await waitFor(() => s.openConnections === 4);
    expect(await raw(s, '127.0.0.1').admitted).toBe(true);
    const text = await metrics.metrics();
    expect(text).toContain('simtrust_gsup_connections_total{outcome="refused_per_source"} 1');
    expect(text).toMatch(/simtrust_gsup_connections_open \d/);
  });

  it('issue 11: silent connections filling the global cap are closed after the idle timeout (with a PING first); a peer that answers PING stays', async () => {
    const s = await start({ maxConnectionsPerSource: 10, maxConnections: 4, idleTimeoutMs: 1200 });
    // A live peer first: it sends nothing either, but answers the server's PING with PONG.
    const live = await client(s, '127.0.0.2');
    const squatters = Array.from({ length: 3 }, () => raw(s, '127.0.0.3'));
    expect(await Promise.all(squatters.map((p) => p.admitted))).toEqual([true, true, true]);
    // Full: a further peer is refused at once.
    const late = raw(s, '127.0.0.4');
    expect(await late.admitted).toBe(false);
    expect(s.stats.refused.capacity).toBe(1);
    // The silent ones are closed; each was sent a PING first.
    await Promise.all(squatters.map((p) => p.closed));
    for (const p of squatters) {
      expect(p.ccm[0]).toBe('ID_GET');
      expect(p.ccm.slice(1)).toContain('PING');
      expect(new Set(p.ccm.slice(1))).toEqual(new Set(['PING']));
    }
    expect(s.stats.closedIdle).toBeGreaterThanOrEqual(3);
    // The live peer has been idle as long as the squatters, and is still served.
    expect(await served(live)).toBe(true);
    // Their slots are free again for real peers.
    expect(await served(await client(s, '127.0.0.4'))).toBe(true);
  });

  it('refuses sources outside gsupAllowedNetworks before saying anything', async () => {
    const s = await start({ allowedNetworks: ['127.0.0.2/32', '::1/128'] });
    const stranger = raw(s, '127.0.0.1');
    expect(await stranger.admitted).toBe(false);
    expect(stranger.ccm).toEqual([]);
    expect(s.stats.refused.network).toBe(1);
    expect(await served(await client(s, '127.0.0.2'))).toBe(true);
  });

  it('with gsupAllowedUnitNames, serves only named units and nothing before their ID_RESP', async () => {
    const s = await start({ allowedUnitNames: ['TEST-SGSN'] });
    expect(await served(await client(s, '127.0.0.1', 'TEST-SGSN'))).toBe(true);
    // Another unit identifies and is closed.
    const rogue = await client(s, '127.0.0.1', 'ROGUE-MSC');
    const card = await f.card();
    const refused = await rogue.sendAuthInfo(card.imsi, { numVectors: 1 });
    expect(refused.ok).toBe(false);
    expect(s.stats.refused.unit_name).toBe(1);
    // A request sent before ID_RESP is dropped; the one after it is answered (in order on TCP).
    const early = raw(s, '127.0.0.1');
    expect(await early.admitted).toBe(true);
    const request = (n: number) => {
      const bytes = encodeGsup(sendAuthInfoRequest(card.imsi, { numVectors: n }));
      const frame = bytes.ok ? gsupFrame(bytes.value) : bytes;
      if (!frame.ok) throw new Error('encode');
      return frame.value;
    };
    early.socket.write(request(1));
    const idResp = encodeCcm({ type: 'ID_RESP', identity: new Map([[IPA_ID_TAG.unitName, 'TEST-SGSN']]) });
    if (!idResp.ok) throw new Error('encode');
    early.socket.write(idResp.value);
    early.socket.write(request(2));
    await waitFor(() => early.frames.length > 0);
    expect(s.stats.unidentifiedDropped).toBe(1);
    // The first answer carries two tuples: it answers the second request.
    const answer = decodeGsup(early.frames[0] ?? new Uint8Array());
    expect(answer.ok && answer.value.authTuple?.length).toBe(2);
  });

  it('property: admission never throws, admits only allowed sources, and never exceeds its caps', () => {
    const address = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4().map((a) => `::ffff:${a}`),
      fc.string(),
      fc.constantFrom('', '127.0.0.1', '::1', '127.0.0.1/8', '::ffff:127.0.0.1', '0127.0.0.1', 'localhost'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(address, fc.boolean()), { maxLength: 60 }), (ops) => {
        const a = new GsupAdmission({
          allowedNetworks: ['127.0.0.0/8', '::1/128', '10.1.0.0/16'],
          maxConnectionsPerSource: 3,
          maxConnections: 7,
          allowedUnitNames: [],
        });
        const held: string[] = [];
        for (const [addr, close] of ops) {
          if (close && held.length > 0) {
            a.release(held.pop());
            continue;
          }
          const refusal = a.admit(addr);
          const inside = allowed(addr);
          // Admitted only from inside; refused for its network only from outside.
          if (refusal === undefined && inside !== undefined) expect(inside, addr).toBe(true);
          if (refusal === 'network' && inside !== undefined) expect(inside, addr).toBe(false);
          if (refusal === undefined) held.push(addr);
          expect(a.connections).toBe(held.length);
          expect(a.connections).toBeLessThanOrEqual(7);
          const perSource = new Map<string, number>();
          for (const h of held)
            perSource.set(plainPeerAddress(h), (perSource.get(plainPeerAddress(h)) ?? 0) + 1);
          for (const n of perSource.values()) expect(n).toBeLessThanOrEqual(3);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * The oracle, written apart from the implementation: whether an address is in 127.0.0.0/8,
 * 10.1.0.0/16 or ::1/128 (undefined for IPv4-mapped IPv6 in hex form, which no socket reports).
 */
function allowed(text: string): boolean | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  const candidate = mapped?.[1] ?? text;
  if (isIP(candidate) === 4) {
    const [a, b] = candidate.split('.').map(Number);
    return a === 127 || (a === 10 && b === 1);
  }
  if (isIP(candidate) !== 6) return false;
  // WHATWG URL serialises IPv6 canonically (embedded IPv4 in hex); expand and read the groups.
  const host = new URL(`http://[${candidate}]/`).hostname.slice(1, -1);
  const [head = '', tail] = host.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return undefined;
  return groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

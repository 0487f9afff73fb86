// The SM-SR's SCP81 listener with Node's own PSK-TLS client: the key is chosen by the SGP.02 identity,
// requests go through Node's HTTP server on the secured socket, and the limits hold. Threats: an
// unknown identity or a keyset outside 40–4F gets no handshake; an oversized body is refused before it
// is read; a connection cannot outlive the session time; the connection count is bounded.

import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ADMIN_PROTOCOL,
  adminFrom,
  encodePskIdentity,
  PSK_TLS_CIPHERS,
} from '../../../src/lib/gp-amd-b-ram-over-http.js';
import { hex } from '../../../src/lib/hex.js';
import { RamOverHttpSessions } from '../../../src/platform/esim/sm-sr/ram-over-http.js';
import { type Scp81Listener, startScp81Listener } from '../../../src/servers/esim/scp81-listener.js';

const EID = '89049032123451234512345678901235';
const ISD_R = 'A0000005591010FFFFFFFF8900000100';
const PSK = hex('404142434445464748494a4b4c4d4e4f');

let listener: Scp81Listener | undefined;
const sockets: TLSSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await listener?.close();
  listener = undefined;
});

async function start(o: { maxBodyBytes?: number; sessionMs?: number; maxConnections?: number } = {}) {
  const refused: string[] = [];
  listener = await startScp81Listener({
    sessions: new RamOverHttpSessions(),
    psk: (id) => (id.eid === EID && id.kvn === 0x40 ? PSK : undefined),
    onRefused: (r) => refused.push(r),
    ...o,
  });
  return { port: listener.port, refused };
}

function client(
  port: number,
  kvn = 0x40,
): { socket: TLSSocket; data: () => string; ready: Promise<unknown> } {
  let text = '';
  const socket = connect({
    host: '127.0.0.1',
    port,
    ciphers: PSK_TLS_CIPHERS,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({
      psk: Buffer.from(PSK),
      identity: encodePskIdentity({ eid: EID, aid: ISD_R, kvn, kid: 1 }),
    }),
  });
  sockets.push(socket);
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  socket.on('error', () => undefined);
  return {
    socket,
    data: () => text,
    ready: new Promise((resolve) => {
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('close', () => resolve('closed'));
    }),
  };
}

const request = (length: number, body = '') =>
  `POST /gp/ram HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: ${ADMIN_PROTOCOL}\r\n` +
  `X-Admin-From: ${adminFrom(EID, ISD_R)}\r\nContent-Length: ${length}\r\n\r\n${body}`;

describe('SCP81 listener', () => {
  it('completes the PSK handshake for a known identity and answers 204 when nothing waits', async () => {
    const { port } = await start();
    const c = client(port);
    expect(await c.ready).not.toBe('closed');
    expect(c.socket.getCipher().name).toBe('PSK-AES128-GCM-SHA256');
    expect(c.socket.getProtocol()).toBe('TLSv1.2');
    c.socket.write(request(0));
    await vi.waitFor(() => expect(c.data()).toMatch(/^HTTP\/1\.1 204 /));
  });

  it('refuses a keyset outside KVN 40–4F', async () => {
    const { port, refused } = await start();
    const c = client(port, 0x01);
    expect(await c.ready).toBe('closed');
    expect(refused).toContain('unknown PSK identity');
  });

  it('refuses an oversized body with 413 before reading it', async () => {
    const { port } = await start({ maxBodyBytes: 16 });
    const c = client(port);
    await c.ready;
    c.socket.write(request(17, 'x'.repeat(17)));
    await vi.waitFor(() => expect(c.data()).toMatch(/^HTTP\/1\.1 413 /));
  });

  it('cuts a chunked body that grows past the limit (no length declared) without answering it', async () => {
    const { port } = await start({ maxBodyBytes: 16 });
    const c = client(port);
    await c.ready;
    const closed = once(c.socket, 'close');
    c.socket.write(
      `POST /gp/ram HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: ${ADMIN_PROTOCOL}\r\n` +
        `X-Admin-From: ${adminFrom(EID, ISD_R)}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `10\r\n${'x'.repeat(16)}\r\n8\r\n${'y'.repeat(8)}\r\n0\r\n\r\n`,
    );
    await closed;
    expect(c.data()).toBe('');
  });

  it('reads a chunked body within the limit and answers it', async () => {
    const { port } = await start({ maxBodyBytes: 64 });
    const c = client(port);
    await c.ready;
    c.socket.write(
      `POST /gp/ram HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: ${ADMIN_PROTOCOL}\r\n` +
        `X-Admin-From: ${adminFrom(EID, ISD_R)}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    );
    await vi.waitFor(() => expect(c.data()).toMatch(/^HTTP\/1\.1 204 /));
  });

  it('closes a connection at the end of the session time', async () => {
    const { port } = await start({ sessionMs: 50 });
    const c = client(port);
    await c.ready;
    await once(c.socket, 'close');
    expect(c.socket.destroyed).toBe(true);
  });

  it('refuses a second session of the same eUICC while one is open', async () => {
    const { port, refused } = await start();
    const first = client(port);
    expect(await first.ready).toBe('connected');
    const second = client(port);
    await second.ready;
    await vi.waitFor(() => expect(refused).toContain('a session is already open for this eUICC'));
    await vi.waitFor(() => expect(second.socket.destroyed).toBe(true));
    expect(first.socket.destroyed).toBe(false);
  });

  it('bounds the number of connections', async () => {
    const { port } = await start({ maxConnections: 1 });
    const first = client(port);
    expect(await first.ready).not.toBe('closed');
    const second = client(port);
    expect(await second.ready).toBe('closed');
  });
});

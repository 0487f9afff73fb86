// Interop: the SCP81 PSK-TLS ends against OpenSSL's own programs, so neither end only agrees with
// itself. `openssl s_server -psk … -nocert` accepts the card's TLS client, reached through the BIP
// channel and the modem's TCP relay, and sees the GP Amd B POST; `openssl s_client -psk …` completes
// a handshake with the SM-SR's listener and gets RAM over HTTP answers. Threats: a client with the
// wrong key gets no session; a saved session is not resumed (SGP.02 §2.4.4 forbids resumption).

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RFM_AID } from '../../src/card/euicc/scp81-admin-agent.js';
import { ADMIN_PROTOCOL, adminFrom, encodePskIdentity } from '../../src/lib/gp-amd-b-ram-over-http.js';
import { toHex } from '../../src/lib/hex.js';
import { type Bench, bench, EID, ISD_R_AID, KID, KVN, PSK } from '../card/euicc/scp81-fixture.js';
import { requirePrograms } from '../helpers/external.js';

const available = requirePrograms({ openssl: 'openssl' });
const IDENTITY = encodePskIdentity({ eid: EID, aid: ISD_R_AID, kvn: KVN, kid: KID });

interface Program {
  readonly child: ChildProcessWithoutNullStreams;
  out: string;
  readonly exited: Promise<number | null>;
}

function run(args: string[]): Program {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const p: Program = {
    child,
    out: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout.on('data', (d: Buffer) => {
    p.out += d.toString('latin1');
  });
  child.stderr.on('data', (d: Buffer) => {
    p.out += d.toString('latin1');
  });
  return p;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

let b: Bench | undefined;
const programs: Program[] = [];
afterEach(async () => {
  for (const p of programs.splice(0)) p.child.kill();
  await b?.close();
  b = undefined;
});

describe.skipIf(!available)('SCP81 PSK-TLS against openssl', () => {
  it('openssl s_server -psk -nocert accepts the card TLS client through the BIP relay', async () => {
    b = await bench();
    const port = await freePort();
    const server = run([
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-naccept',
      '1',
      '-nocert',
      '-tls1_2',
      '-cipher',
      'PSK-AES128-GCM-SHA256',
      '-psk',
      toHex(PSK),
      '-psk_identity',
      IDENTITY,
    ]);
    programs.push(server);
    await vi.waitFor(() => expect(server.out).toContain('ACCEPT'), { timeout: 10_000 });
    const ended = b.ended();
    b.push({ port });
    // The card's first POST arrives decrypted at s_server: the handshake completed with our PSK.
    await vi.waitFor(() => expect(server.out).toContain('X-Admin-Protocol'), { timeout: 10_000 });
    expect(server.out).toContain('POST /gp/ram HTTP/1.1');
    expect(server.out).toContain(`X-Admin-Protocol: ${ADMIN_PROTOCOL}`);
    expect(server.out).toContain(`X-Admin-From: ${adminFrom(EID, ISD_R_AID)}`);
    expect(server.out).toMatch(/PSK-AES128-GCM-SHA256/);
    // Nothing to do: 204 without X-Admin-Next-URI ends the session cleanly.
    server.child.stdin.write('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
    expect(await ended).toEqual({ ok: true, scripts: 0 });
  });

  const client = (port: number, psk: string, extra: string[] = [], cipher = 'PSK-AES128-GCM-SHA256') =>
    run([
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-tls1_2',
      '-cipher',
      cipher,
      '-psk',
      psk,
      '-psk_identity',
      IDENTITY,
      '-ign_eof',
      ...extra,
    ]);

  const post = (uri: string) =>
    `POST ${uri} HTTP/1.1\r\nHost: smsr\r\nX-Admin-Protocol: ${ADMIN_PROTOCOL}\r\n` +
    `X-Admin-From: ${adminFrom(EID, ISD_R_AID)}\r\nContent-Length: 0\r\n\r\n`;

  it('openssl s_client -psk completes a handshake with the SM-SR listener and gets a script', async () => {
    b = await bench();
    const queued = b.sessions.queue(EID, RFM_AID, [Uint8Array.of(0x00, 0xa4, 0x08, 0x04, 0x02, 0x2f, 0xe2)]);
    queued.catch(() => undefined);
    const c = client(b.listener.port, toHex(PSK));
    programs.push(c);
    await vi.waitFor(() => expect(c.out).toMatch(/Cipher is PSK-AES128-GCM-SHA256/), { timeout: 10_000 });
    c.child.stdin.write(post(b.sessions.adminUri));
    await vi.waitFor(() => expect(c.out).toContain('X-Admin-Next-URI'), { timeout: 10_000 });
    expect(c.out).toMatch(/HTTP\/1\.1 200/);
    expect(c.out).toContain('application/vnd.globalplatform.card-content-mgt;version=1.0');
    expect(c.out).toContain('X-Admin-Targeted-Application: //aid/A000000009/0003FFFFFFFF89B0000000');
  });

  it('the CBC suite SGP.02 also allows (PSK-AES128-CBC-SHA256) is offered too', async () => {
    b = await bench();
    const c = client(b.listener.port, toHex(PSK), [], 'PSK-AES128-CBC-SHA256');
    programs.push(c);
    // s_client's "New, …" line names the suite's first version (TLSv1.0 for CBC); the session says 1.2.
    await vi.waitFor(() => expect(c.out).toMatch(/Cipher is PSK-AES128-CBC-SHA256/), { timeout: 10_000 });
    await vi.waitFor(() => expect(c.out).toMatch(/Protocol\s*: TLSv1\.2/), { timeout: 10_000 });
    c.child.stdin.write(post(b.sessions.adminUri));
    await vi.waitFor(() => expect(c.out).toMatch(/HTTP\/1\.1 204/), { timeout: 10_000 });
  });

  it('openssl s_client with the wrong PSK gets no session', async () => {
    b = await bench();
    const c = client(b.listener.port, '00'.repeat(16));
    programs.push(c);
    c.child.stdin.end();
    const code = await c.exited;
    expect(code).not.toBe(0);
    // The server cannot verify the client's Finished under its key: bad_record_mac (alert 20).
    expect(c.out).toMatch(/alert bad record mac/);
    expect(c.out).not.toContain('X-Admin');
    expect(b.refused.length).toBeGreaterThan(0);
  });

  it('a saved session is not resumed', async () => {
    b = await bench();
    const dir = mkdtempSync(join(tmpdir(), 'scp81-'));
    try {
      const session = join(dir, 'session.pem');
      const first = client(b.listener.port, toHex(PSK), ['-sess_out', session]);
      programs.push(first);
      await vi.waitFor(() => expect(first.out).toMatch(/New, TLSv1\.2, Cipher is PSK-AES128-GCM-SHA256/), {
        timeout: 10_000,
      });
      first.child.kill();
      await first.exited;
      const second = client(b.listener.port, toHex(PSK), ['-sess_in', session]);
      programs.push(second);
      await vi.waitFor(() => expect(second.out).toMatch(/(New|Reused), TLSv1\.2/), { timeout: 10_000 });
      expect(second.out).toMatch(/New, TLSv1\.2, Cipher is PSK-AES128-GCM-SHA256/);
      expect(second.out).not.toMatch(/Reused, TLSv1\.2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

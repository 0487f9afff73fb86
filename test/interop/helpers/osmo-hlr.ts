// Debian's osmo-hlr (an independent HLR/AuC speaking GSUP) with a subscriber database of our
// choosing, on a loopback address of its own (all of 127/8 is loopback on Linux) so its fixed ports
// (GSUP 4222, VTY, CTRL) never collide with another test. Provisioning as in
// shared/reference/cellular.md §4.2: algo_id_3g 5 = MILENAGE with K and OPc.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface HlrSubscriber {
  readonly imsi: string;
  readonly msisdn?: string;
  /** Hex. */
  readonly k: string;
  readonly opc: string;
  readonly indBits?: number;
}

export interface OsmoHlr {
  readonly host: string;
  readonly port: number;
  log(): string;
  stop(): Promise<void>;
}

export async function startOsmoHlr(subscribers: readonly HlrSubscriber[]): Promise<OsmoHlr> {
  const host = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-osmo-hlr-'));
  const db = join(dir, 'hlr.db');
  execFileSync('osmo-hlr-db-tool', ['-l', db, 'create'], { stdio: 'ignore' });
  const sqlite = new Database(db);
  subscribers.forEach((s, i) => {
    sqlite
      .prepare('INSERT INTO subscriber (id, imsi, msisdn) VALUES (?, ?, ?)')
      .run(i + 1, s.imsi, s.msisdn ?? String(1000 + i));
    sqlite
      .prepare(
        'INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, opc, sqn, ind_bitlen) VALUES (?, 5, ?, ?, 0, ?)',
      )
      .run(i + 1, s.k, s.opc, s.indBits ?? 5);
  });
  sqlite.close();
  const config = join(dir, 'osmo-hlr.cfg');
  writeFileSync(
    config,
    [
      'log stderr',
      ' logging level main notice',
      'line vty',
      ` bind ${host}`,
      'ctrl',
      ` bind ${host}`,
      'hlr',
      ' gsup',
      `  bind ip ${host}`,
      '',
    ].join('\n'),
  );
  const hlr: ChildProcess = spawn('osmo-hlr', ['-c', config, '-l', db, '-s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  hlr.stdout?.on('data', (d) => {
    log += String(d);
  });
  hlr.stderr?.on('data', (d) => {
    log += String(d);
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port: 4222 }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || hlr.exitCode !== null)
      throw new Error(`osmo-hlr did not listen on ${host}:4222\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    port: 4222,
    log: () => log,
    async stop() {
      if (hlr.exitCode === null && hlr.signalCode === null) {
        const exited = new Promise((r) => hlr.once('exit', r));
        hlr.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

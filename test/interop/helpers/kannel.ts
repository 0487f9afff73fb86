// Kannel on loopback for interop tests: bearerbox (its SMSC side an SMPP transceiver bound to the
// test's SMS centre) and smsbox (the sendsms HTTP interface), with a generated kannel.conf on free
// ports in a temporary directory. Both processes are stopped by their pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../servers/gateway/fixture.js';

export interface Kannel {
  /** smsbox's sendsms URL. */
  readonly sendsmsUrl: string;
  readonly username: string;
  readonly password: string;
  readonly dir: string;
  logs(): string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, name: string, dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode}: ${readLog(join(dir, `${name}.log`))}`);
    }
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${name} did not listen on ${port}`);
}

const readLog = (path: string) => {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch {
    return '';
  }
};

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startKannel(smsc: {
  port: number;
  systemId: string;
  password: string;
}): Promise<Kannel> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-kannel-'));
  const [adminPort, boxPort, sendsmsPort] = [await freePort(), await freePort(), await freePort()];
  const username = 'simtrust';
  const password = 'sendsms-secret';
  writeFileSync(
    join(dir, 'kannel.conf'),
    `group = core
admin-port = ${adminPort}
admin-interface = 127.0.0.1
admin-password = admin-secret
smsbox-port = ${boxPort}
box-allow-ip = 127.0.0.1
log-file = "${join(dir, 'bearerbox.log')}"
log-level = 0
store-type = file
store-location = "${join(dir, 'store')}"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = lab
host = 127.0.0.1
port = ${smsc.port}
transceiver-mode = true
smsc-username = ${smsc.systemId}
smsc-password = ${smsc.password}
system-type = ""
enquire-link-interval = 30
reconnect-delay = 1
msg-id-type = 0x03

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${boxPort}
sendsms-port = ${sendsmsPort}
sendsms-interface = 127.0.0.1
log-file = "${join(dir, 'smsbox.log')}"
log-level = 0

group = sendsms-user
username = ${username}
password = ${password}
concatenation = true
max-messages = 10
`,
  );
  const conf = join(dir, 'kannel.conf');
  const bearerbox = spawn('bearerbox', [conf], { cwd: dir, stdio: 'ignore' });
  await waitForPort(adminPort, bearerbox, 'bearerbox', dir);
  const smsbox = spawn('smsbox', [conf], { cwd: dir, stdio: 'ignore' });
  try {
    await waitForPort(sendsmsPort, smsbox, 'smsbox', dir);
  } catch (e) {
    await stop(bearerbox);
    throw e;
  }
  return {
    sendsmsUrl: `http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms`,
    username,
    password,
    dir,
    logs: () => `${readLog(join(dir, 'bearerbox.log'))}\n---\n${readLog(join(dir, 'smsbox.log'))}`,
    async stop() {
      await stop(smsbox);
      await stop(bearerbox);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

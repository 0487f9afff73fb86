// A private Mosquitto for one test file: its own config in a temporary directory, a CA and server
// and client certificates made with the openssl command, a password file made with
// mosquitto_passwd, and three listeners on free loopback ports — TLS with password, TLS with
// password and a required client certificate, and plain TCP with password (for a test's own
// subscriber). Started and stopped by the test; restart() keeps its ports, so a broker restart can
// be part of a test.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../servers/gateway/fixture.js';

export interface Mosquitto {
  /** TLS, username and password. */
  readonly tlsPort: number;
  /** TLS, username and password, and a client certificate signed by `ca`. */
  readonly mtlsPort: number;
  /** Plain TCP, username and password. */
  readonly plainPort: number;
  /** PEM of the CA that signed the server and client certificates. */
  readonly ca: string;
  /** A client certificate and key (PEM) the mTLS listener accepts. */
  readonly clientCert: string;
  readonly clientKey: string;
  readonly username: string;
  readonly password: string;
  /** Everything Mosquitto logged so far. */
  logs(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all EC P-256. */
function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=simtrust test CA',
  ]);
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'beam-client'],
  ] as const) {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  }
  // PKCS#8, the form node:crypto and the credential sets read without a second thought.
  openssl(dir, ['pkcs8', '-topk8', '-nocrypt', '-in', 'client.key', '-out', 'client.pk8']);
}

export async function startMosquitto(options: { logTypes?: readonly string[] } = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-mosquitto-'));
  makeCertificates(dir);
  const username = 'beam-upstream';
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  execFileSync('mosquitto_passwd', ['-c', '-b', join(dir, 'passwd'), username, password], { stdio: 'pipe' });
  const [tlsPort, mtlsPort, plainPort] = [await freePort(), await freePort(), await freePort()];
  const tls = (requireCertificate: boolean) =>
    [
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      `require_certificate ${requireCertificate}`,
    ].join('\n');
  const auth = `allow_anonymous false\npassword_file ${join(dir, 'passwd')}`;
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      // Run as root (CI), Mosquitto would switch to its own user, which cannot read this directory.
      `user ${userInfo().username}`,
      'per_listener_settings true',
      'persistence false',
      'log_dest stderr',
      ...(options.logTypes ?? ['all']).map((t) => `log_type ${t}`),
      'connection_messages true',
      `listener ${tlsPort} 127.0.0.1`,
      tls(false),
      auth,
      `listener ${mtlsPort} 127.0.0.1`,
      tls(true),
      auth,
      `listener ${plainPort} 127.0.0.1`,
      auth,
      '',
    ].join('\n'),
  );
  let output = '';
  let child: ChildProcess | undefined;
  const run = async () => {
    const started = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`mosquitto did not start:\n${output.slice(-3000)}`)),
        15_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/mosquitto version \S+ running/.test(output.slice(-2000))) {
          clearTimeout(timer);
          resolve();
        }
      };
      started.stdout?.on('data', onData);
      started.stderr?.on('data', onData);
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited with ${code}:\n${output.slice(-3000)}`));
      });
    });
    // Keep reading, so the log stays available and the pipe never fills.
  };
  const stopChild = () =>
    new Promise<void>((resolve) => {
      const c = child;
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill('SIGTERM');
    });
  await run();
  return {
    tlsPort,
    mtlsPort,
    plainPort,
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    clientCert: readFileSync(join(dir, 'client.pem'), 'utf8'),
    clientKey: readFileSync(join(dir, 'client.pk8'), 'utf8'),
    username,
    password,
    logs: () => output,
    async restart() {
      await stopChild();
      await run();
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

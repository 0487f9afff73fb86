// Brokers of Funnel's interop tests, each started by the test on free loopback ports with its state
// in a temporary directory, so that a test can restart it mid-load without touching anything else
// on the machine (every process is started here and stopped by its PID):
//
//   RabbitMQ   a node of its own (rabbitmq-server with its own node name, port and Mnesia
//              directory) for the restart test; the machine's broker at :5672 for the rest, with a
//              virtual host and users made per test (rabbitmqctl) and deleted afterwards
//   NATS       nats-server -js with a store directory and users (one may not publish devices.>)
//   Mosquitto  persistence on (a graceful stop saves the queued messages of persistent sessions),
//              password file, and an ACL (one user may not publish under funnel/)

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../servers/gateway/fixture.js';

const execFileAsync = promisify(execFile);

export interface Broker {
  readonly port: number;
  /** Stops the broker gracefully (its state kept) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops it gracefully, its state kept; `up` starts it again. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

/** A child process whose output is kept, started when `ready` appears in it. */
async function run(
  command: string,
  args: readonly string[],
  ready: RegExp,
  env?: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; output: () => string }> {
  let output = '';
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} did not start in 60 s:\n${output.slice(-3000)}`)),
      60_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
  return { child, output: () => output };
}

/** SIGTERM (the broker saves its state), SIGKILL after 20 s; resolves when it has exited. */
function stopChild(c: ChildProcess | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return resolve();
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

// --- NATS

export interface Nats extends Broker {
  /** May publish and subscribe to everything. */
  readonly user: { readonly name: string; readonly password: string };
  /** May not publish to devices.> (the permission-refused path). */
  readonly limited: { readonly name: string; readonly password: string };
}

export async function startNats(): Promise<Nats> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-funnel-nats-'));
  const port = await freePort();
  const user = { name: 'funnel', password: randomBytes(12).toString('hex') };
  const limited = { name: 'limited', password: randomBytes(12).toString('hex') };
  writeFileSync(
    join(dir, 'nats.conf'),
    [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${join(dir, 'store')}" }`,
      'authorization {',
      '  users = [',
      `    { user: "${user.name}", password: "${user.password}" }`,
      `    { user: "${limited.name}", password: "${limited.password}", permissions: { publish: { deny: ["devices.>"] } } }`,
      '  ]',
      '}',
      '',
    ].join('\n'),
  );
  const start = () => run('nats-server', ['-c', join(dir, 'nats.conf')], /Server is ready/);
  let proc = await start();
  return {
    port,
    user,
    limited,
    logs: () => proc.output(),
    down: () => stopChild(proc.child),
    async up() {
      proc = await start();
    },
    async restart() {
      await stopChild(proc.child);
      proc = await start();
    },
    async stop() {
      await stopChild(proc.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- Mosquitto

export interface MosquittoBroker extends Broker {
  readonly user: { readonly name: string; readonly password: string };
  /** May read but not write under funnel/ (ACL). */
  readonly reader: { readonly name: string; readonly password: string };
}

export async function startPersistentMosquitto(): Promise<MosquittoBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-funnel-mosquitto-'));
  const port = await freePort();
  const user = { name: 'funnel', password: randomBytes(12).toString('hex') };
  const reader = { name: 'reader', password: randomBytes(12).toString('hex') };
  const passwd = join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, user.name, user.password], { stdio: 'pipe' });
  execFileSync('mosquitto_passwd', ['-b', passwd, reader.name, reader.password], { stdio: 'pipe' });
  writeFileSync(
    join(dir, 'acl'),
    [`user ${user.name}`, 'topic readwrite #', `user ${reader.name}`, 'topic read funnel/#', ''].join('\n'),
  );
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      // Run as root (CI), Mosquitto would switch to its own user, which cannot read this directory.
      `user ${userInfo().username}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${join(dir, 'acl')}`,
      'max_queued_messages 100000',
      '',
    ].join('\n'),
  );
  const start = () =>
    run('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], /mosquitto version \S+ running/);
  let proc = await start();
  return {
    port,
    user,
    reader,
    logs: () => proc.output(),
    down: () => stopChild(proc.child),
    async up() {
      proc = await start();
    },
    async restart() {
      await stopChild(proc.child);
      proc = await start();
    },
    async stop() {
      await stopChild(proc.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- RabbitMQ

/** rabbitmqctl against the machine's node (or `node`). */
export async function rabbitmqctl(args: readonly string[], node?: string): Promise<string> {
  const { stdout } = await execFileAsync('rabbitmqctl', [...(node ? ['-n', node] : []), ...args], {
    timeout: 60_000,
  });
  return stdout;
}

export interface RabbitVhost {
  readonly vhost: string;
  /** May configure, write and read everything in the vhost. */
  readonly user: { readonly name: string; readonly password: string };
  /** May read only (the publish-refused path). */
  readonly reader: { readonly name: string; readonly password: string };
  remove(): Promise<void>;
}

/** A virtual host and two users of its own on a RabbitMQ node (the machine's by default). */
export async function rabbitVhost(node?: string): Promise<RabbitVhost> {
  const tag = randomBytes(4).toString('hex');
  const vhost = `simtrust-funnel-${tag}`;
  const user = { name: `funnel-${tag}`, password: randomBytes(12).toString('hex') };
  const reader = { name: `reader-${tag}`, password: randomBytes(12).toString('hex') };
  await rabbitmqctl(['add_vhost', vhost], node);
  for (const [u, perms] of [
    [user, ['.*', '.*', '.*']],
    [reader, ['^$', '^$', '.*']],
  ] as const) {
    await rabbitmqctl(['add_user', u.name, u.password], node);
    await rabbitmqctl(['set_permissions', '-p', vhost, u.name, ...perms], node);
  }
  return {
    vhost,
    user,
    reader,
    async remove() {
      await rabbitmqctl(['delete_vhost', vhost], node).catch(() => undefined);
      for (const u of [user, reader]) await rabbitmqctl(['delete_user', u.name], node).catch(() => undefined);
    },
  };
}

export interface RabbitNode extends Broker {
  readonly node: string;
}

/**
 * A RabbitMQ node of its own: node name, AMQP and distribution ports, Mnesia and logs in a
 * temporary directory (owned by the rabbitmq user, as rabbitmq-server runs as that user).
 */
export async function startRabbitNode(): Promise<RabbitNode> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-funnel-rabbit-'));
  const tag = randomBytes(4).toString('hex');
  const node = `simtrust-funnel-${tag}@localhost`;
  const [port, distPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  mkdirSync(join(dir, 'mnesia'));
  mkdirSync(join(dir, 'log'));
  if (userInfo().uid === 0) {
    const ids = execFileSync('id', ['-u', 'rabbitmq']).toString().trim();
    const gid = execFileSync('id', ['-g', 'rabbitmq']).toString().trim();
    for (const p of ['', 'rabbitmq.conf', 'enabled_plugins', 'mnesia', 'log'])
      chownSync(join(dir, p), Number(ids), Number(gid));
  }
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
  };
  const start = () => run('rabbitmq-server', [], /Starting broker\.\.\. completed/, env);
  let proc = await start();
  const stop = async () => {
    // rabbitmqctl stop lets the node write its queues and message store, as a service stop does.
    await rabbitmqctl(['stop'], node).catch(() => undefined);
    await stopChild(proc.child);
  };
  return {
    port,
    node,
    logs: () => proc.output(),
    down: stop,
    async up() {
      proc = await start();
    },
    async restart() {
      await stop();
      proc = await start();
    },
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

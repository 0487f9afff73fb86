// Private Linux namespaces for interop tests (we run as root; cellular.md §3.2): daemons that bind
// fixed ports on INADDR_ANY (hostapd, vpcd) or fixed socket paths (pcscd's /run/pcscd) get their
// own network (and mount) namespace, so parallel test files never collide and nothing leaks onto
// the host. A `sleep` process holds the namespaces; programs join them with nsenter. Every process
// started here is tracked and killed by PID in `stop()`.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface NamespaceOptions {
  /** Also a private mount namespace with a tmpfs on each of these directories. */
  readonly tmpfs?: readonly string[];
}

export interface Spawned {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far (for assertions and failure messages). */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first. */
  waitFor(pattern: RegExp, what: string): Promise<RegExpMatchArray>;
}

export interface Namespace {
  readonly pid: number;
  /** Start a long-running program inside the namespace (killed by `stop`). */
  spawn(
    command: string,
    args: readonly string[],
    options?: { cwd?: string; env?: NodeJS.ProcessEnv },
  ): Spawned;
  /** Run a program inside the namespace to completion. */
  run(
    command: string,
    args: readonly string[],
    options?: { cwd?: string; timeoutMs?: number },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

function track(child: ChildProcess): Spawned {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return {
    child,
    output: () => text,
    waitFor(pattern, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          }
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`${what}: process exited (${code}) before ${pattern}\n${text}`));
        };
        const cleanup = () => {
          child.stdout?.off('data', check);
          child.stderr?.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout?.on('data', check);
        child.stderr?.on('data', check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

export async function startNamespace(options: NamespaceOptions = {}): Promise<Namespace> {
  const mounts = (options.tmpfs ?? [])
    .map((dir) => `mkdir -p ${dir} && mount -t tmpfs tmpfs ${dir} && `)
    .join('');
  const flags = options.tmpfs?.length ? ['-m', '--propagation', 'private', '-n'] : ['-n'];
  const holder = spawn(
    'unshare',
    [...flags, 'sh', '-c', `${mounts}ip link set lo up && echo ready && exec sleep infinity`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const tracked = track(holder);
  await tracked.waitFor(/ready/, 'namespace');
  const pid = holder.pid as number;
  const enter = options.tmpfs?.length ? ['-m', '-n'] : ['-n'];
  const children: ChildProcess[] = [];

  return {
    pid,
    spawn(command, args, o = {}) {
      const cwd = o.cwd ?? process.cwd();
      const child = spawn('nsenter', ['-t', String(pid), ...enter, `--wd=${cwd}`, command, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: o.env ?? process.env,
      });
      children.push(child);
      return track(child);
    },
    async run(command, args, o = {}) {
      const cwd = o.cwd ?? process.cwd();
      try {
        const { stdout, stderr } = await execFileAsync(
          'nsenter',
          ['-t', String(pid), ...enter, `--wd=${cwd}`, command, ...args],
          { timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
        );
        return { code: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return {
          code: typeof err.code === 'number' ? err.code : 1,
          stdout: err.stdout ?? '',
          stderr: err.stderr ?? '',
        };
      }
    },
    async stop() {
      for (const child of children.reverse()) await killAndWait(child);
      await killAndWait(holder);
    },
  };
}

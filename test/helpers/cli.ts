// Runs the real `simtrust` bin in a child process (as a user would), and can start `simtrust serve`
// as a separate process that tests may kill.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createOperator } from '../../src/platform/iam/operators.js';
import { openStore } from '../../src/platform/store/database.js';

export const BIN = resolve('bin/simtrust.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A HOME of its own, so profiles written by one test never leak into another. */
export const tempHome = () => mkdtempSync(join(tmpdir(), 'simtrust-home-'));

export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: env.HOME ?? tempHome(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** The RADIUS listeners' UDP ports (when radiusEnabled). */
  readonly radius?: { readonly authPort: number; readonly acctPort: number };
  /** The GSUP listener's TCP port (when SIMTRUST_GSUP_PORT is set). */
  readonly gsup?: { readonly port: number };
  /** The eSIM roles' listeners (with SIMTRUST_ESIM_OPERATOR_ID): SOAP URL and SCP81 port when on. */
  readonly esim?: { readonly soapUrl?: string; readonly scp81Port?: number };
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `simtrust serve` on a free port and resolves once it logs its URL. */
export function startServeProcess(env: Record<string, string>): Promise<ServerProcess> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--http-port', '0'], {
      // Every listener on a free port, so test files running side by side never collide.
      env: {
        PATH: process.env.PATH,
        HOME: tempHome(),
        SIMTRUST_LOG_LEVEL: 'info',
        SIMTRUST_DEVICE_HTTP_PORT: '0',
        SIMTRUST_RADIUS_AUTH_PORT: '0',
        SIMTRUST_RADIUS_ACCT_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    // Generous: a start runs the TypeScript sources through tsx, which took 25 s at load 16 on the
    // shared 2-core machine (a 30 s bound failed there now and then).
    const timer = setTimeout(() => {
      // Never leave a half-started server behind.
      child.kill('SIGKILL');
      fail(new Error(`serve did not start within 120 s: ${stderr}`));
    }, 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const started = JSON.parse(line) as {
        apiUrl?: string;
        radiusAuthPort?: number;
        radiusAcctPort?: number;
        gsupPort?: number;
        esimSoapUrl?: string;
        esimScp81Port?: number;
      };
      const apiUrl = started.apiUrl;
      if (apiUrl === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      done({
        child,
        apiUrl,
        ...(started.radiusAuthPort !== undefined && started.radiusAcctPort !== undefined
          ? { radius: { authPort: started.radiusAuthPort, acctPort: started.radiusAcctPort } }
          : {}),
        ...(started.gsupPort !== undefined ? { gsup: { port: started.gsupPort } } : {}),
        ...(started.esimSoapUrl !== undefined || started.esimScp81Port !== undefined
          ? {
              esim: {
                ...(started.esimSoapUrl === undefined ? {} : { soapUrl: started.esimSoapUrl }),
                ...(started.esimScp81Port === undefined ? {} : { scp81Port: started.esimScp81Port }),
              },
            }
          : {}),
        stop: (signal = 'SIGTERM') =>
          new Promise((stopped) => {
            if (child.exitCode !== null || child.signalCode !== null) return stopped();
            child.once('exit', () => stopped());
            child.kill(signal);
          }),
      });
    });
  });
}

/**
 * `simtrust up --demo` in `cwd` (ports picked by the system), resolved once it printed its screen;
 * `stop` sends Ctrl-C and resolves with the exit code and everything it printed.
 */
export function startDemo(
  cwd: string,
  /** Further `up` flags, e.g. ['--demo-theft-seconds', '6']. */
  args: readonly string[] = [],
): Promise<{ screen: string; stop: () => Promise<{ code: number | null; out: string }> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'up',
        '--demo',
        '--http-port',
        '0',
        '--device-http-port',
        '0',
        '--radius-auth-port',
        '0',
        '--radius-acct-port',
        '0',
        ...args,
      ],
      {
        cwd,
        env: { PATH: process.env.PATH, HOME: cwd },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Press Ctrl-C to stop.')) {
        resolve({
          screen: out,
          stop: async () => {
            child.kill('SIGINT');
            return { code: await exited, out };
          },
        });
      }
    });
    exited.then((code) => reject(new Error(`up --demo exited ${code}: ${out}${err}`)));
  });
}

/** An operator created directly in a served database (as `simtrust admin operators create` does). */
export async function seedOperator(databaseUrl: string, email: string, password: string): Promise<void> {
  const store = await openStore(databaseUrl, { migrate: false });
  try {
    await createOperator(store, { now: () => Date.now() }, { email, password });
  } finally {
    await store.close();
  }
}

/** The API token of a password login (POST /v1/auth). */
export async function loginToken(apiUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${apiUrl}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200)
    throw new Error(`login as ${email}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

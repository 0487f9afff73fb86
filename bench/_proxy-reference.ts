// References for proxy benchmarks (gateway, beam): the load profile of a URL (maximum rate, then
// latency at half of it) and the least proxy Node can run, each in a process of its own, so every
// proxy under test is measured beside the runtime's ceiling in the same run.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { freePort, latencyAtRate, load } from './_support.js';

export const hasWrk = await new Promise<boolean>((r) =>
  execFile('wrk', ['--version'], (e) => r(e === null || e.code === 1)),
);

/** wrk's maximum rate with 10 connections (1 thread), or undefined without wrk. */
function wrkMax(url: string, headers: Record<string, string>, seconds: number): Promise<number | undefined> {
  if (!hasWrk) return Promise.resolve(undefined);
  const args = [
    '-t1',
    '-c10',
    `-d${seconds}s`,
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    url,
  ];
  return new Promise((resolve, reject) =>
    execFile('wrk', args, (e, stdout) => {
      if (e) return reject(e);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1];
      if (non2xx !== undefined) return reject(new Error(`wrk: ${non2xx} error responses from ${url}`));
      resolve(rps === undefined ? undefined : Number(rps));
    }),
  );
}

/** The maximum rate with 10 connections (wrk when installed, else autocannon) and the failed answers. */
export async function maxRate(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<{ rps: number; errors: number }> {
  const viaWrk = await wrkMax(url, headers, seconds);
  if (viaWrk !== undefined) return { rps: viaWrk, errors: 0 };
  const r = await load(url, headers, { seconds });
  return { rps: r.rps, errors: r.errors };
}

/**
 * Maximum rate (10 connections; wrk when installed, whose load generator takes far less CPU than
 * autocannon on a small machine, else autocannon), then p50/p99 at half of it (latency without
 * queueing, evenly spaced, open loop).
 */
export async function profile(url: string, headers: Record<string, string>, seconds: number) {
  const closed = hasWrk ? undefined : await load(url, headers, { seconds });
  const max = (await wrkMax(url, headers, seconds)) ?? (closed as { rps: number }).rps;
  const half = await latencyAtRate(url, headers, max / 2, seconds);
  return {
    maxRps: max,
    p50: half.p50,
    p99: half.p99,
    senderLateP99: half.senderLateP99,
    /** Failed or non-2xx answers at half rate. */
    errors: half.errors,
    /** The same during the maximum-rate run (autocannon only; wrk refuses non-2xx itself). */
    maxErrors: closed?.errors ?? 0,
  };
}

/** A Node program (`code`, CommonJS, told its port as PORT) in its own process; resolves once it listens. */
export async function startProcess(code: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', `const PORT = ${port};\n${code}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: process.cwd(),
  });
  await new Promise<void>((r) => child.stdout?.once('data', () => r()));
  return { url: `http://127.0.0.1:${port}`, child };
}

export const ready = "() => process.stdout.write('ready\\n')";

/**
 * The least a Node reverse proxy can do: node:http in, one undici pool out (the client the library
 * uses), no routing, no header rules, no error pages. Its rate is the ceiling for any proxy written
 * in Node on this machine. `ca`: the PEM an HTTPS upstream's certificate chains to.
 */
export const startMinimalProxy = (upstream: string, options: { ca?: string } = {}) =>
  startProcess(`
    const pool = new (require('undici').Pool)(${JSON.stringify(upstream)}, {
      connections: 64,
      ${options.ca ? `connect: { ca: ${JSON.stringify(options.ca)} },` : ''}
    });
    require('node:http').createServer(async (req, res) => {
      try {
        const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
        const r = await pool.request({ method: req.method, path: req.url, headers: req.headers, body });
        res.writeHead(r.statusCode, r.headers);
        r.body.pipe(res);
      } catch {
        res.writeHead(502).end();
      }
    }).listen(PORT, '127.0.0.1', ${ready});`);

/** Stops a process started here (SIGTERM), resolving when it has exited. */
export const stopProcess = (child: ChildProcess) =>
  new Promise<void>((r) => {
    if (child.exitCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });

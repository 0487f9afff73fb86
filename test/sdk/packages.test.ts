// The published shape of the verifier SDK (issue 11, item 2): both packages are packed with
// `npm pack` (which builds them) from a copy of the repository's sources, installed from the
// tarballs into a fresh project, and used the way an adopter would — plain Node ESM, CommonJS
// `require`, a TypeScript consumer, the installed CLI.
// jose and the platform's dependencies come from the npm cache (--prefer-offline); the platform's
// install scripts are skipped (better-sqlite3 is not needed to verify tokens or print help).

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENDORSE_CONFIG } from '../../src/platform/endorse/config.js';
import { jwkThumbprint, publicJwk } from '../../src/platform/endorse/rfc-7515-jws.js';
import { compatKidOf } from '../../src/platform/endorse/signing-keys.js';
import { issueToken, nativeProfile } from '../../src/platform/endorse/tokens.js';

const REPO = resolve('.');
const TSC = join(REPO, 'node_modules/.bin/tsc');
const OPERATOR = 'OP0000000001';
const identity = { simId: 'sim-1', imsi: '001010000000001', imei: '490154203237518', msisdn: '819000000001' };

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Runs and requires exit 0; the failure shows what the program said. */
async function ok(command: string, args: readonly string[], cwd: string): Promise<string> {
  const r = await run(command, args, cwd);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) => child.once('close', (code) => r(code)));

interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

const tmp = mkdtempSync(join(tmpdir(), 'simtrust-pack-'));
const consumer = join(tmp, 'consumer');
let root: Packed;
let verify: Packed;
let jwks: Server;
let jwksUrl = '';
let token = '';

/**
 * The repository's sources, copied: `npm pack` builds (and first empties dist/, packages/verify/dist/
 * and web/dist/), which must not pull the build from under test files running beside this one.
 */
const work = join(tmp, 'repository');
const NOT_COPIED =
  /^(\.git|node_modules|data|coverage|\.tmp|test|bench)(\/|$)|(^|\/)(dist|node_modules)(\/|$)/;

async function pack(args: readonly string[]): Promise<Packed> {
  const out = await ok('npm', ['pack', '--json', '--pack-destination', tmp, ...args], work);
  // Lifecycle scripts (the build) print before the JSON document.
  const [packed] = JSON.parse(out.slice(out.indexOf('\n[') + 1)) as Packed[];
  if (packed === undefined) throw new Error(`npm pack said: ${out}`);
  return packed;
}

beforeAll(async () => {
  cpSync(REPO, work, { recursive: true, filter: (path) => !NOT_COPIED.test(relative(REPO, path)) });
  symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'));
  // `npm pack` runs `prepare` (root) and `prepack` (workspace): both build before packing.
  root = await pack([]);
  verify = await pack(['--workspace', '@simtrust/verify']);
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await ok(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--ignore-scripts',
      join(tmp, verify.filename),
      join(tmp, root.filename),
    ],
    consumer,
  );

  // A real token of the platform's issuer, and its key set served over HTTP.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = jwkThumbprint('RS256', publicJwk(publicKey));
  const published = { keys: [{ ...publicJwk(publicKey), kid, alg: 'RS256', use: 'sig' }] };
  jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(published));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  token = (
    await issueToken({
      identity,
      operatorId: OPERATOR,
      config: { ...DEFAULT_ENDORSE_CONFIG, enabled: true },
      profile: nativeProfile('simtrust', 'simtrust-endorse-audience'),
      key: { kid, compatKid: compatKidOf(kid), alg: 'RS256', privateKey },
      proof: 'session',
      requestParameters: undefined,
      nowMs: Date.now(),
    })
  ).token;
}, 600_000);

afterAll(async () => {
  await new Promise((r) => jwks?.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack of simtrust and @simtrust/verify', () => {
  it('the tarballs hold compiled JavaScript with declarations, and no tests, data or sources', () => {
    const rootFiles = root.files.map((f) => f.path);
    for (const f of [
      'bin/simtrust.js',
      'dist/cli/main.js',
      'dist/sdk/index.js',
      'dist/sdk/index.d.ts',
      'dist/sdk/verify.js',
      'dist/sdk/verify.d.ts',
      'dist/sdk/verify-express.d.ts',
      'dist/sdk/verify-fastify.d.ts',
      'web/dist/index.html',
    ]) {
      expect(rootFiles).toContain(f);
    }
    const stray = rootFiles.filter(
      (f) =>
        !/^(package\.json|README\.md|LICENSE|bin\/simtrust\.js)$/.test(f) &&
        !/^dist\/.+\.(js|d\.ts)$/.test(f) &&
        // The operator console's build, which the platform serves at /console/ (text files also
        // precompressed, .br and .gz beside them).
        !/^web\/dist\/(index\.html(\.br|\.gz)?|assets\/[\w.-]+)$/.test(f),
    );
    expect(stray).toEqual([]);
    expect(
      verify.files
        .map((f) => f.path)
        .filter((f) => !/^(README\.md|package\.json)$/.test(f))
        .sort(),
    ).toEqual(
      ['express', 'fastify', 'index']
        .flatMap((m) => [
          `dist/${m}.d.ts`,
          `dist/${m}.d.ts.map`,
          `dist/${m}.js`,
          `dist/${m}.js.map`,
          `src/${m}.ts`,
        ])
        .sort(),
    );
    // The verifier needs jose and nothing heavy; the web frameworks are optional peers.
    const manifest = JSON.parse(
      readFileSync(join(consumer, 'node_modules/@simtrust/verify/package.json'), 'utf8'),
    );
    expect(manifest.dependencies).toEqual({ jose: expect.any(String) });
    expect(Object.keys(manifest.peerDependenciesMeta)).toEqual(['express', 'fastify']);
  });

  it('plain Node ESM imports both names (one module) and verifies a real token', async () => {
    writeFileSync(
      join(consumer, 'esm.mjs'),
      `import { createVerifier, SimTokenError } from '@simtrust/verify';
import * as reexported from 'simtrust/verify';
import { requireSimToken as express } from '@simtrust/verify/express';
import { requireSimToken as fastify } from 'simtrust/verify/fastify';
import { createClient } from 'simtrust/sdk';
const [jwksUrl, token, tampered] = process.argv.slice(2);
const verifier = createVerifier({ jwksUrl, issuer: 'simtrust', audience: 'simtrust-endorse-audience' });
const { sim, amr } = await verifier.verify(token);
const refused = await verifier.verify(tampered).catch((e) => e);
console.log(JSON.stringify({
  sim, amr, refused: refused instanceof reexported.SimTokenError ? refused.code : String(refused),
  same: reexported.createVerifier === createVerifier && reexported.SimTokenError === SimTokenError,
  middleware: [typeof express, typeof fastify, typeof createClient],
}));
`,
    );
    // One character of the signature changed.
    const at = token.length - 10;
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    const out = JSON.parse(await ok('node', ['esm.mjs', jwksUrl, token, tampered], consumer));
    expect(out).toEqual({
      sim: { operatorId: OPERATOR, imsi: identity.imsi, imei: identity.imei },
      amr: ['sim-session'],
      refused: 'TOKEN_SIGNATURE_INVALID',
      same: true,
      middleware: ['function', 'function', 'function'],
    });
  });

  it('CommonJS require() loads it (Node ≥ 20.19 loads ES modules from require)', async () => {
    writeFileSync(
      join(consumer, 'cjs.cjs'),
      `const { createVerifier } = require('@simtrust/verify');
const { requireSimToken } = require('@simtrust/verify/express');
const [jwksUrl, token] = process.argv.slice(2);
createVerifier({ jwksUrl, issuer: 'simtrust', audience: 'simtrust-endorse-audience' })
  .verify(token)
  .then((t) => console.log(JSON.stringify({ imsi: t.sim.imsi, middleware: typeof requireSimToken })));
`,
    );
    expect(JSON.parse(await ok('node', ['cjs.cjs', jwksUrl, token], consumer))).toEqual({
      imsi: identity.imsi,
      middleware: 'function',
    });
  });

  it('a TypeScript consumer type-checks, and misuse is a type error (the types are not any)', async () => {
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          typeRoots: [join(REPO, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['consumer.mts'],
      }),
    );
    writeFileSync(
      join(consumer, 'consumer.mts'),
      `import { createVerifier, type SimToken, SimTokenError, type SimTokenErrorCode } from '@simtrust/verify';
import { requireSimToken } from '@simtrust/verify/fastify';
import * as platform from 'simtrust/verify';
import Fastify from 'fastify';

const verifier = createVerifier({ jwksUrl: new URL('http://127.0.0.1/jwks.json'), issuer: 'simtrust',
  audience: 'simtrust-endorse-audience', algorithms: ['ES256'], operatorId: 'OP0000000001' });
export async function imsiOf(jwt: string): Promise<string | undefined> {
  try {
    const t: SimToken = await verifier.verify(jwt);
    return t.sim.imsi;
  } catch (e) {
    if (e instanceof platform.SimTokenError) {
      const code: SimTokenErrorCode = e.code;
      return code;
    }
    throw e;
  }
}
const app = Fastify();
app.get('/', { preHandler: requireSimToken({ verifier, allow: [{ imsi: '001010000000001' }] }) },
  async (request) => ({ operator: request.simToken?.sim.operatorId }));
// @ts-expect-error HS256 is not a SIM token algorithm
createVerifier({ keys: { keys: [] }, issuer: 'i', audience: 'a', algorithms: ['HS256'] });
// @ts-expect-error the audience is required
createVerifier({ keys: { keys: [] }, issuer: 'i' });
// @ts-expect-error codes are a closed set
const wrong: SimTokenErrorCode = 'TOKEN_WHATEVER';
export { app, wrong, SimTokenError };
`,
    );
    await ok(TSC, ['-p', join(consumer, 'tsconfig.json')], consumer);
  });

  it('the installed CLI runs compiled code without tsx and exits quietly on a closed pipe (issue 11)', async () => {
    expect(existsSync(join(consumer, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules/simtrust/src'))).toBe(false);
    const bin = join(consumer, 'node_modules/simtrust/bin/simtrust.js');
    expect(await ok('node', [bin, '--version'], consumer)).toBe('0.1.0\n');
    const child = spawn('node', [bin, 'sims', '--help'], {
      cwd: consumer,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // The reader goes away before the CLI writes its help: the write fails with EPIPE.
    child.stdout.destroy();
    expect([await exited(child), stderr]).toEqual([0, '']);
  });
});

describe('the examples’ “by hand” snippets', () => {
  it('type-check as written, saved at the repository root', async () => {
    // The snippets import ./examples/… from the repository root: a directory whose examples/ and
    // node_modules/ are the repository's stands in for it.
    const dir = join(tmp, 'snippets');
    mkdirSync(dir);
    symlinkSync(join(REPO, 'examples'), join(dir, 'examples'));
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(REPO, 'tsconfig.json'), include: ['*.ts'] }),
    );
    const saved: string[] = [];
    for (const example of ['business-login', 'wifi-offload']) {
      const readme = readFileSync(join(REPO, 'examples', example, 'README.md'), 'utf8');
      const m = /save this as `([\w-]+\.ts)`\s+at the repository root[\s\S]*?```ts\n([\s\S]*?)```/.exec(
        readme,
      );
      expect(m, `${example}/README.md names the file and shows the snippet`).not.toBeNull();
      const [, name = '', code = ''] = m ?? [];
      expect(readme).toContain(`npx tsx ${name}`);
      writeFileSync(join(dir, name), code);
      saved.push(name);
    }
    expect(saved).toEqual(['login.ts', 'offload.ts']);
    await ok(TSC, ['-p', join(dir, 'tsconfig.json')], dir);
  });
});

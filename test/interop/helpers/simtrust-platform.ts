// A real `simtrust serve` process for interop tests, set up the way an operator would: an operator
// created with `simtrust admin`, then everything else through the CLI and the API (NAS clients,
// SIM import). Its listeners take free ports; the GSUP listener on request.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, runCli, type ServerProcess, startServeProcess } from '../../helpers/cli.js';
import { freshDatabaseUrl } from '../../helpers/database.js';

export interface SimtrustProcess {
  readonly server: ServerProcess;
  readonly radius: { readonly authPort: number; readonly acctPort: number };
  readonly gsupPort: number | undefined;
  readonly dir: string;
  /** The test operator's login. */
  readonly email: string;
  readonly password: string;
  /** `simtrust …` logged in as the test operator (SIMTRUST_ENDPOINT/EMAIL/PASSWORD). */
  cli(args: string[]): Promise<CliResult>;
  /** Import card vendor CSV lines (`iccid,imsi,msisdn,ki,opc`) with `simtrust sims import`. */
  importSims(lines: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startSimtrust(
  o: { gsup?: boolean; env?: Record<string, string> } = {},
): Promise<SimtrustProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-interop-'));
  const { url, drop } = freshDatabaseUrl();
  const masterKey = randomBytes(32).toString('base64');
  const email = `interop-${randomBytes(3).toString('hex')}@example.com`;
  const password = 'interop-password-1';
  const created = await runCli(
    ['admin', 'operators', 'create', '--email', email, '--password', password, '--database-url', url],
    {
      SIMTRUST_MASTER_KEY: masterKey,
    },
  );
  if (created.code !== 0) throw new Error(`operator: ${created.stderr}`);
  const server = await startServeProcess({
    SIMTRUST_DATABASE_URL: url,
    SIMTRUST_MASTER_KEY: masterKey,
    SIMTRUST_DATA_DIR: dir,
    ...(o.gsup ? { SIMTRUST_GSUP_PORT: '0' } : {}),
    ...o.env,
  });
  if (server.radius === undefined) throw new Error('simtrust serve started no RADIUS listener');
  const env = { SIMTRUST_ENDPOINT: server.apiUrl, SIMTRUST_EMAIL: email, SIMTRUST_PASSWORD: password };
  const cli = (args: string[]) => runCli(args, env);
  let imports = 0;
  return {
    server,
    radius: server.radius,
    gsupPort: server.gsup?.port,
    dir,
    email,
    password,
    cli,
    async importSims(lines) {
      const file = join(dir, `import-${++imports}.csv`);
      writeFileSync(file, `iccid,imsi,msisdn,ki,opc\n${lines.join('\n')}\n`, { mode: 0o600 });
      const r = await cli(['sims', 'import', file]);
      if (r.code !== 0) throw new Error(`sims import: ${r.stderr}`);
    },
    async stop() {
      await server.stop();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

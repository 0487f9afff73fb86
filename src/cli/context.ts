// What every API command needs: an authenticated client and the chosen output format.
// Credentials: SIMTRUST_ENDPOINT with SIMTRUST_TOKEN (or SIMTRUST_AUTH_KEY_ID + SIMTRUST_AUTH_KEY, or
// SIMTRUST_EMAIL + SIMTRUST_PASSWORD) from the environment win over the stored profile; --endpoint
// overrides the endpoint of either.

import type { Command } from 'commander';
import { SimtrustError } from '../lib/errors.js';
import { SimtrustClient } from '../sdk/client.js';
import { type Column, type OutputFormat, render } from './output.js';
import { readProfile } from './profiles.js';

export interface GlobalOptions {
  readonly profile?: string;
  readonly endpoint?: string;
  readonly output: OutputFormat;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export async function apiClient(command: Command): Promise<SimtrustClient> {
  const opts = globalOptions(command);
  const env = process.env;
  const endpoint = opts.endpoint ?? env.SIMTRUST_ENDPOINT;
  if (env.SIMTRUST_TOKEN && endpoint) return new SimtrustClient({ endpoint, token: env.SIMTRUST_TOKEN });
  if (env.SIMTRUST_AUTH_KEY_ID && env.SIMTRUST_AUTH_KEY && endpoint) {
    const session = await new SimtrustClient({ endpoint }).authenticate({
      authKeyId: env.SIMTRUST_AUTH_KEY_ID,
      authKey: env.SIMTRUST_AUTH_KEY,
    });
    return new SimtrustClient({ endpoint, token: session.token });
  }
  if (env.SIMTRUST_EMAIL && env.SIMTRUST_PASSWORD && endpoint) {
    const session = await new SimtrustClient({ endpoint }).auth(env.SIMTRUST_EMAIL, env.SIMTRUST_PASSWORD);
    return new SimtrustClient({ endpoint, token: session.token });
  }
  const name = opts.profile ?? env.SIMTRUST_PROFILE ?? 'default';
  const profile = readProfile(name);
  if (!profile) {
    throw new SimtrustError(
      'ERR_CLI_PROFILE',
      `no profile "${name}": run \`simtrust login --endpoint URL --email E --password P\`, or set SIMTRUST_ENDPOINT and SIMTRUST_TOKEN`,
    );
  }
  if (profile.expiresAt !== undefined && profile.expiresAt <= Date.now()) {
    throw new SimtrustError(
      'ERR_CLI_PROFILE',
      `the token of profile "${name}" has expired: run \`simtrust login\` again`,
    );
  }
  return new SimtrustClient({ endpoint: endpoint ?? profile.endpoint, token: profile.token });
}

export function print<T>(command: Command, data: T | T[], columns?: ReadonlyArray<Column<T>>): void {
  process.stdout.write(render(data, globalOptions(command).output, columns));
}

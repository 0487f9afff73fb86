// Builds the frozen Config from flags, environment, config file and defaults, validating every
// key and naming the bad one in the error.

import { readFileSync } from 'node:fs';
import { SimtrustError } from '../lib/errors.js';
import { type Config, SETTINGS, type SettingName } from './defaults.js';
import { envName, flagName, type Setting } from './setting.js';

export interface ConfigSources {
  /** Values from command-line flags, keyed by setting name. */
  readonly flags?: Partial<Record<SettingName, unknown>>;
  readonly env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; defaults to $SIMTRUST_CONFIG when set. */
  readonly file?: string;
  readonly demo?: boolean;
}

const names = Object.keys(SETTINGS) as SettingName[];

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SimtrustError('ERR_CONFIG', `cannot read config file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SimtrustError('ERR_CONFIG', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SimtrustError('ERR_CONFIG', `config file ${path} must hold a JSON object of settings`);
  }
  const unknown = Object.keys(parsed).filter((k) => !(names as string[]).includes(k));
  if (unknown.length > 0) {
    throw new SimtrustError(
      'ERR_CONFIG',
      `config file ${path} has unknown setting(s) ${unknown.join(', ')}; see docs/configuration.md`,
    );
  }
  return parsed as Record<string, unknown>;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const filePath = sources.file ?? env.SIMTRUST_CONFIG;
  const file = filePath ? readConfigFile(filePath) : {};
  const values: Record<string, unknown> = { demo: sources.demo ?? false };
  const problems: string[] = [];

  for (const name of names) {
    const setting: Setting<unknown> = SETTINGS[name];
    const fromFlag = sources.flags?.[name];
    const fromEnv = env[envName(name)];
    const [raw, origin] =
      fromFlag !== undefined
        ? [fromFlag, flagName(name)]
        : fromEnv !== undefined && fromEnv !== ''
          ? [fromEnv, envName(name)]
          : name in file
            ? [file[name], `${filePath}: ${name}`]
            : [undefined, ''];
    if (raw === undefined) {
      values[name] = setting.default;
      continue;
    }
    try {
      values[name] = setting.parse(raw);
    } catch (e) {
      problems.push(`${origin} (${name}): ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new SimtrustError('ERR_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze(values) as Config;
}

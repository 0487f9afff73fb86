// Where the master key comes from: SIMTRUST_MASTER_KEY (or --master-key / the config file). Demo
// mode, and only demo mode, may generate one and keep it in <dataDir>/master.key.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/defaults.js';
import { base64Key } from '../../config/setting.js';
import { SimtrustError } from '../../lib/errors.js';
import { ensurePrivateDir, ensurePrivateFile } from '../private-files.js';
import { generateMasterKey } from './key-ring.js';

export interface ResolvedMasterKey {
  readonly key: Buffer;
  /** Set when the key was generated or read from the demo key file (worth a warning). */
  readonly demoKeyFile?: string;
}

export function demoMasterKeyPath(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'master.key');
}

export function resolveMasterKey(config: Pick<Config, 'masterKey' | 'demo' | 'dataDir'>): ResolvedMasterKey {
  if (config.masterKey !== undefined) return { key: config.masterKey };
  if (!config.demo) {
    throw new SimtrustError(
      'ERR_MASTER_KEY',
      'SIMTRUST_MASTER_KEY is not set. Generate one with `simtrust admin generate-master-key`, keep it in your secret store, and pass it as SIMTRUST_MASTER_KEY (or run `simtrust up --demo` to try simtrust with a generated key).',
    );
  }
  const path = demoMasterKeyPath(config);
  ensurePrivateDir(config.dataDir);
  if (!existsSync(path)) writeFileSync(path, `${generateMasterKey()}\n`, { mode: 0o600, flag: 'wx' });
  // 0600 whatever the umask, and for a key file an earlier version wrote.
  ensurePrivateFile(path);
  try {
    return { key: base64Key(32)(readFileSync(path, 'utf8')), demoKeyFile: path };
  } catch (e) {
    throw new SimtrustError(
      'ERR_MASTER_KEY',
      `demo master key file ${path} is unreadable: ${(e as Error).message}`,
    );
  }
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config/defaults.js';
import { loadConfig } from '../../src/config/load.js';
import { envName } from '../../src/config/setting.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'simtrust-config-'));

describe('configuration', () => {
  it('gives every setting a default or declares it optional, and a doc', () => {
    const config = loadConfig({ env: {} });
    expect(config.httpHost).toBe('127.0.0.1');
    expect(config.httpPort).toBe(8080);
    expect(config.databaseUrl).toBe('sqlite:./data/simtrust.db');
    expect(config.masterKey).toBeUndefined();
    for (const [name, s] of Object.entries(SETTINGS)) {
      expect(s.doc.length, name).toBeGreaterThan(10);
      if (s.default !== undefined) expect(() => s.parse(s.default), name).not.toThrow();
    }
  });

  it('is frozen', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { httpPort: number }).httpPort = 1;
    }).toThrow();
  });

  it('reads SIMTRUST_* variables, and flags win over them', () => {
    const key = randomBytes(32).toString('base64');
    const env = { SIMTRUST_HTTP_PORT: '9090', SIMTRUST_MASTER_KEY: key, SIMTRUST_HTTP_TRUST_PROXY: 'true' };
    const config = loadConfig({ env });
    expect(config.httpPort).toBe(9090);
    expect(config.httpTrustProxy).toBe(true);
    expect(config.masterKey?.toString('base64')).toBe(key);
    expect(loadConfig({ env, flags: { httpPort: '7070' } }).httpPort).toBe(7070);
  });

  it('reads a JSON config file below the environment', () => {
    const file = join(tmp(), 'simtrust.json');
    writeFileSync(file, JSON.stringify({ httpPort: 6060, logLevel: 'debug' }));
    const config = loadConfig({ env: { SIMTRUST_CONFIG: file, SIMTRUST_LOG_LEVEL: 'warn' } });
    expect(config.httpPort).toBe(6060);
    expect(config.logLevel).toBe('warn');
  });

  it('names the bad key and what it expects, and never echoes a secret', () => {
    const secret = 'not-a-valid-key-but-secret-looking-value';
    try {
      loadConfig({ env: { SIMTRUST_HTTP_PORT: 'eighty', SIMTRUST_MASTER_KEY: secret } });
      expect.unreachable();
    } catch (e) {
      const message = (e as Error).message;
      expect(message).toContain('SIMTRUST_HTTP_PORT (httpPort): expected an integer from 0 to 65535');
      expect(message).toContain('SIMTRUST_MASTER_KEY (masterKey): expected base64 of 32 bytes');
      expect(message).not.toContain(secret);
      expect((e as { code: string }).code).toBe('ERR_CONFIG');
    }
  });

  it('refuses unknown keys in the config file', () => {
    const file = join(tmp(), 'bad.json');
    writeFileSync(file, JSON.stringify({ httpProt: 1 }));
    expect(() => loadConfig({ env: {}, file })).toThrow(/unknown setting\(s\) httpProt/);
  });

  it('derives environment names from setting names', () => {
    expect(envName('databaseUrl')).toBe('SIMTRUST_DATABASE_URL');
    expect(envName('demoOperatorPassword')).toBe('SIMTRUST_DEMO_OPERATOR_PASSWORD');
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
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

  it('reads address and name lists (gsupAllowedNetworks) as comma-separated text or JSON, and names a bad block', () => {
    expect(loadConfig({ env: {} }).gsupAllowedNetworks).toEqual(['127.0.0.0/8', '::1/128']);
    const env = {
      SIMTRUST_GSUP_ALLOWED_NETWORKS: ' 10.20.0.0/24, fd00:20::/64 ,192.0.2.7',
      SIMTRUST_GSUP_ALLOWED_UNIT_NAMES: '["MSC-1","SGSN-1"]',
    };
    const config = loadConfig({ env });
    expect(config.gsupAllowedNetworks).toEqual(['10.20.0.0/24', 'fd00:20::/64', '192.0.2.7']);
    expect(config.gsupAllowedUnitNames).toEqual(['MSC-1', 'SGSN-1']);
    const file = join(tmp(), 'gsup.json');
    writeFileSync(file, JSON.stringify({ gsupAllowedNetworks: ['10.0.0.0/8'] }));
    expect(loadConfig({ env: {}, file }).gsupAllowedNetworks).toEqual(['10.0.0.0/8']);
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0/8',
      'fd00::/129',
      'localhost',
      '10.0.0.0/8/1',
      '["10.0.0.0/8", 5]',
    ]) {
      expect(() => loadConfig({ env: { SIMTRUST_GSUP_ALLOWED_NETWORKS: bad } }), bad).toThrow(
        /SIMTRUST_GSUP_ALLOWED_NETWORKS \(gsupAllowedNetworks\)/,
      );
    }
  });

  it('property: a network list either parses to valid blocks or fails with a message, for any text', () => {
    const parse = SETTINGS.gsupAllowedNetworks.parse;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string())).map((a) => a.join(',')),
        ),
        (text) => {
          let list: readonly string[];
          try {
            list = parse(text);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            return;
          }
          for (const entry of list) expect(isIP(entry.split('/')[0] ?? ''), entry).not.toBe(0);
        },
      ),
      { numRuns: 500 },
    );
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

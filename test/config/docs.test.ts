// docs/configuration.md and docs/errors.md are generated; these tests keep them in step with the
// code, and keep every ERR_* code used in src/ in the catalogue.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc, renderErrorsDoc } from '../../src/config/docs.js';
import { ERROR_CODES } from '../../src/lib/errors.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('generated docs', () => {
  it('docs/configuration.md is current (run `npm run docs`)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });

  it('docs/errors.md is current (run `npm run docs`)', () => {
    expect(readFileSync('docs/errors.md', 'utf8')).toBe(renderErrorsDoc());
  });

  it('every ERR_* code raised in src/ is in the catalogue', () => {
    const used = new Set<string>();
    for (const file of sourceFiles('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/SimtrustError\(\s*'(ERR_[A-Z0-9_]+)'/g))
        used.add(m[1] as string);
    }
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((code) => !(code in ERROR_CODES));
    expect(missing).toEqual([]);
  });

  it('every code in the catalogue has a status and a description', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });
});

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

  it('issue 11: every ERR_* code named in docs/*.md is in the catalogue, and every catalogue code is used in src/', () => {
    // Codes of other software that the docs mention (Node's module loader).
    const foreign = new Set(['ERR_REQUIRE_ESM']);
    const named = new Map<string, string>();
    for (const name of readdirSync('docs').filter((n) => n.endsWith('.md'))) {
      for (const m of readFileSync(join('docs', name), 'utf8').matchAll(/\bERR_[A-Z0-9_]+\b/g)) {
        if (!foreign.has(m[0])) named.set(m[0], `docs/${name}`);
      }
    }
    expect(named.size).toBeGreaterThan(10);
    const unknown = [...named].filter(([code]) => !Object.hasOwn(ERROR_CODES, code));
    expect(unknown, 'named in the docs but not in src/lib/errors.ts').toEqual([]);
    // Raised (or mapped to) somewhere: the code appears as a literal outside the catalogue.
    const source = sourceFiles('src')
      .filter((file) => join(file) !== join('src/lib/errors.ts'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const unused = Object.keys(ERROR_CODES).filter((code) => !new RegExp(`['"\`]${code}['"\`]`).test(source));
    expect(unused, 'in the catalogue but raised nowhere in src/').toEqual([]);
  });

  it('every code in the catalogue has a status and a description', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });
});

// The simulator stands in for the field: it may reach the platform only through the protocols a real
// network uses (GSUP, RADIUS, APDUs, HTTP), never by importing platform or server code — otherwise a
// test of the platform through the simulator could pass on shortcuts a real network does not have.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = 'src/simulator';
const ALLOWED = [/^node:/, /^\.\/[\w-]+\.js$/, /^\.\.\/(lib|crypto|card)\//];

describe('simulator boundaries', () => {
  const files = readdirSync(DIR, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'));

  it('has modules to check', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    it(`${file} imports only lib, crypto, card and node modules`, () => {
      const source = readFileSync(join(DIR, file), 'utf8');
      const imports = [...source.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map(
        (m) => m[1] ?? '',
      );
      for (const target of imports)
        expect(
          ALLOWED.some((re) => re.test(target)),
          `${file} imports ${target}`,
        ).toBe(true);
    });
  }
});

// `npm run bench -- <name> [args]` runs bench/<name>.ts; without a name it lists them.
// Every benchmark prints its figures next to a reference measured in the same run.

import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Benchmark {
  run(args: string[]): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
const selected = name === undefined || name === 'all' ? names : [name];
for (const bench of selected) {
  if (!names.includes(bench)) {
    console.error(`unknown benchmark "${bench}"; available: ${names.join(', ')}`);
    process.exit(2);
  }
  const mod = (await import(join(here, `${bench}.ts`))) as Benchmark;
  console.log(`\n== bench ${bench} ==`);
  await mod.run(args);
}

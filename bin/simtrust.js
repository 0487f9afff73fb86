#!/usr/bin/env node
// The installed package runs the compiled CLI (dist/, built by `npm run build`) with plain Node. In a
// checkout of the repository (src/ beside bin/; the package does not ship src/) it runs the
// TypeScript sources through tsx instead, so a change to src/ takes effect without a rebuild and a
// test never drives stale compiled code.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}

// Interop tests drive real programs. On a developer machine a missing program skips its suite with
// a note; in CI (CI=true) a missing program fails the suite, so CI can never pass by skipping.

import { execFileSync } from 'node:child_process';

export const inCi = process.env.CI === 'true' || process.env.CI === '1';

export function hasProgram(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns true when every program is available. When one is missing: throws in CI, otherwise
 * prints which Debian package to install and returns false (use with `describe.skipIf(!ok)`).
 */
export function requirePrograms(programs: Record<string, string>): boolean {
  const missing = Object.entries(programs).filter(([program]) => !hasProgram(program));
  if (missing.length === 0) return true;
  const hint = missing.map(([program, pkg]) => `${program} (apt-get install ${pkg})`).join(', ');
  if (inCi) throw new Error(`interop suite needs ${hint}; CI must not skip it`);
  console.warn(`skipping interop suite: missing ${hint}`);
  return false;
}

// CLI profiles: ~/.simtrust/profiles/<name>.json holding an endpoint and a token (never a
// password). Written 0600 in a 0700 directory.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SimtrustError } from '../lib/errors.js';

export interface Profile {
  readonly endpoint: string;
  readonly token: string;
  readonly apiKey?: string;
  readonly operatorId?: string;
  readonly email?: string;
  /** Set when the profile logged in as a sub-user (or with one of their keys). */
  readonly userName?: string;
  readonly authKeyId?: string;
  readonly expiresAt?: number;
}

export const profileDir = () => join(homedir(), '.simtrust', 'profiles');

const PROFILE_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function profilePath(name: string): string {
  if (!PROFILE_NAME_RE.test(name)) {
    throw new SimtrustError('ERR_CLI_USAGE', 'a profile name uses letters, digits, _ and - (up to 64)');
  }
  return join(profileDir(), `${name}.json`);
}

export function readProfile(name: string): Profile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(profilePath(name), 'utf8')) as Partial<Profile>;
    if (typeof parsed.endpoint !== 'string' || typeof parsed.token !== 'string') return undefined;
    return parsed as Profile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SimtrustError('ERR_CLI_PROFILE', `profile ${name} is unreadable: ${(e as Error).message}`);
  }
}

export function writeProfile(name: string, profile: Profile): string {
  const path = profilePath(name);
  mkdirSync(profileDir(), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

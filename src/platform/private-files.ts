// Local state is private to the account that runs simtrust (issue 11): the data directory and every
// directory we create are 0700, the SQLite database (with its -wal and -shm), the demo master key
// and the log file are 0600. The modes are set explicitly, whatever the process umask is, and a
// file or directory left world-readable by an earlier version is tightened when it is opened again.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) as 0700 and makes `dir` itself 0700 if it already existed. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if ((statSync(dir).mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * Creates `path` empty with mode 0600 when absent (never truncates), and makes an existing file
 * 0600. Call it before a library creates the file with its own mode (SQLite, a write stream).
 */
export function ensurePrivateFile(path: string): void {
  // 'a': create if absent, keep the content otherwise. The mode applies only on creation, and the
  // umask may strip bits from it, so the chmod below runs whenever the result is not exactly 0600.
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  if ((statSync(path).mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(path, PRIVATE_FILE_MODE);
}

/** Makes `path` 0600 when it exists (files another program created, e.g. SQLite's -wal and -shm). */
export function tightenIfPresent(path: string): void {
  if (existsSync(path) && (statSync(path).mode & 0o777) !== PRIVATE_FILE_MODE)
    chmodSync(path, PRIVATE_FILE_MODE);
}

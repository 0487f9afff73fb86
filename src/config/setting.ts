// Setting parsers: each turns a raw value (string from env/flags, or a JSON value from the config
// file) into a typed value, or throws an Error whose message says what was expected.

import { isIP } from 'node:net';

export interface Setting<T> {
  readonly default: T | undefined;
  readonly doc: string;
  readonly parse: (raw: unknown) => T;
  /** Never printed, logged or shown in docs. */
  readonly secret?: boolean;
  /** The default is a placeholder that only demo mode may use. */
  readonly placeholder?: boolean;
}

const show = (raw: unknown): string => JSON.stringify(raw)?.slice(0, 40) ?? String(raw);

export const str =
  (minLength = 1) =>
  (raw: unknown): string => {
    if (typeof raw !== 'string' || raw.length < minLength) {
      throw new Error(`expected a string of at least ${minLength} characters`);
    }
    return raw;
  };

export const int =
  (min: number, max: number) =>
  (raw: unknown): number => {
    const n =
      typeof raw === 'number'
        ? raw
        : typeof raw === 'string' && /^-?\d+$/.test(raw.trim())
          ? Number(raw)
          : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`expected an integer from ${min} to ${max}, got ${show(raw)}`);
    }
    return n;
  };

export const bool =
  () =>
  (raw: unknown): boolean => {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error(`expected true or false, got ${show(raw)}`);
  };

export const oneOf =
  <const T extends readonly string[]>(values: T) =>
  (raw: unknown): T[number] => {
    if (typeof raw !== 'string' || !values.includes(raw)) {
      throw new Error(`expected one of ${values.join(', ')}, got ${show(raw)}`);
    }
    return raw;
  };

export const databaseUrl =
  () =>
  (raw: unknown): string => {
    if (typeof raw !== 'string' || !/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(raw)) {
      throw new Error('expected sqlite:<path> or postgres://user@host:port/database');
    }
    return raw;
  };

/** Base64 of exactly `bytes` bytes; the value itself is never echoed in the error. */
export const base64Key =
  (bytes: number) =>
  (raw: unknown): Buffer => {
    const text = typeof raw === 'string' ? raw.trim() : '';
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length !== bytes) {
      throw new Error(
        `expected base64 of ${bytes} bytes (generate with: simtrust admin generate-master-key)`,
      );
    }
    return key;
  };

/** httpPort → SIMTRUST_HTTP_PORT */
export const envName = (name: string): string =>
  `SIMTRUST_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** httpPort → --http-port */
export const flagName = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** An http(s) URL (the text is kept as given). */
export const httpUrl =
  () =>
  (raw: unknown): string => {
    let url: URL | undefined;
    try {
      url = typeof raw === 'string' ? new URL(raw) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new Error(`expected an http:// or https:// URL, got ${show(raw)}`);
    }
    return raw as string;
  };

/**
 * A JSON array of objects (from the config file as JSON, from the environment or a flag as JSON
 * text). The component that uses it checks each element's shape when it starts.
 */
export const jsonArray =
  () =>
  (raw: unknown): ReadonlyArray<Readonly<Record<string, unknown>>> => {
    let value = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new Error('expected a JSON array of objects (the text is not valid JSON)');
      }
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'object' || v === null || Array.isArray(v))) {
      throw new Error('expected a JSON array of objects');
    }
    return value as ReadonlyArray<Readonly<Record<string, unknown>>>;
  };

/**
 * A list of strings: a JSON array (config file, or JSON text) or comma-separated text (environment,
 * flag). Each entry is trimmed; empty entries are dropped.
 */
export const stringList =
  (check: (entry: string) => string | undefined = () => undefined) =>
  (raw: unknown): readonly string[] => {
    let value = raw;
    if (typeof raw === 'string' && raw.trim().startsWith('[')) {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new Error('expected a JSON array of strings or comma-separated text (the JSON is not valid)');
      }
    }
    const list =
      typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : undefined;
    if (list === undefined || list.some((v) => typeof v !== 'string'))
      throw new Error('expected a JSON array of strings or comma-separated text');
    const entries = (list as string[]).map((v) => v.trim()).filter((v) => v !== '');
    for (const entry of entries) {
      const problem = check(entry);
      if (problem !== undefined) throw new Error(`${JSON.stringify(entry.slice(0, 60))}: ${problem}`);
    }
    return Object.freeze(entries);
  };

/** A list of IPv4/IPv6 addresses or CIDR blocks ("10.0.0.0/8", "::1/128"). */
export const cidrList = () =>
  stringList((entry) => {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    return family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))
      ? 'not an IP address or CIDR block such as 10.0.0.0/8 or fd00::/8'
      : undefined;
  });

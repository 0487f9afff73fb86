// The one defaults module: every setting, its default and what it means, side by side.
// Settings come from (highest first) command-line flags, SIMTRUST_* environment variables, a JSON
// config file (--config FILE or SIMTRUST_CONFIG), then these defaults. The environment variable of
// a setting is SIMTRUST_ + its name in UPPER_SNAKE case (httpPort → SIMTRUST_HTTP_PORT).
// docs/configuration.md is generated from this file (`npm run docs`) and a test keeps them in step.

import { base64Key, bool, databaseUrl, int, oneOf, type Setting, str } from './setting.js';

export const SETTINGS = {
  dataDir: {
    default: './data',
    doc: 'Directory for local state: the embedded SQLite database and, in demo mode, the generated master key.',
    parse: str(),
  },
  databaseUrl: {
    default: 'sqlite:./data/simtrust.db',
    doc: 'Where the data lives: `sqlite:<path>` (embedded, WAL mode) or `postgres://user@host:port/db` (the system of record for several instances).',
    parse: databaseUrl(),
  },
  databasePoolSize: {
    default: 10,
    doc: 'PostgreSQL connection pool size per process.',
    parse: int(1, 500),
  },
  httpHost: { default: '127.0.0.1', doc: 'Address the API listens on.', parse: str() },
  httpPort: { default: 8080, doc: 'Port the API listens on (0 picks a free port).', parse: int(0, 65535) },
  httpBodyLimitBytes: {
    default: 1_048_576,
    doc: 'Largest JSON request body accepted by the API, in bytes; larger bodies get ERR_PAYLOAD_TOO_LARGE.',
    parse: int(1024, 1_073_741_824),
  },
  httpTrustProxy: {
    default: false,
    doc: 'Take the client address from X-Forwarded-For (only behind a reverse proxy you control).',
    parse: bool(),
  },
  importMaxBytes: {
    default: 2_147_483_648,
    doc: 'Largest CSV accepted by POST /v1/sims/import, in bytes (the file is streamed, never held in memory).',
    parse: int(1024, Number.MAX_SAFE_INTEGER),
  },
  masterKey: {
    default: undefined,
    secret: true,
    doc: 'Base64 of 32 random bytes: the key-encryption key that wraps the data keys protecting Ki, OPc and every other stored secret. Required by `simtrust serve`; demo mode generates one under dataDir. Generate with `simtrust admin generate-master-key`.',
    parse: base64Key(32),
  },
  logLevel: {
    default: 'info',
    doc: 'Log level of the structured (pino) JSON logs.',
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  },
  apiTokenTimeoutSeconds: {
    default: 86_400,
    doc: 'Default lifetime of an API token issued by POST /v1/auth (a request may ask for up to 172800).',
    parse: int(180, 172_800),
  },
  demoOperatorEmail: {
    default: 'demo@simtrust.local',
    doc: 'Login email of the operator created by `simtrust up --demo`.',
    parse: str(),
  },
  demoOperatorPassword: {
    default: 'simtrust-demo-password',
    secret: true,
    placeholder: true,
    doc: 'Password of the demo operator (printed at demo start). A placeholder: used only in demo mode.',
    parse: str(8),
  },
  demoSimCount: {
    default: 50,
    doc: 'Number of SIMs created (in two groups) the first time `simtrust up --demo` runs.',
    parse: int(0, 100_000),
  },
} satisfies Record<string, Setting<unknown>>;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<S> = S extends { parse: (raw: unknown) => infer T; default: infer D }
  ? undefined extends D
    ? T | undefined
    : T
  : never;

/** The validated, frozen configuration every component receives. */
export type Config = { readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> } & {
  readonly demo: boolean;
};

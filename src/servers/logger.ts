// Structured JSON logs (pino). Secrets never reach a log line: request headers that carry
// credentials are redacted, and the domain never logs Ki, OPc, passwords or tokens.

import pino, { type Logger } from 'pino';
import type { Config } from '../config/defaults.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-soracom-token"]',
  'req.headers["x-soracom-api-key"]',
  'req.headers.cookie',
  'password',
  '*.password',
  'token',
  '*.token',
  'ki',
  '*.ki',
  'opc',
  '*.opc',
  'op',
  '*.op',
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

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
  // access management: request bodies a handler might log
  'authKey',
  '*.authKey',
  'currentPassword',
  '*.currentPassword',
  'newPassword',
  '*.newPassword',
  'mfaOTPCode',
  '*.mfaOTPCode',
  'backupCodes',
  '*.backupCodes',
  'totpUri',
  '*.totpUri',
];

/** Query parameters whose values never reach a log line (a secret pasted into a URL). */
const SENSITIVE_QUERY = /pass|token|secret|key|otp|code|auth/i;

/** The request URL with the values of sensitive query parameters replaced. */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  for (const name of [...params.keys()]) if (SENSITIVE_QUERY.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, at)}?${params.toString()}`;
}

/** Fastify's request serializer, with the URL's sensitive query values redacted. */
export const LOG_SERIALIZERS = {
  req: (req: {
    method?: string;
    url?: string;
    host?: string;
    ip?: string;
    socket?: { remotePort?: number };
  }) => ({
    method: req.method,
    url: redactUrl(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
};

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: LOG_SERIALIZERS,
  };
  return pino(options, destination ?? stdoutDestination());
}

/**
 * Standard output as pino writes it by default, except that a closed pipe (`simtrust serve | head`)
 * is reported as an EPIPE error on process.stdout, where the CLI stops the server quietly (issue 11);
 * pino alone would drop every later line and keep the process running without a reader.
 */
function stdoutDestination(): pino.DestinationStream {
  const stream = pino.destination(1);
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' && process.stdout.listenerCount('error') > 0) process.stdout.emit('error', e);
  });
  return stream;
}

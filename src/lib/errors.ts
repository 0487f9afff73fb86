// The error catalogue: every error the project raises carries one of these stable codes, the HTTP
// status it maps to, and whether its message may be shown to the caller. docs/errors.md is generated
// from this table and a test keeps the two in step (and checks every ERR_* used in src/ is listed).

export interface ErrorSpec {
  /** HTTP status used when the error reaches the API. */
  readonly status: number;
  /** Whether the message may be shown to the caller; otherwise a generic text is sent. */
  readonly expose: boolean;
  /** What the error means and what to do about it (shown in docs/errors.md). */
  readonly description: string;
}

export const ERROR_CODES = {
  // --- generic request handling
  ERR_VALIDATION: {
    status: 400,
    expose: true,
    description:
      'The request does not match the schema of the route (wrong type, unknown field, bad format).',
  },
  ERR_BAD_REQUEST: {
    status: 400,
    expose: true,
    description: 'The request is well-formed but cannot be carried out.',
  },
  ERR_MALFORMED_BODY: {
    status: 400,
    expose: true,
    description: 'The body could not be parsed (invalid JSON, wrong encoding). Fix the body and retry.',
  },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    expose: true,
    description: 'The Content-Type of the body is not accepted by this route.',
  },
  ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    expose: true,
    description: 'The body is larger than the configured limit (httpBodyLimitBytes / importMaxBytes).',
  },
  ERR_ROUTE_NOT_FOUND: { status: 404, expose: true, description: 'No route matches this method and path.' },
  ERR_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'The resource does not exist, or belongs to another operator.',
  },
  ERR_CONFLICT: {
    status: 409,
    expose: true,
    description: 'The resource already exists with different content.',
  },
  ERR_RATE_LIMITED: {
    status: 429,
    expose: true,
    description: 'Too many requests; wait for the number of seconds in Retry-After.',
  },
  ERR_INTERNAL: {
    status: 500,
    expose: false,
    description: 'An unexpected error; the log line with the same request id has the details.',
  },
  ERR_NOT_READY: { status: 503, expose: true, description: 'The database cannot be reached.' },

  // --- authentication
  ERR_UNAUTHENTICATED: {
    status: 401,
    expose: true,
    description:
      'No valid credentials: send `Authorization: Bearer <token>` (or X-Soracom-API-Key + X-Soracom-Token).',
  },
  ERR_INVALID_CREDENTIALS: {
    status: 401,
    expose: true,
    description: 'The email/password (or key) is wrong. The message never says which part.',
  },
  ERR_FORBIDDEN: {
    status: 403,
    expose: true,
    description: 'The credentials are valid but not allowed to do this.',
  },

  // --- configuration and secrets
  ERR_CONFIG: {
    status: 500,
    expose: true,
    description:
      'A configuration value is missing or invalid; the message names the key and what it expects.',
  },
  ERR_MASTER_KEY: {
    status: 500,
    expose: true,
    description:
      'The master key is missing, malformed, or not the key the data keys are wrapped with. Set SIMTRUST_MASTER_KEY.',
  },
  ERR_DECRYPT: {
    status: 500,
    expose: false,
    description: 'A stored secret failed authentication on decryption (tampered row or wrong key).',
  },
  ERR_DATABASE_URL: {
    status: 500,
    expose: true,
    description: 'SIMTRUST_DATABASE_URL must be `sqlite:<path>` or `postgres://…`.',
  },

  // --- SIM inventory
  ERR_SIM_NOT_FOUND: { status: 404, expose: true, description: 'No SIM with this id for this operator.' },
  ERR_GROUP_NOT_FOUND: { status: 404, expose: true, description: 'No group with this id for this operator.' },
  ERR_INVALID_TRANSITION: {
    status: 409,
    expose: true,
    description: 'The SIM status cannot change this way (see the lifecycle in docs/sims.md).',
  },
  ERR_TERMINATION_PROTECTED: {
    status: 409,
    expose: true,
    description: 'The SIM is protected against termination; call enable_termination first.',
  },
  ERR_SIM_TERMINATED: {
    status: 409,
    expose: true,
    description: 'The SIM is terminated; nothing more can change.',
  },
  ERR_GROUP_IN_USE: {
    status: 409,
    expose: true,
    description: 'The group still has SIMs; move them out first.',
  },
  ERR_DUPLICATE_SIM: {
    status: 409,
    expose: true,
    description: 'A SIM or profile with this ICCID or IMSI already exists with different data.',
  },
  ERR_IMPORT_ROW: {
    status: 422,
    expose: true,
    description:
      'A CSV row was rejected (bad ICCID check digit, wrong hex length, duplicate IMSI…); see `line`.',
  },
  ERR_IMPORT_HEADER: {
    status: 400,
    expose: true,
    description: 'The CSV header must contain iccid,imsi,msisdn,ki and opc (or op); see docs/sims.md.',
  },
  ERR_NO_SESSION: {
    status: 409,
    expose: true,
    description: 'The SIM has no current session, so there is no IMEI to lock to; give the IMEI explicitly.',
  },

  // --- CLI
  ERR_CLI_USAGE: { status: 400, expose: true, description: 'A command-line argument is missing or invalid.' },
  ERR_CLI_PROFILE: {
    status: 400,
    expose: true,
    description: 'No usable CLI profile: run `simtrust login` or set SIMTRUST_ENDPOINT and SIMTRUST_TOKEN.',
  },
  ERR_API: {
    status: 502,
    expose: true,
    description: 'The API answered with an error (the CLI shows its code).',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

const GENERIC_MESSAGE = 'Internal error';

/** The one base class: a stable code, an HTTP status, and whether the message may be shown. */
export class SimtrustError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SimtrustError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get expose(): boolean {
    return ERROR_CODES[this.code].expose;
  }

  /** The `{code, message}` body the API sends; hidden messages become a generic text. */
  toBody(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.expose ? this.message : GENERIC_MESSAGE };
  }
}

export function isSimtrustError(e: unknown): e is SimtrustError {
  return e instanceof SimtrustError;
}

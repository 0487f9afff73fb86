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
  // --- exported files (docs/stats.md, Export)
  ERR_EXPORT_NOT_READY: {
    status: 409,
    expose: true,
    description:
      'The export is still being written; ask GET /v1/files/exported/{exported_file_id} again shortly.',
  },
  ERR_EXPORT_FAILED: {
    status: 409,
    expose: true,
    description: 'The export failed (the message says why); start a new export.',
  },
  // --- credential sets (docs/credentials.md)
  ERR_CREDENTIALS_NOT_FOUND: {
    status: 404,
    expose: true,
    description:
      'No credential set with this id for this operator (a `#{imsi}` reference names the SIM’s own set: create it with POST /v1/credentials/{credentials_id}).',
  },
  ERR_CREDENTIALS_EXISTS: {
    status: 409,
    expose: true,
    description:
      'A credential set with this id exists already; change it with PUT /v1/credentials/{credentials_id}.',
  },
  ERR_CREDENTIALS_INVALID: {
    status: 400,
    expose: true,
    description:
      'The credential set was refused: unknown type, unknown or missing field, a PEM that does not parse, an encrypted key, or a key that is not the certificate’s; details.field names the field. No value is ever repeated.',
  },
  // --- virtual private gateways and the data plane (docs/vpg.md)
  ERR_VPG_NOT_FOUND: {
    status: 404,
    expose: true,
    description:
      'No virtual private gateway with this id for this operator; list them with GET /v1/virtual_private_gateways.',
  },
  ERR_VPG_INVALID: {
    status: 400,
    expose: true,
    description:
      'The VPG request was refused (a CIDR, port, protocol or tag that does not parse); details.field names the field.',
  },
  ERR_VPG_STATE: {
    status: 409,
    expose: true,
    description:
      'The VPG cannot do this in its current status (terminated or terminating, or still used by groups); the message says what to change first.',
  },
  ERR_DATAPLANE_UNAVAILABLE: {
    status: 503,
    expose: true,
    description:
      'The data plane is off on this instance (it needs CAP_NET_ADMIN and the programs ip and nft): run serve as root or with CAP_NET_ADMIN, install iproute2 and nftables; the log line at start says which is missing. VPGs can be listed but not created or changed meanwhile.',
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

  // --- access management (docs/access-management.md)
  ERR_TOO_MANY_ATTEMPTS: {
    status: 429,
    expose: true,
    description:
      'Too many failed attempts (password, MFA code or auth-key secret) for this account or from this address; wait the number of seconds in Retry-After. Each further failure doubles the wait.',
  },
  ERR_MFA_REQUIRED: {
    status: 401,
    expose: true,
    description: 'The password is right and MFA is active: send the TOTP (or a backup code) as `mfaOTPCode`.',
  },
  ERR_INVALID_MFA_CODE: {
    status: 401,
    expose: true,
    description:
      'The MFA code is wrong, outside its ±30 s window, or already used (a TOTP code works once). Wait for the next code.',
  },
  ERR_MFA_STATE: {
    status: 409,
    expose: true,
    description:
      'MFA is not in the state this call needs: verify follows enable; enable is refused while MFA is active (revoke it first).',
  },
  ERR_INVALID_POLICY: {
    status: 400,
    expose: true,
    description:
      'The permission document is invalid; the message gives the line and column and what is wrong (see docs/access-management.md).',
  },
  ERR_CONSOLE_LOGIN_DISABLED: {
    status: 403,
    expose: true,
    description: 'This user may not log in with a password (console login is off); use an auth key.',
  },
  ERR_USER_NOT_FOUND: { status: 404, expose: true, description: 'No user with this name for this operator.' },
  ERR_ROLE_NOT_FOUND: { status: 404, expose: true, description: 'No role with this id for this operator.' },
  ERR_AUTH_KEY_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No auth key with this id for this account.',
  },
  ERR_ROLE_IN_USE: {
    status: 409,
    expose: true,
    description: 'The role is attached to users; detach it first.',
  },
  ERR_AUTH_KEY_LIMIT: {
    status: 409,
    expose: true,
    description: 'The account already has the maximum number of auth keys (2); delete one first.',
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

  // --- event handlers (docs/event-handlers.md)
  ERR_EVENT_HANDLER_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No event handler with this id for this operator (GET /v1/event_handlers lists them).',
  },
  ERR_EVENT_HANDLER_LIMIT: {
    status: 400,
    expose: true,
    description:
      'The target already has 10 event handlers (per IMSI, SIM and group; 10 for the operator). Delete or reuse one.',
  },
  ERR_EVENT_HANDLER_UNSUPPORTED: {
    status: 400,
    expose: true,
    description:
      'The rule or action type is valid in SORACOM but simtrust cannot run it (the message says why); docs/event-handlers.md lists what runs.',
  },
  ERR_EVENT_WEB_REQUEST_FORBIDDEN: {
    status: 400,
    expose: true,
    description:
      'The web request would reach a loopback, private, link-local, metadata or reserved address, or the platform itself. Use a public address, or allow the network in eventWebRequestAllowedNetworks.',
  },
  ERR_EVENT_EXECUTION_NOT_FOUND: {
    status: 404,
    expose: true,
    description:
      'The event handler has no execution with this id and action index (GET /v1/event_handlers/{handler_id}/executions lists them).',
  },
  ERR_EVENT_ACTION_NOT_RETRYABLE: {
    status: 409,
    expose: true,
    description:
      'Only a dead or failed action run can be retried: a pending or running one is still being tried, a succeeded, skipped or cancelled one is final.',
  },
  ERR_EVENT_HANDLER_NOT_IGNORED: {
    status: 404,
    expose: true,
    description: 'The event handler does not ignore this IMSI or SIM, so there is nothing to delete.',
  },

  // --- SIM inventory
  ERR_SIM_NOT_FOUND: { status: 404, expose: true, description: 'No SIM with this id for this operator.' },
  ERR_GROUP_NOT_FOUND: { status: 404, expose: true, description: 'No group with this id for this operator.' },
  ERR_ANTI_THEFT_NOT_PROVISIONED: {
    status: 409,
    expose: true,
    description:
      'The platform knows no anti-theft applet (or no OTA key set) for this SIM, so it cannot send OTA commands to it. Provision the SIM with its OTA key sets and anti-theft applet (docs/anti-theft.md, "Platform side").',
  },
  ERR_OTA_UNAVAILABLE: {
    status: 503,
    expose: true,
    description:
      'The platform has no SMPP link for OTA, so it cannot send commands to cards now. Set otaSmppUrl (docs/anti-theft.md) and check that the SMSC accepts the bind.',
  },
  ERR_OTA_COUNTER_EXHAUSTED: {
    status: 409,
    expose: true,
    description:
      'The SCP80 counter of this key set reached FFFFFFFFFF, so no further command can be secured with it. Provision a new key set on the card and the platform.',
  },
  ERR_ESIM_RAM_TIMEOUT: {
    status: 504,
    expose: true,
    description:
      "The eUICC did not open its SCP81 (RAM over HTTP) session in time to take the queued script, or too many scripts already wait for it. Check that the push SMS reaches the device and that the device can reach the SM-SR's SCP81 port.",
  },
  ERR_ESIM_RAM_SESSION_FAILED: {
    status: 502,
    expose: true,
    description:
      'The SCP81 session ended before the eUICC answered the script, or its answer could not be read. The script may or may not have run: audit the eUICC before sending it again.',
  },
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
    description:
      'The SIM is terminated, which is final: it cannot be reactivated, and nothing but its tags can change. Use another SIM.',
  },
  ERR_GROUP_IN_USE: {
    status: 409,
    expose: true,
    description: 'The group still has SIMs; move them out first.',
  },
  ERR_DUPLICATE_SIM: {
    status: 409,
    expose: true,
    description:
      'This ICCID or IMSI is already registered. Both are unique across the whole platform, so the answer is the same whichever operator holds the number (docs/sims.md, "Uniqueness"). Check the number against the file of the card vendor.',
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
    description:
      'The SIM has no online session: there is no session to end (delete_session), or no IMEI to lock to (set_imei_lock with an empty IMEI; give the IMEI explicitly).',
  },

  // --- AAA (RADIUS, AuC)
  ERR_RADIUS_NOT_RUNNING: {
    status: 503,
    expose: true,
    description:
      'The RADIUS server does not run in this process (radiusEnabled is false), so no Disconnect-/CoA-Request can be sent from it.',
  },

  // --- SIM-attested identity tokens (docs/endorse.md)
  ERR_ENDORSE_NO_SESSION: {
    status: 403,
    expose: true,
    description:
      "No online data session owns the address this request came from, so no SIM can be vouched for. Request the token over the SIM's data session, or use an AKA challenge.",
  },
  ERR_ENDORSE_SIM_NOT_ACTIVE: {
    status: 403,
    expose: true,
    description: 'The SIM is not active (suspended, inactive, …); tokens are issued for active SIMs only.',
  },
  ERR_ENDORSE_DISABLED: {
    status: 403,
    expose: true,
    description:
      "Tokens are not enabled for the SIM's group (set `enabled: true` in the group's `Endorse` configuration); a SIM in no group gets none.",
  },
  ERR_ENDORSE_REDIRECT_NOT_AUTHORIZED: {
    status: 400,
    expose: true,
    description:
      "`redirect_url` is not listed in the group's `authorizedRedirectUrls` (exact origin and path prefix); simtrust never redirects elsewhere.",
  },
  ERR_ENDORSE_REQUEST_PARAMETERS: {
    status: 400,
    expose: true,
    description: 'Too many request parameters, or a name or value too long, to put into a token.',
  },
  ERR_ENDORSE_CONFIG: {
    status: 400,
    expose: true,
    description:
      'A value in the `Endorse` group configuration namespace is invalid; the message names the key.',
  },
  ERR_ENDORSE_CHALLENGE_INVALID: {
    status: 404,
    expose: true,
    description: 'The AKA challenge is unknown, expired (60 s), or already answered. Start a new one.',
  },
  ERR_ENDORSE_CHALLENGE_FAILED: {
    status: 401,
    expose: true,
    description: 'RES (or AUTS) does not prove the SIM; the challenge stays open until its attempts run out.',
  },
  ERR_ENDORSE_CHALLENGE_ATTEMPTS: {
    status: 429,
    expose: true,
    description: 'The AKA challenge has used its 3 attempts. Start a new one.',
  },
  // --- Beam: the credential-injecting entry points (docs/beam.md)
  ERR_BEAM_CONFIG: {
    status: 400,
    expose: true,
    description:
      'A value in the `SoracomBeam` group configuration namespace is invalid; the message names the entry point key and the setting.',
  },
  ERR_BEAM_NO_SESSION: {
    status: 403,
    expose: true,
    description:
      "No online data session owns the address this request came from, so Beam cannot tell which SIM is sending and forwards nothing. Send over the SIM's data session.",
  },
  ERR_BEAM_SIM_NOT_ACTIVE: {
    status: 403,
    expose: true,
    description: 'The SIM is not active (suspended, inactive, …); Beam forwards for active SIMs only.',
  },
  ERR_BEAM_NOT_CONFIGURED: {
    status: 404,
    expose: true,
    description:
      "The SIM's group has no enabled `SoracomBeam` entry for this entry point and path (a SIM in no group has none). Add one with PUT /v1/groups/{group_id}/configuration/SoracomBeam.",
  },
  ERR_BEAM_BAD_TARGET: {
    status: 400,
    expose: true,
    description:
      'The request target is not a plain origin-form path: dot segments (also percent-encoded), backslashes, control characters, `//` at the start or an absolute URL are refused, so a device cannot leave the configured destination.',
  },
  ERR_BEAM_CREDENTIALS: {
    status: 502,
    expose: true,
    description:
      "A credential set the group's Beam entry names (psk, custom header, client certificate) is missing or of the wrong type; nothing was forwarded. Check the entry's `$credentialsId` references and GET /v1/credentials.",
  },
  ERR_BEAM_DESTINATION_REFUSED: {
    status: 502,
    expose: true,
    description:
      "The destination resolves to a loopback, private, link-local, reserved or the platform's own address, which Beam, Funnel and Funk do not reach unless the deployment allows that network in beamAllowedDestinationNetworks (SSRF defence).",
  },
  ERR_BEAM_DESTINATION_TIMEOUT: {
    status: 504,
    expose: true,
    description:
      'The destination did not answer within beamHttpTimeoutSeconds (or stopped sending its answer); check that it is up and reachable from the platform.',
  },
  ERR_BEAM_DESTINATION_FAILED: {
    status: 502,
    expose: true,
    description:
      'The destination could not be reached or broke the exchange (connection refused, DNS, TLS handshake or certificate failure, reset); check its address, TLS certificate and the client certificate it expects.',
  },
  ERR_ENDORSE_KEY_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No published signing key with this kid.',
  },
  ERR_ENDORSE_KEY_PENDING: {
    status: 409,
    expose: true,
    description:
      "A successor of your operator's key for this algorithm is already published and waiting to sign; rotate again after it has activated (`simtrust endorse keys list` shows when). Other operators' rotations never cause it.",
  },
  ERR_ENDORSE_OPERATOR_REQUIRED: {
    status: 404,
    expose: true,
    description:
      'The operator-less key URLs (`/.well-known/jwks.json`, `/v1/endorse/keys/{kid}`) serve only a single-operator platform; this one has several operators (or none). Fetch the keys of the operator whose tokens you verify at `/v1/operators/{operatorId}/endorse/jwks.json`.',
  },

  // --- Funk: device data to a function over HTTPS (docs/funnel-funk.md, Funk)
  ERR_FUNK_CONFIG: {
    status: 400,
    expose: true,
    description:
      'A value in the `SoracomFunk` group configuration namespace is invalid (or the key is unknown); the message names the key and what it must be.',
  },
  ERR_FUNK_NO_SESSION: {
    status: 403,
    expose: true,
    description:
      "No online data session owns the address the data came from, so Funk cannot tell which SIM is sending and invokes nothing. Send over the SIM's data session.",
  },
  ERR_FUNK_SIM_NOT_ACTIVE: {
    status: 403,
    expose: true,
    description:
      'The SIM is not active (suspended, inactive, …); Funk invokes functions for active SIMs only.',
  },
  ERR_FUNK_NOT_CONFIGURED: {
    status: 404,
    expose: true,
    description:
      "The SIM's group has no enabled `SoracomFunk` configuration with a destination (a SIM in no group has none). Set it with PUT /v1/groups/{group_id}/configuration/SoracomFunk.",
  },
  ERR_FUNK_NOT_JSON: {
    status: 400,
    expose: true,
    description:
      'The group sends data to its function as JSON (`contentType: json`) and the device sent something that is not JSON; nothing was sent. Send JSON, or set contentType to text or binary.',
  },
  ERR_FUNK_CREDENTIALS: {
    status: 502,
    expose: true,
    description:
      'The credential set `credentialsId` names is missing or not one Funk can send (api-token-credentials as a Bearer token, username-password-credentials as Basic); nothing was sent. Check the id and GET /v1/credentials.',
  },
  ERR_FUNK_FUNCTION_TIMEOUT: {
    status: 504,
    expose: true,
    description:
      'The function did not answer within funkTimeoutSeconds; check that it is up and how long it runs.',
  },
  ERR_FUNK_FUNCTION_FAILED: {
    status: 502,
    expose: true,
    description:
      "The function's URL could not be reached or broke the exchange (connection refused, DNS, TLS certificate), or its answer was larger than funkMaxBodyBytes.",
  },

  // --- Funnel: device data to message brokers (docs/funnel-funk.md, Funnel)
  ERR_FUNNEL_CONFIG: {
    status: 400,
    expose: true,
    description:
      'A value in the `SoracomFunnel` group configuration namespace is invalid (or the key is unknown); the message names the key and what it must be.',
  },
  ERR_FUNNEL_NOT_CONFIGURED: {
    status: 404,
    expose: true,
    description:
      "The SIM's group has no enabled, valid `SoracomFunnel` configuration with a destination (a SIM in no group has none); nothing was sent. Set it with PUT /v1/groups/{group_id}/configuration/SoracomFunnel.",
  },
  ERR_FUNNEL_METHOD: {
    status: 405,
    expose: true,
    description: "Funnel's HTTP entry point takes the device's data with POST.",
  },
  ERR_FUNNEL_INVALID_PAYLOAD: {
    status: 400,
    expose: true,
    description:
      'The group sends JSON (`contentType: json`) and the data is not JSON, or text (`text`) and it is not UTF-8; nothing was sent. Fix the data or the contentType.',
  },
  ERR_FUNNEL_CREDENTIALS: {
    status: 502,
    expose: true,
    description:
      "The credential set the group's `credentialsId` names is missing, or of a type the destination's provider cannot log in with (amqp: username-password-credentials or x509; nats: also api-token-credentials; mqtt: username-password-credentials or x509), or an amqp destination has none; nothing was sent.",
  },
  ERR_FUNNEL_DESTINATION_REFUSED: {
    status: 502,
    expose: true,
    description:
      "The broker said no: log-in refused, no permission to publish, no such exchange or stream, no queue or subscriber for the message, or the message rejected; the message names which (from the adapter's error table). Sending again will not help until the destination or the group's configuration changes.",
  },
  ERR_FUNNEL_DESTINATION_UNAVAILABLE: {
    status: 503,
    expose: true,
    description:
      'The broker could not be reached, or the connection was lost before it confirmed the message; nothing was acknowledged. Send again later.',
  },
  ERR_FUNNEL_DESTINATION_TIMEOUT: {
    status: 504,
    expose: true,
    description:
      'The broker did not confirm the message within funnelPublishTimeoutSeconds. It may or may not have stored it: send again (a broker may then hold it twice — at-least-once).',
  },
  ERR_FUNNEL_BUSY: {
    status: 503,
    expose: true,
    description:
      'Funnel holds as many broker connections or unconfirmed messages as it may (funnelMaxBrokerConnections, funnelMaxInFlightPerBrokerConnection), or is shutting down; send again later.',
  },

  // --- MFA engine, SMS and the gateway (docs/mfa-gateway.md)
  ERR_DIRECTORY_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No directory with this id for this operator.',
  },
  ERR_DIRECTORY_USER_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No user with this id in the directory.',
  },
  ERR_PHONE_NUMBER: {
    status: 400,
    expose: true,
    description: 'The phone number is not in E.164 form (`+` country code and number, at most 15 digits).',
  },
  ERR_PHONE_NOT_VERIFIED: {
    status: 409,
    expose: true,
    description:
      'SMS codes go only to a verified phone number (OWASP ASVS 6.6.1); verify it first (a code sent to it, typed back).',
  },
  ERR_MFA_SMS_REQUIRED: {
    status: 401,
    expose: true,
    description:
      "The password is right and SMS one-time codes are this account's second factor: a code was sent; repeat the call with `mfaTransactionId` and `mfaOTPCode`.",
  },
  ERR_MFA_NO_FACTOR: {
    status: 403,
    expose: true,
    description:
      'The policy of this application asks for a second factor the user has not enrolled (verified phone, TOTP secret or registered SIM). An administrator must enrol one.',
  },
  ERR_MFA_TRANSACTION: {
    status: 401,
    expose: true,
    description: 'The login transaction is unknown, finished or expired (10 minutes); start the login again.',
  },
  ERR_OTP_INVALID: {
    status: 401,
    expose: true,
    description: 'The one-time code is wrong. The code stays valid until its guesses run out.',
  },
  ERR_OTP_EXPIRED: {
    status: 401,
    expose: true,
    description: 'The one-time code has expired or was already used; request a new one.',
  },
  ERR_OTP_DEAD: {
    status: 401,
    expose: true,
    description: 'The one-time code was guessed wrong too many times and no longer works; request a new one.',
  },
  ERR_SMS_RESEND_TOO_SOON: {
    status: 429,
    expose: true,
    description: 'A new SMS code can be requested 30 seconds after the previous one (see Retry-After).',
  },
  ERR_SMS_LIMIT: {
    status: 429,
    expose: true,
    description:
      'The SMS limit for this user or phone number is reached (5 per 15 minutes by default); wait for Retry-After or use another factor.',
  },
  ERR_SMS_NOT_DELIVERED: {
    status: 502,
    expose: true,
    description:
      "No SMS provider accepted the message (every configured provider failed or is unhealthy); the SMS records show each provider's error code.",
  },
  ERR_SIM_TOKEN_INVALID: {
    status: 401,
    expose: true,
    description: 'The SIM token did not verify (signature, issuer, audience, expiry) or was already used.',
  },
  ERR_SIM_TOKEN_MISMATCH: {
    status: 403,
    expose: true,
    description: 'The SIM token is valid but its IMSI (and IMEI) is not the SIM registered for this user.',
  },
  ERR_CSRF: {
    status: 403,
    expose: true,
    description:
      'The form was not sent from this site (missing or wrong CSRF token, or a foreign Origin); reload the page.',
  },
  ERR_GATEWAY_UPSTREAM: {
    status: 502,
    expose: true,
    description: 'The protected application behind the gateway could not be reached.',
  },

  // --- eSIM PKI (docs/esim.md)
  ERR_ESIM_NO_CI: {
    status: 409,
    expose: true,
    description:
      'The deployment has no eSIM CI yet: create one with `simtrust esim ci init` (demo) or import the external CI certificate with `simtrust esim ci import`.',
  },
  ERR_ESIM_CI_EXISTS: {
    status: 409,
    expose: true,
    description:
      'The deployment already has a CI with its key; a second root would split the trust of the eUICCs already issued. `simtrust esim ci show` shows it.',
  },
  ERR_ESIM_CI_NO_KEY: {
    status: 409,
    expose: true,
    description:
      'The trusted CI was imported without its private key (production: the CI is external), so certificates under it are issued by the CI, not by simtrust: `simtrust esim certs request` here, `simtrust esim certs sign` at the CI holder, `simtrust esim certs import` of its answer here.',
  },
  ERR_ESIM_NO_EUM: {
    status: 409,
    expose: true,
    description:
      'No valid EUM certificate to sign eUICC (ECASD) certificates with; issue one with `simtrust esim certs issue --role eum`.',
  },
  ERR_ESIM_CERTIFICATE_NOT_FOUND: {
    status: 404,
    expose: true,
    description:
      'No eSIM certificate with this id (with a key, for this operator); `simtrust esim certs list` lists them.',
  },
  ERR_ESIM_NO_CERTIFICATE_REQUEST: {
    status: 404,
    expose: true,
    description:
      'The certificate to import answers no pending request of this deployment (another key, another role, or already imported): run `simtrust esim certs request` here and have the CI sign that request.',
  },
  ERR_ESIM_CERTIFICATE_REJECTED: {
    status: 422,
    expose: true,
    description:
      'A certificate chain was refused; `details.refusal` is the stable CERT_* code and `details.reason` the reason (wrong role, issued by another CI, expired, bad signature…), listed in docs/esim.md.',
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
  // --- eSIM off-card interfaces (SGP.02 ES1-ES4, ES7 over SOAP; docs/esim-soap.md)
  ERR_ESIM_SOAP_INVALID_MESSAGE: {
    status: 400,
    expose: true,
    description:
      'An SGP.02 SOAP message could not be built: a value does not match the esim-messaging schema (the message names the field).',
  },
  ERR_ESIM_SOAP_REJECTED: {
    status: 502,
    expose: true,
    description:
      'The SGP.02 partner refused the message (HTTP status or SOAP fault); the message carries its FunctionExecutionStatus code.',
  },
  ERR_ESIM_SOAP_TRANSPORT: {
    status: 502,
    expose: true,
    description:
      'The SGP.02 partner could not be reached over mutual TLS (connection, certificate or timeout); check its URL and certificates.',
  },
  ERR_ESIM_EIS_SIGNATURE_INVALID: {
    status: 400,
    expose: true,
    description:
      'The EumSignature of an EIS does not verify with the EUM key (or its signed part was changed).',
  },
  ERR_ESIM_PARTNER_INVALID: {
    status: 400,
    expose: true,
    description:
      'An SGP.02 partner was refused: its entity id, role, https endpoint or TLS certificate (one X.509 certificate, valid now, not a CA) is not acceptable; details name the field and the reason.',
  },
  ERR_ESIM_PARTNER_EXISTS: {
    status: 409,
    expose: true,
    description:
      'This entity is already a partner in this role, or another partner already has this certificate (a certificate names one partner); remove it first.',
  },
  ERR_ESIM_PARTNER_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No SGP.02 partner with this id or entity id.',
  },
  // --- eSIM operator layer (docs/esim.md, "Profiles and operations")
  ERR_ESIM_NOT_CONNECTED: {
    status: 503,
    expose: true,
    description:
      'No SM-SR (or no SM-DP, for a download) is connected to this platform for the operator; configure the eSIM roles and retry.',
  },
  ERR_ESIM_NOT_EUICC: {
    status: 400,
    expose: true,
    description: 'The SIM is not an eUICC (type euicc); profile operations apply to eUICC SIMs only.',
  },
  ERR_ESIM_EIS_INVALID: {
    status: 400,
    expose: true,
    description:
      'The registration body does not carry an ES1-RegisterEISRequest SOAP envelope that decodes (the message names the failing part).',
  },
  ERR_ESIM_EUICC_EXISTS: {
    status: 409,
    expose: true,
    description: 'A SIM with this EID is already in the inventory.',
  },
  ERR_ESIM_REGISTRATION_REFUSED: {
    status: 422,
    expose: true,
    description:
      'The SM-SR refused the EIS (ES1 RegisterEIS); details carry its FunctionExecutionStatus Subject/Reason codes.',
  },
  ERR_ESIM_PROFILE_NOT_FOUND: {
    status: 404,
    expose: true,
    description: "No profile with this ICCID on this eUICC (or in the operator's inventory, for a download).",
  },
  ERR_ESIM_OPERATION_NOT_FOUND: {
    status: 404,
    expose: true,
    description: 'No eSIM operation with this id for this operator.',
  },
  ERR_ESIM_OPERATION_FAILED: {
    status: 422,
    expose: true,
    description:
      'CLI --wait: the operation ended failed; its result carries the SGP.02 FunctionExecutionStatus (Subject/Reason codes).',
  },
  ERR_ESIM_OPERATION_IN_PROGRESS: {
    status: 409,
    expose: true,
    description:
      'Another operation runs on this eUICC (one at a time, as SGP.02 runs one procedure per eUICC); wait for it to end.',
  },
  ERR_ESIM_HANDED_OVER: {
    status: 409,
    expose: true,
    description:
      "The eUICC was handed over to another operator's SM-SR by a switch (SM-SR change); its operator there manages it now. Its SIM and operations stay readable here.",
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

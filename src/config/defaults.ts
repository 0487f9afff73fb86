// The one defaults module: every setting, its default and what it means, side by side.
// Settings come from (highest first) command-line flags, SIMTRUST_* environment variables, a JSON
// config file (--config FILE or SIMTRUST_CONFIG), then these defaults. The environment variable of
// a setting is SIMTRUST_ + its name in UPPER_SNAKE case (httpPort → SIMTRUST_HTTP_PORT).
// docs/configuration.md is generated from this file (`npm run docs`) and a test keeps them in step.

import {
  base64Key,
  bool,
  cidrList,
  databaseUrl,
  httpUrl,
  int,
  jsonArray,
  oneOf,
  type Setting,
  str,
  stringList,
} from './setting.js';

/** A demo broker's URL: the scheme given, a host, an optional port; no credentials, path or query. */
const brokerUrl =
  (schemes: readonly string[]) =>
  (raw: unknown): string => {
    const url = typeof raw === 'string' && URL.canParse(raw) ? new URL(raw) : undefined;
    if (
      url === undefined ||
      !schemes.includes(url.protocol) ||
      url.hostname === '' ||
      url.username !== '' ||
      url.password !== '' ||
      (url.pathname !== '' && url.pathname !== '/') ||
      url.search !== ''
    ) {
      // The value is not repeated: it may hold a password, which does not belong here.
      throw new Error(
        `expected ${schemes.map((s) => `${s}//host[:port]`).join(' or ')} (no user, password, path or query)`,
      );
    }
    return raw as string;
  };

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
  // --- access management (docs/access-management.md)
  loginMaxFailures: {
    default: 5,
    doc: 'Consecutive failed attempts (password, MFA code or auth-key secret) an account gets before each further attempt must wait; the wait starts at loginBackoffBaseSeconds and doubles with every attempt (429 + Retry-After). A success ends the streak.',
    parse: int(1, 1000),
  },
  loginMaxFailuresPerAddress: {
    default: 20,
    doc: 'The same limit per source address, over all accounts (password spraying from one address). A success gives back only its own attempt.',
    parse: int(1, 100_000),
  },
  loginBackoffBaseSeconds: {
    default: 1,
    doc: 'First wait after the failure limit is reached; each further admitted attempt doubles it.',
    parse: int(1, 3600),
  },
  loginBackoffMaxSeconds: {
    default: 900,
    doc: 'Longest wait between two attempts on a locked account or address.',
    parse: int(1, 86_400),
  },
  loginFailureMemorySeconds: {
    default: 86_400,
    doc: 'A failure streak is forgotten this long after its last attempt.',
    parse: int(60, 2_592_000),
  },
  apiRateLimitWindowSeconds: {
    default: 60,
    doc: 'Window of the API rate limits below. The counts live in the database, so every instance on the same database shares them.',
    parse: int(1, 86_400),
  },
  apiRateLimitPerToken: {
    default: 6000,
    doc: 'Requests one API token may make per window; more get 429 with Retry-After. 0 turns the limit off.',
    parse: int(0, 100_000_000),
  },
  apiRateLimitPerAddress: {
    default: 12_000,
    doc: 'Requests one source address may make per window (with or without credentials, /health, /ready and /metrics excepted). 0 turns the limit off.',
    parse: int(0, 100_000_000),
  },
  mfaTotpIssuer: {
    default: 'simtrust',
    doc: 'Issuer name in the otpauth:// URI of TOTP enrolment (what authenticator apps show).',
    parse: str(),
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
  demoFleetDevices: {
    default: 20,
    doc: 'Simulated devices `simtrust up --demo` runs with the first demo SIMs (docs/simulator.md): they attach over GSUP and RADIUS and send traffic; one, IMEI-locked to another device, is refused. 0: no demo fleet.',
    parse: int(0, 1000),
  },
  demoTheftSeconds: {
    default: 30,
    doc: 'Seconds after `simtrust up --demo` starts until a demo anti-theft device is stolen (carried through far cells); a third of it in, another SIM is moved into another device. Their applets learn their cells for the first third (docs/anti-theft.md).',
    parse: int(3, 86_400),
  },
  demoMqttBrokerUrl: {
    default: 'mqtt://127.0.0.1:1883',
    doc: "The MQTT broker the demo's Beam device publishes to through Beam (anonymous clients; a local Mosquitto). Not reachable: the demo says so and that device stays idle.",
    parse: brokerUrl(['mqtt:']),
  },
  demoRabbitmqUrl: {
    default: 'amqp://127.0.0.1:5672',
    doc: "The RabbitMQ the demo's Funnel device posts to through Funnel, as RabbitMQ's default localhost user guest/guest (a credential set demo-rabbitmq). Not reachable: the demo says so and that device stays idle.",
    parse: brokerUrl(['amqp:']),
  },
  demoDataIntervalSeconds: {
    default: 5,
    doc: "Seconds between two readings of each of the demo's Beam and Funnel devices.",
    parse: int(1, 3600),
  },
  // --- SIM-attested identity tokens (docs/endorse.md)
  deviceHttpHost: {
    default: '127.0.0.1',
    doc: 'Address the device-facing token listener listens on (token endpoint, AKA challenges, JWKS). Devices reach it over their data session; the source address tells which SIM is asking.',
    parse: str(),
  },
  deviceHttpPort: {
    default: 8082,
    doc: 'Port of the device-facing token listener (0 picks a free port).',
    parse: int(0, 65535),
  },
  endorseIssuer: {
    default: 'simtrust',
    doc: 'The base of the `iss` claim of native tokens: each operator issues as `<endorseIssuer>/operators/<operatorId>` (a group with `compat: "soracom"` uses `https://soracom.io`). Verifiers pin their operator\'s issuer.',
    parse: str(),
  },
  endorseAudience: {
    default: 'simtrust-endorse-audience',
    doc: 'The `aud` claim of native tokens (`soracom-endorse-audience` with `compat: "soracom"`). Verifiers pin it.',
    parse: str(),
  },
  endorseKeyPublishLeadSeconds: {
    default: 600,
    doc: 'How long a new signing key is published in the JWKS before it signs, so verifiers with a cached JWKS already know it. A rotation may ask for less (0 for an emergency).',
    parse: int(0, 604_800),
  },
  endorseKeyRotationDays: {
    default: 90,
    doc: 'Scheduled rotation: a signing key older than this many days gets a successor (published first, signing after endorseKeyPublishLeadSeconds). 0 turns the schedule off.',
    parse: int(0, 3650),
  },
  endorseChallengesPerMinute: {
    default: 10,
    doc: "AKA challenges that may be started per IMSI per minute (each one advances the SIM's SQN).",
    parse: int(1, 1000),
  },
  // --- MFA engine, SMS providers and the MFA gateway (docs/mfa-gateway.md)
  gatewayHost: {
    default: '127.0.0.1',
    doc: 'Address the MFA gateway (reverse proxy with login pages) listens on.',
    parse: str(),
  },
  gatewayPort: { default: 8081, doc: 'Port of the MFA gateway (0 picks a free port).', parse: int(0, 65535) },
  gatewayUpstream: {
    default: undefined,
    doc: "Shortcut for one protected application at `/`: its upstream URL (`simtrust gateway --upstream URL`). Users come from gatewayDirectory, or are the platform's own users when that is unset. The gateway starts (also with `simtrust up`) when this or gatewayApplications is set.",
    parse: httpUrl(),
  },
  gatewayDirectory: {
    default: undefined,
    doc: "Directory id whose users may log in to the gatewayUpstream application (unset: the platform's own root and sub-users).",
    parse: str(),
  },
  gatewayFactors: {
    default: 'sms-otp,totp,sim-token',
    doc: 'Second factors the gatewayUpstream application accepts, comma-separated (`sms-otp`, `totp`, `sim-token`); with more than one the user chooses among those enrolled.',
    parse: str(),
  },
  gatewayDisplayName: {
    default: undefined,
    doc: 'What the sign-in page calls the gatewayUpstream application ("Sign in to Team wiki."); unset: the page names no application ("Sign in to continue.").',
    parse: str(),
  },
  gatewayApplications: {
    default: [],
    doc: 'Protected applications, a JSON array of `{name, displayName?, prefix, upstream, users: {directory} | {platform: true, operatorId?}, policy: [{groups?, factors}], websocket?, stripPrefix?, audience?, returnToOrigins?}` (see docs/mfa-gateway.md); checked when the gateway starts.',
    parse: jsonArray(),
  },
  gatewaySessionIdleSeconds: {
    default: 1800,
    doc: 'A gateway session ends after this much inactivity (NIST SP 800-63B §4.2.3, AAL2: 30 minutes).',
    parse: int(60, 86_400),
  },
  gatewaySessionAbsoluteSeconds: {
    default: 43_200,
    doc: 'A gateway session ends this long after login whatever the activity (NIST SP 800-63B §4.2.3, AAL2: 12 hours).',
    parse: int(300, 2_592_000),
  },
  gatewayTrustProxy: {
    default: false,
    doc: 'The gateway sits behind a TLS-terminating proxy you control: take the client address and scheme from X-Forwarded-For/-Proto (cookies then get `Secure` when the proxy says https).',
    parse: bool(),
  },
  gatewayTlsCertFile: {
    default: undefined,
    doc: 'PEM certificate chain: the gateway serves HTTPS itself (with gatewayTlsKeyFile); its cookies are then `Secure`.',
    parse: str(),
  },
  gatewayTlsKeyFile: { default: undefined, doc: 'PEM private key for gatewayTlsCertFile.', parse: str() },
  gatewaySimTokenUrl: {
    default: undefined,
    doc: "URL of the SIM token endpoint the `sim-token` factor sends the device to (the device listener, e.g. http://10.0.0.1:8082/); unset: http://deviceHttpHost:deviceHttpPort/. The gateway's callback URL must be in the SIM group's Endorse `authorizedRedirectUrls`.",
    parse: httpUrl(),
  },
  mfaOtpLength: {
    default: 6,
    doc: 'Digits of an SMS one-time code, drawn from a CSPRNG (6 digits ≈ 20 bits: OWASP ASVS 6.5.4, NIST SP 800-63B §5.1.3.2).',
    parse: int(6, 10),
  },
  mfaOtpTtlSeconds: {
    default: 300,
    doc: "Lifetime of an SMS code (privacyIDEA's 300 s; at most the 10 minutes of ASVS 6.5.5 / NIST SP 800-63B §5.1.3.2).",
    parse: int(30, 600),
  },
  mfaOtpMaxGuesses: {
    default: 5,
    doc: 'Wrong guesses a single SMS code survives; then it is dead and a new one must be sent (rate limiting of ASVS 6.6.3).',
    parse: int(1, 10),
  },
  mfaTransactionTtlSeconds: {
    default: 600,
    doc: 'A login must be completed this long after the password step (NIST SP 800-63B §5.1.3.2: 10 minutes).',
    parse: int(60, 600),
  },
  mfaSmsResendSeconds: {
    default: 30,
    doc: 'Minimum wait before another SMS code can be requested for the same login.',
    parse: int(5, 600),
  },
  mfaSmsMaxPerWindow: {
    default: 5,
    doc: 'SMS codes (first sends and resends) allowed per user and, separately, per phone number within mfaSmsWindowSeconds — the guard against SMS pumping.',
    parse: int(1, 100),
  },
  mfaSmsWindowSeconds: {
    default: 900,
    doc: 'Window of mfaSmsMaxPerWindow (15 minutes).',
    parse: int(60, 86_400),
  },
  mfaLockThreshold: {
    default: 5,
    doc: 'Consecutive failures (password or code) after which an account is locked for a while; each further failure doubles the wait (NIST SP 800-63B §5.2.2 allows at most 100).',
    parse: int(1, 100),
  },
  mfaLockBaseSeconds: {
    default: 30,
    doc: 'First lock duration; it doubles per further failure (NIST SP 800-63B §5.2.2: "30 seconds up to an hour").',
    parse: int(1, 3600),
  },
  mfaLockMaxSeconds: { default: 3600, doc: 'Longest lock duration.', parse: int(1, 86_400) },
  mfaAddressMaxAttempts: {
    default: 30,
    doc: 'Login and code attempts accepted per source address per minute across all accounts (ASVS 6.3.1 anti-automation).',
    parse: int(1, 100_000),
  },
  smsProviders: {
    default: [],
    // The entries hold provider credentials (SMPP passwords, API tokens): environment or file only.
    secret: true,
    doc: 'SMS providers in failover order, a JSON array of `{name, kind: "smpp" | "http-json" | "kannel" | "console", …}` with each kind\'s settings (docs/mfa-gateway.md). `console` only in demo mode; demo mode with none configured uses `console`.',
    parse: jsonArray(),
  },
  smsSender: {
    default: 'simtrust',
    doc: 'Sender shown on OTP SMS (alphanumeric, at most 11 characters, or a number).',
    parse: str(),
  },
  smsTemplate: {
    default: '{code} is your verification code. It expires in {validity}. Never share it.',
    doc: 'Text of the OTP SMS. Placeholders: `{code}`; `{validity}`, the code\'s lifetime in English words ("30 seconds", "5 minutes"); `{seconds}`, the lifetime as a number (for texts in other languages); `{minutes}`, whole minutes rounded up (kept for older templates).',
    parse: str(6),
  },
  // --- OTA to the cards' anti-theft applets over SMPP (docs/anti-theft.md)
  otaSmppUrl: {
    default: undefined,
    doc: 'SMSC the platform sends OTA command packets through and receives PoRs and alerts from, `smpp://host:port` (an ESME bound as transceiver). Unset: no OTA link, and PUT /v1/sims/{sim_id}/anti_theft and …/unblock answer 503.',
    parse: str(),
  },
  otaSmppSystemId: {
    default: 'simtrust-ota',
    doc: 'system_id of the OTA bind.',
    parse: str(),
  },
  otaSmppPassword: {
    default: undefined,
    secret: true,
    doc: 'Password of the OTA bind; required with otaSmppUrl (environment or file only).',
    parse: str(),
  },
  otaSmppSourceAddr: {
    default: undefined,
    doc: "The platform's number the command SMS come from and the applets send their alerts to (international digits); required with otaSmppUrl.",
    parse: str(),
  },
  // --- eSIM: this deployment's own SM-SR and SM-DP in the server process (docs/esim.md, Running it)
  esimOperatorId: {
    default: undefined,
    doc: "The operator whose SM-SR and SM-DP certificates (GP, from this deployment's eSIM CI: `simtrust esim ci init` or `import`) the in-process SM-SR and SM-DP run under; each certificate is issued once when that operator has none valid. Set: `simtrust serve` runs both roles for every operator of the deployment (an operator is MNO `2.999.15.4.<the digits of its id>` to them), ES5 goes over the OTA SMS link (otaSmppUrl) and, with esimScp81Port, over HTTPS. Unset: no eSIM roles, and POST /v1/esim/euiccs and the /v1/sims/{sim_id}/profiles routes answer 503 ERR_ESIM_NOT_CONNECTED. Demo mode uses the demo operator.",
    parse: str(),
  },
  esimScp81Host: {
    default: '127.0.0.1',
    doc: "Address the SM-SR's SCP81 listener (ES5 over HTTPS: PSK-TLS, RAM over HTTP) listens on. Loopback by default: open it only to the network your devices' data sessions come from.",
    parse: str(),
  },
  esimScp81Port: {
    default: undefined,
    doc: "Port of the SM-SR's SCP81 listener (0 picks a free port). Set: ES5 goes over HTTPS — a push SMS makes the eUICC open a PSK-TLS session here — the bearer profile downloads need (SCP03t never goes by SMS). Unset: ES5 over SMS only (enable, disable, delete, audit; no download). Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  esimScp81PushAddress: {
    default: undefined,
    doc: "IPv4 or IPv6 address the push SMS tells eUICCs to connect to (the listener's address as devices reach it, e.g. behind NAT); default esimScp81Host.",
    parse: str(),
  },
  esimEs5SmsMaxScriptBytes: {
    default: 96,
    doc: 'With esimScp81Port set, the largest ES5 command script (expanded, TS 102 226) the SM-SR sends by SMS; larger ones, SCP03t data and anything for an eUICC whose HTTPS session is open go over HTTPS (docs/esim.md, Running it). 96 keeps CreateISDP, Enable/Disable/Delete, GET STATUS and confirmations in one SMS; 0 sends everything over HTTPS (the push still goes by SMS). Without esimScp81Port everything goes by SMS.',
    parse: int(0, 112),
  },
  // --- eSIM: the SGP.02 SOAP listener (ES1-ES4 with other deployments over mutual TLS; docs/esim-soap.md)
  esimSoapPort: {
    default: undefined,
    doc: 'Port of the SGP.02 SOAP listener (0 picks a free port), with esimOperatorId: partner SM-DPs, SM-SRs, operators and EUMs registered with `simtrust esim partners add` call the SM-SR (ES1/ES3/ES4) and the SM-DP (ES3 notifications) here, and the in-process SM-DP and SM-SR reach registered partners through it. Needs esimSoapKeyFile and esimSoapCertificateFile. Unset: no listener; the SM-DP and SM-SR talk only to each other in-process. Off in demo mode.',
    parse: int(0, 65535),
  },
  esimSoapHost: {
    default: '127.0.0.1',
    doc: 'Address the SGP.02 SOAP listener listens on; only registered partners (pinned TLS certificates) get past the handshake check.',
    parse: str(),
  },
  esimSoapKeyFile: {
    default: undefined,
    doc: "PEM private key of this deployment's SOAP TLS certificate (listener and client certificate).",
    parse: str(),
  },
  esimSoapCertificateFile: {
    default: undefined,
    doc: 'PEM TLS certificate partners pin for this deployment (give them this file with `simtrust esim partners add --certificate`).',
    parse: str(),
  },
  esimSoapPublicUrl: {
    default: undefined,
    doc: 'Our SOAP endpoint as partners reach it (their ReplyTo target, e.g. behind a load balancer); default https://<esimSoapHost>:<port>/esim/soap.',
    parse: str(),
  },
  esimSoapPartnersRefreshSeconds: {
    default: 10,
    doc: 'How often the listener reads the partners registry again: a partner added or removed with the CLI is accepted or refused within this time.',
    parse: int(1, 3600),
  },
  esimSwitchValiditySeconds: {
    default: undefined,
    doc: "ValidityPeriod (SGP.02) of a switch carrier's ES4 PrepareSMSRChange and SMSRChange (docs/esim-switch.md): how long the target SM-SR holds the eUICC for the handover and how long the two SM-SRs may take to hand it over — the card retried while out of reach, a partner's answer awaited; after it the change ends with its stated outcome. Unset: PrepareSMSRChange 300 s, SMSRChange the SM-SR's default (600 s).",
    parse: int(30, 86_400),
  },
  // --- EAP-SIM / EAP-AKA / EAP-AKA' over RADIUS and the GSUP AuC interface (docs/aaa.md)
  eapConversationSeconds: {
    default: 60,
    doc: 'How long an EAP conversation may take between two rounds; its state travels sealed in RADIUS State and is refused after this.',
    parse: int(5, 3600),
  },
  eapResultIndication: {
    default: true,
    doc: 'Offer protected result indications (AT_RESULT_IND, RFC 4187 §6.2): a peer that asks for them gets a success notification protected by AT_MAC before EAP-Success.',
    parse: bool(),
  },
  eapPseudonymSeconds: {
    default: 86_400,
    doc: 'Lifetime of a pseudonym (AT_NEXT_PSEUDONYM, RFC 4187 §4.1.1.7); 0 issues none. Each full authentication replaces it.',
    parse: int(0, 31_536_000),
  },
  eapReauthSeconds: {
    default: 3600,
    doc: 'Lifetime of a fast re-authentication identity and its keys (AT_NEXT_REAUTH_ID, RFC 4187 §5); 0 turns fast re-authentication off.',
    parse: int(0, 604_800),
  },
  eapReauthMaxCount: {
    default: 100,
    doc: 'Fast re-authentications allowed after one full authentication (AT_COUNTER); then the peer must authenticate fully again.',
    parse: int(1, 65_535),
  },
  eapFailureLimit: {
    default: 10,
    doc: 'Failed EAP authentications (wrong RES or AT_MAC, authentication reject, bad AUTS) per IMSI within eapFailureWindowSeconds after which no new challenge is sent until the window ends.',
    parse: int(1, 1000),
  },
  eapFailureWindowSeconds: { default: 600, doc: 'Window of eapFailureLimit.', parse: int(10, 86_400) },
  gsupHost: {
    default: '127.0.0.1',
    doc: 'Address the GSUP (Osmocom, IPA over TCP) listener binds to. Binding elsewhere than loopback also needs gsupAllowedNetworks.',
    parse: str(),
  },
  gsupPort: {
    default: undefined,
    doc: 'Port of the optional GSUP listener that lets Osmocom core elements (and the simulator) use simtrust as HLR/AuC; unset: no listener (Osmocom uses 4222; 0 picks a free port).',
    parse: int(0, 65535),
  },
  gsupAllowedNetworks: {
    default: ['127.0.0.0/8', '::1/128'],
    doc: 'Source networks GSUP peers may connect from (CIDR blocks or addresses, IPv4 or IPv6; a JSON array or comma-separated). GSUP has no authentication, so this is its access control, as the NAS client list is for RADIUS: list the addresses of your MSC/SGSN (or the core network they sit in) when gsupHost is not loopback. Other peers are closed at once, logged and counted (`simtrust_gsup_connections_total{outcome="refused_network"}`).',
    parse: cidrList(),
  },
  gsupAllowedUnitNames: {
    default: [],
    doc: 'When set, a GSUP peer is served only after its IPA identity (ID_RESP) names one of these units (e.g. `MSC-00-00-00-00-00-00`); others are closed. Empty: any unit from an allowed network. The name is sent in the clear: it keeps a misconfigured element out, it does not authenticate one.',
    parse: stringList(),
  },
  gsupMaxConnectionsPerSource: {
    default: 16,
    doc: 'GSUP connections one source address may hold at once; more are closed at once (a core element needs one or two). Keeps one host from taking every slot of gsupMaxConnections.',
    parse: int(1, 10_000),
  },
  gsupMaxConnections: {
    default: 1000,
    doc: 'GSUP connections the listener holds at once, all sources together; more are closed at once.',
    parse: int(1, 100_000),
  },
  gsupIdleTimeoutSeconds: {
    default: 60,
    doc: 'A GSUP connection that has sent nothing for half this long gets an IPA PING; one that has sent nothing, not even the PONG, for this long is closed. libosmocore clients ping every 20 s themselves. With gsupAllowedUnitNames, a peer must also have identified itself within this time.',
    parse: int(2, 86_400),
  },
  // --- Beam: credential-injecting entry points for devices on their SIM session (docs/beam.md)
  beamHost: {
    default: '127.0.0.1',
    doc: "Address the Beam entry points (HTTP, MQTT, TCP, UDP) listen on. Devices reach them over their data session and the source address tells which SIM is sending (as for deviceHttpHost): open it only to the network the SIM sessions' addresses come from.",
    parse: str(),
  },
  beamHttpPort: {
    default: undefined,
    doc: "Port of Beam's HTTP entry point (SORACOM's is 8888; 0 picks a free port). Unset: no HTTP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  beamMqttPort: {
    default: undefined,
    doc: "Port of Beam's MQTT entry point (SORACOM's is 1883; 0 picks a free port). Unset: no MQTT entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  beamMqttMaxConnections: {
    default: 10_000,
    doc: 'Device connections the MQTT entry point holds at once, all devices together (each also holds one connection to its broker); more are closed at once.',
    parse: int(1, 1_000_000),
  },
  beamMqttMaxConnectionsPerSource: {
    default: 8,
    doc: 'Connections one source address (one SIM session) may hold at once on the MQTT entry point; more are closed at once.',
    parse: int(1, 10_000),
  },
  beamMqttMaxPacketBytes: {
    default: 1_048_576,
    doc: 'Largest MQTT packet the MQTT entry point reads from a device or a broker, in bytes; a larger one closes the connection (MQTT 5: DISCONNECT 0x95, and the broker is told this maximum). SORACOM sets none; a bound keeps one device from holding much memory.',
    parse: int(64, 268_435_455),
  },
  beamMqttMaxTopicBytes: {
    default: 1024,
    doc: 'Longest topic name or filter a device may send to the MQTT entry point, in bytes of UTF-8, before /{IMSI} is appended; a longer one closes the connection.',
    parse: int(1, 65_000),
  },
  beamMqttIdleTimeoutSeconds: {
    default: 1800,
    doc: 'A device connected to the MQTT entry point with keepalive 0 that sends nothing for this long is disconnected (SORACOM: 30 minutes). With a keepalive, 1.5 × the keepalive applies (MQTT 3.1.1 §3.1.2.10).',
    parse: int(10, 86_400),
  },
  beamMqttMaxInflight: {
    default: 256,
    doc: 'QoS 1 messages of one device the MQTT entry point has forwarded and the broker not yet acknowledged; at this many the device is read no further until PUBACKs come back (MQTT 5 devices are told it as Receive Maximum).',
    parse: int(1, 65_535),
  },
  beamMqttSessionCheckSeconds: {
    default: 60,
    doc: 'How often each open MQTT entry point connection checks that its SIM still owns the session address and is active; when not (session ended, SIM suspended) the device is disconnected (MQTT 5: reason 0x98) and its broker connection dropped.',
    parse: int(1, 3600),
  },
  beamTcpPort: {
    default: undefined,
    doc: "Port of Beam's TCP entry point (SORACOM's are 8023 and 23080; 0 picks a free port). Unset: no TCP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  beamUdpPort: {
    default: undefined,
    doc: "Port of Beam's UDP entry point (SORACOM's is 23080; 0 picks a free port). Unset: no UDP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  beamAllowedDestinationNetworks: {
    default: '',
    doc: 'Comma-separated addresses or CIDR networks (e.g. 10.20.0.0/16) Beam destinations may reach although they are loopback, private, link-local or reserved. Refused by default (a group configuration must not turn Beam into a way into the platform or its network); checked on every address DNS gives at connection time. Demo mode allows loopback.',
    parse: str(0),
  },
  beamDestinationCaFile: {
    default: undefined,
    doc: "PEM file of CA certificates trusted for Beam destinations' TLS certificates besides the system's (a private CA). An entry's client certificate credential (x509) with a `ca` trusts that CA instead.",
    parse: str(),
  },
  beamHttpMaxConnections: {
    default: 10_000,
    doc: 'Connections the HTTP entry point holds at once, all devices together; more are closed at once.',
    parse: int(1, 1_000_000),
  },
  beamHttpMaxConnectionsPerSource: {
    default: 32,
    doc: 'Connections one source address (one SIM session) may hold at once on the HTTP entry point; more are closed at once.',
    parse: int(1, 100_000),
  },
  beamHttpIdleTimeoutSeconds: {
    default: 60,
    doc: 'A device connection to the HTTP entry point with no request in progress is closed after this long; a request must also arrive whole (headers and body) within it.',
    parse: int(1, 3600),
  },
  beamHttpBodyLimitBytes: {
    default: 10_485_760,
    doc: 'Largest request body the HTTP entry point forwards, in bytes (streamed, never held in memory); larger ones get 413 and the destination sees the request cut off.',
    parse: int(0, 1_073_741_824),
  },
  beamHttpTimeoutSeconds: {
    default: 30,
    doc: "Time the destination gets to connect and answer (its status and headers), and at most between two pieces of its answer's body; then the device gets 504 ERR_BEAM_DESTINATION_TIMEOUT (or the cut answer).",
    parse: int(1, 600),
  },
  beamHttpConnectionsPerDestination: {
    default: 64,
    doc: 'Kept-alive connections the HTTP entry point opens to one destination (origin and client certificate) at most; requests beyond wait for one.',
    parse: int(1, 10_000),
  },
  beamTcpMaxConnections: {
    default: 10_000,
    doc: "Device connections Beam's and Funk's TCP entry points each hold at once, all devices together; more are closed at once.",
    parse: int(1, 1_000_000),
  },
  beamTcpMaxConnectionsPerSource: {
    default: 8,
    doc: "Connections one source address (one SIM session) may hold at once on Beam's or Funk's TCP entry point; more are closed at once.",
    parse: int(1, 100_000),
  },
  beamTcpIdleTimeoutSeconds: {
    default: 300,
    doc: "A connection to Beam's TCP entry point with no byte in either direction for this long is closed on both sides (Funk's TCP entry point: no byte from the device and no invocation running).",
    parse: int(1, 86_400),
  },
  beamUdpMaxDatagramBytes: {
    default: 65_507,
    doc: "Largest datagram Beam's and Funk's UDP entry points forward, in bytes (at most 65507, the largest IPv4 UDP payload); larger ones are dropped. The answer must fit one datagram too.",
    parse: int(1, 65_507),
  },
  beamUdpPacketsPerSecondPerSource: {
    default: 20,
    doc: "Datagrams one source address may send per second to Beam's or Funk's UDP entry point on average (bursts of twice that); more are dropped before any look-up.",
    parse: int(1, 100_000),
  },
  beamUdpMaxInFlight: {
    default: 1024,
    doc: "Datagrams Beam's (and, separately, Funk's) UDP entry point forwards at once, all sources together; more are dropped.",
    parse: int(1, 1_000_000),
  },
  // --- Funk: device data to a function over HTTPS (docs/funnel-funk.md, Funk); listens on beamHost
  funkHttpPort: {
    default: undefined,
    doc: "Port of Funk's HTTP entry point (SORACOM's funk.soracom.io is port 80; 0 picks a free port). Unset: no HTTP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  funkTcpPort: {
    default: undefined,
    doc: "Port of Funk's TCP entry point (SORACOM's is 23080; 0 picks a free port). Unset: no TCP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  funkUdpPort: {
    default: undefined,
    doc: "Port of Funk's UDP entry point (SORACOM's is 23080; 0 picks a free port). Unset: no UDP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  funkTimeoutSeconds: {
    default: 30,
    doc: 'Time a function gets to connect and answer (and at most between two pieces of its answer); then the device gets 504 ERR_FUNK_FUNCTION_TIMEOUT.',
    parse: int(1, 900),
  },
  funkMaxBodyBytes: {
    default: 1_048_576,
    doc: "Largest request body Funk's HTTP entry point takes (413 above it), and largest function answer it passes back over HTTP or TCP (502 ERR_FUNK_FUNCTION_FAILED above it); over UDP the answer must also fit one datagram (beamUdpMaxDatagramBytes).",
    parse: int(1, 67_108_864),
  },
  funkConnectionsPerFunction: {
    default: 64,
    doc: 'Kept-alive connections Funk opens to one function origin at most; invocations beyond wait for one.',
    parse: int(1, 10_000),
  },
  // --- Funnel: device data to message brokers (docs/funnel-funk.md); listens on beamHost
  funnelHttpPort: {
    default: undefined,
    doc: "Port of Funnel's HTTP entry point (SORACOM's funnel.soracom.io is port 80; 0 picks a free port). Unset: no HTTP entry point. Demo mode picks a free port.",
    parse: int(0, 65535),
  },
  funnelTcpPort: {
    default: undefined,
    doc: "Port of Funnel's TCP entry point (SORACOM's is 23080, on its own host; here it shares beamHost, so it needs a port of its own). Unset: no TCP entry point.",
    parse: int(0, 65535),
  },
  funnelUdpPort: {
    default: undefined,
    doc: "Port of Funnel's UDP entry point (SORACOM's is 23080, on its own host). Unset: no UDP entry point.",
    parse: int(0, 65535),
  },
  funnelMaxBodyBytes: {
    default: 800_000,
    doc: "Largest message the HTTP entry point takes, in bytes (SORACOM's limit); larger ones get 413 ERR_PAYLOAD_TOO_LARGE. TCP and UDP messages are one segment or datagram.",
    parse: int(1, 67_108_864),
  },
  funnelPublishTimeoutSeconds: {
    default: 10,
    doc: "Time from taking a message to the broker's confirmation (connecting included); then the device gets 504 ERR_FUNNEL_DESTINATION_TIMEOUT (the message may still be stored: at-least-once).",
    parse: int(1, 300),
  },
  funnelConnectTimeoutSeconds: {
    default: 5,
    doc: 'Time a connection to a broker gets to open (TCP, TLS and log-in).',
    parse: int(1, 120),
  },
  funnelMaxBrokerConnections: {
    default: 256,
    doc: 'Broker connections Funnel holds at once (one per operator, destination and credential set); when all are busy a message for a new one gets 503 ERR_FUNNEL_BUSY.',
    parse: int(1, 100_000),
  },
  funnelMaxInFlightPerBrokerConnection: {
    default: 1000,
    doc: 'Messages waiting for the broker to confirm on one connection; more get 503 ERR_FUNNEL_BUSY.',
    parse: int(1, 1_000_000),
  },
  funnelBrokerIdleSeconds: {
    default: 60,
    doc: 'A broker connection unused for this long is closed.',
    parse: int(1, 86_400),
  },
  funnelMaxConnections: {
    default: 10_000,
    doc: 'Device connections the HTTP and the TCP entry point each hold at once; more are closed at once.',
    parse: int(1, 1_000_000),
  },
  funnelMaxConnectionsPerSource: {
    default: 32,
    doc: 'Device connections one source address (one SIM session) may hold at once on the HTTP or the TCP entry point; more are closed at once.',
    parse: int(1, 100_000),
  },
  funnelIdleTimeoutSeconds: {
    default: 60,
    doc: 'A device connection with nothing in progress is closed after this long; an HTTP request must also arrive whole within it.',
    parse: int(1, 3600),
  },
  funnelUdpPacketsPerSecondPerSource: {
    default: 50,
    doc: 'Datagrams one source address may send to the UDP entry point per second on average (bursts of twice that); more are dropped unanswered.',
    parse: int(1, 1_000_000),
  },
  funnelUdpMaxInFlight: {
    default: 1000,
    doc: 'Datagrams the UDP entry point delivers at once, all sources together; more are dropped unanswered.',
    parse: int(1, 1_000_000),
  },
  // --- AAA: the AuC and the RADIUS server (docs/aaa.md)
  radiusEnabled: {
    default: true,
    doc: 'Run the RADIUS authentication and accounting listeners (UDP) with the API.',
    parse: bool(),
  },
  radiusHost: { default: '127.0.0.1', doc: 'Address the RADIUS listeners bind to.', parse: str() },
  radiusAuthPort: {
    default: 1812,
    doc: 'UDP port of the RADIUS authentication listener (RFC 2865; 0 picks a free port).',
    parse: int(0, 65535),
  },
  radiusAcctPort: {
    default: 1813,
    doc: 'UDP port of the RADIUS accounting listener (RFC 2866; 0 picks a free port).',
    parse: int(0, 65535),
  },
  radiusAddressPool: {
    default: '127.64.0.0/16',
    doc: "IPv4 network (CIDR, /8 to /30) that Framed-IP-Address is allocated from when the SIM's group sets no `SoracomAir.addressPool`. A loopback range lets simulated devices really use their address.",
    parse: (raw: unknown): string => {
      const text = str()(raw);
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
      if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) < 8 || Number(m[5]) > 30) {
        throw new Error('expected an IPv4 network such as 127.64.0.0/16 (prefix /8 to /30)');
      }
      return text;
    },
  },
  radiusAddressLeaseSeconds: {
    default: 86_400,
    doc: 'How long an allocated address stays reserved for its SIM without accounting (Start and Interim-Update renew it; Stop frees it).',
    parse: int(60, 31_536_000),
  },
  radiusDuplicateCacheSeconds: {
    default: 30,
    doc: 'How long an answer is kept for a retransmitted request (same source, Identifier and Authenticator; RFC 5080 §2.2.2).',
    parse: int(1, 600),
  },
  radiusClientRefreshSeconds: {
    default: 10,
    doc: 'How often each instance reloads the NAS client list (changes made on the same instance apply at once).',
    parse: int(1, 3600),
  },
  radiusAccountingBatchMax: {
    default: 1000,
    doc: 'Group commit: most accounting records written in one transaction. A record is acknowledged only after its transaction committed.',
    parse: int(1, 10_000),
  },
  radiusInterimIntervalSeconds: {
    default: 600,
    doc: 'Acct-Interim-Interval sent in every Access-Accept (RFC 2869 §5.16: at least 60, and it SHOULD NOT be below 600): how often the NAS reports each live session with an Interim-Update. Also how often each instance looks for silent sessions (radiusStaleSessionMissedInterims).',
    parse: int(60, 86_400),
  },
  radiusStaleSessionMissedInterims: {
    default: 3,
    doc: 'A session with no accounting record for this many interim intervals (its Stop, or its Start, was lost) is closed as `Interim-Timeout`, so it no longer shows online or receives CoA/Disconnect-Requests; an Interim-Update from it later brings it back online. 0: never close sessions for silence.',
    parse: int(0, 1000),
  },
  radiusDynamicAuthorizationTimeoutMs: {
    default: 1000,
    doc: 'Wait for a Disconnect-/CoA-ACK before the first retry (RFC 5176); each retry doubles it.',
    parse: int(50, 60_000),
  },
  radiusDynamicAuthorizationAttempts: {
    default: 3,
    doc: 'Transmissions of a Disconnect-/CoA-Request before the outcome is recorded as timeout.',
    parse: int(1, 10),
  },
  eventWebRequestAllowedNetworks: {
    default: '',
    doc: 'Comma-separated addresses or CIDR networks (e.g. 10.20.0.0/16) that event handler web requests may reach although they are loopback, private, link-local or reserved (refused by default: SSRF defence; docs/event-handlers.md).',
    parse: str(0),
  },
  smtpUrl: {
    default: undefined,
    // The URL may carry the SMTP password: environment or file only.
    secret: true,
    doc: 'SMTP server of event handler mail (SendMailAction, SendMailToOperatorAction): smtp://user:password@host:587 (STARTTLS when offered) or smtps://user:password@host:465. Unset: mail actions fail with a clear error.',
    parse: str(),
  },
  smtpFrom: {
    default: 'simtrust <noreply@simtrust.invalid>',
    doc: 'Sender (From) of event handler mail.',
    parse: str(3),
  },
  eventActionLeaseSeconds: {
    default: 60,
    doc: 'How long an instance holds an event handler action it started; if it dies meanwhile, another instance (or the restarted one) runs the action after this time.',
    parse: int(1, 3600),
  },
  eventWebRequestTimeoutMs: {
    default: 10_000,
    doc: 'Time an event handler web request may take (connect and answer) before it counts as failed and is retried with backoff.',
    parse: int(100, 120_000),
  },
  aucResyncFailureLimit: {
    default: 5,
    doc: 'AUTS with a wrong MAC-S accepted per IMSI within aucResyncFailureWindowSeconds; after that, resynchronisation of that IMSI is refused until the window ends.',
    parse: int(1, 1000),
  },
  aucResyncFailureWindowSeconds: {
    default: 3600,
    doc: 'Window of aucResyncFailureLimit, in seconds.',
    parse: int(60, 604_800),
  },
  // --- retention (docs/operations.md): 0 keeps a kind forever
  retentionSessionsDays: {
    default: 90,
    doc: 'Ended data sessions, their session events and completed CoA/Disconnect requests are deleted this many days after they ended (0 keeps them).',
    parse: int(0, 36_500),
  },
  retentionUsageHourlyDays: {
    default: 93,
    doc: 'Hourly usage buckets are deleted after this many days (0 keeps them); 93 is the longest range an hourly stats query answers.',
    parse: int(0, 36_500),
  },
  retentionUsageDailyDays: {
    default: 400,
    doc: 'Daily usage buckets are deleted after this many days (0 keeps them); monthly stats are sums of days, so this also bounds them (400: this month and the same month a year ago).',
    parse: int(0, 36_500),
  },
  retentionRefusalsDays: {
    default: 90,
    doc: 'AAA refusals (GET /v1/sims/{id}/events/refusals) are deleted after this many days (0 keeps them).',
    parse: int(0, 36_500),
  },
  retentionAuditLogDays: {
    default: 365,
    doc: 'Audit log records are deleted after this many days (0 keeps them). Only the purge can delete them; the database refuses any other change.',
    parse: int(0, 36_500),
  },
  retentionSmsDays: {
    default: 90,
    doc: 'SMS delivery records (they hold phone numbers) are deleted this many days after they were created (0 keeps them).',
    parse: int(0, 36_500),
  },
  retentionEventHistoryDays: {
    default: 90,
    doc: 'Event handler history — firings and finished action runs (GET /v1/event_handlers/{id}/executions) — is deleted this many days after it happened (0 keeps it); runs still pending or running are kept, and so is their firing.',
    parse: int(0, 36_500),
  },
  retentionPurgeIntervalSeconds: {
    default: 3600,
    doc: 'How often each running instance purges what retention and expiry allow (expired API tokens, counters, one-time values and login transactions always go). 0 turns the background purge off; `simtrust admin purge` runs it by hand.',
    parse: int(0, 604_800),
  },
  retentionPurgeBatchRows: {
    default: 1000,
    doc: 'Rows deleted per statement by the purge; it yields to other work between batches, so a smaller batch keeps each write lock shorter.',
    parse: int(10, 100_000),
  },
  beamMetricsSimSeries: {
    default: 100,
    doc: 'Beam/Funnel/Funk SIMs with their own series in /metrics (simtrust_beam_sim_requests_total): the first ones each process sees; the rest are summed as sim_id="other", so the series stay bounded. 0: no per-SIM series (the stats API has every SIM).',
    parse: int(0, 10_000),
  },
  exportUrlTtlSeconds: {
    default: 600,
    doc: 'Lifetime of the download URL of an exported file (stats export, GET /files/exported/{id}); asking again gives a new URL.',
    parse: int(10, 86_400),
  },
  exportRetentionHours: {
    default: 72,
    doc: 'Exported files (CSV under dataDir/exports) and their records are deleted this many hours after they were made.',
    parse: int(1, 8_760),
  },
  dataplaneEnabled: {
    default: true,
    doc: 'Start the data plane (docs/vpg.md): VPGs as network namespaces with nftables rulesets. Needs CAP_NET_ADMIN and the programs ip and nft; without them serve logs once that the data plane is off and why, and VPG changes answer 503 ERR_DATAPLANE_UNAVAILABLE.',
    parse: bool(),
  },
  vpgReconcileIntervalSeconds: {
    default: 30,
    doc: 'Period of the data plane full reconcile (every VPG re-read from the database and applied where it differs), which heals a lost session event; changes are applied at once anyway.',
    parse: int(1, 3_600),
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

// Row types of the one schema shared by SQLite and PostgreSQL. Columns are snake_case; times are
// Unix milliseconds (bigint in PostgreSQL, parsed to number); booleans are 0/1 integers so both
// databases return the same values.

import type { Generated } from 'kysely';

export interface OperatorsTable {
  operator_id: string;
  email: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export interface ApiTokensTable {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  token_hash: string;
  operator_id: string;
  api_key: string;
  user_name: string | null;
  expires_at: number;
  created_at: number;
  /** The auth key the token was issued for (null for password logins). */
  auth_key_id: Generated<string | null>;
}

export interface DataKeysTable {
  key_id: Generated<number>;
  /** Id of the master key (key-encryption key) that wrapped this data key. */
  kek_id: string;
  wrapped_key: string;
  active: number;
  created_at: number;
}

export interface SimsTable {
  sim_id: string;
  operator_id: string;
  type: string;
  status: string;
  speed_class: string;
  group_id: string | null;
  imei_lock: string | null;
  imei_lock_anonymous: number;
  termination_enabled: number;
  serial_number: string | null;
  created_at: number;
  updated_at: number;
  /** Unix ms when the SIM expires (setSimExpiryTime; migration 0011); null: no expiry. */
  expiry_time: number | null;
  /** doNothing | deleteSession | deactivate | suspend | terminate; null with no expiry. */
  expiry_action: string | null;
}

export interface SimProfilesTable {
  iccid: string;
  sim_id: string;
  operator_id: string;
  imsi: string;
  msisdn: string | null;
  /** Ki ‖ OPc sealed with the envelope key ring; never leaves the platform layer. */
  secrets: string;
  amf: string;
  /** Highest SQN handed out by the AuC (48-bit, TS 33.102 Annex C). */
  sqn: number;
  ind_bits: number;
  is_primary: number;
  created_at: number;
}

export interface SimTagsTable {
  sim_id: string;
  name: string;
  operator_id: string;
  value: string;
}

export interface SimStatusHistoryTable {
  id: Generated<number>;
  sim_id: string;
  operator_id: string;
  previous_status: string | null;
  status: string;
  operation: string;
  actor: string;
  at: number;
}

export interface GroupsTable {
  group_id: string;
  operator_id: string;
  created_at: number;
  updated_at: number;
}

export interface GroupTagsTable {
  group_id: string;
  name: string;
  value: string;
}

export interface GroupConfigurationTable {
  group_id: string;
  namespace: string;
  key: string;
  /** JSON text of the value. */
  value: string;
}

/**
 * Opens the audit log's append-only guard for the retention purge: while a row exists (only ever
 * inside the purge's own transaction), records with `at` < `before` may be deleted (issue 11).
 */
export interface AuditLogPurgeGateTable {
  before: number;
}

export interface AuditLogsTable {
  id: Generated<number>;
  operator_id: string;
  at: number;
  actor_kind: string;
  actor_id: string;
  operation_id: string;
  method: string | null;
  path: string | null;
  /** JSON text of the path variables. */
  params: string;
  source_ip: string | null;
  request_id: string | null;
  result: string;
  status_code: number | null;
  /** JSON text with operation-specific detail (never secrets). */
  detail: string;
  /** The sub-user acting (also for a user's auth key); null for root and system. */
  user_name: Generated<string | null>;
  auth_key_id: Generated<string | null>;
}

/** Access management (issue 3). `user_name` '' stands for the root account where it is a key. */
export interface UsersTable {
  operator_id: string;
  user_name: string;
  description: string;
  /** scrypt hash (passwords.ts); null when the user has no password. */
  password_hash: string | null;
  console_login: number;
  /** The permission document as saved (JSON text, validated at save time). */
  permission: string | null;
  created_at: number;
  updated_at: number;
}

export interface RolesTable {
  operator_id: string;
  role_id: string;
  description: string;
  permission: string;
  created_at: number;
  updated_at: number;
}

export interface UserRolesTable {
  operator_id: string;
  user_name: string;
  role_id: string;
  attached_at: number;
}

export interface DefaultPermissionsTable {
  operator_id: string;
  permission: string;
  updated_at: number;
}

export interface AuthKeysTable {
  auth_key_id: string;
  operator_id: string;
  /** '' for a root key. */
  user_name: string;
  /** SHA-256 of the secret (256 random bits); the secret itself is shown once and never stored. */
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
}

export interface AccountMfaTable {
  operator_id: string;
  user_name: string;
  status: string;
  /** The TOTP secret sealed with the key ring. */
  secret: string;
  created_at: number;
  updated_at: number;
}

export interface MfaBackupCodesTable {
  operator_id: string;
  user_name: string;
  /** SHA-256 of the normalised code (80 random bits). */
  code_hash: string;
  created_at: number;
}

export interface CountersTable {
  scope: string;
  key: string;
  value: number;
  window_start: number;
  expires_at: number;
}

export interface OneTimeValuesTable {
  scope: string;
  key: string;
  value: string;
  expires_at: number;
  created_at: number;
}

export interface EndorseSigningKeysTable {
  /** RFC 7638 JWK thumbprint (base64url); the `kid` of native tokens. */
  kid: string;
  /** SORACOM Endorse's form `v1-<32 hex>-x509.pem`, the `kid` of tokens with `compat: "soracom"`. */
  compat_kid: string;
  alg: string;
  /** JSON text of the public JWK (RFC 7517). */
  public_jwk: string;
  /** Self-signed X.509 certificate of the public key, PEM. */
  certificate: string;
  /** The operator whose tokens this key signs and whose JWKS publishes it (issue 11). */
  operator_id: string;
  /**
   * PKCS#8 DER sealed with the key ring: context `endorse-signing-key:<operator_id>:<kid>` when
   * `seal_version` is 2; `endorse-signing-key:<kid>` (1, keys made before issue 11, resealed on read).
   */
  private_key: string;
  seal_version: number;
  /** Published (in the JWKS) from this time. */
  created_at: number;
  /** Signs from this time until the next key of the same alg activates. */
  activates_at: number;
  /** Dropped from the JWKS at this time (set when a successor is created); null while current. */
  unpublish_at: number | null;
}

export interface DirectoriesTable {
  directory_id: string;
  operator_id: string;
  name: string;
  created_at: number;
  updated_at: number;
}

export interface DirectoryUsersTable {
  directory_id: string;
  user_id: string;
  operator_id: string;
  display_name: string | null;
  /** scrypt (src/platform/iam/passwords.ts). */
  password_hash: string;
  /** E.164, e.g. +819012345678. */
  phone_number: string | null;
  /** When the number was proven (an SMS code typed back) or attested by an administrator. */
  phone_verified_at: number | null;
  /** TOTP secret sealed with the key ring (context `directory-user-totp:<directory>/<user>`). */
  totp_secret: string | null;
  sim_imsi: string | null;
  sim_imei: string | null;
  /** JSON array of group names. */
  groups: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface MfaTransactionsTable {
  /** SHA-256 of the login-transaction id held in the browser's cookie (or given to an API client). */
  transaction_hash: string;
  operator_id: string;
  application: string;
  /** Subject key: `dir:<directoryId>:<userId>` or `op:<operatorId>:root|user:<name>`. */
  subject: string;
  user_id: string;
  /** JSON array of the second factors the policy allows for this login. */
  factors: string;
  factor: string | null;
  /** `factor` (password verified, second factor pending), `done`, `dead`. */
  state: string;
  return_to: string;
  /** Bumped on every new SMS code, so each code has its own guess counter. */
  code_generation: number;
  message_id: string | null;
  source_ip: string | null;
  created_at: number;
  expires_at: number;
}

export interface GatewaySessionsTable {
  /** SHA-256 of the session id in the cookie; the id itself is never stored. */
  session_hash: string;
  operator_id: string;
  application: string;
  subject: string;
  user_id: string;
  /** JSON array of group names at login. */
  groups: string;
  /** JSON array of the methods used (RFC 8176 values: pwd, sms, otp, sim). */
  amr: string;
  source_ip: string | null;
  created_at: number;
  last_seen_at: number;
  /** Absolute expiry; the idle timeout is checked against last_seen_at. */
  expires_at: number;
}

export interface SmsMessagesTable {
  /** Our reference (sent to providers as the client reference). The text is never stored. */
  message_id: string;
  operator_id: string;
  purpose: string;
  subject: string;
  phone_number: string;
  provider: string | null;
  provider_message_id: string | null;
  /** queued, accepted, delivered, failed, expired, unknown. */
  status: string;
  error_code: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
}

export interface MfaSmsEnrollmentsTable {
  operator_id: string;
  /** `root` or `user:<userName>`. */
  principal: string;
  phone_number: string;
  verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface MfaKeysTable {
  name: string;
  /** 32 random bytes sealed with the key ring (context `mfa-key:<name>`). */
  sealed: string;
  created_at: number;
}

// --- AAA (issue 5, migration 0003-aaa)

export interface RadiusClientsTable {
  client_id: string;
  operator_id: string;
  name: string;
  /** Normalised CIDR ("127.0.0.1/32"). */
  address: string;
  /** The shared secret, sealed with the key ring (context `radius-client:<client_id>`). */
  secret: string;
  coa_port: number;
  require_message_authenticator: number;
  created_at: number;
  updated_at: number;
}

export interface SimSessionsTable {
  session_id: string;
  operator_id: string;
  sim_id: string;
  imsi: string;
  /** 15-digit IMEI (check digit computed from the reported IMEISV). */
  imei: string | null;
  ue_ip: string | null;
  apn: string | null;
  nas_address: string;
  acct_session_id: string;
  /** JSON text of the serving cell {radioType, mcc, mnc, tac, eci, lac, ci}. */
  cell: string | null;
  status: 'online' | 'offline';
  speed_class: string;
  /** Highest cumulative counters reported so far (usage counts only what exceeds them). */
  input_octets: number;
  output_octets: number;
  input_packets: number;
  output_packets: number;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  terminate_cause: string | null;
}

export interface SimSessionEventsTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  session_id: string;
  event: 'Created' | 'Modified' | 'Deleted';
  imsi: string;
  imei: string | null;
  ue_ip: string | null;
  apn: string | null;
  cell: string | null;
  at: number;
}

export interface SimUsageTable {
  sim_id: string;
  period: 'hour' | 'day';
  bucket_start: number;
  speed_class: string;
  operator_id: string;
  upload_bytes: number;
  download_bytes: number;
  upload_packets: number;
  download_packets: number;
}

export interface IpLeasesTable {
  pool: string;
  address: string;
  operator_id: string;
  sim_id: string;
  /** '' when the request named no APN. */
  apn: string;
  expires_at: number;
  updated_at: number;
}

export interface AaaRefusalsTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  imsi: string;
  imei: string | null;
  code: string;
  reason: string;
  access: string;
  apn: string | null;
  nas_address: string | null;
  at: number;
}

export interface RadiusDynamicRequestsTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  session_id: string;
  kind: 'disconnect' | 'coa';
  reason: string;
  nas_address: string;
  /** JSON text: what was asked (e.g. the new rates). */
  detail: string;
  status: 'pending' | 'ack' | 'nak' | 'timeout' | 'error';
  attempts: number;
  error_cause: number | null;
  created_at: number;
  completed_at: number | null;
}

/** The key sealing EAP conversation state in RADIUS State (servers/radius/eap), sealed by the key ring. */
export interface EapStateKeysTable {
  key_id: number;
  sealed_key: string;
  created_at: number;
}

/** The pseudonym and fast re-authentication identity last issued to a subscriber (RFC 4187 §5). */
export interface EapIdentitiesTable {
  imsi: string;
  operator_id: string;
  sim_id: string;
  method: string;
  pseudonym: string | null;
  pseudonym_expires_at: number | null;
  reauth_id: string | null;
  /** Sealed K_aut ‖ K_encr ‖ MK (or K_re for EAP-AKA'). */
  reauth_keys: string | null;
  reauth_counter: number;
  reauth_expires_at: number | null;
  conversation: string;
  updated_at: number;
}

/** Issue 13 (platform/ota, migration 0009-ota). */
export interface OtaKeySetsTable {
  sim_id: string;
  /** Key version number 1..15 (the high nibble of KIc/KID). */
  kvn: number;
  operator_id: string;
  kic_algorithm: string;
  kid_algorithm: string;
  /** len(KIc) ‖ KIc ‖ len(KID) ‖ KID sealed with the key ring, context `ota-key-set:<sim_id>:<kvn>`. */
  secrets: string;
  /** The last CNTR sent with this key set (0 before the first command). */
  counter: number;
  /** The last report (alert) CNTR accepted from the card with this key set. */
  report_counter: number;
  created_at: number;
}

export interface AntiTheftSimsTable {
  sim_id: string;
  operator_id: string;
  /** The applet's TAR, 6 hex digits. */
  tar: string;
  /** The key set commands are secured with. */
  kvn: number;
  /** The key set the applet secures its alerts with. */
  report_kvn: number;
  /** The IMSI the applet writes into EF.IMSI when it blocks: SMS only, never a data session. */
  quarantine_imsi: string;
  /** The operator's desired configuration (JSON), null until set. */
  desired: string | null;
  /** The state the card last reported in a verified PoR (JSON). */
  reported: string | null;
  reported_at: number | null;
  updated_at: number;
}

export type OtaCommandStatus = 'pending' | 'applied' | 'failed';

export interface OtaCommandsTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  kvn: number;
  counter: number;
  tar: string;
  /** The commands (JSON, the `Command` objects of src/lib/anti-theft-encoding.ts). */
  commands: string;
  status: OtaCommandStatus;
  /** TS 102 225 Table 5 status of the verified PoR. */
  por_status: number | null;
  /** The PoR's result (JSON: executed, result). */
  result: string | null;
  created_at: number;
  updated_at: number;
}

export interface AntiTheftAlertsTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  event: string;
  reason: string;
  imei: string | null;
  /** JSON of the cell the terminal reported. */
  cell: string | null;
  counter: number;
  at: number;
}

// --- event handlers (migration 0010, src/platform/events/migration.ts)

export interface EventHandlersTable {
  handler_id: string;
  operator_id: string;
  name: string;
  description: string;
  /** active | inactive */
  status: string;
  /** operator | imsi | sim | group */
  target_kind: string;
  target_id: string;
  rule_type: string;
  /** JSON {type, properties} */
  rule_config: string;
  /** JSON [{type, properties}] */
  action_config_list: string;
  created_at: number;
  updated_at: number;
}

export interface EventHandlerIgnoresTable {
  handler_id: string;
  sim_id: string;
  operator_id: string;
  created_at: number;
}

export interface EventOutboxTable {
  id: Generated<number>;
  operator_id: string;
  sim_id: string;
  kind: string;
  /** JSON facts of the event (old and new status, session, IMEI …) */
  detail: string;
  at: number;
}

export interface EventRuleStatesTable {
  handler_id: string;
  /** a SIM id, or '*' when the handler fires once among its whole target */
  target_key: string;
  fired_at: number;
  /** null: never armed again */
  rearm_at: number | null;
}

export interface EventFiringsTable {
  id: Generated<number>;
  operator_id: string;
  handler_id: string;
  sim_id: string | null;
  firing_key: string;
  rule_type: string;
  detail: string;
  at: number;
}

export interface EventActionRunsTable {
  id: Generated<number>;
  operator_id: string;
  handler_id: string;
  firing_id: number;
  sim_id: string | null;
  action_index: number;
  action_type: string;
  /** JSON {type, properties} as configured when the rule fired */
  action: string;
  idempotency_key: string;
  /** pending | running | succeeded | failed | skipped | cancelled */
  status: string;
  run_at: number;
  attempts: number;
  claimed_until: number | null;
  /** JSON outcome (what changed, or the error) */
  result: string | null;
  created_at: number;
  updated_at: number;
}

/** SGP.02 partners: who may call our SOAP listener, whom we call (migration 0016-esim-partners). */
export interface EsimPartnersTable {
  partner_id: string;
  /** Owning operator; '' for the platform's own SM-DP / SM-SR. */
  operator_id: string;
  /** Entity id (OID) of the partner's SM-DP / SM-SR / MNO / EUM. */
  entity_id: string;
  /** sm-dp | sm-sr | operator | eum */
  role: string;
  /** Its SOAP listener (https URL). */
  endpoint: string;
  /** PEM of its TLS certificate (pinned). */
  certificate: string;
  /** SHA-256 fingerprint of the certificate, as node:crypto prints it (AA:BB:…). */
  fingerprint: string;
  not_after: number;
  created_at: number;
}

/** eSIM CI roots this deployment trusts (migration 0012-esim-pki; platform/esim/ci). */
export interface EsimCisTable {
  ci_id: string;
  /** Hex key identifier (SubjectKeyIdentifier): what GP certificates carry in `42` and `C9`. */
  key_id: string;
  subject: string;
  /** PEM of the self-signed X.509 certificate. */
  certificate: string;
  /** Sealed PKCS#8 of the CI key (key ring, context `esim-ci:<ci_id>`); null for an imported CI. */
  private_key: string | null;
  /** created | imported */
  origin: string;
  not_before: number;
  not_after: number;
  created_at: number;
}

/** Certificates of the eSIM PKI: EUM (X.509), SM-DP / SM-SR / ECASD (GP 7F21). */
export interface EsimCertificatesTable {
  cert_id: string;
  /** Owning operator; '' for the platform's own (EUMs of the software cards). */
  operator_id: string;
  /** eum | sm-dp | sm-sr | ecasd */
  role: string;
  /** Entity id (OID) of the EUM / SM-DP / SM-SR, or the EID of an eUICC. */
  subject: string;
  /** x509 (certificate is PEM) | gp (certificate is hex of 7F21) */
  format: string;
  certificate: string;
  /** Hex 04‖X‖Y of the certified key. */
  public_key: string;
  key_id: string;
  issuer_key_id: string;
  serial: string;
  /** Sealed PKCS#8 (context `esim-cert:<cert_id>`); null for ECASD (the key stays on the card). */
  private_key: string | null;
  not_before: number;
  not_after: number;
  created_at: number;
}

/** SM-SR: a registered eUICC's EIS (migration 0013-esim-sm-sr; platform/esim/sm-sr). */
export interface EsimSrEisTable {
  eid: string;
  eum_id: string;
  smsr_id: string;
  /** JSON of {eumSignedInfo, eumSignature} as registered (bytes hex), re-verifiable with the EUM key. */
  signed_info: string;
  /** PEM of the EUM certificate the EIS signature was verified with. */
  eum_certificate: string;
  /** JSON of the ECASD SecurityDomain (certificates, no secrets). */
  ecasd: string;
  /** JSON of the ISD-R SecurityDomain without key values (those are in esim_sr_keysets, sealed). */
  isdr: string;
  remaining_memory: number;
  available_memory: number;
  last_audit_at: number | null;
  additional_properties: string | null;
  registered_at: number;
  updated_at: number;
  /**
   * At SM-SR1: the hand-over the operator gave up with its outcome unknown (migration 0026, JSON
   * {target, functionCallId, requester, procedureId, since, by, why}); null otherwise. While set,
   * only AuditEIS runs on the eUICC here.
   */
  handover_unknown: string | null;
}

/** SM-SR: ProfileInfo rows of an EIS. */
export interface EsimSrProfilesTable {
  eid: string;
  iccid: string;
  isdp_aid: string;
  mno_id: string;
  smdp_id: string | null;
  /** In-Creation | Created | Disabled | Enabled */
  state: string;
  fallback: number;
  imsi: string | null;
  msisdn: string | null;
  profile_type: string | null;
  allocated_memory: number;
  /** JSON Pol2 */
  pol2: string;
  created_at: number;
  updated_at: number;
}

/** SM-SR: ISD-R key sets, keys sealed (context `esim-sr-keyset:<eid>:<kvn>`). */
export interface EsimSrKeysetsTable {
  eid: string;
  kvn: number;
  /** SCP80 | SCP81 */
  type: string;
  secrets: string;
  /** Last SCP80 command counter used (TS 102 225, 5 octets). */
  counter: number;
  created_at: number;
}

/** SM-SR: the EIS audit trail. */
export interface EsimSrAuditTable {
  id: Generated<number>;
  eid: string;
  at: number;
  operation_type: string;
  requester_id: string | null;
  /** JSON FunctionExecutionStatus */
  status: string | null;
  isdp_aid: string | null;
  iccid: string | null;
  imei: string | null;
}

/** SM-SR: function runs on an eUICC; `active_eid` (unique) is the per-eUICC lock. */
export interface EsimSrProceduresTable {
  procedure_id: string;
  eid: string;
  active_eid: string | null;
  function: string;
  requester: string;
  function_call_id: string;
  step: string;
  /** JSON of the procedure's inputs and progress */
  data: string;
  /** JSON FunctionExecutionStatus once ended */
  result: string | null;
  deadline: number;
  created_at: number;
  updated_at: number;
}

/** SM-DP: one ES2.DownloadProfile procedure (migration 0014). */
export interface EsimDpDownloadsTable {
  download_id: string;
  operator_id: string;
  mno_id: string;
  function_call_id: string;
  eid: string;
  smsr_id: string;
  iccid: string;
  /** The ICCID while the procedure runs, null once it ended (UNIQUE: one download per ICCID). */
  active_iccid: string | null;
  profile_type: string;
  enable: number;
  /** The step entered last; stored before its message leaves. */
  step: string;
  attempt: number;
  isdp_aid: string | null;
  /** JSON of non-secret progress (PK.ECASD.ECKA, RC). */
  progress: string;
  /** Ephemeral key / ISD-P key set, sealed with the key ring (`esim-dp-download:<id>`). */
  secrets: string | null;
  /** running | EXECUTED_SUCCESS | EXECUTED_WITHWARNING | FAILED | EXPIRED */
  status: string;
  /** JSON FunctionExecutionStatus once ended. */
  result: string | null;
  failure_code: string | null;
  /** Unix ms after which the procedure ends EXPIRED (the request's ValidityPeriod); null: none. */
  deadline: number | null;
  created_at: number;
  updated_at: number;
}

/** SM-DP: the steps a download went through (no secrets). */
export interface EsimDpStepsTable {
  download_id: string;
  seq: number;
  step: string;
  detail: string;
  at: number;
}

/** SM-SR: default notifications handled. */
export interface EsimSrNotificationsTable {
  eid: string;
  seq: number;
  type: number;
  isdp_aid: string;
  received_at: number;
}

/** eSIM operator layer: an operator's eUICC SIM (migration 0015). */
export interface EsimEuiccsTable {
  sim_id: string;
  operator_id: string;
  eid: string;
  smsr_id: string;
  created_at: number;
  /** The SM-SR the eUICC was handed over to by an SM-SR change (migration 0018); null: ours manages it. */
  handed_over_to: Generated<string | null>;
  handed_over_at: Generated<number | null>;
}

/** eSIM operator layer: a profile on an eUICC as last learnt (no secrets). */
export interface EsimProfilesTable {
  iccid: string;
  sim_id: string;
  operator_id: string;
  mno_id: string;
  /** Created | Disabled | Enabled | handed-over */
  state: string;
  imsi: string | null;
  msisdn: string | null;
  profile_type: string | null;
  updated_at: number;
}

/** eSIM operator layer: one profile operation (download/enable/disable/delete). */
export interface EsimOperationsTable {
  operation_id: string;
  operator_id: string;
  sim_id: string;
  eid: string;
  iccid: string;
  kind: string;
  profile_type: string | null;
  enable: number;
  /** The SIM while the operation runs, null once it ended (UNIQUE: one operation per eUICC). */
  active_sim_id: string | null;
  /** running | succeeded | failed */
  status: string;
  /** JSON FunctionExecutionStatus once ended. */
  result: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
}

/** eSIM operator layer: the reported steps of an operation. */
export interface EsimOperationStepsTable {
  operation_id: string;
  seq: number;
  name: string;
  /** running | succeeded | failed */
  state: string;
  started_at: number;
  ended_at: number | null;
  status: string | null;
  subject: string | null;
  reason: string | null;
  message: string | null;
}

/** eSIM "switch carrier" (migration 0018): the orchestration state of a switch operation. */
export interface EsimSwitchesTable {
  operation_id: string;
  operator_id: string;
  eid: string;
  /** This deployment's SM-SR that managed the eUICC when the switch began (SM-SR1). */
  source_smsr_id: string;
  /** The partner SM-SR taking the eUICC over (SM-SR2) and the partner SM-DP downloading the profile. */
  target_smsr_id: string;
  target_smdp_id: string;
  profile_type: string;
  /** Asked for, or answered by the target's SM-DP; null: the target's SM-DP chooses. */
  iccid: string | null;
  /** prepare | smsr-change | download | ended — stored before the step's message leaves. */
  step: string;
  created_at: number;
  updated_at: number;
}

/**
 * SM-SR / SM-DP profile notifications to deliver (migration 0017-esim-notifications;
 * platform/esim/notifications).
 */
export interface EsimNotificationOutboxTable {
  id: Generated<number>;
  /** The sending role's entity id (OID): each SM-SR / SM-DP delivers its own rows. */
  sender_id: string;
  /** ES2 (SM-DP → operator) | ES3 (SM-SR → SM-DP) | ES4 (SM-SR → operator) */
  interface: string;
  /** The receiver's entity id (SM-DP id or MNO id). */
  receiver_id: string;
  /** enabled | disabled | deleted */
  kind: string;
  eid: string;
  iccid: string;
  /** JSON {eid, iccid, mnoId?, completionTimestamp (Unix ms)}: the notification's body. */
  body: string;
  /** Unique when set: a relayed notification received again is stored once. */
  idempotency_key: string | null;
  /** pending | delivered | dead */
  state: string;
  attempts: number;
  next_attempt_at: number;
  claimed_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** Beam/Funnel/Funk usage buckets (migration 0021, beam/usage.ts). */
export interface BeamUsageTable {
  operator_id: string;
  imsi: string;
  service: string;
  entry_point: string;
  /** '' when the entry point named no destination. */
  destination: string;
  period: 'hour' | 'day';
  bucket_start: number;
  sim_id: string;
  requests: number;
  delivered: number;
  refused: number;
  failed: number;
  bytes_up: number;
  bytes_down: number;
}

/** Last delivery and last error per SIM and service (migration 0021, beam/usage.ts). */
export interface BeamSimStatusTable {
  operator_id: string;
  sim_id: string;
  service: string;
  imsi: string;
  last_delivery_at: number | null;
  last_delivery_entry_point: string | null;
  last_error_at: number | null;
  last_error: string | null;
  last_error_entry_point: string | null;
}

/** Credential sets (migration 0020-credentials, platform/credentials). */
export interface CredentialSetsTable {
  operator_id: string;
  credentials_id: string;
  /** SORACOM's type name (platform/credentials/credential-types.ts). */
  type: string;
  description: string;
  /** The credentials as one JSON object, sealed (context `credential-set:<operator_id>:<credentials_id>`). */
  credentials: string;
  /** JSON of the fields an answer may show (never a secret). */
  public_credentials: string;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

/** Exported files (migration 0022, exports/export-service.ts). */
export interface ExportedFilesTable {
  file_id: string;
  operator_id: string;
  kind: string;
  /** JSON of the kind's parameters. */
  params: string;
  /** processing | exported | failed */
  status: string;
  file_name: string;
  rows: number | null;
  bytes: number | null;
  error: string | null;
  claimed_until: number | null;
  /** SHA-256 (base64url) of the current download token; the token itself is never stored. */
  download_token_hash: string | null;
  download_expires_at: number | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

/** Virtual private gateways (migration 0024-vpg, platform/vpg). */
export interface VpgsTable {
  vpg_id: string;
  operator_id: string;
  type: number;
  placement: string;
  /** creating | running | terminating | terminated | failed */
  status: string;
  /** Normalised IPv4 CIDR of the devices' addresses. */
  device_subnet: string;
  use_internet_gateway: number;
  traffic_filtering: number;
  /** JSON array of parsed uplink rules (vpg/filter-rules.ts). */
  uplink_rules: string;
  /** Why the data plane could not apply the VPG (status failed), safe text. */
  status_reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface VpgTagsTable {
  vpg_id: string;
  name: string;
  value: string;
}

export interface Database {
  operators: OperatorsTable;
  api_tokens: ApiTokensTable;
  data_keys: DataKeysTable;
  sims: SimsTable;
  sim_profiles: SimProfilesTable;
  sim_tags: SimTagsTable;
  sim_status_history: SimStatusHistoryTable;
  groups: GroupsTable;
  group_tags: GroupTagsTable;
  group_configuration: GroupConfigurationTable;
  audit_logs: AuditLogsTable;
  counters: CountersTable;
  one_time_values: OneTimeValuesTable;
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  default_permissions: DefaultPermissionsTable;
  auth_keys: AuthKeysTable;
  account_mfa: AccountMfaTable;
  mfa_backup_codes: MfaBackupCodesTable;
  radius_clients: RadiusClientsTable;
  sim_sessions: SimSessionsTable;
  sim_session_events: SimSessionEventsTable;
  sim_usage: SimUsageTable;
  ip_leases: IpLeasesTable;
  aaa_refusals: AaaRefusalsTable;
  radius_dynamic_requests: RadiusDynamicRequestsTable;
  eap_state_keys: EapStateKeysTable;
  eap_identities: EapIdentitiesTable;
  endorse_signing_keys: EndorseSigningKeysTable;
  directories: DirectoriesTable;
  directory_users: DirectoryUsersTable;
  mfa_transactions: MfaTransactionsTable;
  gateway_sessions: GatewaySessionsTable;
  sms_messages: SmsMessagesTable;
  mfa_sms_enrollments: MfaSmsEnrollmentsTable;
  mfa_keys: MfaKeysTable;
  audit_log_purge_gate: AuditLogPurgeGateTable;
  ota_key_sets: OtaKeySetsTable;
  anti_theft_sims: AntiTheftSimsTable;
  ota_commands: OtaCommandsTable;
  anti_theft_alerts: AntiTheftAlertsTable;
  event_handlers: EventHandlersTable;
  event_handler_ignores: EventHandlerIgnoresTable;
  event_outbox: EventOutboxTable;
  event_rule_states: EventRuleStatesTable;
  event_firings: EventFiringsTable;
  event_action_runs: EventActionRunsTable;
  esim_cis: EsimCisTable;
  esim_certificates: EsimCertificatesTable;
  esim_sr_eis: EsimSrEisTable;
  esim_sr_profiles: EsimSrProfilesTable;
  esim_sr_keysets: EsimSrKeysetsTable;
  esim_sr_audit: EsimSrAuditTable;
  esim_sr_procedures: EsimSrProceduresTable;
  esim_sr_notifications: EsimSrNotificationsTable;
  esim_dp_downloads: EsimDpDownloadsTable;
  esim_dp_steps: EsimDpStepsTable;
  esim_euiccs: EsimEuiccsTable;
  esim_profiles: EsimProfilesTable;
  esim_operations: EsimOperationsTable;
  esim_operation_steps: EsimOperationStepsTable;
  esim_partners: EsimPartnersTable;
  esim_notification_outbox: EsimNotificationOutboxTable;
  esim_switches: EsimSwitchesTable;
  credential_sets: CredentialSetsTable;
  beam_usage: BeamUsageTable;
  beam_sim_status: BeamSimStatusTable;
  exported_files: ExportedFilesTable;
  vpgs: VpgsTable;
  vpg_tags: VpgTagsTable;
}

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
}

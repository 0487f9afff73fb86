// Which SIM a device-facing connection belongs to, from its source address alone — the rule the
// token listener follows (docs/endorse.md): the AAA bound the address to the SIM when it admitted
// the data session, so the address *is* the credential. Beam, Funnel and Funk (issue 17) all start
// here, each reading its own group namespace (SoracomBeam, SoracomFunnel, SoracomFunk).

import { CompiledQuery } from 'kysely';
import { SimtrustError } from '../../lib/errors.js';
import type { Dialect, Store } from '../store/database.js';

/** The SIM behind an online session, with the group namespace the entry point asked for. */
export interface SessionOwner {
  readonly simId: string;
  readonly imsi: string;
  /** The IMEI the network reported for this session (not one stored earlier), or null. */
  readonly imei: string | null;
  readonly msisdn: string | null;
  readonly operatorId: string;
  readonly groupId: string | null;
  /** The SIM's status; only `active` SIMs are let through by {@link admitSessionOwner}. */
  readonly status: string;
  /** The group's parameters in the namespace asked for (key → parsed JSON value); {} when none. */
  readonly configuration: Readonly<Record<string, unknown>>;
}

interface OwnerRow {
  readonly session_operator_id: string;
  readonly imei: string | null;
  readonly sim_id: string;
  readonly imsi: string;
  readonly operator_id: string;
  readonly status: string;
  readonly group_id: string | null;
  readonly msisdn: string | null;
  readonly key: string | null;
  readonly value: string | null;
}

const queries = new Map<Dialect, string>();

function ownerSql(dialect: Dialect): string {
  let sql = queries.get(dialect);
  if (sql === undefined) {
    const [address, namespace] = dialect === 'postgres' ? ['$1', '$2'] : ['?', '?'];
    sql = `select ss.operator_id as session_operator_id, ss.imei, s.sim_id, p.imsi, s.operator_id, s.status,
        s.group_id, p.msisdn, gc.key, gc.value
      from (select operator_id, sim_id, imsi, imei from sim_sessions
            where ue_ip = ${address} and status = 'online' order by updated_at desc limit 1) ss
      join sims s on s.sim_id = ss.sim_id
      join sim_profiles p on p.imsi = ss.imsi
      left join group_configuration gc on gc.group_id = s.group_id and gc.namespace = ${namespace}`;
    queries.set(dialect, sql);
  }
  return sql;
}

/**
 * The SIM whose online session owns `address`, in one query, or undefined: no online session, or
 * a session whose SIM is gone or belongs to another tenant than the session (such a session owns
 * nothing). A stored value that is not JSON is left out rather than failing the lookup.
 */
export async function sessionOwner(
  store: Store,
  address: string,
  namespace: string,
): Promise<SessionOwner | undefined> {
  const { rows } = await store.db.executeQuery<OwnerRow>(
    CompiledQuery.raw(ownerSql(store.dialect), [address, namespace]),
  );
  const row = rows[0];
  if (row === undefined || row.operator_id !== row.session_operator_id) return undefined;
  const configuration: Record<string, unknown> = {};
  for (const r of rows) {
    if (r.key === null || r.value === null) continue;
    try {
      configuration[r.key] = JSON.parse(r.value) as unknown;
    } catch {
      // Written by the API, which validates JSON; a hand-edited row is ignored, not fatal.
    }
  }
  return {
    simId: row.sim_id,
    imsi: row.imsi,
    imei: row.imei,
    msisdn: row.msisdn,
    operatorId: row.operator_id,
    groupId: row.group_id,
    status: row.status,
    configuration,
  };
}

/**
 * {@link sessionOwner}, refusing what no entry point may serve: no online session at the address
 * (ERR_ENDORSE_NO_SESSION, 403) or a SIM that is not active (ERR_ENDORSE_SIM_NOT_ACTIVE, 403).
 */
export async function admitSessionOwner(
  store: Store,
  address: string,
  namespace: string,
): Promise<SessionOwner> {
  const owner = await sessionOwner(store, address, namespace);
  if (owner === undefined) {
    throw new SimtrustError('ERR_ENDORSE_NO_SESSION', `no online session owns ${address}`);
  }
  if (owner.status !== 'active') {
    throw new SimtrustError('ERR_ENDORSE_SIM_NOT_ACTIVE', `the SIM is ${owner.status}, not active`);
  }
  return owner;
}

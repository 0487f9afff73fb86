// Configuration files of the reference EAP programs (shared/reference/cellular.md §3): hostapd as a
// RADIUS EAP server whose AuC is an hlr_auc_gw socket, and eapol_test with `external_sim=1`.
// hostapd does not strip trailing comments, so nothing here writes any.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type EapMethod = 'AKA' | "AKA'" | 'SIM';

/**
 * hostapd with driver=none answering RADIUS on `port` for 127.0.0.1 with `secret`, its EAP users
 * given as eap_user lines (`"0"*<TAB>AKA`), its AuC the hlr_auc_gw socket `<dir>/hlr.sock`.
 * Writes radius_clients, eap_user and hostapd.conf into `dir`; returns the paths hostapd needs.
 */
export function writeHostapdEapServer(
  dir: string,
  o: { port: number; secret: string; users: readonly string[]; resultIndication?: boolean },
): { config: string; hlrSocket: string } {
  const hlrSocket = join(dir, 'hlr.sock');
  const config = join(dir, 'hostapd.conf');
  writeFileSync(join(dir, 'radius_clients'), `127.0.0.1/32\t${o.secret}\n`);
  writeFileSync(join(dir, 'eap_user'), [...o.users, ''].join('\n'));
  writeFileSync(
    config,
    [
      'driver=none',
      'interface=as0',
      'logger_stdout=-1',
      'logger_stdout_level=2',
      `radius_server_clients=${join(dir, 'radius_clients')}`,
      `radius_server_auth_port=${o.port}`,
      'eap_server=1',
      `eap_user_file=${join(dir, 'eap_user')}`,
      `eap_sim_db=unix:${hlrSocket}`,
      'eap_sim_db_timeout=5',
      ...(o.resultIndication ? ['eap_sim_aka_result_ind=1'] : []),
      '',
    ].join('\n'),
  );
  return { config, hlrSocket };
}

/** An eapol_test network for `method` whose SIM operations go to the control socket `ctrl`. */
export function writeEapolTestConf(
  path: string,
  o: { ctrl: string; method: EapMethod; identity: string },
): void {
  writeFileSync(
    path,
    [
      `ctrl_interface=${o.ctrl}`,
      'external_sim=1',
      'network={',
      '\tssid="simtrust"',
      '\tkey_mgmt=WPA-EAP',
      `\teap=${o.method}`,
      `\tidentity="${o.identity}"`,
      '}',
      '',
    ].join('\n'),
  );
}

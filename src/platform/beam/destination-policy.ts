// Where Beam, Funnel and Funk may forward to (SSRF defence, CWE-918). A destination comes from a
// group configuration, which any operator with group rights writes; without a check it would let
// a tenant reach the platform's own API, its database or the cloud metadata service through the
// platform. The rule is the event handlers' (src/platform/events/outbound-policy.ts): loopback,
// private, shared, link-local, reserved and the platform's own addresses are refused unless the
// deployment allows their network in `beamAllowedDestinationNetworks`. Checked on every address DNS
// gives when the connection is made (`lookup` below), so the connection goes to a checked address
// and a rebinding name cannot swap it; IP literals, which skip DNS, are checked by `refusalFor`.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Config } from '../../config/defaults.js';
import { SimtrustError } from '../../lib/errors.js';
import { isLocalName, type OutboundPolicy, outboundPolicy } from '../events/outbound-policy.js';

export interface DestinationPolicy {
  /** Why the destination host (name or IP literal) may not be reached, or undefined. */
  refusalFor(host: string): string | undefined;
  /** A `lookup` for net/tls.connect (undici's `connect.lookup`) that fails on a refused address. */
  readonly lookup: typeof dnsLookup;
}

/** The allowed networks of the deployment: the setting, plus loopback in demo mode (all runs locally). */
export function destinationPolicyOf(
  config: Pick<Config, 'beamAllowedDestinationNetworks' | 'demo' | 'httpHost' | 'deviceHttpHost'>,
): DestinationPolicy {
  const allowed = [config.beamAllowedDestinationNetworks, config.demo ? '127.0.0.0/8, ::1' : '']
    .filter((s) => s.trim() !== '')
    .join(',');
  return destinationPolicy(
    outboundPolicy({ allowed, selfAddresses: [config.httpHost, config.deviceHttpHost] }),
  );
}

export function destinationPolicy(policy: OutboundPolicy): DestinationPolicy {
  const refusalFor = (host: string): string | undefined => {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare) !== 0) return policy.refusal(bare);
    if (isLocalName(bare)) return `${bare} names this machine`;
    return undefined;
  };
  const lookup = ((
    hostname: string,
    options: LookupOptions | number | ((...a: unknown[]) => void),
    callback?: (...a: unknown[]) => void,
  ) => {
    const cb = (typeof options === 'function' ? options : callback) as (
      err: NodeJS.ErrnoException | null,
      address?: string | LookupAddress[],
      family?: number,
    ) => void;
    const opts: LookupOptions =
      typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
    const early = refusalFor(hostname);
    if (early !== undefined) return cb(refused(hostname, early));
    dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err);
      for (const a of addresses) {
        const why = policy.refusal(a.address);
        if (why !== undefined) return cb(refused(hostname, why));
      }
      if (opts.all) return cb(null, addresses);
      const first = addresses[0];
      if (first === undefined)
        return cb(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }));
      cb(null, first.address, first.family);
    });
  }) as unknown as typeof dnsLookup;
  return { refusalFor, lookup };
}

/** The error a refused destination fails with (its message names the setting to change). */
export function refused(host: string, why: string): SimtrustError {
  return new SimtrustError(
    'ERR_BEAM_DESTINATION_REFUSED',
    `the destination ${host} is refused: ${why}; allow its network in beamAllowedDestinationNetworks if intended`,
  );
}

// SIM vocabulary shared by the SIM pages (the API's enums: src/platform/sims/model.ts).
import type { components } from '../api/schema';
import { type SearchBy, searchByFrom, searchQuery } from './search';

export type Sim = components['schemas']['Sim'];

export const STATUSES = ['ready', 'active', 'inactive', 'standby', 'suspended', 'terminated'] as const;
export const SPEED_CLASSES = [
  's1.minimum',
  's1.slow',
  's1.standard',
  's1.fast',
  's1.4xfast',
  's1.8xfast',
  'u1.standard',
  'u1.slow',
  't1.standard',
  'arc.standard',
] as const;
export type SpeedClass = (typeof SPEED_CLASSES)[number];

/** The active profile's ICCID, IMSI and MSISDN (a SIM may carry several profiles). */
export function identity(sim: Sim): { iccid: string; imsi: string; msisdn: string } {
  const profile = sim.profiles[sim.activeProfileId ?? ''] ?? Object.values(sim.profiles)[0];
  const subscriber = profile
    ? (profile.subscribers[profile.primaryImsi] ?? Object.values(profile.subscribers)[0])
    : undefined;
  return {
    iccid: profile?.iccid ?? '',
    imsi: subscriber?.imsi ?? profile?.primaryImsi ?? '',
    msisdn: subscriber?.msisdn ?? '',
  };
}

/** The list filters, as they appear in the page's URL (so a filtered list can be shared). */
export interface SimFilter {
  readonly status?: string;
  readonly speedClass?: string;
  readonly groupId?: string;
  readonly tagName?: string;
  readonly tagValue?: string;
  readonly searchBy?: SearchBy;
  readonly search?: string;
}

const FILTER_KEYS = ['status', 'speedClass', 'groupId', 'tagName', 'tagValue', 'searchBy', 'search'] as const;

export function filterFromSearch(search: URLSearchParams): SimFilter {
  const f: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = search.get(k);
    if (v) f[k] = v;
  }
  f.searchBy = searchByFrom(f.searchBy);
  return f as SimFilter;
}

export function filterToSearch(filter: SimFilter): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = filter[k];
    if (v) p.set(k, v);
  }
  return p.toString();
}

/** The API query of a filter (keyset paging: `after` is the previous page's x-soracom-next-key). */
export function listQuery(filter: SimFilter, limit: number, after?: string) {
  return {
    limit,
    ...(after ? { last_evaluated_key: after } : {}),
    ...(filter.status ? { status_filter: filter.status } : {}),
    ...(filter.speedClass ? { speed_class_filter: filter.speedClass } : {}),
    ...(filter.groupId ? { group_id: filter.groupId } : {}),
    ...(filter.tagName
      ? {
          tag_name: filter.tagName,
          tag_value: filter.tagValue ?? '',
          tag_value_match_mode: 'prefix' as const,
        }
      : {}),
    ...searchQuery(filter.searchBy ?? 'imsi', filter.search),
  };
}

/** One CSV field (RFC 4180 quoting; a leading =,+,-,@ is prefixed so a spreadsheet reads text, not a formula). */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

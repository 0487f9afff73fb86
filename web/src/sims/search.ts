// The SIM list's search box: the leading digits of an IMSI, ICCID or MSISDN, as the API's
// imsi_prefix / iccid_prefix / msisdn_prefix filters (ListSimsQuery in src/servers/http/schemas/sims.ts).
// The value comes from a shareable URL: only ASCII digits reach the API, cut to the filter's bound, so
// "+81 90-1234-5678" as an operator reads it out finds the MSISDN 819012345678.

export const SEARCH_BY = ['imsi', 'iccid', 'msisdn'] as const;
export type SearchBy = (typeof SEARCH_BY)[number];

const MAX_DIGITS: Record<SearchBy, number> = { imsi: 15, iccid: 20, msisdn: 15 };

/** A URL value of "search by", IMSI when it is none of the three. */
export function searchByFrom(value: string | null | undefined): SearchBy {
  return (SEARCH_BY as readonly string[]).includes(value ?? '') ? (value as SearchBy) : 'imsi';
}

/** The API filter for a search, or none when the text holds no digit. */
export function searchQuery(
  by: SearchBy,
  text: string | undefined,
): { imsi_prefix?: string; iccid_prefix?: string; msisdn_prefix?: string } {
  const digits = (text ?? '').replace(/[^0-9]/g, '').slice(0, MAX_DIGITS[by]);
  return digits ? { [`${by}_prefix`]: digits } : {};
}

// Keyset pagination headers, as SORACOM sends them: the next key in x-soracom-next-key and the URL
// of the next page in a `Link: <…>; rel=next` header.

import type { FastifyReply, FastifyRequest } from 'fastify';

/** The largest page a list route answers (the `limit` query parameter's maximum). */
export const MAX_PAGE_SIZE = 100;

/**
 * The page size to give the store: the validated `limit`, or the full page when absent. The schema
 * (Limit) already bounds it; this keeps a store query from ever seeing anything but an integer in
 * 1…MAX_PAGE_SIZE, whatever a future schema lets through.
 */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isSafeInteger(limit)) return MAX_PAGE_SIZE;
  return Math.min(Math.max(limit, 1), MAX_PAGE_SIZE);
}

export function setNextPage(
  request: FastifyRequest,
  reply: FastifyReply,
  nextKey: string | number | undefined,
): void {
  if (nextKey === undefined) return;
  const url = new URL(request.url, 'http://placeholder');
  url.searchParams.set('last_evaluated_key', String(nextKey));
  reply.header('x-soracom-next-key', String(nextKey));
  reply.header('link', `<${url.pathname}${url.search}>; rel=next`);
}

/** Splits SORACOM's `a|b|c` filter syntax. */
export const splitFilter = (value: string | undefined): string[] | undefined =>
  value === undefined ? undefined : value.split('|').filter((v) => v !== '');

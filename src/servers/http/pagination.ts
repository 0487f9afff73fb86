// Keyset pagination headers, as SORACOM sends them: the next key in x-soracom-next-key and the URL
// of the next page in a `Link: <…>; rel=next` header.

import type { FastifyReply, FastifyRequest } from 'fastify';

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

// Groups through TanStack Query: keyset pages of the list, one group, and the first SIMs of a group.
// Every key starts with 'groups' so a change refreshes the SIM pages' group names too.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, apiError, unwrap } from '../api/client';
import type { components } from '../api/schema';
import { fetchSimPage } from '../sims/queries';

export type Group = components['schemas']['Group'];
export const GROUP_PAGE_SIZE = 50;

export function useGroupPage(after: string | undefined) {
  return useQuery({
    queryKey: ['groups', 'page', after ?? ''],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/groups', {
        params: { query: { limit: GROUP_PAGE_SIZE, ...(after ? { last_evaluated_key: after } : {}) } },
      });
      if (data === undefined) throw apiError(response, error);
      return { groups: data, nextKey: response.headers.get('x-soracom-next-key') ?? undefined };
    },
    placeholderData: keepPreviousData,
  });
}

export function useGroup(groupId: string) {
  return useQuery({
    queryKey: ['groups', 'one', groupId],
    queryFn: () => unwrap(api.GET('/v1/groups/{group_id}', { params: { path: { group_id: groupId } } })),
  });
}

/** The first SIMs of a group (polled, so SIMs moved in from the SIM list show up). */
export function useGroupSims(groupId: string) {
  return useQuery({
    queryKey: ['sims', 'group', groupId],
    queryFn: () => fetchSimPage({ groupId }, 20),
    refetchInterval: 10_000,
  });
}

export const groupName = (g: Pick<Group, 'groupId' | 'tags'>) => g.tags.name ?? g.groupId;

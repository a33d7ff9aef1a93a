import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type { IdentityDetail, IdentityPage } from '../../types/api.js';

export interface IdentityFilters {
  q?: string;
  type?: string;
  status?: string;
}

export const IDENTITIES_PAGE_SIZE = 50;

const key = (f: IdentityFilters) => `${f.q ?? ''}|${f.type ?? ''}|${f.status ?? ''}`;

export { key as identityFilterKey };

/** `failing` is its own API filter (streak ≥ 1); the other statuses are the identity's last status. */
const toParams = ({ status, ...rest }: IdentityFilters) =>
  status === 'failing' ? { ...rest, failing: 'true' } : { ...rest, status };

export const getIdentities = (
  app: string | null,
  f: IdentityFilters,
  cursor: string | undefined,
  signal?: AbortSignal,
) =>
  apiGet<IdentityPage>('/identities', {
    params: { ...toParams(f), cursor, limit: IDENTITIES_PAGE_SIZE },
    signal,
    app,
  });

export const identitiesQueryOptions = (app: string | null, f: IdentityFilters, cursor?: string) =>
  queryOptions({
    queryKey: appKey(app, 'identities', key(f), cursor ?? ''),
    queryFn: ({ signal }) => getIdentities(app, f, cursor, signal),
  });

export const useIdentities = (f: IdentityFilters, cursor?: string) =>
  useQuery(identitiesQueryOptions(useCurrentApp(), f, cursor));

export const getIdentity = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<IdentityDetail>(`/identities/${id}`, { signal, app });

export const identityQueryOptions = (app: string | null, id: number) =>
  queryOptions({
    queryKey: appKey(app, 'identity', id),
    queryFn: ({ signal }) => getIdentity(app, id, signal),
    placeholderData: undefined,
  });

export const useIdentity = (id: number) => useQuery(identityQueryOptions(useCurrentApp(), id));

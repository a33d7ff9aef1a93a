import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type { Health } from '../../types/api.js';

export type { Health };

export const getHealth = (app: string | null, signal?: AbortSignal) =>
  apiGet<Health>('/health', { signal, app });

export const healthQueryOptions = (app: string | null) =>
  queryOptions({
    queryKey: appKey(app, 'health'),
    queryFn: ({ signal }) => getHealth(app, signal),
    refetchInterval: 15_000,
  });

export const useHealth = () => useQuery(healthQueryOptions(useCurrentApp()));

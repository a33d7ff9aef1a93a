import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import type { Health } from '../../types/api.js';

export type { Health };

export const getHealth = (signal?: AbortSignal) => apiGet<Health>('/health', { signal });

export const healthQueryOptions = () =>
  queryOptions({ queryKey: ['health'], queryFn: ({ signal }) => getHealth(signal), refetchInterval: 15_000 });

export const useHealth = () => useQuery(healthQueryOptions());

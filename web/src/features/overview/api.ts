import { queryOptions, useQuery } from '@tanstack/react-query';
import type { OperationsTimeseries } from '../../../../server/api/routes/timeseries.js';
import { apiGet } from '../../lib/api-client.js';
import type { Cycle, Status } from '../../types/api.js';

export const getOperationsTimeseries = (signal?: AbortSignal) =>
  apiGet<OperationsTimeseries>('/timeseries/operations', { params: { bucket: 60 }, signal });

export const operationsTimeseriesQueryOptions = () =>
  queryOptions({
    queryKey: ['timeseries', 'operations'],
    queryFn: ({ signal }) => getOperationsTimeseries(signal),
    refetchInterval: 15_000,
  });

export const useOperationsTimeseries = () => useQuery(operationsTimeseriesQueryOptions());

export const getStatus = (signal?: AbortSignal) => apiGet<Status>('/status', { signal });

export const statusQueryOptions = () =>
  queryOptions({ queryKey: ['status'], queryFn: ({ signal }) => getStatus(signal) });

export const useStatus = () => useQuery(statusQueryOptions());

/** The recent cycles behind the per-cycle charts. */
export const getRecentCycles = (signal?: AbortSignal) =>
  apiGet<{ items: Cycle[]; nextCursor: string | null }>('/cycles', { params: { limit: 60 }, signal });

export const recentCyclesQueryOptions = () =>
  queryOptions({
    queryKey: ['cycles', 'recent'],
    queryFn: ({ signal }) => getRecentCycles(signal),
    refetchInterval: 15_000,
  });

export const useRecentCycles = () => useQuery(recentCyclesQueryOptions());

import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import type { CycleDetail, CyclePage, OperationsTimeseries, Status } from '../../types/api.js';

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

/** The status shows the cycle's rollups; its counts by operation (created, updated, ...) come with the detail. */
export const getCycleDetail = (id: number, signal?: AbortSignal) =>
  apiGet<CycleDetail>(`/cycles/${id}`, { signal });

export const cycleDetailQueryOptions = (id: number) =>
  queryOptions({ queryKey: ['cycle', id], queryFn: ({ signal }) => getCycleDetail(id, signal) });

export const useCycleDetail = (id: number) => useQuery(cycleDetailQueryOptions(id));

/** The recent cycles behind the per-cycle charts. */
export const getRecentCycles = (signal?: AbortSignal) =>
  apiGet<CyclePage>('/cycles', { params: { limit: 60 }, signal });

export const recentCyclesQueryOptions = () =>
  queryOptions({
    queryKey: ['cycles', 'recent'],
    queryFn: ({ signal }) => getRecentCycles(signal),
    refetchInterval: 15_000,
  });

export const useRecentCycles = () => useQuery(recentCyclesQueryOptions());

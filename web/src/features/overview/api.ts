import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type { CycleDetail, CyclePage, OperationsTimeseries, Status } from '../../types/api.js';

// Every query is about one app (`app`, null for the single app): its key names it and its call asks for it.

export const getOperationsTimeseries = (app: string | null, signal?: AbortSignal) =>
  apiGet<OperationsTimeseries>('/timeseries/operations', { params: { bucket: 60 }, signal, app });

export const operationsTimeseriesQueryOptions = (app: string | null) =>
  queryOptions({
    queryKey: appKey(app, 'timeseries', 'operations'),
    queryFn: ({ signal }) => getOperationsTimeseries(app, signal),
    refetchInterval: 15_000,
  });

export const useOperationsTimeseries = () => useQuery(operationsTimeseriesQueryOptions(useCurrentApp()));

export const getStatus = (app: string | null, signal?: AbortSignal) =>
  apiGet<Status>('/status', { signal, app });

export const statusQueryOptions = (app: string | null) =>
  queryOptions({ queryKey: appKey(app, 'status'), queryFn: ({ signal }) => getStatus(app, signal) });

export const useStatus = () => useQuery(statusQueryOptions(useCurrentApp()));

/** The status shows the cycle's rollups; its counts by operation (created, updated, ...) come with the detail. */
export const getCycleDetail = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<CycleDetail>(`/cycles/${id}`, { signal, app });

export const cycleDetailQueryOptions = (app: string | null, id: number) =>
  queryOptions({
    queryKey: appKey(app, 'cycle', id),
    queryFn: ({ signal }) => getCycleDetail(app, id, signal),
  });

export const useCycleDetail = (id: number) => useQuery(cycleDetailQueryOptions(useCurrentApp(), id));

/** The recent cycles behind the per-cycle charts. */
export const getRecentCycles = (app: string | null, signal?: AbortSignal) =>
  apiGet<CyclePage>('/cycles', { params: { limit: 60 }, signal, app });

export const recentCyclesQueryOptions = (app: string | null) =>
  queryOptions({
    queryKey: appKey(app, 'cycles', 'recent'),
    queryFn: ({ signal }) => getRecentCycles(app, signal),
    refetchInterval: 15_000,
  });

export const useRecentCycles = () => useQuery(recentCyclesQueryOptions(useCurrentApp()));

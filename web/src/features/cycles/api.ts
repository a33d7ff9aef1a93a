import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type { CycleDetail, CycleOutcomePage, CyclePage } from '../../types/api.js';

export const CYCLES_PAGE_SIZE = 50;

export const getCycles = (
  app: string | null,
  cursor: string | undefined,
  kind: string | undefined,
  signal?: AbortSignal,
) => apiGet<CyclePage>('/cycles', { params: { cursor, kind, limit: CYCLES_PAGE_SIZE }, signal, app });

export const cyclesQueryOptions = (app: string | null, cursor?: string, kind?: string) =>
  queryOptions({
    queryKey: appKey(app, 'cycles', 'list', cursor ?? '', kind ?? ''),
    queryFn: ({ signal }) => getCycles(app, cursor, kind, signal),
  });

export const useCycles = (cursor?: string, kind?: string) =>
  useQuery(cyclesQueryOptions(useCurrentApp(), cursor, kind));

export const getCycle = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<CycleDetail>(`/cycles/${id}`, { signal, app });

export const cycleQueryOptions = (app: string | null, id: number) =>
  queryOptions({
    queryKey: appKey(app, 'cycle', id),
    queryFn: ({ signal }) => getCycle(app, id, signal),
    placeholderData: undefined,
  });

export const useCycle = (id: number) => useQuery(cycleQueryOptions(useCurrentApp(), id));

export const getCycleOutcomes = (
  app: string | null,
  id: number,
  outcome: string | undefined,
  cursor: string | undefined,
  signal?: AbortSignal,
) =>
  apiGet<CycleOutcomePage>(`/cycles/${id}/outcomes`, {
    params: { outcome, cursor, limit: 50 },
    signal,
    app,
  });

export const cycleOutcomesQueryOptions = (
  app: string | null,
  id: number,
  outcome?: string,
  cursor?: string,
) =>
  queryOptions({
    queryKey: appKey(app, 'cycle-outcomes', id, outcome ?? '', cursor ?? ''),
    queryFn: ({ signal }) => getCycleOutcomes(app, id, outcome, cursor, signal),
  });

export const useCycleOutcomes = (id: number, outcome?: string, cursor?: string) =>
  useQuery(cycleOutcomesQueryOptions(useCurrentApp(), id, outcome, cursor));

import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../lib/api-client.js';
import type { CycleDetail, CycleOutcomePage, CyclePage } from '../../types/api.js';

export const CYCLES_PAGE_SIZE = 50;

export const getCycles = (cursor: string | undefined, kind: string | undefined, signal?: AbortSignal) =>
  apiGet<CyclePage>('/cycles', { params: { cursor, kind, limit: CYCLES_PAGE_SIZE }, signal });

export const cyclesQueryOptions = (cursor?: string, kind?: string) =>
  queryOptions({
    queryKey: ['cycles', 'list', cursor ?? '', kind ?? ''],
    queryFn: ({ signal }) => getCycles(cursor, kind, signal),
  });

export const useCycles = (cursor?: string, kind?: string) => useQuery(cyclesQueryOptions(cursor, kind));

export const getCycle = (id: number, signal?: AbortSignal) =>
  apiGet<CycleDetail>(`/cycles/${id}`, { signal });

export const cycleQueryOptions = (id: number) =>
  queryOptions({
    queryKey: ['cycle', id],
    queryFn: ({ signal }) => getCycle(id, signal),
    placeholderData: undefined,
  });

export const useCycle = (id: number) => useQuery(cycleQueryOptions(id));

export const getCycleOutcomes = (
  id: number,
  outcome: string | undefined,
  cursor: string | undefined,
  signal?: AbortSignal,
) => apiGet<CycleOutcomePage>(`/cycles/${id}/outcomes`, { params: { outcome, cursor, limit: 50 }, signal });

export const cycleOutcomesQueryOptions = (id: number, outcome?: string, cursor?: string) =>
  queryOptions({
    queryKey: ['cycle-outcomes', id, outcome ?? '', cursor ?? ''],
    queryFn: ({ signal }) => getCycleOutcomes(id, outcome, cursor, signal),
  });

export const useCycleOutcomes = (id: number, outcome?: string, cursor?: string) =>
  useQuery(cycleOutcomesQueryOptions(id, outcome, cursor));

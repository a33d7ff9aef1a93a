import { queryOptions, useQuery } from '@tanstack/react-query';
import type { getOperation, OperationView } from '../../../../server/store/queries/operations.js';
import { apiGet, apiUrl } from '../../lib/api-client.js';
import { filterKey, type OperationFilters } from './filters.js';

export type Operation = OperationView;
export type OperationDetail = NonNullable<ReturnType<typeof getOperation>>;
export interface OperationPage {
  items: Operation[];
  nextCursor: string | null;
}

export const PAGE_SIZE = 50;

export const getOperations = (
  filters: OperationFilters,
  cursor: string | undefined,
  limit: number,
  signal?: AbortSignal,
) => apiGet<OperationPage>('/operations', { params: { ...filters, cursor, limit }, signal });

export const operationsQueryOptions = (filters: OperationFilters, cursor?: string, limit = PAGE_SIZE) =>
  queryOptions({
    queryKey: ['operations', filterKey(filters), cursor ?? '', limit],
    queryFn: ({ signal }) => getOperations(filters, cursor, limit, signal),
  });

export const useOperations = (filters: OperationFilters, cursor?: string, limit = PAGE_SIZE) =>
  useQuery(operationsQueryOptions(filters, cursor, limit));

export const fetchOperation = (id: number, signal?: AbortSignal) =>
  apiGet<OperationDetail>(`/operations/${id}`, { signal });

// One operation never changes once recorded (only its bodies may be pruned): no polling.
export const operationQueryOptions = (id: number) =>
  queryOptions({
    queryKey: ['operation', id],
    queryFn: ({ signal }) => fetchOperation(id, signal),
    refetchInterval: false,
    staleTime: 60_000,
    placeholderData: undefined,
  });

export const useOperation = (id: number) => useQuery(operationQueryOptions(id));

/** The CSV export of exactly what the filters select (ARCHITECTURE §9). */
export const exportCsvUrl = (filters: OperationFilters) => apiUrl('/export.csv', { ...filters });

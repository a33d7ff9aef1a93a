import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet, apiUrl } from '../../lib/api-client.js';
import type { IdentityDetail, Operation, OperationDetail, OperationPage } from '../../types/api.js';
import { filterKey, type OperationFilters } from './filters.js';

export type { Operation, OperationDetail, OperationPage };

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

/**
 * Where a table of operations comes from: the operations log with filters, or one identity's timeline (served
 * by /api/identities/:id from the (identity_id, id) index).
 */
export type OperationSource = { filters: OperationFilters } | { identityId: number };

export const sourceKey = (source: OperationSource) =>
  'identityId' in source ? `identity:${source.identityId}` : filterKey(source.filters);

export const operationPageQueryOptions = (
  source: OperationSource,
  cursor: string | undefined,
  limit: number,
) => {
  if (!('identityId' in source)) return operationsQueryOptions(source.filters, cursor, limit);
  const id = source.identityId;
  return queryOptions({
    queryKey: ['identity-timeline', id, cursor ?? '', limit],
    queryFn: ({ signal }): Promise<OperationPage> =>
      apiGet<IdentityDetail>(`/identities/${id}`, { params: { cursor, limit }, signal }).then(
        (d) => d.timeline,
      ),
  });
};

export const useOperationPage = (source: OperationSource, cursor: string | undefined, limit = PAGE_SIZE) =>
  useQuery(operationPageQueryOptions(source, cursor, limit));

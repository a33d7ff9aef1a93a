import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet, apiUrl } from '../../lib/api-client.js';
import { appKey } from '../../lib/query.js';
import { useCurrentApp } from '../../lib/router.js';
import type { IdentityDetail, Operation, OperationDetail, OperationPage } from '../../types/api.js';
import { filterKey, type OperationFilters } from './filters.js';

export type { Operation, OperationDetail, OperationPage };

export const PAGE_SIZE = 50;

export const getOperations = (
  app: string | null,
  filters: OperationFilters,
  cursor: string | undefined,
  limit: number,
  signal?: AbortSignal,
) => apiGet<OperationPage>('/operations', { params: { ...filters, cursor, limit }, signal, app });

export const operationsQueryOptions = (
  app: string | null,
  filters: OperationFilters,
  cursor?: string,
  limit = PAGE_SIZE,
) =>
  queryOptions({
    queryKey: appKey(app, 'operations', filterKey(filters), cursor ?? '', limit),
    queryFn: ({ signal }) => getOperations(app, filters, cursor, limit, signal),
  });

export const useOperations = (filters: OperationFilters, cursor?: string, limit = PAGE_SIZE) =>
  useQuery(operationsQueryOptions(useCurrentApp(), filters, cursor, limit));

export const fetchOperation = (app: string | null, id: number, signal?: AbortSignal) =>
  apiGet<OperationDetail>(`/operations/${id}`, { signal, app });

// One operation never changes once recorded (only its bodies may be pruned): no polling.
export const operationQueryOptions = (app: string | null, id: number) =>
  queryOptions({
    queryKey: appKey(app, 'operation', id),
    queryFn: ({ signal }) => fetchOperation(app, id, signal),
    refetchInterval: false,
    staleTime: 60_000,
    placeholderData: undefined,
  });

export const useOperation = (id: number) => useQuery(operationQueryOptions(useCurrentApp(), id));

/** The CSV export of exactly what the filters select (ARCHITECTURE §9), of the app the URL names. */
export const exportCsvUrl = (filters: OperationFilters, app?: string | null) =>
  apiUrl('/export.csv', { ...filters }, app);

/**
 * Where a table of operations comes from: the operations log with filters, or one identity's timeline (served
 * by /api/identities/:id from the (identity_id, id) index).
 */
export type OperationSource = { filters: OperationFilters } | { identityId: number };

export const sourceKey = (source: OperationSource) =>
  'identityId' in source ? `identity:${source.identityId}` : filterKey(source.filters);

export const operationPageQueryOptions = (
  app: string | null,
  source: OperationSource,
  cursor: string | undefined,
  limit: number,
) => {
  if (!('identityId' in source)) return operationsQueryOptions(app, source.filters, cursor, limit);
  const id = source.identityId;
  return queryOptions({
    queryKey: appKey(app, 'identity-timeline', id, cursor ?? '', limit),
    queryFn: ({ signal }): Promise<OperationPage> =>
      apiGet<IdentityDetail>(`/identities/${id}`, { params: { cursor, limit }, signal, app }).then(
        (d) => d.timeline,
      ),
  });
};

export const useOperationPage = (source: OperationSource, cursor: string | undefined, limit = PAGE_SIZE) =>
  useQuery(operationPageQueryOptions(useCurrentApp(), source, cursor, limit));

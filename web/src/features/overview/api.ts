import { queryOptions, useQuery } from '@tanstack/react-query';
import type { OperationsTimeseries } from '../../../../server/api/routes/timeseries.js';
import { apiGet } from '../../lib/api-client.js';

export const getOperationsTimeseries = (signal?: AbortSignal) =>
  apiGet<OperationsTimeseries>('/timeseries/operations', { params: { bucket: 60 }, signal });

export const operationsTimeseriesQueryOptions = () =>
  queryOptions({
    queryKey: ['timeseries', 'operations'],
    queryFn: ({ signal }) => getOperationsTimeseries(signal),
    refetchInterval: 15_000,
  });

export const useOperationsTimeseries = () => useQuery(operationsTimeseriesQueryOptions());

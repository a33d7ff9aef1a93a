import { keepPreviousData, MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { ApiError, isUnauthorized } from './api-client.js';

/** How often live views poll the API. Short enough to follow a running cycle, long enough to be cheap. */
export const LIVE_REFRESH_MS = 5_000;

/** `onUnauthorized` runs when any request gets 401: the app then asks for the admin token once. */
export function createQueryClient(onUnauthorized: () => void): QueryClient {
  const onError = (err: unknown) => {
    if (isUnauthorized(err)) onUnauthorized();
  };
  return new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        refetchInterval: LIVE_REFRESH_MS,
        refetchIntervalInBackground: false,
        // Keep showing the previous answer while the next one (new filters, next page, refresh) loads: no flicker.
        placeholderData: keepPreviousData,
        staleTime: 2_000,
        // A 4xx (bad filter, unknown id, token) will not change by asking again; a network blip or 5xx may.
        retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}

/**
 * The key of a query about `app` (null: the single app): every app-scoped query key starts with it, so two apps'
 * answers never share a cache entry and invalidating `appKey(a, 'incidents')` leaves the other apps alone.
 */
export const appKey = (app: string | null, ...key: unknown[]): readonly unknown[] => ['app', app, ...key];

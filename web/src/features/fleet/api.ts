import { queryOptions, useQuery } from '@tanstack/react-query';
import { ApiError, apiGet, readJson } from '../../lib/api-client.js';
import type { Apps } from '../../types/api.js';
import { takeEarlyApps } from './early.js';

export type { Apps };

// GET /api/apps: one summary per app, riskiest first. It is about every app, so it names none; the fleet page
// renders from this one answer (no request per row).

/** How often the fleet page refreshes: as often as the overview's charts. */
export const FLEET_REFRESH_MS = 15_000;

/** The apps, or null from a scimtap without /api/apps (404): one app, today's dashboard. */
export const getApps = (signal?: AbortSignal): Promise<Apps | null> => {
  const early = takeEarlyApps();
  const answer = early ? early.then(readJson<Apps>) : apiGet<Apps>('/apps', { signal, app: null });
  return answer.catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  });
};

export const appsQueryOptions = () =>
  queryOptions({
    queryKey: ['apps'],
    queryFn: ({ signal }) => getApps(signal),
    // Which page `/` is and the layout's frame depend on this list: a failed answer is not asked again by every
    // component that mounts (each would put the list back to loading), only by the fleet page's refresh.
    retryOnMount: false,
  });

/**
 * The apps list. `live` (the fleet page) refetches every 15 s; elsewhere (which page `/` is, the app's name in
 * the layout) it is read once and kept a minute: a list of apps changes only with the config.
 */
export const useApps = ({ live = false }: { live?: boolean } = {}) =>
  useQuery({
    ...appsQueryOptions(),
    refetchInterval: live ? FLEET_REFRESH_MS : false,
    staleTime: live ? 2_000 : 60_000,
  });

/**
 * How many apps this scimtap serves, as far as the dashboard can tell: a server without /api/apps (null) serves
 * one. `undefined` while the list has not been read (loading, or failed): not known.
 */
export function appCount(data: Apps | null | undefined): number | undefined {
  if (data === null) return 1;
  return data?.apps.length;
}

import { queryOptions, useQuery } from '@tanstack/react-query';
import { ApiError, apiGet } from '../../lib/api-client.js';
import type { Apps } from '../../types/api.js';

export type { Apps };

// GET /api/apps: one summary per app, riskiest first. It is about every app, so it names none; the fleet page
// renders from this one answer (no request per row).

/** How often the fleet page refreshes: as often as the overview's charts. */
export const FLEET_REFRESH_MS = 15_000;

export const getApps = (signal?: AbortSignal) => apiGet<Apps>('/apps', { signal, app: null });

export const appsQueryOptions = () =>
  queryOptions({ queryKey: ['apps'], queryFn: ({ signal }) => getApps(signal) });

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
 * How many apps this scimtap serves, as far as the dashboard can tell: a server without /api/apps (404) serves
 * one, as does a list of one. `null` while the list is loading or failed: not known yet.
 */
export function appCount(data: Apps | undefined, error: unknown): number | null {
  if (data) return data.apps.length;
  if (error instanceof ApiError && error.status === 404) return 1;
  return null;
}

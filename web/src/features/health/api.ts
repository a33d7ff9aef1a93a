import { queryOptions, useQuery } from '@tanstack/react-query';
import type { EmailDeliveryState } from '../../../../server/notify/queries.js';
import type { RecorderStats } from '../../../../server/store/recorder.js';
import { apiGet } from '../../lib/api-client.js';

/** GET /api/health (server/api/routes/health.ts). */
export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  appName?: string;
  db: 'ok' | 'failing' | 'error';
  upstream: 'reachable' | 'unreachable' | 'unknown';
  /** null when scimtap has no email delivery to report on */
  email: EmailDeliveryState | null;
  mode: 'proxy' | 'demo';
  recorder: RecorderStats;
}

export const getHealth = (signal?: AbortSignal) => apiGet<Health>('/health', { signal });

export const healthQueryOptions = () =>
  queryOptions({ queryKey: ['health'], queryFn: ({ signal }) => getHealth(signal), refetchInterval: 15_000 });

export const useHealth = () => useQuery(healthQueryOptions());

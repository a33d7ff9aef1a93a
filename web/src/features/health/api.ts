import { queryOptions, useQuery } from '@tanstack/react-query';
import type { EmailDeliveryState } from '../../../../server/notify/queries.js';
import type { RecorderStats } from '../../../../server/store/recorder.js';
import type { StorageStats } from '../../../../server/store/storage.js';
import { apiGet } from '../../lib/api-client.js';

/** GET /api/health (server/api/routes/health.ts). */
export interface Health {
  status: 'ok' | 'degraded';
  version: string;
  appName?: string;
  /** `missing` / `replaced`: the file at SCIMTAP_DB is not the one open */
  db: 'ok' | 'failing' | 'error' | 'missing' | 'replaced';
  upstream: 'reachable' | 'unreachable' | 'unknown';
  /** null when scimtap has no email delivery to report on */
  email: EmailDeliveryState | null;
  mode: 'proxy' | 'demo';
  /** droppedTotal: over every run, persisted (dropped: this run) */
  recorder: RecorderStats & { droppedTotal?: number };
  /** the SCIMTAP_MAX_DB_MB budget and what was pruned to keep it; absent from older servers */
  storage?: StorageStats | null;
}

export const getHealth = (signal?: AbortSignal) => apiGet<Health>('/health', { signal });

export const healthQueryOptions = () =>
  queryOptions({ queryKey: ['health'], queryFn: ({ signal }) => getHealth(signal), refetchInterval: 15_000 });

export const useHealth = () => useQuery(healthQueryOptions());

import { Hono } from 'hono';
import type { Db } from '../../store/db.js';
import type { RecorderStats } from '../../store/recorder.js';

export interface HealthDeps {
  db: Db;
  version: string;
  mode: 'proxy' | 'demo';
  /** SCIMTAP_APP_NAME, shown in the dashboard's header */
  appName?: string;
  recorderStats(): RecorderStats;
  /** what the last forwarded exchanges said about the upstream */
  upstreamState(): 'reachable' | 'unreachable' | 'unknown';
}

export function healthRoutes({
  db,
  version,
  mode,
  appName = 'SCIM app',
  recorderStats,
  upstreamState,
}: HealthDeps) {
  return new Hono().get('/', (c) => {
    let dbState: 'ok' | 'failing' | 'error' = 'ok';
    try {
      db.$client.prepare('select 1').get();
      if (recorderStats().failing) dbState = 'failing';
    } catch {
      dbState = 'error';
    }
    const upstream = upstreamState();
    const status = dbState === 'ok' && upstream !== 'unreachable' ? 'ok' : 'degraded';
    return c.json({ status, version, appName, db: dbState, upstream, mode, recorder: recorderStats() });
  });
}

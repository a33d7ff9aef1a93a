import { Hono } from 'hono';
import type { EmailDeliveryState } from '../../notify/queries.js';
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
  /** email delivery: a failing SMTP server makes scimtap degraded (its warnings go nowhere) */
  emailState?(): EmailDeliveryState;
}

export function healthRoutes({
  db,
  version,
  mode,
  appName = 'SCIM app',
  recorderStats,
  upstreamState,
  emailState,
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
    let email: EmailDeliveryState | null = null;
    try {
      email = emailState?.() ?? null;
    } catch {
      email = null;
    }
    const healthy = dbState === 'ok' && upstream !== 'unreachable' && email?.state !== 'failing';
    return c.json({
      status: healthy ? 'ok' : 'degraded',
      version,
      appName,
      db: dbState,
      upstream,
      email,
      mode,
      recorder: recorderStats(),
    });
  });
}

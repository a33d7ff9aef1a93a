import { Hono } from 'hono';
import type { Config } from '../../config.js';
import { baselineHealth, type FiringIncident, healthFromIncidents } from '../../cycles/health.js';
import { toCycleView } from '../../cycles/view.js';
import type { Db } from '../../store/db.js';
import { failingIdentityCounts, lastScheduledCycleRow, latestCycleRow } from '../../store/queries/cycles.js';

export interface StatusDeps<I extends FiringIncident> {
  db: Db;
  config: Pick<Config, 'cycleIntervalMin' | 'rules'>;
  clock?: () => number;
  /**
   * Firing incidents from the incident engine (the admin app passes their API views, so the answer lists them
   * as /api/incidents does). They decide the state: the rules are the one judge of the rollups.
   */
  firingIncidents: () => I[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** GET /api/status: the on-call engineer's first question, answered from the rollups (no scan of operations). */
export function statusRoutes<I extends FiringIncident>({
  db,
  config,
  clock = Date.now,
  firingIncidents,
}: StatusDeps<I>) {
  return new Hono().get('/', (c) => {
    const now = clock();
    const latest = latestCycleRow(db) ?? null;
    const lastScheduled = lastScheduledCycleRow(db) ?? null;
    const counts = failingIdentityCounts(db, config.rules.stuckObjectCycles);
    const baseline = baselineHealth({
      latest,
      lastScheduled,
      intervalMs: config.cycleIntervalMin * 60_000,
    });
    const incidents = firingIncidents();
    const health = healthFromIncidents(incidents, baseline);
    return c.json({
      state: health.state,
      reason: health.reason,
      /** what decided the state: always the firing incidents (kept for API compatibility) */
      basis: 'incidents' as const,
      now: iso(now),
      running: latest?.state === 'running',
      /** the running cycle, else the newest one */
      cycle: latest ? toCycleView(latest, config.rules) : null,
      lastScheduledCycle:
        lastScheduled && lastScheduled.id !== latest?.id ? toCycleView(lastScheduled, config.rules) : null,
      nextExpectedCycleAt: iso(health.nextExpectedAt),
      failingIdentities: counts.failing,
      stuckIdentities: counts.stuck,
      incidents,
      /** cycles and outcomes are inferred from the traffic; objects Entra skips never reach the app */
      inferred: true,
    });
  });
}

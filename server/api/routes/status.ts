import { Hono } from 'hono';
import type { Config } from '../../config.js';
import { baselineHealth, type FiringIncident, healthFromIncidents } from '../../cycles/health.js';
import { toCycleView } from '../../cycles/view.js';
import type { AdminStore } from '../../store/admin-store.js';

export interface StatusDeps<I extends FiringIncident> {
  store: AdminStore;
  config: Pick<Config, 'cycleIntervalMin' | 'rules'>;
  clock?: () => number;
  /**
   * Firing incidents from the incident engine (the admin app passes their API views, so the answer lists them
   * as /api/incidents does). They decide the state: the rules are the one judge of the rollups.
   */
  firingIncidents: () => Promise<I[]>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** GET /api/status: the on-call engineer's first question, answered from the rollups (no scan of operations). */
export function statusRoutes<I extends FiringIncident>({
  store,
  config,
  clock = Date.now,
  firingIncidents,
}: StatusDeps<I>) {
  return new Hono().get('/', async (c) => {
    const now = clock();
    const [latestRow, lastScheduledRow, counts, incidents] = await Promise.all([
      store.latestCycleRow(),
      store.lastScheduledCycleRow(),
      store.failingIdentityCounts(config.rules.stuckObjectCycles),
      firingIncidents(),
    ]);
    const latest = latestRow ?? null;
    const lastScheduled = lastScheduledRow ?? null;
    const baseline = baselineHealth({
      latest,
      lastScheduled,
      intervalMs: config.cycleIntervalMin * 60_000,
    });
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

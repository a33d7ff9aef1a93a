import type { Config } from '../config.js';
import type { Pool } from '../store/pg/pool.js';
import { pgPrune } from '../store/pg/prune.js';
import type { Job } from './index.js';
import { retentionCutoffs } from './retention.js';

export interface PgRetentionJobDeps {
  pool: Pool;
  config: Pick<Config, 'retentionDays' | 'bodyRetentionDays'>;
  clock: () => number;
  /** whether this replica holds the lead now: only the leader prunes, the others would repeat its work */
  leading: () => boolean;
}

/**
 * Retention on the shared PostgreSQL store: SQLite's schedule (jobs/retention.ts), run by the leader alone. A
 * replica that does not lead skips the run; whichever leads at the next hour prunes.
 */
export function pgRetentionJob({ pool, config, clock, leading }: PgRetentionJobDeps): Job {
  return {
    name: 'retention',
    schedule: '17 * * * *',
    runAfterStartMs: 30_000,
    async run({ signal, logger }) {
      if (!leading()) return;
      const cutoffs = retentionCutoffs(clock(), config);
      const started = Date.now();
      const r = await pgPrune(pool, cutoffs, { signal });
      if (r.operations + r.bodies + r.terms > 0) {
        logger.info({ ...r, ms: Date.now() - started }, 'retention: pruned old operations and bodies');
      }
      if (r.underived > 0) {
        logger.warn(
          { underived: r.underived },
          'retention: kept operations past retention that are not derived yet; they go once derived',
        );
      }
    },
  };
}

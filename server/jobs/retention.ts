import type { Config } from '../config.js';
import type { Db } from '../store/db.js';
import { prune } from '../store/prune.js';
import type { Job } from './index.js';

const day = 86_400_000;

export interface RetentionPolicy {
  /** SCIMTAP_RETENTION_DAYS: operations older than this are pruned */
  retentionDays: number;
  /** SCIMTAP_BODY_RETENTION_DAYS: bodies older than this are dropped, metadata kept */
  bodyRetentionDays: number;
}

export interface RetentionCutoffs {
  /** operations with `time` before this go */
  operationsBefore: number;
  /** bodies with `time` before this go; never earlier than operationsBefore (no body outlives its operation) */
  bodiesBefore: number;
}

/** What is old enough to prune at `now` (ARCHITECTURE §2). Pure. */
export function retentionCutoffs(now: number, policy: RetentionPolicy): RetentionCutoffs {
  const operationsBefore = now - policy.retentionDays * day;
  return { operationsBefore, bodiesBefore: Math.max(operationsBefore, now - policy.bodyRetentionDays * day) };
}

export interface RetentionJobDeps {
  db: Db;
  config: Pick<Config, 'retentionDays' | 'bodyRetentionDays'>;
  clock: () => number;
}

/** Hourly, and once shortly after start so a restarted scimtap catches up. */
export function retentionJob({ db, config, clock }: RetentionJobDeps): Job {
  return {
    name: 'retention',
    schedule: '17 * * * *',
    runAfterStartMs: 30_000,
    async run({ signal, logger }) {
      const cutoffs = retentionCutoffs(clock(), config);
      const started = Date.now();
      const r = await prune(db, cutoffs, { signal });
      if (r.operations + r.bodies + r.terms + r.pagesFreed > 0) {
        logger.info({ ...r, ms: Date.now() - started }, 'retention: pruned old operations and bodies');
      }
    },
  };
}

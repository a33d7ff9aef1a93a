import type { Db } from '../store/db.js';
import { createDerivation, writeCursor } from '../store/derivation.js';
import { clearRollups, rollupCounts } from '../store/queries/rollups.js';
import { createTermsStage } from '../store/terms.js';
import { createClientStage } from './clients.js';
import { type CycleConfig, createCycleStage } from './index.js';

export interface RebuildOptions {
  clock?: () => number;
  /** operations per transaction */
  batchSize?: number;
  onProgress?(done: number): void;
}

export interface RebuildResult {
  operations: number;
  cycles: number;
  identities: number;
  memberships: number;
}

/**
 * Recompute cycles, identities and memberships from the operations table: reset the derivation cursor (issue 12
 * §2) and derive again, oldest first, through the same consumer and cycle stage live recording uses, so the
 * result is what live derivation produced. Run it with scimtap stopped: a running instance keeps its in-memory
 * cycle and would not see the new rows.
 */
export function rebuildRollups(db: Db, config: CycleConfig, options: RebuildOptions = {}): RebuildResult {
  const { clock = Date.now, batchSize = 5_000, onProgress } = options;
  // Rows a burst logged first and a crash left in pending_operations are not in the log yet: they are moved in
  // first, as live derivation moves them, with the stages that label a row once, on its way in (its client kind)
  // and index it for search. The rebuild below then re-derives the whole log with the cycles stage alone.
  createDerivation({
    db,
    stages: [createClientStage({ db }), createCycleStage({ db, config, clock }), createTermsStage(db)],
    batchSize,
  }).drain();
  // Rollups emptied and the cursor back to 0 in one transaction: a crash in between cannot leave a cursor past
  // rollups that are gone.
  db.$client.transaction(() => {
    clearRollups(db);
    writeCursor(db, 0);
  })();

  const stage = createCycleStage({ db, config, clock });
  const derivation = createDerivation({ db, stages: [stage], batchSize });
  let done = 0;
  for (let n = derivation.step(); n > 0; n = derivation.step()) {
    done += n;
    onProgress?.(done);
  }
  stage.closeStale(clock());
  return { operations: done, ...rollupCounts(db) };
}

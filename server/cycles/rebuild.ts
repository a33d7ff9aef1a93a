import type { Db } from '../store/db.js';
import { clearRollups, createRebuildQueries, rollupCounts } from '../store/queries/rollups.js';
import { type CycleConfig, createCycleStage, type StoredCycleOperation } from './index.js';

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
 * Recompute cycles, identities and memberships from the operations table, oldest first, through the same stage
 * the recorder uses, so the result is what live recording would have produced. Run it with scimtap stopped:
 * a running instance keeps its in-memory cycle and would not see the new rows.
 */
export function rebuildRollups(db: Db, config: CycleConfig, options: RebuildOptions = {}): RebuildResult {
  const { clock = Date.now, batchSize = 5_000, onProgress } = options;
  clearRollups(db);
  const stage = createCycleStage({ db, config, clock });
  const q = createRebuildQueries(db);
  const step = db.$client.transaction((ops: StoredCycleOperation[]) => {
    stage.beforeInsert(ops);
    for (const op of ops) q.assign(op.id, op.cycleId, op.identityId);
    stage.afterInsert(ops);
  });

  let after = 0;
  let done = 0;
  for (;;) {
    const rows = q.operationsAfter(after, batchSize);
    if (rows.length === 0) break;
    const ops = rows.map(
      (r): StoredCycleOperation => ({
        ...r,
        modifiedProperties: parseArray(r.modifiedProperties),
        members: parseArray(r.members),
        cycleId: null,
        identityId: null,
      }),
    );
    try {
      step(ops);
    } catch (err) {
      stage.onRollback();
      throw err;
    }
    after = ops[ops.length - 1].id;
    done += ops.length;
    onProgress?.(done);
  }
  stage.closeStale(clock());
  return { operations: done, ...rollupCounts(db) };
}

function parseArray<T>(text: string): T[] {
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

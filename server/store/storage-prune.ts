import type { Db } from './db.js';
import type { WriteTurn } from './log-thread.js';

// The storage guard's pruning (storage.ts): what goes to stay within the budget, oldest first, and in turns of
// what size. Bodies first, then operations with the search terms and identities they leave unused.

/** What the storage guard has done since start (the counting half of StorageStats). */
export interface StorageCounters {
  bodiesPruned: number;
  operationsPruned: number;
  identitiesPruned: number;
  termsPruned: number;
  walTruncations: number;
  lastPruneAt: number | null;
}

/** Nothing pruned or truncated yet. */
export function noStorageCounters(): StorageCounters {
  return {
    bodiesPruned: 0,
    operationsPruned: 0,
    identitiesPruned: 0,
    termsPruned: 0,
    walTruncations: 0,
    lastPruneAt: null,
  };
}

/** Deletes at most `limit` rows, oldest first; returns how many went. */
type PruneDelete = (limit: number) => number;

export interface PruneDeletes {
  bodies: PruneDelete;
  /** operations, and the search terms no remaining operation uses (counted in `termsPruned`) */
  operations: PruneDelete;
  /** identities whose last operation is gone, and their memberships */
  identities: PruneDelete;
}

/** The deletes pruning runs, prepared once. */
export function pruneDeletes(
  sqlite: Db['$client'],
  counters: StorageCounters,
  /** identity rows were deleted: whoever caches them reloads */
  afterPrune?: () => void,
): PruneDeletes {
  const q = {
    // Both pick their victims oldest first from an index (bodies_time_idx, the rowid).
    deleteBodies: sqlite.prepare(
      'delete from bodies where operation_id in (select operation_id from bodies order by time limit ?)',
    ),
    oldestOperations: sqlite.prepare(
      'select id, identity, target_id as targetId, reason from operations order by id limit ?',
    ),
    deleteOperationsTo: sqlite.prepare('delete from operations where id <= ?'),
    oldestOperationId: sqlite.prepare('select min(id) from operations').pluck(),
    // A term goes with the last operation that used it (each check is an index probe).
    dropTerm: {
      identity: sqlite.prepare(`delete from operation_terms where field = 'identity' and value = ?
        and not exists (select 1 from operations where identity = ?)`),
      targetId: sqlite.prepare(`delete from operation_terms where field = 'targetId' and value = ?
        and not exists (select 1 from operations where target_id = ?)`),
      reason: sqlite.prepare(`delete from operation_terms where field = 'reason' and value = ?
        and not exists (select 1 from operations where reason = ?)`),
    },
    // An identity whose last operation is gone: a flood of unique names would otherwise fill the budget with
    // rollup rows alone. Oldest (lowest rowid) first, so the scan stops early.
    deleteIdentities: sqlite.prepare(`delete from identities where id in (select id from identities
      where coalesce(last_operation_id, 0) < ? order by id limit ?)`),
    deleteOrphanMemberships: sqlite.prepare(
      'delete from memberships where group_identity_id not in (select id from identities)',
    ),
  };
  type OldOperation = { id: number; identity: string | null; targetId: string | null; reason: string | null };
  const deleteOperations = sqlite.transaction((limit: number) => {
    const rows = q.oldestOperations.all(limit) as OldOperation[];
    if (rows.length === 0) return 0;
    const { changes } = q.deleteOperationsTo.run(rows[rows.length - 1].id);
    const seen = new Set<string>();
    for (const r of rows) {
      for (const field of ['identity', 'targetId', 'reason'] as const) {
        const value = r[field];
        if (value === null || seen.has(`${field}\u0000${value}`)) continue;
        seen.add(`${field}\u0000${value}`);
        counters.termsPruned += q.dropTerm[field].run(value, value).changes;
      }
    }
    return changes;
  });
  const deleteIdentities = (limit: number) => {
    const oldest = (q.oldestOperationId.get() as number | null) ?? Number.MAX_SAFE_INTEGER;
    const { changes } = q.deleteIdentities.run(oldest, limit);
    if (changes > 0) {
      q.deleteOrphanMemberships.run();
      // In the same turn, before the recorder writes again: no batch may use a cached id of a deleted row.
      afterPrune?.();
    }
    return changes;
  };
  return {
    bodies: (limit) => q.deleteBodies.run(limit).changes,
    operations: deleteOperations,
    identities: deleteIdentities,
  };
}

export interface PrunerOptions {
  deletes: PruneDeletes;
  counters: StorageCounters;
  /** budgetPlan's: pruning stops under `pruneBelowBytes`; past `fileBudgetBytes` it takes longer turns */
  plan: { pruneBelowBytes: number; fileBudgetBytes: number };
  /** for the `pruned` event */
  budgetBytes: number;
  /** time one delete transaction may hold the event loop */
  batchMs: number;
  clock: () => number;
  /** the write turn shared with the log writer thread, when a thread writes the log */
  turn?: WriteTurn;
  /** the pages in use, in bytes */
  usedBytes(): number;
  /** truncates the WAL if it passed its limit */
  checkpoint(): void;
  stopped(): boolean;
  onEvent?(event: 'pruned', detail: Record<string, unknown>): void;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Pruning until the pages in use are under the plan's floor, in turns that keep the event loop free. */
export function createPruner({
  deletes,
  counters,
  plan,
  budgetBytes,
  batchMs,
  clock,
  turn,
  usedBytes,
  checkpoint,
  stopped,
  onEvent,
}: PrunerOptions): () => Promise<void> {
  return async function prune(): Promise<void> {
    let batch = 50;
    const step = async (
      run: (limit: number) => number,
      key: 'bodiesPruned' | 'operationsPruned' | 'identitiesPruned',
      { untilUnder = true } = {},
    ) => {
      while (!stopped() && (!untilUnder || usedBytes() > plan.pruneBelowBytes)) {
        // The log writer thread is mid-transaction: wait a turn of the event loop rather than its lock.
        if (turn && !turn.tryAcquire()) {
          await nextTick();
          continue;
        }
        const started = performance.now();
        let changes: number;
        try {
          changes = run(batch);
          // A large delete fills the WAL as fast as the flood does: truncate it while no one else writes.
          checkpoint();
        } finally {
          turn?.release();
        }
        const ms = performance.now() - started;
        counters[key] += changes;
        counters.lastPruneAt = clock();
        if (changes === 0) return;
        // Past the budget itself the flood is outrunning the pruning: take longer turns (the budget wins).
        const turnMs = usedBytes() > plan.fileBudgetBytes ? batchMs * 5 : batchMs;
        batch = Math.max(10, Math.min(5_000, Math.round((batch * turnMs) / Math.max(ms, 0.1))));
        await nextTick();
      }
    };
    const before = { ...counters };
    await step(deletes.bodies, 'bodiesPruned');
    // Then operations, and every identity they leave without any: under a flood of unique names an identity
    // row costs about as much as its operation.
    while (!stopped() && usedBytes() > plan.pruneBelowBytes) {
      const ops = counters.operationsPruned;
      const ids = counters.identitiesPruned;
      await step(deletes.operations, 'operationsPruned');
      await step(deletes.identities, 'identitiesPruned', { untilUnder: false });
      if (counters.operationsPruned === ops && counters.identitiesPruned === ids) break;
    }
    onEvent?.('pruned', {
      bodies: counters.bodiesPruned - before.bodiesPruned,
      operations: counters.operationsPruned - before.operationsPruned,
      identities: counters.identitiesPruned - before.identitiesPruned,
      usedBytes: usedBytes(),
      budgetBytes,
    });
  };
}

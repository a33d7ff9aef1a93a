import type { Db } from './db.js';

// Deleting what retention says is old, in batches that keep the event loop (the proxy's too) free, then handing
// the freed pages back to the file system. When to prune, and up to when, is the retention job's (jobs/).

/** What to delete: operations and bodies with `time` before these. */
export interface PruneCutoffs {
  operationsBefore: number;
  bodiesBefore: number;
}

export interface PruneOptions {
  /** most rows deleted per transaction */
  batchRows?: number;
  /**
   * Time one delete transaction may hold the event loop (the proxy's too): the batch shrinks or grows to fit,
   * since a row costs tens of microseconds with every index it sits in.
   */
  batchMs?: number;
  /** pages handed back to the file system per incremental_vacuum step */
  vacuumPages?: number;
  /** stop between batches (scimtap is shutting down) */
  signal?: AbortSignal;
}

export interface PruneResult {
  operations: number;
  bodies: number;
  /** search terms (operation_terms) no operation uses any more */
  terms: number;
  /** pages returned to the file system by incremental_vacuum */
  pagesFreed: number;
  batches: number;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Delete what `cutoffs` says is old, `batchRows` per transaction, yielding to the event loop between batches so
 * the proxy and the recorder keep running; then return the freed pages with `PRAGMA incremental_vacuum` (the
 * database is opened with auto_vacuum=INCREMENTAL), a step at a time. Never a full VACUUM: it would rewrite the
 * whole file and hold the write lock throughout.
 */
export async function prune(
  db: Db,
  cutoffs: PruneCutoffs,
  { batchRows = 2_000, batchMs = 10, vacuumPages = 256, signal }: PruneOptions = {},
): Promise<PruneResult> {
  const sqlite = db.$client;
  const result: PruneResult = { operations: 0, bodies: 0, terms: 0, pagesFreed: 0, batches: 0 };
  // Both pick their victims from the time index (covering), oldest first.
  const deleteBodies = sqlite.prepare(
    'delete from bodies where operation_id in (select operation_id from bodies where time < ? order by time limit ?)',
  );
  const deleteOperations = sqlite.prepare(
    'delete from operations where id in (select id from operations where time < ? order by time limit ?)',
  );
  let batch = Math.min(batchRows, 100);
  const drain = async (statement: typeof deleteBodies, before: number, key: 'bodies' | 'operations') => {
    while (!signal?.aborted) {
      const started = performance.now();
      const { changes } = statement.run(before, batch);
      const ms = performance.now() - started;
      result[key] += changes;
      result.batches++;
      if (changes < batch) return;
      batch = Math.max(10, Math.min(batchRows, Math.round((batch * batchMs) / Math.max(ms, 0.1))));
      await nextTick();
    }
  };
  await drain(deleteBodies, cutoffs.bodiesBefore, 'bodies');
  await drain(deleteOperations, cutoffs.operationsBefore, 'operations');
  if (result.operations > 0) await pruneTerms(db, 500, result, signal);

  // exec, not a prepared run(): each step of this pragma frees one page, and exec steps to the end.
  const freeStep = `pragma incremental_vacuum(${Math.max(1, Math.floor(vacuumPages))})`;
  let free = sqlite.pragma('freelist_count', { simple: true }) as number;
  while (free > 0 && !signal?.aborted) {
    sqlite.exec(freeStep);
    const after = sqlite.pragma('freelist_count', { simple: true }) as number;
    result.pagesFreed += free - after;
    if (after >= free) break;
    free = after;
    await nextTick();
  }
  return result;
}

/** Drop search terms whose last operation was pruned, a rowid range at a time (each check is an index probe). */
async function pruneTerms(db: Db, batchRows: number, result: PruneResult, signal?: AbortSignal) {
  const sqlite = db.$client;
  const { max } = sqlite.prepare('select coalesce(max(rowid), 0) as max from operation_terms').get() as {
    max: number;
  };
  const step = sqlite.prepare(`
    delete from operation_terms where rowid > ? and rowid <= ? and not (
      (field = 'identity' and exists (select 1 from operations where identity = operation_terms.value)) or
      (field = 'targetId' and exists (select 1 from operations where target_id = operation_terms.value)) or
      (field = 'reason' and exists (select 1 from operations where reason = operation_terms.value)))`);
  for (let from = 0; from < max && !signal?.aborted; from += batchRows) {
    result.terms += step.run(from, from + batchRows).changes;
    result.batches++;
    await nextTick();
  }
}

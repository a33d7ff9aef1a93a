import type { PruneCutoffs } from '../prune.js';
import { cursorKey } from './derive/workspace.js';
import { type LogCursor, parseCursor } from './log.js';
import { inTransaction, type Pool } from './pool.js';

// Retention on PostgreSQL: what SQLite's prune (../prune.ts) deletes, deleted here too, and nothing else. Bodies
// older than their cutoff go; operations older than theirs go; then the search terms no operation uses any more.
// Cycles, identities and memberships stay, as on SQLite: they are the rollups, kept for the dashboard's history.
// No vacuum step: autovacuum hands the dead rows' space back to the table for the recorders' next inserts.
//
// One difference SQLite has no need of: here the log is derived by the leader after it is written, in (txid, id)
// order (log.ts), and an operation older than the cutoff may not be derived yet (a leader that was down, a lag).
// Deleting it would lose its cycle, identity and detection for good, so only operations at or before the
// derivation cursor go; the rest are counted (`underived`) and go on a later run, once derived.

export interface PgPruneOptions {
  /** most rows deleted per statement (each statement its own transaction) */
  batchRows?: number;
  /** search terms checked per transaction */
  termBatchRows?: number;
  /** stop between batches (scimtap is shutting down) */
  signal?: AbortSignal;
}

/** SQLite's PruneResult, but pagesFreed (no incremental_vacuum here), plus what the cursor kept. */
export interface PgPruneResult {
  operations: number;
  bodies: number;
  /** search terms (operation_terms) no operation uses any more */
  terms: number;
  batches: number;
  /** operations older than the cutoff kept because the leader has not derived them yet */
  underived: number;
}

/**
 * Delete what `cutoffs` says is old, `batchRows` per statement, each statement its own short transaction: deletes
 * take row locks on the victims only, so the recorders' inserts never wait on them, and a batch's locks last
 * milliseconds. Run it on one replica at a time (the leader): two would only repeat each other's work.
 */
export async function pgPrune(
  pool: Pool,
  cutoffs: PruneCutoffs,
  { batchRows = 1_000, termBatchRows = 500, signal }: PgPruneOptions = {},
): Promise<PgPruneResult> {
  const result: PgPruneResult = { operations: 0, bodies: 0, terms: 0, batches: 0, underived: 0 };
  // Victims picked from the time indexes, oldest first, as on SQLite.
  const deleteBodies = (limit: number) =>
    pool.query(
      `delete from bodies where operation_id in (
         select operation_id from bodies where time < $1 order by time limit $2)`,
      [cutoffs.bodiesBefore, limit],
    );
  // The cursor is read once: it only moves forward, so an older reading is on the safe side.
  const cursor = await derivedUpTo(pool);
  const deleteOperations = (limit: number) =>
    pool.query(
      `delete from operations where id in (
         select id from operations where time < $1 and (txid, id) <= ($2::xid8, $3::bigint)
         order by time limit $4)`,
      [cutoffs.operationsBefore, cursor.txid, cursor.id, limit],
    );
  const drain = async (run: typeof deleteBodies, key: 'bodies' | 'operations') => {
    while (!signal?.aborted) {
      const { rowCount } = await run(batchRows);
      result[key] += rowCount ?? 0;
      result.batches++;
      if ((rowCount ?? 0) < batchRows) return;
    }
  };
  await drain(deleteBodies, 'bodies');
  await drain(deleteOperations, 'operations');
  if (result.operations > 0) await pruneTerms(pool, termBatchRows, result, signal);
  if (!signal?.aborted) {
    // What is still older than the cutoff is exactly what the cursor kept.
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from operations where time < $1',
      [cutoffs.operationsBefore],
    );
    result.underived = rows[0]?.n ?? 0;
  }
  return result;
}

/** The derivation cursor; with none (nothing derived yet), a position before every row: nothing is deleted. */
async function derivedUpTo(pool: Pool): Promise<LogCursor> {
  const { rows } = await pool.query<{ value: string }>('select value from meta where key = $1', [cursorKey]);
  return parseCursor(rows[0]?.value);
}

/**
 * Drop search terms whose last operation was pruned, a page of the primary key at a time (each check an index
 * probe). Each page's transaction first locks the derivation cursor's row, which a derivation's write-back
 * updates before it adds its terms (derive/flush.ts claimCursor): the two take turns. Without it, a write-back's
 * "insert ... on conflict do nothing" could find a term this delete is about to remove, skip it, and leave a
 * newly derived operation with no search term. Taking turns, a write-back either commits first (and the page's
 * check, a statement later, sees its operations) or waits and inserts the term again.
 */
async function pruneTerms(pool: Pool, pageRows: number, result: PgPruneResult, signal?: AbortSignal) {
  let after: { field: string; value: string } | null = null;
  while (!signal?.aborted) {
    const page = await termPage(pool, after, pageRows);
    result.batches++;
    if (page === null) return;
    result.terms += page.deleted;
    after = page.last;
  }
}

async function termPage(
  pool: Pool,
  after: { field: string; value: string } | null,
  pageRows: number,
): Promise<{ deleted: number; last: { field: string; value: string } } | null> {
  return inTransaction(pool, async (client) => {
    // A deposed leader stuck mid-write-back holds the row: give up (the job retries next hour) rather than wait.
    await client.query("set local lock_timeout = '10s'");
    await client.query('select 1 from meta where key = $1 for update', [cursorKey]);
    const { rows } = await client.query<{ deleted: number; field: string; value: string }>(
      `with page as (
           select field, value from operation_terms
           where $1::text is null or (field, value) > ($1::text, $2::text)
           order by field, value limit $3),
         gone as (
           delete from operation_terms t using page
           where t.field = page.field and t.value = page.value and not (
             (t.field = 'identity' and exists (select 1 from operations where identity = t.value)) or
             (t.field = 'targetId' and exists (select 1 from operations where target_id = t.value)) or
             (t.field = 'reason' and exists (select 1 from operations where reason = t.value)))
           returning 1)
         select (select count(*)::int from gone) as deleted, last.field, last.value
         from (select field, value from page order by field desc, value desc limit 1) as last`,
      [after?.field ?? null, after?.value ?? null, pageRows],
    );
    const row = rows[0];
    return row ? { deleted: row.deleted, last: { field: row.field, value: row.value } } : null;
  });
}

import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import * as schema from '../../schema-pg/index.js';
import { incidents, outbox } from '../../schema-pg/index.js';
import { nulReplacement } from '../copy-plan.js';
import { FencedError as DerivationFencedError } from '../derive/flush.js';
import type { Pool, PoolClient } from '../pool.js';
import type { IncidentRow, OutboxInsert, Writes } from './workspace.js';

// The alert leader's epoch (meta `alerts.epoch`) and the write-back of one evaluation in one transaction, fenced
// by it.

export const epochKey = 'alerts.epoch';

/**
 * A newer leader took the alerts over since this evaluation's leader did: its write-back is refused, nothing
 * written. The same class as derivation's refusal, so a caller can treat both alike.
 */
export class FencedError extends DerivationFencedError {
  constructor() {
    super();
    this.message = 'alerts: a newer leader took over (alerts.epoch changed); this evaluation is refused';
  }
}

/**
 * Starts an epoch of the alerts (the leader calls it on gaining the lead, BEFORE it loads the open incidents): a
 * new random value in meta `alerts.epoch`. An older leader's write-back holds that row's lock from its first
 * statement to its commit, so this write waits for it: either the old evaluation committed before the new
 * leader loads, or it finds the epoch changed and is refused.
 */
export async function takeAlertEpoch(pool: Pool): Promise<string> {
  const epoch = randomUUID();
  await pool.query(
    `insert into meta (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value`,
    [epochKey, epoch],
  );
  return epoch;
}

/**
 * Why the timeouts: a deposed leader paused mid-write-back must not hold the epoch's row (the new leader's
 * takeAlertEpoch waits for it) for good; see derive/flush.ts, which does the same for the cursor's row.
 */
const fenceTimeouts = "set local lock_timeout = '10s'; set local idle_in_transaction_session_timeout = '30s'";

/** The first statement of a write-back: takes the epoch's row lock, or throws FencedError. */
export async function claimEpoch(client: PoolClient, epoch: string): Promise<void> {
  await client.query(fenceTimeouts);
  const r = await client.query(`update meta set value = value where key = $1 and value = $2`, [
    epochKey,
    epoch,
  ]);
  if (r.rowCount !== 1) throw new FencedError();
  await client.query('set local lock_timeout to default');
}

/** Text PostgreSQL can store: a NUL (SQLite keeps it) becomes U+FFFD, as migrate-store copies it. */
function storable<T extends Record<string, unknown>>(row: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'string' && v.includes('\0') ? v.replaceAll('\0', nulReplacement) : v;
  }
  return out as T;
}

/** An update of what the evaluation decides: never the acknowledgement, which any replica's API writes. */
function decided(row: IncidentRow) {
  const { id: _id, acknowledgedAt: _a, acknowledgedBy: _b, ackComment: _c, ...rest } = storable(row);
  return rest;
}

export function txDb(client: Pool | PoolClient) {
  return drizzle(client, { schema, casing: 'snake_case' });
}

/**
 * One evaluation's writes, inside the caller's transaction after claimEpoch: deletes, inserts (with their reserved
 * ids), updates, then the outbox rows (a row already there is skipped, as SQLite's queueing does). Returns the ids
 * of the outbox rows written, in the order they were queued (null: skipped).
 */
export async function writeEvaluation(client: PoolClient, w: Writes): Promise<(number | null)[]> {
  const db = txDb(client);
  if (w.deletes.length > 0) await db.delete(incidents).where(inArray(incidents.id, w.deletes));
  if (w.inserts.length > 0) await db.insert(incidents).values(w.inserts.map(storable));
  for (const row of w.updates) {
    await db.update(incidents).set(decided(row)).where(sql`${incidents.id} = ${row.id}`);
  }
  return insertOutbox(client, w.outbox);
}

/** Outbox rows one by one (each answers whether it was new); a few per evaluation. */
export async function insertOutbox(
  client: Pool | PoolClient,
  rows: OutboxInsert[],
): Promise<(number | null)[]> {
  const db = txDb(client);
  const ids: (number | null)[] = [];
  for (const row of rows) {
    const [got] = await db
      .insert(outbox)
      .values(storable(row))
      .onConflictDoNothing()
      .returning({ id: outbox.id });
    ids.push(got?.id ?? null);
  }
  return ids;
}

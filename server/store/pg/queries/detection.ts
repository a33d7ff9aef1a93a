import { and, desc, eq, gt, lt, type SQL, sql } from 'drizzle-orm';
import type { OperationSample } from '../../../detect/types.js';
import type { ObservedOperationRow, StuckIdentityRow } from '../../queries/detection.js';
import { cycles, identities, meta, operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';
import { cursorKey } from '../derive/workspace.js';
import type { LogCursor } from '../log.js';
import { stuckCondition } from './cycles.js';

// PostgreSQL twins of queries/detection.ts: what the leader's detection (alerts/pg-detection.ts) replays at start
// and reads at each evaluation. The log is ordered by (txid, id), not by id (pg/log.ts): "derived so far" is
// every row at or before the derivation cursor in that order, and the replay goes in that order too.

/** A drizzle handle or a transaction of one: restore reads everything in one snapshot. */
export type PgReader = PgDb | Parameters<Parameters<PgDb['transaction']>[0]>[0];

const position = sql<string>`${operations.txid}::text`;
const atOrBefore = (c: LogCursor): SQL =>
  sql`(${operations.txid}, ${operations.id}) <= (${c.txid}::xid8, ${c.id})`;
const after = (c: LogCursor, inclusive: boolean): SQL =>
  inclusive
    ? sql`(${operations.txid}, ${operations.id}) >= (${c.txid}::xid8, ${c.id})`
    : sql`(${operations.txid}, ${operations.id}) > (${c.txid}::xid8, ${c.id})`;

/** Log order: (txid, id), the txid compared as the 64-bit number it is. */
export function compareCursors(a: LogCursor, b: LogCursor): number {
  const t = BigInt(a.txid) - BigInt(b.txid);
  if (t !== 0n) return t < 0n ? -1 : 1;
  return a.id - b.id;
}

/**
 * The last derived operation's position in the log, null when none is. The cursor's row holds `txid:id` once
 * PostgreSQL's derivation has committed; a database copied by `scimtap migrate-store` carries SQLite's cursor, a
 * bare id, until then. The copy writes rows in id order, one transaction per batch, each after the last, so the
 * copied rows' (txid, id) order is their id order and "id <= N" is an interval of the log that ends at the row
 * with the greatest id <= N (rows recorded on PostgreSQL since come later: newer transactions, higher ids).
 */
export async function lastDerivedPosition(db: PgReader): Promise<LogCursor | null> {
  const [row] = await db.select({ value: meta.value }).from(meta).where(eq(meta.key, cursorKey));
  const text = row?.value ?? '';
  const log = /^(\d+):(\d+)$/.exec(text);
  const bare = /^\d+$/.exec(text);
  if (!log && !bare) return null;
  const [last] = await db
    .select({ txid: position, id: operations.id })
    .from(operations)
    .where(
      log
        ? atOrBefore({ txid: log[1] as string, id: Number(log[2]) })
        : sql`${operations.id} <= ${Number(text)}`,
    )
    .orderBy(...(log ? [desc(operations.txid), desc(operations.id)] : [desc(operations.id)]))
    .limit(1);
  return last ?? null;
}

/** The position `n - 1` rows before `last` (the n-th newest at or before it), null when there are fewer. */
export async function nthDerivedBefore(db: PgReader, last: LogCursor, n: number): Promise<LogCursor | null> {
  const [row] = await db
    .select({ txid: position, id: operations.id })
    .from(operations)
    .where(atOrBefore(last))
    .orderBy(desc(operations.txid), desc(operations.id))
    .offset(Math.max(0, n - 1))
    .limit(1);
  return row ?? null;
}

/** A cycle's first operation in log order (the order derivation labelled them in). */
export async function firstPositionOfCycle(db: PgReader, cycleId: number): Promise<LogCursor | null> {
  const [row] = await db
    .select({ txid: position, id: operations.id })
    .from(operations)
    .where(eq(operations.cycleId, cycleId))
    .orderBy(operations.txid, operations.id)
    .limit(1);
  return row ?? null;
}

/** Up to `limit` operations from `from` (itself included or not) through `upTo`, in log order. */
export async function observedOperations(
  db: PgReader,
  from: { at: LogCursor; inclusive: boolean },
  upTo: LogCursor,
  limit: number,
): Promise<(ObservedOperationRow & { txid: string })[]> {
  return db
    .select({
      txid: position,
      id: operations.id,
      time: operations.time,
      durationMs: operations.durationMs,
      cycleId: operations.cycleId,
      identityId: operations.identityId,
      httpMethod: operations.httpMethod,
      path: operations.path,
      query: operations.query,
      httpStatus: operations.httpStatus,
      operation: operations.operation,
      status: operations.status,
      identityType: operations.identityType,
      identity: operations.identity,
      targetId: operations.targetId,
      errorCode: operations.errorCode,
      reason: operations.reason,
      tokenFingerprint: operations.tokenFingerprint,
      clientKind: operations.clientKind,
      clientIp: operations.clientIp,
    })
    .from(operations)
    .where(and(after(from.at, from.inclusive), atOrBefore(upTo)))
    .orderBy(operations.txid, operations.id)
    .limit(limit);
}

/** queries/detection.ts `nthNewestCycleId`. */
export async function nthNewestCycleId(db: PgReader, n: number): Promise<number | null> {
  const [nth] = await db.select({ id: cycles.id }).from(cycles).orderBy(desc(cycles.id)).limit(1).offset(n);
  if (nth) return nth.id;
  const [oldest] = await db.select({ id: cycles.id }).from(cycles).orderBy(cycles.id).limit(1);
  return oldest?.id ?? null;
}

/** queries/detection.ts `lastHealthyCycleBefore`. */
export async function lastHealthyCycleBefore(
  db: PgReader,
  beforeId: number,
): Promise<{ id: number; endedAt: number } | undefined> {
  const [row] = await db
    .select({ id: cycles.id, endedAt: cycles.endedAt })
    .from(cycles)
    .where(
      and(
        lt(cycles.id, beforeId),
        sql`${cycles.state} = 'completed'`,
        eq(cycles.failures, 0),
        sql`${cycles.kind} <> 'testConnection'`,
      ),
    )
    .orderBy(desc(cycles.id))
    .limit(1);
  return row;
}

/** queries/detection.ts `cycleFailureCounts`, in id order. */
export async function cycleFailureCounts(
  db: PgReader,
  afterId: number,
  beforeId: number,
): Promise<{ failures: number; countsByOperation: string }[]> {
  return db
    .select({ failures: cycles.failures, countsByOperation: cycles.countsByOperation })
    .from(cycles)
    .where(and(gt(cycles.id, afterId), lt(cycles.id, beforeId)))
    .orderBy(cycles.id);
}

/**
 * queries/detection.ts `stuckIdentityRows`: the same stuck predicate (pg/queries/cycles.ts) and order. SQLite
 * sorts a null `failing_since` first, PostgreSQL last unless told; ties go by id on both.
 */
export async function stuckIdentityRows(
  db: PgReader,
  stuckCycles: number,
  limit = 1_000,
): Promise<StuckIdentityRow[]> {
  return db
    .select({
      id: identities.id,
      type: identities.type,
      key: identities.key,
      name: identities.name,
      targetId: identities.targetId,
      streak: identities.failingStreak,
      since: identities.failingSince,
      errorCode: identities.lastErrorCode,
      reason: identities.lastReason,
      lastErrorAt: identities.lastErrorAt,
      lastErrorOperationId: identities.lastErrorOperationId,
    })
    .from(identities)
    .where(stuckCondition(stuckCycles))
    .orderBy(desc(identities.failingStreak), sql`${identities.failingSince} asc nulls first`, identities.id)
    .limit(limit);
}

/** queries/detection.ts `operationSampleRow`. */
export async function operationSampleRow(db: PgReader, id: number): Promise<OperationSample | undefined> {
  const [row] = await db
    .select({
      id: operations.id,
      time: operations.time,
      httpMethod: operations.httpMethod,
      path: operations.path,
      query: operations.query,
      httpStatus: operations.httpStatus,
      errorCode: operations.errorCode,
      reason: operations.reason,
      identity: sql<string | null>`coalesce(${operations.identity}, ${operations.targetId})`,
    })
    .from(operations)
    .where(eq(operations.id, id));
  return row;
}

import { and, desc, eq, gt, gte, lt, type Placeholder, sql } from 'drizzle-orm';
import type { ObservedOperation } from '../../detect/tracker.js';
import type { OperationSample } from '../../detect/types.js';
import type { ClientKind } from '../../scim/types.js';
import type { Db } from '../db.js';
import { readCursor } from '../derivation.js';
import { cycles, identities, operations } from '../schema/index.js';
import { oncePerDatabase } from './prepared.js';

// What the alert engine reads back from the store: the operations it replays at start, the cycles before them
// (for the escrow count), and the stuck identities. Stuck is spelled here once, for the rule and /api/status.

/** An operation as detection replays it from the table: the tracker's `ObservedOperation`, its client known. */
export type ObservedOperationRow = ObservedOperation & {
  clientKind: ClientKind | string;
  clientIp: string | null;
};

export function maxOperationId(db: Db): number {
  return (
    db
      .select({ id: sql<number | null>`max(${operations.id})` })
      .from(operations)
      .get()?.id ?? 0
  );
}

/**
 * The last operation the engine may replay at start: the derivation cursor (issue 12 §2). Rows past it are not
 * labelled yet (no cycle, no identity), and the consumer hands them to the engine's stage once derived: replayed
 * too, they would count twice.
 */
export function lastDerivedOperationId(db: Db): number {
  return Math.min(readCursor(db), maxOperationId(db));
}

/** Operations with `fromId <= id < toId`, in id order. */
export function observedOperations(db: Db, fromId: number, toId: number): ObservedOperationRow[] {
  return db
    .select({
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
    .where(and(gte(operations.id, fromId), lt(operations.id, toId)))
    .orderBy(operations.id)
    .all();
}

/** The `n`-th newest cycle's id (0: the newest), else the oldest cycle's; null with no cycle at all. */
export function nthNewestCycleId(db: Db, n: number): number | null {
  const nth = db.select({ id: cycles.id }).from(cycles).orderBy(desc(cycles.id)).limit(1).offset(n).get();
  if (nth) return nth.id;
  return (
    db
      .select({ id: sql<number | null>`min(${cycles.id})` })
      .from(cycles)
      .get()?.id ?? null
  );
}

export function firstOperationIdOfCycle(db: Db, cycleId: number): number | null {
  return (
    db
      .select({ id: sql<number | null>`min(${operations.id})` })
      .from(operations)
      .where(eq(operations.cycleId, cycleId))
      .get()?.id ?? null
  );
}

/** The newest completed cycle before `beforeId` with no failure (a probe-only one proves nothing). */
export function lastHealthyCycleBefore(
  db: Db,
  beforeId: number,
): { id: number; endedAt: number } | undefined {
  return db
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
    .limit(1)
    .get();
}

/** The failure counts of the cycles strictly between two ids. */
export function cycleFailureCounts(
  db: Db,
  afterId: number,
  beforeId: number,
): { failures: number; countsByOperation: string }[] {
  return db
    .select({ failures: cycles.failures, countsByOperation: cycles.countsByOperation })
    .from(cycles)
    .where(and(gt(cycles.id, afterId), lt(cycles.id, beforeId)))
    .all();
}

/**
 * THE stuck predicate: an identity not deleted whose failing streak (cycles/identity.ts counts only failures that
 * are the object's own) reached `stuckCycles`. The stuckObject rule and /api/status both read it.
 */
export function stuckCondition(stuckCycles: number) {
  return stuckWhere(stuckMinimum(stuckCycles));
}

/** The least failing streak that is stuck. */
function stuckMinimum(stuckCycles: number): number {
  return Math.max(1, Math.floor(stuckCycles));
}

function stuckWhere(min: number | Placeholder) {
  // `failing_streak > 0` first so the query reads the partial index on failing identities, not the table.
  return sql`${identities.failingStreak} > 0 and ${identities.failingStreak} >= ${min} and ${identities.deleted} = 0`;
}

export interface StuckIdentityRow {
  id: number;
  type: string;
  key: string;
  name: string | null;
  targetId: string | null;
  streak: number;
  since: number | null;
  errorCode: string | null;
  reason: string | null;
  lastErrorAt: number | null;
  lastErrorOperationId: number | null;
}

/** Stuck identities, longest streak first (at most `limit`). */
export function stuckIdentityRows(db: Db, stuckCycles: number, limit = 1_000): StuckIdentityRow[] {
  return stuckRowsQuery(db).all({ min: stuckMinimum(stuckCycles), limit });
}

// Every evaluation of the rules reads the stuck identities, and a sample operation of each of the first few, on
// the proxy's thread: prepared once, not built by drizzle and prepared by SQLite each time (the soak's CPU profile
// showed evaluations of 10 to 40 ms, half of it there).
const stuckRowsQuery = oncePerDatabase((db) =>
  db
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
    .where(stuckWhere(sql.placeholder('min')))
    .orderBy(desc(identities.failingStreak), identities.failingSince)
    .limit(sql.placeholder('limit'))
    .prepare(),
);

export function operationSampleRow(db: Db, id: number): OperationSample | undefined {
  return sampleQuery(db).get({ id });
}

const sampleQuery = oncePerDatabase((db) =>
  db
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
    .where(eq(operations.id, sql.placeholder('id')))
    .prepare(),
);

import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { encodeCursor } from '../../queries/cursor.js';
import type * as sqlite from '../../queries/outcomes.js';
import { type OutcomeRow, toOutcome } from '../../queries/outcomes.js';
import { identities, operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

// The PostgreSQL twin of queries/outcomes.ts: one row per user or group a cycle touched, with its outcome there.

type CycleOutcomeAnswer = ReturnType<ReturnType<typeof sqlite.createCycleOutcomeQuery>>;

/**
 * Reads only the cycle's operations (operations_cycle_idx), paged by identity id, newest first. Nothing to
 * prepare on pg: the returned function builds the query per call, as the SQLite one runs its statement.
 */
export function createCycleOutcomeQuery(db: PgDb) {
  return async (cycleId: number, page: sqlite.CycleOutcomePage): Promise<CycleOutcomeAnswer> => {
    const rows = await outcomeRows(db, cycleId, page);
    const more = rows.length > page.limit;
    const items = (more ? rows.slice(0, page.limit) : rows).map(toOutcome);
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].identityId) : null };
  };
}

/** The SQLite statement's rows, under its names and number types (pg's counts and bigints read as numbers). */
function outcomeRows(
  db: PgDb,
  cycleId: number,
  { outcome, before, limit }: sqlite.CycleOutcomePage,
): Promise<OutcomeRow[]> {
  // drizzle names the CTE's columns unqualified in the outer query: none may share a name with o's or f's.
  const per = db.$with('per').as(
    db
      .select({
        identityId: sql<number>`${operations.identityId}`.mapWith(Number).as('per_identity_id'),
        n: sql<number>`count(*)`.mapWith(Number).as('n'),
        failures: sql<number>`count(*) filter (where ${operations.status} = 'failure')`
          .mapWith(Number)
          .as('failures'),
        // Last by request time, not by id: replicas commit a flush apart, so ids are not quite the order of
        // Entra's requests (derive/derivation.ts settleMs). On SQLite's one writer the two orders agree.
        lastId:
          sql<number>`(array_agg(${operations.id} order by ${operations.time} desc, ${operations.id} desc))[1]`
            .mapWith(Number)
            .as('last_id'),
        failureId: sql<
          number | null
        >`(array_agg(${operations.id} order by ${operations.time} desc, ${operations.id} desc)
            filter (where ${operations.status} = 'failure'))[1]`
          .mapWith(Number)
          .as('failure_id'),
      })
      .from(operations)
      .where(and(eq(operations.cycleId, cycleId), sql`${operations.identityId} is not null`))
      .groupBy(operations.identityId),
  );
  const o = alias(operations, 'o');
  const f = alias(operations, 'f');
  return db
    .with(per)
    .select({
      identityId: per.identityId,
      operations: per.n,
      failures: per.failures,
      lastOperationId: o.id,
      lastOperation: o.operation,
      outcome: o.status,
      httpStatus: o.httpStatus,
      errorCode: o.errorCode,
      reason: o.reason,
      time: o.time,
      type: identities.type,
      name: identities.name,
      targetId: identities.targetId,
      failureId: f.id,
      failureHttpStatus: f.httpStatus,
      failureErrorCode: f.errorCode,
      failureReason: f.reason,
      failureTime: f.time,
    })
    .from(per)
    .innerJoin(o, eq(o.id, per.lastId))
    .leftJoin(f, eq(f.id, per.failureId))
    .leftJoin(identities, eq(identities.id, per.identityId))
    .where(
      and(
        outcome === undefined ? undefined : eq(o.status, outcome),
        before === null ? undefined : lt(per.identityId, before),
      ),
    )
    .orderBy(desc(per.identityId))
    .limit(limit + 1);
}

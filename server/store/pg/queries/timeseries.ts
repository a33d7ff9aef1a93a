import { and, count, gte, lt, sql } from 'drizzle-orm';
import { type TimeseriesBucket, toBuckets } from '../../queries/timeseries.js';
import { operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

/**
 * The twin of queries/timeseries.ts's `createTimeseriesQuery`: operations per time bucket by status, non-empty
 * buckets only, oldest first, grouped in PostgreSQL over operations_time_idx. Call the returned function per
 * request (nothing is prepared: the shape is kept for the admin store, which builds both stores alike).
 */
export function createTimeseriesQuery(db: PgDb) {
  return async (from: number, to: number, bucketMs: number): Promise<TimeseriesBucket[]> => {
    // bigint division truncates toward zero, as SQLite's integer division does.
    const bucket = sql<number>`(${operations.time} / ${bucketMs}::bigint) * ${bucketMs}::bigint`.mapWith(
      Number,
    );
    const rows = await db
      .select({ bucket, status: operations.status, n: count() })
      .from(operations)
      .where(and(gte(operations.time, from), lt(operations.time, to)))
      .groupBy(sql`1`, operations.status)
      .orderBy(sql`1`);
    return toBuckets(rows);
  };
}

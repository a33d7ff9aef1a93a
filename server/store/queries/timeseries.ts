import type { Db } from '../db.js';

export interface TimeseriesBucket {
  /** bucket start, ISO 8601 UTC */
  time: string;
  success: number;
  failure: number;
  warning: number;
}

/**
 * Operations per time bucket by status, non-empty buckets only, oldest first. One range scan on
 * operations_time_idx grouped in SQLite. Prepared once: call the returned function per request.
 */
export function createTimeseriesQuery(db: Db) {
  const stmt = db.$client.prepare<
    [number, number, number, number],
    { bucket: number; status: string; n: number }
  >(
    `select (time / cast(? as integer)) * cast(? as integer) as bucket, status, count(*) as n
       from operations
      where time >= ? and time < ?
      group by bucket, status
      order by bucket`,
  );
  return (from: number, to: number, bucketMs: number): TimeseriesBucket[] =>
    toBuckets(stmt.all(bucketMs, bucketMs, from, to));
}

/** Rows of (bucket start, status, count), ordered by bucket, as one point per bucket (both stores). */
export function toBuckets(rows: Iterable<{ bucket: number; status: string; n: number }>): TimeseriesBucket[] {
  const byBucket = new Map<number, TimeseriesBucket>();
  for (const row of rows) {
    let b = byBucket.get(row.bucket);
    if (!b) {
      b = { time: new Date(row.bucket).toISOString(), success: 0, failure: 0, warning: 0 };
      byBucket.set(row.bucket, b);
    }
    if (row.status === 'success' || row.status === 'failure' || row.status === 'warning')
      b[row.status] += row.n;
  }
  return [...byBucket.values()];
}

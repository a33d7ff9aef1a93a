import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../store/db.js';
import { ApiError, parseInput } from '../errors.js';

const isoOrMs = z
  .union([z.coerce.number().int().nonnegative(), z.iso.datetime({ offset: true })])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

const querySchema = z
  .object({
    from: isoOrMs.optional(),
    to: isoOrMs.optional(),
    /** bucket width in seconds */
    bucket: z.coerce.number().int().min(10).max(86_400).default(60),
  })
  .strict();

/** Enough points for a day at one-minute buckets; more would only be drawn on top of each other. */
export const maxBuckets = 1440;

export interface TimeseriesBucket {
  /** bucket start, ISO 8601 UTC */
  time: string;
  success: number;
  failure: number;
  warning: number;
}

export interface OperationsTimeseries {
  from: string;
  to: string;
  bucketSeconds: number;
  /** non-empty buckets only, oldest first (the dashboard fills the gaps) */
  buckets: TimeseriesBucket[];
}

/**
 * GET /api/timeseries/operations?from&to&bucket: operations per time bucket by status, for the overview's
 * chart. One range scan on operations_time_idx grouped in SQLite; the default is the last hour by minute.
 * (Not under /api/operations: `/operations/:id` would take the path.)
 */
export function timeseriesRoutes({ db, clock = Date.now }: { db: Db; clock?: () => number }) {
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
  return new Hono().get('/operations', (c) => {
    const q = parseInput(querySchema, c.req.query());
    const bucketMs = q.bucket * 1000;
    const to = q.to ?? Math.ceil(clock() / bucketMs) * bucketMs;
    const from = q.from ?? to - 60 * bucketMs;
    if (from >= to) throw new ApiError(400, 'badRequest', 'from must be before to');
    if ((to - from) / bucketMs > maxBuckets) {
      throw new ApiError(400, 'badRequest', `at most ${maxBuckets} buckets: widen bucket or narrow from/to`);
    }
    const byBucket = new Map<number, TimeseriesBucket>();
    for (const row of stmt.all(bucketMs, bucketMs, from, to)) {
      let b = byBucket.get(row.bucket);
      if (!b) {
        b = { time: new Date(row.bucket).toISOString(), success: 0, failure: 0, warning: 0 };
        byBucket.set(row.bucket, b);
      }
      if (row.status === 'success' || row.status === 'failure' || row.status === 'warning')
        b[row.status] += row.n;
    }
    const body: OperationsTimeseries = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucketSeconds: q.bucket,
      buckets: [...byBucket.values()],
    };
    return c.json(body);
  });
}

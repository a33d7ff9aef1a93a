import { Hono } from 'hono';
import { z } from 'zod';
import type { AdminStore } from '../../store/admin-store.js';
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

/**
 * GET /api/timeseries/operations?from&to&bucket: operations per time bucket by status, for the overview's
 * chart (store/queries/timeseries.ts); the default is the last hour by minute.
 * (Not under /api/operations: `/operations/:id` would take the path.)
 */
export function timeseriesRoutes({ store, clock = Date.now }: { store: AdminStore; clock?: () => number }) {
  return new Hono().get('/operations', async (c) => {
    const q = parseInput(querySchema, c.req.query());
    const bucketMs = q.bucket * 1000;
    const to = q.to ?? Math.ceil(clock() / bucketMs) * bucketMs;
    const from = q.from ?? to - 60 * bucketMs;
    if (from >= to) throw new ApiError(400, 'badRequest', 'from must be before to');
    if ((to - from) / bucketMs > maxBuckets) {
      throw new ApiError(400, 'badRequest', `at most ${maxBuckets} buckets: widen bucket or narrow from/to`);
    }
    return c.json({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucketSeconds: q.bucket,
      /** non-empty buckets only, oldest first (the dashboard fills the gaps) */
      buckets: await store.operationsPerBucket(from, to, bucketMs),
    });
  });
}

import { Hono } from 'hono';
import { z } from 'zod';
import type { AdminStore } from '../../store/admin-store.js';
import { parseInput } from '../errors.js';

const querySchema = z
  .object({
    /** how far back, in hours */
    hours: z.coerce
      .number()
      .positive()
      .max(24 * 90)
      .default(24),
    /** recent requests listed */
    limit: z.coerce.number().int().min(0).max(1000).default(50),
  })
  .strict();

/**
 * GET /api/unrecognised?hours&limit: requests from outside the provisioning client, kept apart from cycles and
 * outcomes: how many, from where, for what (store/queries/unrecognised.ts).
 */
export function unrecognisedRoutes({ store, clock = Date.now }: { store: AdminStore; clock?: () => number }) {
  return new Hono().get('/', async (c) => {
    const q = parseInput(querySchema, c.req.query());
    return c.json(await store.unrecognisedSince(clock() - q.hours * 3_600_000, q.limit));
  });
}

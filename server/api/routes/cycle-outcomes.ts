import { Hono } from 'hono';
import { z } from 'zod';
import type { AdminStore } from '../../store/admin-store.js';
import { decodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { operationStatuses } from '../../vocabulary.js';
import { idParam, parseInput } from '../errors.js';

const querySchema = pageSchema
  .extend({
    /** the identity's final status in the cycle (the status of its last operation there) */
    outcome: z.enum(operationStatuses).optional(),
  })
  .strict();

/**
 * GET /api/cycles/:id/outcomes: one row per user or group the cycle touched, with its outcome there, for the
 * dashboard's cycle page (store/queries/outcomes.ts).
 */
export function cycleOutcomeRoutes({ store }: { store: AdminStore }) {
  return new Hono().get('/', async (c) => {
    const { id } = parseInput(idParam, c.req.param());
    const { limit, cursor, outcome } = parseInput(querySchema, c.req.query());
    return c.json(
      await store.cycleOutcomes(id, { outcome, before: cursor ? decodeCursor(cursor) : null, limit }),
    );
  });
}

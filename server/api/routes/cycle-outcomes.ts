import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../store/db.js';
import { decodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { createCycleOutcomeQuery } from '../../store/queries/outcomes.js';
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
export function cycleOutcomeRoutes({ db }: { db: Db }) {
  const cycleOutcomes = createCycleOutcomeQuery(db);
  return new Hono().get('/', (c) => {
    const { id } = parseInput(idParam, c.req.param());
    const { limit, cursor, outcome } = parseInput(querySchema, c.req.query());
    return c.json(cycleOutcomes(id, { outcome, before: cursor ? decodeCursor(cursor) : null, limit }));
  });
}

import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../store/db.js';
import {
  getOperation,
  listOperations,
  operationFilterSchema,
  pageSchema,
} from '../../store/queries/operations.js';
import { ApiError, parseInput } from '../errors.js';

export function operationRoutes({ db }: { db: Db }) {
  return new Hono()
    .get('/', (c) => {
      const { limit, cursor, ...filter } = parseInput(
        operationFilterSchema.extend(pageSchema.shape),
        c.req.query(),
      );
      return c.json(listOperations(db, filter, { limit, cursor }));
    })
    .get('/:id', (c) => {
      const { id } = parseInput(z.object({ id: z.coerce.number().int().positive() }), c.req.param());
      const operation = getOperation(db, id);
      if (!operation) throw new ApiError(404, 'notFound', `no operation ${id}`);
      return c.json(operation);
    });
}

import { Hono } from 'hono';
import type { Db } from '../../store/db.js';
import {
  getOperation,
  listOperations,
  operationFilterSchema,
  pageSchema,
} from '../../store/queries/operations.js';
import { ApiError, idParam, parseInput } from '../errors.js';

const listQuery = operationFilterSchema.extend(pageSchema.shape);

export function operationRoutes({ db }: { db: Db }) {
  return new Hono()
    .get('/', (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      return c.json(listOperations(db, filter, { limit, cursor }));
    })
    .get('/:id', (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const operation = getOperation(db, id);
      if (!operation) throw new ApiError(404, 'notFound', `no operation ${id}`);
      return c.json(operation);
    });
}

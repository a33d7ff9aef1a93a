import { Hono } from 'hono';
import type { AdminStore } from '../../store/admin-store.js';
import { operationFilterSchema, pageSchema } from '../../store/queries/operations.js';
import { ApiError, idParam, parseInput } from '../errors.js';

const listQuery = operationFilterSchema.extend(pageSchema.shape);

export function operationRoutes({ store }: { store: AdminStore }) {
  return new Hono()
    .get('/', async (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      return c.json(await store.listOperations(filter, { limit, cursor }));
    })
    .get('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const operation = await store.getOperation(id);
      if (!operation) throw new ApiError(404, 'notFound', `no operation ${id}`);
      return c.json(operation);
    });
}

import { Hono } from 'hono';
import { toCycleDetail, toCycleView } from '../../cycles/view.js';
import type { RiskRules } from '../../detect/risk.js';
import type { AdminStore } from '../../store/admin-store.js';
import { cycleFilterSchema } from '../../store/queries/cycles.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ApiError, idParam, parseInput } from '../errors.js';

// Built once: zod compiles a schema on its first parse (~0.2 ms), and GET /api/apps asks every app's
// /cycles on each refresh of the fleet page.
const listQuery = cycleFilterSchema.extend(pageSchema.shape);

/** GET /api/cycles (newest first, cursor paging) and GET /api/cycles/:id (ARCHITECTURE §8). */
export function cycleRoutes({ store, rules }: { store: AdminStore; rules: RiskRules }) {
  return new Hono()
    .get('/', async (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      const { items, nextCursor } = await store.listCycles(filter, { limit, cursor });
      return c.json({ items: items.map((row) => toCycleView(row, rules)), nextCursor });
    })
    .get('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const row = await store.getCycleRow(id);
      if (!row) throw new ApiError(404, 'notFound', `no cycle ${id}`);
      return c.json(toCycleDetail(row, rules));
    });
}

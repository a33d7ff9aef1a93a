import { Hono } from 'hono';
import { toCycleDetail, toCycleView } from '../../cycles/view.js';
import type { RiskRules } from '../../detect/risk.js';
import type { Db } from '../../store/db.js';
import { cycleFilterSchema, getCycleRow, listCycles } from '../../store/queries/cycles.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ApiError, idParam, parseInput } from '../errors.js';

// Built once: zod compiles a schema on its first parse (~0.2 ms), and GET /api/apps asks every app's
// /cycles on each refresh of the fleet page.
const listQuery = cycleFilterSchema.extend(pageSchema.shape);

/** GET /api/cycles (newest first, cursor paging) and GET /api/cycles/:id (ARCHITECTURE §8). */
export function cycleRoutes({ db, rules }: { db: Db; rules: RiskRules }) {
  return new Hono()
    .get('/', (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      const { items, nextCursor } = listCycles(db, filter, { limit, cursor });
      return c.json({ items: items.map((row) => toCycleView(row, rules)), nextCursor });
    })
    .get('/:id', (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const row = getCycleRow(db, id);
      if (!row) throw new ApiError(404, 'notFound', `no cycle ${id}`);
      return c.json(toCycleDetail(row, rules));
    });
}

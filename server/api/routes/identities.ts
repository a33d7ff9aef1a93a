import { Hono } from 'hono';
import { toIdentityView } from '../../cycles/view.js';
import type { AdminStore } from '../../store/admin-store.js';
import { identityFilterSchema } from '../../store/queries/identities.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ApiError, idParam, parseInput } from '../errors.js';

const iso = (ms: number) => new Date(ms).toISOString();
const listQuery = identityFilterSchema.extend(pageSchema.shape);
const timelineQuery = pageSchema.strict();

/** GET /api/identities (filters type, status, q, failing) and GET /api/identities/:id with its timeline. */
export function identityRoutes({ store }: { store: AdminStore }) {
  return new Hono()
    .get('/', async (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      const { items, nextCursor } = await store.listIdentities(filter, { limit, cursor });
      return c.json({ items: items.map(toIdentityView), nextCursor });
    })
    .get('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      // limit and cursor page the timeline
      const page = parseInput(timelineQuery, c.req.query());
      const row = await store.getIdentityRow(id);
      if (!row) throw new ApiError(404, 'notFound', `no identity ${id}`);
      const [memberships, timeline] = await Promise.all([
        store.identityMemberships(row),
        store.identityTimeline(id, page),
      ]);
      return c.json({
        identity: toIdentityView(row),
        memberships: { ...memberships, items: memberships.items.map((m) => ({ ...m, since: iso(m.since) })) },
        timeline,
      });
    });
}

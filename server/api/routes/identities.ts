import { Hono } from 'hono';
import { z } from 'zod';
import { toIdentityView } from '../../cycles/view.js';
import type { Db } from '../../store/db.js';
import {
  getIdentityRow,
  identityFilterSchema,
  identityMemberships,
  identityTimeline,
  listIdentities,
} from '../../store/queries/identities.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ApiError, parseInput } from '../errors.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** GET /api/identities (filters type, status, q, failing) and GET /api/identities/:id with its timeline. */
export function identityRoutes({ db }: { db: Db }) {
  return new Hono()
    .get('/', (c) => {
      const { limit, cursor, ...filter } = parseInput(
        identityFilterSchema.extend(pageSchema.shape),
        c.req.query(),
      );
      const { items, nextCursor } = listIdentities(db, filter, { limit, cursor });
      return c.json({ items: items.map(toIdentityView), nextCursor });
    })
    .get('/:id', (c) => {
      const { id } = parseInput(z.object({ id: z.coerce.number().int().positive() }), c.req.param());
      // limit and cursor page the timeline
      const page = parseInput(pageSchema.strict(), c.req.query());
      const row = getIdentityRow(db, id);
      if (!row) throw new ApiError(404, 'notFound', `no identity ${id}`);
      const memberships = identityMemberships(db, row);
      return c.json({
        identity: toIdentityView(row),
        memberships: { ...memberships, items: memberships.items.map((m) => ({ ...m, since: iso(m.since) })) },
        timeline: identityTimeline(db, id, page),
      });
    });
}

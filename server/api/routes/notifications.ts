import { Hono } from 'hono';
import { z } from 'zod';
import { getNotification, listNotifications } from '../../notify/queries.js';
import { decodeCursor, encodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ApiError, parseInput } from '../errors.js';
import { type AlertRouteDeps, jsonBody } from './incidents.js';

const listQuery = z
  .object({
    state: z.enum(['unsent', 'sending', 'sent', 'failed', 'superseded']).optional(),
    event: z.enum(['first', 'reasonChanged', 'reminder', 'resolved', 'test']).optional(),
    incident: z.coerce.number().int().positive().optional(),
  })
  .extend(pageSchema.shape)
  .strict();
const testBody = z.object({ requestedBy: z.string().trim().max(200).optional() }).strict();

/** GET /api/notifications (the outbox and its delivery log), GET /api/notifications/:id, POST /api/notifications/test. */
export function notificationRoutes({ db, alerts, recipients }: AlertRouteDeps & { recipients: string[] }) {
  const delivery = () => ({ smtpConfigured: alerts.outbox.configured, recipients });
  return new Hono()
    .get('/', (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      const before = cursor ? (decodeCursor(cursor) ?? undefined) : undefined;
      const rows = listNotifications(db, { ...filter, before, limit: limit + 1 });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return c.json({
        ...delivery(),
        items: page,
        nextCursor: more ? encodeCursor(page[page.length - 1].id) : null,
      });
    })
    .get('/:id', (c) => {
      const { id } = parseInput(z.object({ id: z.coerce.number().int().positive() }), c.req.param());
      const row = getNotification(db, id);
      if (!row) throw new ApiError(404, 'notFound', `no notification ${id}`);
      return c.json(row);
    })
    .post('/test', async (c) => {
      const { requestedBy } = parseInput(testBody, await jsonBody(c));
      const id = alerts.queueTestEmail(requestedBy ?? null);
      return c.json({ ...delivery(), notification: getNotification(db, id) }, 202);
    });
}

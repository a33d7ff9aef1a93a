import { Hono } from 'hono';
import { z } from 'zod';
import { UnknownReceiverError } from '../../notify/routing.js';
import { decodeCursor, encodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { notifyEvents, outboxStates } from '../../vocabulary.js';
import { ApiError, idParam, parseInput } from '../errors.js';
import { type AlertRouteDeps, jsonBody } from './incidents.js';

const receiverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, 'a receiver name');
const listQuery = z
  .object({
    receiver: receiverName.optional(),
    state: z.enum(outboxStates).optional(),
    event: z.enum(notifyEvents).optional(),
    incident: z.coerce.number().int().positive().optional(),
  })
  .extend(pageSchema.shape)
  .strict();
const testBody = z.object({ requestedBy: z.string().trim().max(200).optional() }).strict();
const testQuery = z.object({ receiver: receiverName.optional() }).strict();

/**
 * GET /api/notifications (the outbox and its delivery log, every receiver), GET /api/notifications/:id,
 * GET /api/notifications/:id/message (what the receiver gets: an email's subject, text and HTML; another
 * receiver's JSON body, secrets masked),
 * POST /api/notifications/test[?receiver=<name>] (default: email). Receivers show as name, type and a masked target.
 */
export function notificationRoutes({ store, alerts, recipients }: AlertRouteDeps & { recipients: string[] }) {
  const delivery = () => ({
    smtpConfigured: alerts.outbox.configured,
    recipients,
    receivers: alerts.routing.receivers(),
  });
  return new Hono()
    .get('/', async (c) => {
      const { limit, cursor, ...filter } = parseInput(listQuery, c.req.query());
      const before = cursor ? (decodeCursor(cursor) ?? undefined) : undefined;
      const rows = await store.listNotifications({ ...filter, before, limit: limit + 1 });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return c.json({
        ...delivery(),
        items: page,
        nextCursor: more ? encodeCursor(page[page.length - 1].id) : null,
      });
    })
    .get('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const row = await store.getNotification(id);
      if (!row) throw new ApiError(404, 'notFound', `no notification ${id}`);
      return c.json(row);
    })
    .get('/:id/message', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const message = await store.getMessage(id, (name, body) => alerts.routing.preview(name, body));
      if (!message) throw new ApiError(404, 'notFound', `no notification ${id}`);
      return c.json(message);
    })
    .post('/test', async (c) => {
      const { receiver } = parseInput(testQuery, c.req.query());
      const { requestedBy } = parseInput(testBody, await jsonBody(c));
      let id: number;
      try {
        id = await alerts.queueTest(receiver ?? 'email', requestedBy ?? null);
      } catch (err) {
        if (!(err instanceof UnknownReceiverError)) throw err;
        const names = alerts.routing.receivers().map((r) => r.name);
        throw new ApiError(404, 'notFound', `${err.message}; configured: ${names.join(', ')}`);
      }
      return c.json({ ...delivery(), notification: await store.getNotification(id) }, 202);
    });
}

import { Hono } from 'hono';
import { z } from 'zod';
import { toSilenceView } from '../../alerts/views.js';
import { decodeCursor, encodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { ruleCodes } from '../../vocabulary.js';
import { ApiError, idParam, parseInput } from '../errors.js';
import { type AlertRouteDeps, jsonBody } from './incidents.js';

const listQuery = z
  .object({ active: z.enum(['true', 'false']).optional() })
  .extend(pageSchema.shape)
  .strict();
const createBody = z
  .object({
    rule: z.enum(ruleCodes),
    /** userName / displayName / target id: only that identity's part of the rule is muted */
    identity: z.string().trim().min(1).max(512).optional(),
    comment: z.string().max(2000).default(''),
    createdBy: z.string().trim().max(200).default('dashboard'),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
    durationMinutes: z
      .number()
      .positive()
      .max(366 * 24 * 60)
      .optional(),
  })
  .strict()
  .refine((b) => (b.expiresAt === undefined) !== (b.durationMinutes === undefined), {
    message: 'give exactly one of expiresAt and durationMinutes',
  });

/** GET /api/silences (active=true for the ones in force), POST /api/silences, DELETE /api/silences/:id. */
export function silenceRoutes({ store, alerts, clock = Date.now }: AlertRouteDeps) {
  return new Hono()
    .get('/', async (c) => {
      const { active, limit, cursor } = parseInput(listQuery, c.req.query());
      const now = clock();
      const before = cursor ? (decodeCursor(cursor) ?? undefined) : undefined;
      const rows = await store.listSilences({
        active: active === undefined ? undefined : active === 'true',
        now,
        before,
        limit: limit + 1,
      });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return c.json({
        items: page.map((s) => toSilenceView(s, now)),
        nextCursor: more ? encodeCursor(page[page.length - 1].id) : null,
      });
    })
    .post('/', async (c) => {
      const body = parseInput(createBody, await jsonBody(c));
      const now = clock();
      const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : now + body.durationMinutes! * 60_000;
      if (expiresAt <= now) throw new ApiError(400, 'badRequest', 'expiresAt: must be in the future');
      const silence = await store.createSilence({
        rule: body.rule,
        identity: body.identity ?? null,
        comment: body.comment,
        createdBy: body.createdBy,
        createdAt: now,
        expiresAt,
      });
      alerts.schedule();
      return c.json(toSilenceView(silence, now), 201);
    })
    .delete('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const now = clock();
      const silence = await store.endSilence(id, now);
      if (!silence) throw new ApiError(404, 'notFound', `no silence ${id}`);
      alerts.schedule();
      return c.json(toSilenceView(silence, now));
    });
}

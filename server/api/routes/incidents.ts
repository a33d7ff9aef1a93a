import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AlertEngine } from '../../alerts/engine.js';
import type { Incident } from '../../alerts/types.js';
import { toIncidentView } from '../../alerts/views.js';
import type { AdminStore } from '../../store/admin-store.js';
import { decodeCursor, encodeCursor } from '../../store/queries/cursor.js';
import { pageSchema } from '../../store/queries/operations.js';
import { incidentStates, ruleCodes } from '../../vocabulary.js';
import { ApiError, idParam, parseInput } from '../errors.js';

/**
 * What the API asks of the incident engine: firing incidents, acks, silences' re-evaluation, test sends. SQLite's
 * engine answers at once; PostgreSQL's (any replica: alerts/pg-engine.ts) over the network.
 */
export interface AdminAlerts {
  firingIncidents(): Incident[] | Promise<Incident[]>;
  acknowledge(id: number, by: string, comment: string | null): Incident | null | Promise<Incident | null>;
  schedule(): void;
  queueTest(receiver: string, requestedBy: string | null): number | Promise<number>;
  outbox: Pick<AlertEngine['outbox'], 'configured'>;
  routing: Pick<AlertEngine['routing'], 'receivers' | 'preview'>;
}

export interface AlertRouteDeps {
  store: AdminStore;
  alerts: AdminAlerts;
  clock?: () => number;
}

/** A JSON body, `{}` when there is none; malformed JSON is a 400. */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'badRequest', 'the body is not valid JSON');
  }
}

const incidentFilter = z
  .object({
    /** `open`: pending or firing */
    state: z.enum([...incidentStates, 'open']).optional(),
    rule: z.enum(ruleCodes).optional(),
  })
  .extend(pageSchema.shape)
  .strict();
const ackBody = z
  .object({
    by: z.string().trim().min(1).max(200).default('dashboard'),
    comment: z.string().max(2000).optional(),
  })
  .strict();

/** GET /api/incidents (state, rule; with their emails), GET /api/incidents/:id, POST /api/incidents/:id/ack. */
export function incidentRoutes({ store, alerts, clock = Date.now }: AlertRouteDeps) {
  const context = async () => {
    const now = clock();
    return {
      now,
      firing: new Set((await alerts.firingIncidents()).map((i) => i.rule)),
      silences: await store.activeSilences(now),
    };
  };
  return new Hono()
    .get('/', async (c) => {
      const { limit, cursor, state, rule } = parseInput(incidentFilter, c.req.query());
      const before = cursor ? (decodeCursor(cursor) ?? undefined) : undefined;
      const rows = await store.listIncidents({ state, rule, before, limit: limit + 1 });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const [emails, ctx] = await Promise.all([
        store.notificationsForIncidents(page.map((i) => i.id!)),
        context(),
      ]);
      return c.json({
        items: page.map((i) => toIncidentView(i, { ...ctx, notifications: emails.get(i.id!) ?? [] })),
        nextCursor: more ? encodeCursor(page[page.length - 1].id!) : null,
      });
    })
    .get('/:id', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const incident = await store.getIncident(id);
      if (!incident) throw new ApiError(404, 'notFound', `no incident ${id}`);
      const emails = await store.notificationsForIncidents([id]);
      return c.json(toIncidentView(incident, { ...(await context()), notifications: emails.get(id) ?? [] }));
    })
    .post('/:id/ack', async (c) => {
      const { id } = parseInput(idParam, c.req.param());
      const { by, comment } = parseInput(ackBody, await jsonBody(c));
      const existing = await store.getIncident(id);
      if (!existing) throw new ApiError(404, 'notFound', `no incident ${id}`);
      if (existing.state === 'resolved')
        throw new ApiError(409, 'resolved', `incident ${id} is already resolved`);
      const incident = (await alerts.acknowledge(id, by, comment ?? null))!;
      const emails = await store.notificationsForIncidents([id]);
      return c.json(toIncidentView(incident, { ...(await context()), notifications: emails.get(id) ?? [] }));
    });
}

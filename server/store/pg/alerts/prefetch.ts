import { and, desc, inArray, ne, notInArray, sql } from 'drizzle-orm';
import type { Incident, NotifyEvent, SentNotification } from '../../../alerts/types.js';
import { fromIncidentRow } from '../../queries/incidents.js';
import { incidents, outbox } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';
import { activeSilences } from '../queries/incidents.js';
import type { Prefetched } from './workspace.js';

// The reads of one evaluation, made before it runs (workspace.ts answers them synchronously).

/** The rows of these incidents as they are now (an acknowledgement may have changed them), by id. */
export async function incidentRows(db: PgDb, ids: number[]): Promise<Map<number, Incident>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select().from(incidents).where(inArray(incidents.id, ids));
  return new Map(rows.map((r) => [r.id, fromIncidentRow(r)]));
}

/**
 * lastSent (queries/incidents.ts) of each incident at once: its newest row, superseded rows and acknowledgements
 * aside.
 */
async function lastSentOf(db: PgDb, ids: number[]): Promise<Map<number, SentNotification>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectDistinctOn([outbox.incidentId], {
      incidentId: outbox.incidentId,
      event: outbox.event,
      reasonKey: outbox.reasonKey,
      createdAt: outbox.createdAt,
    })
    .from(outbox)
    .where(
      and(
        inArray(outbox.incidentId, ids),
        ne(outbox.state, 'superseded'),
        notInArray(outbox.event, ['acknowledged']),
      ),
    )
    .orderBy(outbox.incidentId, desc(outbox.id));
  return new Map(
    rows.map((r) => [
      r.incidentId as number,
      { event: r.event as NotifyEvent, reasonKey: r.reasonKey, createdAt: r.createdAt },
    ]),
  );
}

/** The highest sequence of each (incident, event) of these incidents: nextSequence's max, at once. */
export async function maxSequences(db: PgDb, ids: number[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({
      incidentId: outbox.incidentId,
      event: outbox.event,
      // max() of a bigint is a bigint, which node-postgres reads as a string.
      max: sql<number>`max(${outbox.sequence})`.mapWith(Number),
    })
    .from(outbox)
    .where(inArray(outbox.incidentId, ids))
    .groupBy(outbox.incidentId, outbox.event);
  return new Map(rows.map((r) => [`${r.incidentId}:${r.event}`, r.max]));
}

/**
 * Ids for new incidents, taken from the incidents' sequence: nobody else gets them, committed or not (a failed
 * evaluation leaves a gap, where SQLite would give the id again).
 */
export async function reserveIncidentIds(db: PgDb, n: number): Promise<number[]> {
  if (n <= 0) return [];
  const { rows } = await db.$client.query<{ id: string }>(
    `select nextval(pg_get_serial_sequence('incidents', 'id')) as id from generate_series(1, $1)`,
    [n],
  );
  return rows.map((r) => Number(r.id));
}

/** Everything an evaluation at `now` of these open incidents reads, but the ids it may hand out. */
export async function prefetch(
  db: PgDb,
  open: number[],
  now: number,
): Promise<Omit<Prefetched, 'ids'> & { rows: Map<number, Incident> }> {
  const [silences, rows, lastSent, maxSequence] = await Promise.all([
    activeSilences(db, now),
    incidentRows(db, open),
    lastSentOf(db, open),
    maxSequences(db, open),
  ]);
  return { silences, rows, lastSent, maxSequence, known: new Set(open) };
}

import { and, desc, eq, gt, isNull, lt, ne, notInArray, type SQL, sql } from 'drizzle-orm';
import type { NotifyEvent } from '../../../alerts/types.js';
import type * as sqlite from '../../queries/incidents.js';
import { fromIncidentRow, type IncidentFilter } from '../../queries/incidents.js';
import { incidents, outbox, silences } from '../../schema-pg/index.js';
import { nulReplacement } from '../copy-plan.js';
import type { PgDb } from '../db.js';

// The PostgreSQL twins of queries/incidents.ts: the alert engine's open incidents, the API's lists, silences
// and acknowledgements. The schema's enum columns already type `rule` as a RuleCode, so a silence row is a
// Silence as it is read.

/**
 * Text an admin typed, as PostgreSQL can store it: a NUL character (which the API lets through, and SQLite keeps)
 * becomes U+FFFD, as `scimtap migrate-store` copies it, rather than failing the write.
 */
function storable<T extends string | null>(s: T): T {
  return (typeof s === 'string' ? s.replaceAll('\0', nulReplacement) : s) as T;
}

export async function loadOpenIncidents(db: PgDb): Promise<ReturnType<typeof sqlite.loadOpenIncidents>> {
  const rows = await db.select().from(incidents).where(ne(incidents.state, 'resolved')).orderBy(incidents.id);
  return rows.map(fromIncidentRow);
}

export async function getIncident(db: PgDb, id: number): Promise<ReturnType<typeof sqlite.getIncident>> {
  const [row] = await db.select().from(incidents).where(eq(incidents.id, id));
  return row ? fromIncidentRow(row) : null;
}

export async function listIncidents(
  db: PgDb,
  f: IncidentFilter,
): Promise<ReturnType<typeof sqlite.listIncidents>> {
  const where: SQL[] = [];
  if (f.state === 'open') where.push(ne(incidents.state, 'resolved'));
  else if (f.state) where.push(eq(incidents.state, f.state));
  if (f.rule) where.push(eq(incidents.rule, f.rule));
  if (f.before !== undefined) where.push(lt(incidents.id, f.before));
  const rows = await db
    .select()
    .from(incidents)
    .where(and(...where))
    .orderBy(desc(incidents.id))
    .limit(f.limit);
  return rows.map(fromIncidentRow);
}

export async function acknowledgeIncident(
  db: PgDb,
  id: number,
  by: string,
  comment: string | null,
  now: number,
): Promise<ReturnType<typeof sqlite.acknowledgeIncident>> {
  await db
    .update(incidents)
    .set({ acknowledgedAt: now, acknowledgedBy: storable(by), ackComment: storable(comment), updatedAt: now })
    .where(and(eq(incidents.id, id), isNull(incidents.acknowledgedAt)));
  return getIncident(db, id);
}

/**
 * The last notification decision queued for an incident, on any receiver (any state: an unsent email still counts
 * as said). An acknowledgement passed on to PagerDuty is not a decision about what to tell.
 */
export async function lastSent(db: PgDb, incidentId: number): Promise<ReturnType<typeof sqlite.lastSent>> {
  const [row] = await db
    .select({ event: outbox.event, reasonKey: outbox.reasonKey, createdAt: outbox.createdAt })
    .from(outbox)
    .where(
      and(
        eq(outbox.incidentId, incidentId),
        ne(outbox.state, 'superseded'),
        notInArray(outbox.event, ['acknowledged']),
      ),
    )
    .orderBy(desc(outbox.id))
    .limit(1);
  return row ? { ...row, event: row.event as NotifyEvent } : null;
}

export async function nextSequence(
  db: PgDb,
  incidentId: number,
  event: NotifyEvent,
): Promise<ReturnType<typeof sqlite.nextSequence>> {
  // max() of a bigint is a bigint, which node-postgres reads as a string.
  const [row] = await db
    .select({ n: sql<number>`coalesce(max(${outbox.sequence}), 0)`.mapWith(Number) })
    .from(outbox)
    .where(and(eq(outbox.incidentId, incidentId), eq(outbox.event, event)));
  return (row?.n ?? 0) + 1;
}

export async function activeSilences(
  db: PgDb,
  now: number,
): Promise<ReturnType<typeof sqlite.activeSilences>> {
  return db
    .select()
    .from(silences)
    .where(and(isNull(silences.endedAt), gt(silences.expiresAt, now)))
    .orderBy(silences.id);
}

export async function listSilences(
  db: PgDb,
  opts: Parameters<typeof sqlite.listSilences>[1],
): Promise<ReturnType<typeof sqlite.listSilences>> {
  const where: SQL[] = [];
  if (opts.active === true) where.push(isNull(silences.endedAt), gt(silences.expiresAt, opts.now));
  if (opts.before !== undefined) where.push(lt(silences.id, opts.before));
  return db
    .select()
    .from(silences)
    .where(and(...where))
    .orderBy(desc(silences.id))
    .limit(opts.limit);
}

export async function createSilence(
  db: PgDb,
  s: Parameters<typeof sqlite.createSilence>[1],
): Promise<ReturnType<typeof sqlite.createSilence>> {
  const [row] = await db
    .insert(silences)
    .values({
      ...s,
      identity: storable(s.identity),
      comment: storable(s.comment),
      createdBy: storable(s.createdBy),
    })
    .returning();
  return row!;
}

/** Ends a silence now; the row stays so the dashboard can show who muted what, and when. */
export async function endSilence(
  db: PgDb,
  id: number,
  now: number,
): Promise<ReturnType<typeof sqlite.endSilence>> {
  await db
    .update(silences)
    .set({ endedAt: now })
    .where(and(eq(silences.id, id), isNull(silences.endedAt)));
  const [row] = await db.select().from(silences).where(eq(silences.id, id));
  return row ?? null;
}

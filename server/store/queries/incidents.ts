// The incidents and silences tables' SQL: the alert engine's open incidents, the API's lists, silences and acks.

import { and, desc, eq, getTableColumns, gt, isNull, lt, ne, notInArray, type SQL, sql } from 'drizzle-orm';
import type { Incident, IncidentState, NotifyEvent, SentNotification, Silence } from '../../alerts/types.js';
import type { Evidence, RuleCode } from '../../detect/types.js';
import type { Db } from '../db.js';
import { incidents, outbox, silences } from '../schema/index.js';
import { oncePerDatabase } from './prepared.js';

type IncidentRow = typeof incidents.$inferSelect;
type SilenceRow = typeof silences.$inferSelect;

const emptyEvidence: Evidence = {
  count: 0,
  firstSeen: null,
  lastSeen: null,
  sampleOperationIds: [],
  samples: [],
  identities: [],
  identityCount: 0,
  details: {},
};

export function fromIncidentRow(row: IncidentRow): Incident {
  let evidence = emptyEvidence;
  try {
    evidence = { ...emptyEvidence, ...(JSON.parse(row.evidence) as Evidence) };
  } catch {
    // A row written by a future version, or damaged: show it without evidence rather than failing.
  }
  return {
    ...row,
    rule: row.rule as RuleCode,
    scope: row.scope as Incident['scope'],
    severity: row.severity as Incident['severity'],
    state: row.state as IncidentState,
    entraReason: row.entraReason as Incident['entraReason'],
    inhibitedBy: row.inhibitedBy as RuleCode | null,
    evidence,
  };
}

/** An incident as its row stores it (evidence as JSON): what PostgreSQL's write-back writes too. */
export function toIncidentRow(i: Incident): Omit<IncidentRow, 'id'> {
  const { id: _id, evidence, ...rest } = i;
  return { ...rest, evidence: JSON.stringify(evidence) };
}

function fromSilenceRow(row: SilenceRow): Silence {
  return { ...row, rule: row.rule as RuleCode };
}

export function loadOpenIncidents(db: Db): Incident[] {
  return db
    .select()
    .from(incidents)
    .where(ne(incidents.state, 'resolved'))
    .orderBy(incidents.id)
    .all()
    .map(fromIncidentRow);
}

export function insertIncident(db: Db, i: Incident): number {
  const row = db.insert(incidents).values(toIncidentRow(i)).returning({ id: incidents.id }).get();
  return row.id;
}

export function updateIncident(db: Db, i: Incident): void {
  if (i.id === null) throw new Error('updateIncident: not stored yet');
  updateIncidentQuery(db).run({ ...toIncidentRow(i), id: i.id });
}

// Each evaluation of the rules updates every open incident whose evidence moved, on the proxy's thread: the
// statement is prepared once. Building it with drizzle each time took 60 of an evaluation's 240 ms in the soak.
// Every column is plain text or integer (no JSON or boolean mode to map), so placeholders bind the row as is.
const incidentColumns = Object.keys(getTableColumns(incidents)).filter((k) => k !== 'id');
const updateIncidentQuery = oncePerDatabase((db) =>
  db
    .update(incidents)
    .set(Object.fromEntries(incidentColumns.map((c) => [c, sql`${sql.placeholder(c)}`])))
    .where(eq(incidents.id, sql.placeholder('id')))
    .prepare(),
);

export function deleteIncident(db: Db, id: number): void {
  db.delete(incidents).where(eq(incidents.id, id)).run();
}

export function getIncident(db: Db, id: number): Incident | null {
  const row = db.select().from(incidents).where(eq(incidents.id, id)).get();
  return row ? fromIncidentRow(row) : null;
}

export interface IncidentFilter {
  state?: IncidentState | 'open';
  rule?: RuleCode;
  /** id cursor: rows older than this */
  before?: number;
  limit: number;
}

export function listIncidents(db: Db, f: IncidentFilter): Incident[] {
  const where: SQL[] = [];
  if (f.state === 'open') where.push(ne(incidents.state, 'resolved'));
  else if (f.state) where.push(eq(incidents.state, f.state));
  if (f.rule) where.push(eq(incidents.rule, f.rule));
  if (f.before !== undefined) where.push(lt(incidents.id, f.before));
  return db
    .select()
    .from(incidents)
    .where(and(...where))
    .orderBy(desc(incidents.id))
    .limit(f.limit)
    .all()
    .map(fromIncidentRow);
}

export function acknowledgeIncident(
  db: Db,
  id: number,
  by: string,
  comment: string | null,
  now: number,
): Incident | null {
  db.update(incidents)
    .set({ acknowledgedAt: now, acknowledgedBy: by, ackComment: comment, updatedAt: now })
    .where(and(eq(incidents.id, id), isNull(incidents.acknowledgedAt)))
    .run();
  return getIncident(db, id);
}

/**
 * The last notification decision queued for an incident, on any receiver (any state: an unsent email still counts
 * as said). An acknowledgement passed on to PagerDuty is not a decision about what to tell.
 */
export function lastSent(db: Db, incidentId: number): SentNotification | null {
  const row = db
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
    .limit(1)
    .get();
  return row ? { ...row, event: row.event as NotifyEvent } : null;
}

export function nextSequence(db: Db, incidentId: number, event: NotifyEvent): number {
  const row = db
    .select({ n: sql<number>`coalesce(max(${outbox.sequence}), 0)` })
    .from(outbox)
    .where(and(eq(outbox.incidentId, incidentId), eq(outbox.event, event)))
    .get();
  return (row?.n ?? 0) + 1;
}

export function activeSilences(db: Db, now: number): Silence[] {
  return activeSilencesQuery(db).all({ now }).map(fromSilenceRow);
}

// GET /api/status reads it for every app of GET /api/apps (prepared.ts).
const activeSilencesQuery = oncePerDatabase(prepareActiveSilences);

function prepareActiveSilences(db: Db) {
  return db
    .select()
    .from(silences)
    .where(and(isNull(silences.endedAt), gt(silences.expiresAt, sql.placeholder('now'))))
    .orderBy(silences.id)
    .prepare();
}

export function listSilences(
  db: Db,
  opts: { active?: boolean; now: number; limit: number; before?: number },
): Silence[] {
  const where: SQL[] = [];
  if (opts.active === true) where.push(isNull(silences.endedAt), gt(silences.expiresAt, opts.now));
  if (opts.before !== undefined) where.push(lt(silences.id, opts.before));
  return db
    .select()
    .from(silences)
    .where(and(...where))
    .orderBy(desc(silences.id))
    .limit(opts.limit)
    .all()
    .map(fromSilenceRow);
}

export function createSilence(db: Db, s: Omit<Silence, 'id' | 'endedAt'>): Silence {
  const row = db.insert(silences).values(s).returning().get();
  return fromSilenceRow(row);
}

/** Ends a silence now; the row stays so the dashboard can show who muted what, and when. */
export function endSilence(db: Db, id: number, now: number): Silence | null {
  db.update(silences)
    .set({ endedAt: now })
    .where(and(eq(silences.id, id), isNull(silences.endedAt)))
    .run();
  const row = db.select().from(silences).where(eq(silences.id, id)).get();
  return row ? fromSilenceRow(row) : null;
}

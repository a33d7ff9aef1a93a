import { and, desc, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Incident } from '../../../alerts/types.js';
import type { EmailContext } from '../../../notify/email.js';
import type { Routing } from '../../../notify/routing.js';
import { fromIncidentRow } from '../../queries/incidents.js';
import { incidents, outbox } from '../../schema-pg/index.js';
import { nulReplacement } from '../copy-plan.js';
import { inTransaction, type Pool, type PoolClient } from '../pool.js';
import { createEvaluationWorkspace } from './workspace.js';
import { insertOutbox, txDb } from './write-back.js';

// What any replica's API writes to the alerts on PostgreSQL, outside the leader's evaluations: acknowledgements
// and test notifications. Neither is fenced: the leader's write-back never writes an acknowledgement, and a test
// belongs to no incident.

export interface Acknowledgement {
  id: number;
  by: string;
  comment: string | null;
  now: number;
  ctx: EmailContext;
}

/**
 * Acknowledges an incident and, the first time a firing incident is acknowledged, tells the receivers that track
 * acknowledgements and were told it fired (engine.ts acknowledgeAndTell), in one transaction. The incident's row
 * is locked first, so two replicas acknowledging at once tell once. Returns the incident as stored, or null.
 */
export async function pgAcknowledge(
  pool: Pool,
  routing: Routing,
  a: Acknowledgement,
): Promise<Incident | null> {
  return inTransaction(pool, (client) => acknowledgeLocked(client, routing, a));
}

async function acknowledgeLocked(
  client: PoolClient,
  routing: Routing,
  a: Acknowledgement,
): Promise<Incident | null> {
  const db = txDb(client);
  const [before] = await db.select().from(incidents).where(eq(incidents.id, a.id)).for('update');
  if (!before) return null;
  const storable = (s: string | null) => (s === null ? null : s.replaceAll('\0', nulReplacement));
  const [row] = await db
    .update(incidents)
    .set({
      acknowledgedAt: a.now,
      acknowledgedBy: storable(a.by),
      ackComment: storable(a.comment),
      updatedAt: a.now,
    })
    .where(and(eq(incidents.id, a.id), isNull(incidents.acknowledgedAt)))
    .returning();
  const incident = fromIncidentRow(row ?? before);
  // Acknowledged already, or not firing: nothing new to tell anyone.
  if (before.acknowledgedAt !== null || incident.state !== 'firing') return incident;
  const told = await db
    .selectDistinct({ receiver: outbox.receiver })
    .from(outbox)
    .where(
      and(
        eq(outbox.incidentId, a.id),
        inArray(outbox.event, ['first', 'reasonChanged', 'reminder']),
        ne(outbox.state, 'superseded'),
      ),
    );
  const receivers = new Set(told.map((t) => t.receiver));
  const [last] = await db
    .select({ sequence: outbox.sequence })
    .from(outbox)
    .where(and(eq(outbox.incidentId, a.id), eq(outbox.event, 'acknowledged')))
    .orderBy(desc(outbox.sequence))
    .limit(1);
  const workspace = createEvaluationWorkspace({
    silences: [],
    lastSent: new Map(),
    maxSequence: new Map(last ? [[`${a.id}:acknowledged`, last.sequence]] : []),
    known: new Set([a.id]),
    ids: [],
    wasTold: (receiver, incidentId) => incidentId === a.id && receivers.has(receiver),
  });
  const sequence = workspace.store.nextSequence(a.id, 'acknowledged');
  routing.queueAcknowledged(workspace.store, incident, sequence, a.ctx, a.now);
  await insertOutbox(client, workspace.writes().outbox);
  return incident;
}

/**
 * A test notification to one receiver (routing.queueTest on PostgreSQL); throws UnknownReceiverError, writing
 * nothing, for a name no receiver has. Returns the outbox row's id.
 */
export async function pgQueueTest(
  pool: Pool,
  routing: Routing,
  receiver: string | null,
  ctx: EmailContext,
  now: number,
  requestedBy: string | null,
): Promise<number> {
  const workspace = createEvaluationWorkspace({
    silences: [],
    lastSent: new Map(),
    maxSequence: new Map(),
    known: new Set(),
    ids: [],
  });
  routing.queueTest(workspace.store, receiver, ctx, now, requestedBy);
  // A test names no incident, and the outbox's unique key never matches a null: the row is always new.
  const [id] = await insertOutbox(pool, workspace.writes().outbox);
  if (id === null || id === undefined) throw new Error('test notification: not queued');
  return id;
}

import { and, count, desc, eq, inArray, lt, ne, type SQL } from 'drizzle-orm';
import type { JsonMessagePreview } from '../../../notify/routing.js';
import {
  type OutboxRow,
  toEmailDeliveryState,
  toMessageView,
  toNotificationView,
} from '../../queries/notification-view.js';
import type * as sqlite from '../../queries/notifications.js';
import type { DeliveryAttemptView, NotificationFilter } from '../../queries/notifications.js';
import { deliveryAttempts, outbox } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

// The PostgreSQL twins of queries/notifications.ts: the outbox and its delivery log as the API shows them.
// Rows are read under their SQL names (OutboxRow) so both stores share one mapper (queries/notification-view.ts).

type OutboxState = typeof outbox.$inferSelect.state;
type OutboxEvent = typeof outbox.$inferSelect.event;

const columns = {
  id: outbox.id,
  receiver: outbox.receiver,
  incident_id: outbox.incidentId,
  event: outbox.event,
  sequence: outbox.sequence,
  state: outbox.state,
  attempts: outbox.attempts,
  created_at: outbox.createdAt,
  next_attempt_at: outbox.nextAttemptAt,
  last_attempt_at: outbox.lastAttemptAt,
  sent_at: outbox.sentAt,
  last_error: outbox.lastError,
  recipients: outbox.recipients,
  subject: outbox.subject,
  message_id: outbox.messageId,
};

async function attemptsFor(db: PgDb, ids: number[]): Promise<Map<number, DeliveryAttemptView[]>> {
  const byRow = new Map<number, DeliveryAttemptView[]>();
  if (ids.length === 0) return byRow;
  const rows = await db
    .select()
    .from(deliveryAttempts)
    .where(inArray(deliveryAttempts.outboxId, ids))
    .orderBy(deliveryAttempts.outboxId, deliveryAttempts.id);
  for (const r of rows) {
    const list = byRow.get(r.outboxId) ?? [];
    // ok and retryable are booleans already (SQLite's are 0/1 integers).
    list.push({
      id: r.id,
      at: new Date(r.at).toISOString(),
      durationMs: r.durationMs,
      ok: r.ok,
      retryable: r.retryable,
      error: r.error,
      responseCode: r.responseCode,
      response: r.response,
    });
    byRow.set(r.outboxId, list);
  }
  return byRow;
}

/** The outbox with its delivery log, newest first. */
export async function listNotifications(
  db: PgDb,
  f: NotificationFilter,
): Promise<ReturnType<typeof sqlite.listNotifications>> {
  const where: SQL[] = [];
  if (f.receiver !== undefined) where.push(eq(outbox.receiver, f.receiver));
  // The filter's strings are not checked against the enums (SQLite's query binds them as they come).
  if (f.state !== undefined) where.push(eq(outbox.state, f.state as OutboxState));
  if (f.incident !== undefined) where.push(eq(outbox.incidentId, f.incident));
  if (f.event !== undefined) where.push(eq(outbox.event, f.event as OutboxEvent));
  if (f.before !== undefined) where.push(lt(outbox.id, f.before));
  const rows: OutboxRow[] = await db
    .select(columns)
    .from(outbox)
    .where(and(...where))
    .orderBy(desc(outbox.id))
    .limit(f.limit);
  const attempts = await attemptsFor(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toNotificationView(r, attempts.get(r.id) ?? []));
}

/** One notification as queued, with its bodies (another receiver's: the JSON body, secrets left out) and delivery log. */
export async function getNotification(
  db: PgDb,
  id: number,
): Promise<ReturnType<typeof sqlite.getNotification>> {
  const [row] = await db
    .select({ ...columns, text: outbox.text, html: outbox.html })
    .from(outbox)
    .where(eq(outbox.id, id));
  if (!row) return null;
  const attempts = await attemptsFor(db, [id]);
  return { ...toNotificationView(row, attempts.get(id) ?? []), text: row.text, html: row.html };
}

export async function getMessage(
  db: PgDb,
  id: number,
  preview: (receiver: string, body: string) => JsonMessagePreview,
): Promise<ReturnType<typeof sqlite.getMessage>> {
  const row = await getNotification(db, id);
  return row ? toMessageView(row, preview) : null;
}

/** The notifications of the given incidents, on every receiver, oldest first per incident. */
export async function notificationsForIncidents(
  db: PgDb,
  incidentIds: number[],
): Promise<ReturnType<typeof sqlite.notificationsForIncidents>> {
  const byIncident: ReturnType<typeof sqlite.notificationsForIncidents> = new Map();
  if (incidentIds.length === 0) return byIncident;
  const rows: OutboxRow[] = await db
    .select(columns)
    .from(outbox)
    .where(inArray(outbox.incidentId, incidentIds))
    .orderBy(outbox.incidentId, outbox.id);
  const attempts = await attemptsFor(
    db,
    rows.map((r) => r.id),
  );
  for (const r of rows) {
    const list = byIncident.get(r.incident_id!) ?? [];
    list.push(toNotificationView(r, attempts.get(r.id) ?? []));
    byIncident.set(r.incident_id!, list);
  }
  return byIncident;
}

/** Notifications waiting in the outbox (unsent or mid-send, every receiver), for /metrics. */
export async function pendingEmailCount(db: PgDb): Promise<ReturnType<typeof sqlite.pendingEmailCount>> {
  const [row] = await db
    .select({ n: count() })
    .from(outbox)
    .where(inArray(outbox.state, ['unsent', 'sending']));
  return row?.n ?? 0;
}

/** How email delivery is going, read from the last delivery attempt (for /api/health). */
export async function emailDeliveryState(db: PgDb): Promise<ReturnType<typeof sqlite.emailDeliveryState>> {
  const [last] = await db
    .select({ ok: deliveryAttempts.ok, error: deliveryAttempts.error, at: deliveryAttempts.at })
    .from(deliveryAttempts)
    .orderBy(desc(deliveryAttempts.id))
    .limit(1);
  return toEmailDeliveryState(last, await pendingEmailCount(db));
}

/**
 * Whether a receiver was told an incident fired (an acknowledgement is only news to whoever heard of it).
 *
 * SQLite's twin returns a predicate that asks the database at each call; a PostgreSQL query cannot answer
 * synchronously, so this one reads every (receiver, incident) pair that was told once, and its predicate
 * answers from that set. Call it again for each decision: the answer is as of this call, and rows queued
 * after it are not seen.
 */
export async function receiverWasTold(db: PgDb): Promise<ReturnType<typeof sqlite.receiverWasTold>> {
  const rows = await db
    .selectDistinct({ receiver: outbox.receiver, incidentId: outbox.incidentId })
    .from(outbox)
    .where(
      and(inArray(outbox.event, ['first', 'reasonChanged', 'reminder']), ne(outbox.state, 'superseded')),
    );
  const told = new Map<string, Set<number>>();
  for (const r of rows) {
    // A test email has no incident: `incident_id = ?` never matches null in SQLite either.
    if (r.incidentId === null) continue;
    const set = told.get(r.receiver) ?? new Set<number>();
    set.add(r.incidentId);
    told.set(r.receiver, set);
  }
  return (receiver, incidentId) => incidentId !== null && (told.get(receiver)?.has(incidentId) ?? false);
}

import type { JsonMessagePreview } from '../../notify/routing.js';
import type { Db } from '../db.js';
import {
  type OutboxRow,
  toEmailDeliveryState,
  toMessageView,
  toNotificationView,
} from './notification-view.js';

export interface DeliveryAttemptView {
  id: number;
  at: string;
  durationMs: number;
  ok: boolean;
  retryable: boolean | null;
  error: string | null;
  responseCode: number | null;
  response: string | null;
}

export interface NotificationView {
  id: number;
  /** 'email', or a configured receiver's name */
  receiver: string;
  incidentId: number | null;
  event: string;
  sequence: number;
  state: string;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  sentAt: string | null;
  lastError: string | null;
  /** email: the addresses; other receivers: where it goes, masked (host and last 4 characters) */
  recipients: string[];
  subject: string;
  messageId: string;
  deliveries: DeliveryAttemptView[];
}

interface AttemptRow {
  id: number;
  outbox_id: number;
  at: number;
  duration_ms: number;
  ok: number;
  retryable: number | null;
  error: string | null;
  response_code: number | null;
  response: string | null;
}

const columns = `id, receiver, incident_id, event, sequence, state, attempts, created_at, next_attempt_at, last_attempt_at,
  sent_at, last_error, recipients, subject, message_id`;

function attemptsFor(db: Db, ids: number[]): Map<number, DeliveryAttemptView[]> {
  const byRow = new Map<number, DeliveryAttemptView[]>();
  if (ids.length === 0) return byRow;
  const rows = db.$client
    .prepare(
      `select * from delivery_attempts where outbox_id in (${ids.map(() => '?').join(',')}) order by outbox_id, id`,
    )
    .all(...ids) as AttemptRow[];
  for (const r of rows) {
    const list = byRow.get(r.outbox_id) ?? [];
    list.push({
      id: r.id,
      at: new Date(r.at).toISOString(),
      durationMs: r.duration_ms,
      ok: r.ok === 1,
      retryable: r.retryable === null ? null : r.retryable === 1,
      error: r.error,
      responseCode: r.response_code,
      response: r.response,
    });
    byRow.set(r.outbox_id, list);
  }
  return byRow;
}

export interface NotificationFilter {
  receiver?: string;
  state?: string;
  incident?: number;
  event?: string;
  before?: number;
  limit: number;
}

/** The outbox with its delivery log, newest first. */
export function listNotifications(db: Db, f: NotificationFilter): NotificationView[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, value: string | number | undefined) => {
    if (value === undefined) return;
    where.push(clause);
    params.push(value);
  };
  add('receiver = ?', f.receiver);
  add('state = ?', f.state);
  add('incident_id = ?', f.incident);
  add('event = ?', f.event);
  add('id < ?', f.before);
  const rows = db.$client
    .prepare(
      `select ${columns} from outbox ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`,
    )
    .all(...params, f.limit) as OutboxRow[];
  const attempts = attemptsFor(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toNotificationView(r, attempts.get(r.id) ?? []));
}

/** One notification as queued, with its bodies (another receiver's: the JSON body, secrets left out) and delivery log. */
export function getNotification(
  db: Db,
  id: number,
): (NotificationView & { text: string; html: string }) | null {
  const row = db.$client.prepare(`select ${columns}, text, html from outbox where id = ?`).get(id) as
    | OutboxRow
    | undefined;
  if (!row) return null;
  return {
    ...toNotificationView(row, attemptsFor(db, [id]).get(id) ?? []),
    text: row.text ?? '',
    html: row.html ?? '',
  };
}

type MessageFacts = Pick<
  NotificationView,
  'id' | 'receiver' | 'incidentId' | 'event' | 'state' | 'recipients' | 'subject' | 'createdAt' | 'sentAt'
>;

/**
 * One message as its receiver gets it, for the dashboard's viewer: an email's subject, text and HTML as rendered
 * (whether it was sent, waits for SMTP or for a recipient); another receiver's JSON body as posted, secrets masked.
 */
export type MessageView = MessageFacts &
  (
    | { format: 'email'; type: 'email'; text: string; html: string }
    | ({ format: 'json' } & JsonMessagePreview)
  );

export function getMessage(
  db: Db,
  id: number,
  preview: (receiver: string, body: string) => JsonMessagePreview,
): MessageView | null {
  const row = getNotification(db, id);
  if (!row) return null;
  return toMessageView(row, preview);
}

/** The notifications of the given incidents, on every receiver, oldest first per incident. */
export function notificationsForIncidents(db: Db, incidentIds: number[]): Map<number, NotificationView[]> {
  const byIncident = new Map<number, NotificationView[]>();
  if (incidentIds.length === 0) return byIncident;
  const rows = db.$client
    .prepare(
      `select ${columns} from outbox where incident_id in (${incidentIds.map(() => '?').join(',')}) order by incident_id, id`,
    )
    .all(...incidentIds) as OutboxRow[];
  const attempts = attemptsFor(
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
export function pendingEmailCount(db: Db): number {
  return db.$client
    .prepare(`select count(*) from outbox where state in ('unsent', 'sending')`)
    .pluck()
    .get() as number;
}

export interface EmailDeliveryState {
  /** `failing` from a failed delivery attempt until one succeeds; `idle` before any attempt */
  state: 'ok' | 'failing' | 'idle';
  lastError: string | null;
  lastAttemptAt: number | null;
  pending: number;
}

/** How email delivery is going, read from the last delivery attempt (for /api/health). */
export function emailDeliveryState(db: Db): EmailDeliveryState {
  const last = db.$client
    .prepare('select ok, error, at from delivery_attempts order by id desc limit 1')
    .get() as { ok: number; error: string | null; at: number } | undefined;
  return toEmailDeliveryState(last, pendingEmailCount(db));
}

/** Whether a receiver was told an incident fired (an acknowledgement is only news to whoever heard of it). */
export function receiverWasTold(db: Db): (receiver: string, incidentId: number | null) => boolean {
  const told = db.$client
    .prepare(
      `select 1 from outbox where receiver = ? and incident_id = ? and event in ('first', 'reasonChanged', 'reminder')
       and state <> 'superseded' limit 1`,
    )
    .pluck();
  return (receiver, incidentId) => told.get(receiver, incidentId) === 1;
}

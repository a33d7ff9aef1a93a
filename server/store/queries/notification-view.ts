import type { JsonMessagePreview } from '../../notify/routing.js';
import type {
  DeliveryAttemptView,
  EmailDeliveryState,
  MessageView,
  NotificationView,
} from './notifications.js';

// The outbox's rows as the API shows them, shared by both stores' queries (queries/notifications.ts and
// pg/queries/notifications.ts), so SQLite and PostgreSQL cannot drift apart in what they answer.

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An outbox row as read for the API: its columns under their SQL names. */
export interface OutboxRow {
  id: number;
  receiver: string;
  incident_id: number | null;
  event: string;
  sequence: number;
  state: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  sent_at: number | null;
  last_error: string | null;
  recipients: string;
  subject: string;
  message_id: string;
  text?: string;
  html?: string;
}

export function toNotificationView(r: OutboxRow, deliveries: DeliveryAttemptView[]): NotificationView {
  const waiting = r.state === 'unsent' || r.state === 'sending';
  return {
    id: r.id,
    receiver: r.receiver,
    incidentId: r.incident_id,
    event: r.event,
    sequence: r.sequence,
    state: r.state,
    attempts: r.attempts,
    createdAt: new Date(r.created_at).toISOString(),
    nextAttemptAt: waiting ? iso(r.next_attempt_at) : null,
    lastAttemptAt: iso(r.last_attempt_at),
    sentAt: iso(r.sent_at),
    lastError: r.last_error,
    recipients: !r.recipients ? [] : r.receiver === 'email' ? r.recipients.split(',') : [r.recipients],
    subject: r.subject,
    messageId: r.message_id,
    deliveries,
  };
}

/** A notification with its bodies, as its receiver gets it (getMessage). */
export function toMessageView(
  row: NotificationView & { text: string; html: string },
  preview: (receiver: string, body: string) => JsonMessagePreview,
): MessageView {
  const facts = {
    id: row.id,
    receiver: row.receiver,
    incidentId: row.incidentId,
    event: row.event,
    state: row.state,
    recipients: row.recipients,
    subject: row.subject,
    createdAt: row.createdAt,
    sentAt: row.sentAt,
  };
  return row.receiver === 'email'
    ? { ...facts, format: 'email', type: 'email', text: row.text, html: row.html }
    : { ...facts, format: 'json', ...preview(row.receiver, row.text) };
}

/** emailDeliveryState's answer from the last delivery attempt (`ok`: SQLite's 0/1 or PostgreSQL's boolean). */
export function toEmailDeliveryState(
  last: { ok: number | boolean; error: string | null; at: number } | undefined,
  pending: number,
): EmailDeliveryState {
  if (!last) return { state: 'idle', lastError: null, lastAttemptAt: null, pending };
  return {
    state: last.ok ? 'ok' : 'failing',
    lastError: last.ok ? null : last.error,
    lastAttemptAt: last.at,
    pending,
  };
}

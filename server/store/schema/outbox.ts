import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { notifyEvents, outboxStates } from '../../vocabulary.js';

/**
 * Notifications, written before they are sent (ARCHITECTURE §6), in the same transaction as the incident change
 * that caused them: one row per receiver (email, Slack, PagerDuty ...). Unique per (receiver, incident, event,
 * sequence), so one decision can never become two messages to the same receiver.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** the receiver's name from the config: 'email' (the default), or e.g. 'slack', 'oncall' */
    receiver: text('receiver').notNull().default('email'),
    /** null for a test email */
    incidentId: integer('incident_id'),
    event: text('event', { enum: notifyEvents }).notNull(),
    /** 1, 2, ... per (incident, event); a test email uses its creation time */
    sequence: integer('sequence').notNull(),
    /** the incident's reason key when queued (what `reasonChanged` compares against) */
    reasonKey: text('reason_key'),
    createdAt: integer('created_at').notNull(),
    /**
     * email: comma-separated addresses, empty when SCIMTAP_NOTIFY_TO is unset (the row then waits, visible).
     * Other receivers: where it goes, masked (host and last 4 characters: the URL or key is a secret).
     */
    recipients: text('recipients').notNull().default(''),
    /** other receivers: a one-line summary */
    subject: text('subject').notNull(),
    /** other receivers: the JSON body as sent, less its secrets (a PagerDuty routing key is added at send time) */
    text: text('text').notNull(),
    html: text('html').notNull(),
    state: text('state', { enum: outboxStates }).notNull().default('unsent'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastAttemptAt: integer('last_attempt_at'),
    lastError: text('last_error'),
    sentAt: integer('sent_at'),
    /**
     * the Message-ID header: fixed per row, so a resend after a crash mid-send is recognisable as the same email;
     * other receivers send it as X-Scimtap-Delivery for the same reason
     */
    messageId: text('message_id').notNull(),
    /** the server's final answer (bounded, secrets removed) */
    response: text('response'),
  },
  (t) => [
    uniqueIndex('outbox_receiver_incident_event_seq_idx').on(t.receiver, t.incidentId, t.event, t.sequence),
    index('outbox_due_idx').on(t.nextAttemptAt).where(sql`${t.state} in ('unsent', 'sending')`),
    index('outbox_incident_idx').on(t.incidentId, t.id),
  ],
);

/** The delivery log: one row per send attempt. */
export const deliveryAttempts = sqliteTable(
  'delivery_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    outboxId: integer('outbox_id').notNull(),
    at: integer('at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    retryable: integer('retryable', { mode: 'boolean' }),
    error: text('error'),
    /** SMTP reply code or HTTP status, when the server answered */
    responseCode: integer('response_code'),
    response: text('response'),
  },
  (t) => [index('delivery_attempts_outbox_idx').on(t.outboxId, t.id)],
);

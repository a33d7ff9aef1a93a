import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Emails, written before they are sent (ARCHITECTURE §6), in the same transaction as the incident change that
 * caused them. Unique per (incident, event, sequence), so one decision can never become two emails.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** null for a test email */
    incidentId: integer('incident_id'),
    /** 'first' | 'reasonChanged' | 'reminder' | 'resolved' | 'test' */
    event: text('event').notNull(),
    /** 1, 2, ... per (incident, event); a test email uses its creation time */
    sequence: integer('sequence').notNull(),
    /** the incident's reason key when queued (what `reasonChanged` compares against) */
    reasonKey: text('reason_key'),
    createdAt: integer('created_at').notNull(),
    /** comma-separated; empty when SCIMTAP_NOTIFY_TO is unset (the row then waits, visible) */
    recipients: text('recipients').notNull().default(''),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html').notNull(),
    /** 'unsent' | 'sending' | 'sent' | 'failed' | 'superseded' */
    state: text('state').notNull().default('unsent'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastAttemptAt: integer('last_attempt_at'),
    lastError: text('last_error'),
    sentAt: integer('sent_at'),
    /** the Message-ID header: fixed per row, so a resend after a crash mid-send is recognisable as the same email */
    messageId: text('message_id').notNull(),
    /** the SMTP server's final answer */
    response: text('response'),
  },
  (t) => [
    uniqueIndex('outbox_incident_event_seq_idx').on(t.incidentId, t.event, t.sequence),
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
    /** SMTP reply code, when the server answered */
    responseCode: integer('response_code'),
    response: text('response'),
  },
  (t) => [index('delivery_attempts_outbox_idx').on(t.outboxId, t.id)],
);

import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { notifyEvents, outboxStates } from '../../vocabulary.js';
import { id, ms, ref } from './columns.js';

/**
 * Notifications, written before they are sent (ARCHITECTURE §6); see server/store/schema/outbox.ts for each
 * column. A sender claims a row with FOR UPDATE SKIP LOCKED (server/store/pg/outbox.ts).
 */
export const outbox = pgTable(
  'outbox',
  {
    id: id(),
    receiver: text('receiver').notNull().default('email'),
    incidentId: ref('incident_id'),
    event: text('event', { enum: notifyEvents }).notNull(),
    /** a test email uses its creation time (milliseconds): bigint */
    sequence: ms('sequence').notNull(),
    reasonKey: text('reason_key'),
    createdAt: ms('created_at').notNull(),
    recipients: text('recipients').notNull().default(''),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html').notNull(),
    state: text('state', { enum: outboxStates }).notNull().default('unsent'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at').notNull(),
    lastAttemptAt: ms('last_attempt_at'),
    lastError: text('last_error'),
    sentAt: ms('sent_at'),
    messageId: text('message_id').notNull(),
    response: text('response'),
  },
  (t) => [
    // Nulls stay distinct, as in SQLite: test emails (no incident) never collide with each other.
    uniqueIndex('outbox_receiver_incident_event_seq_idx').on(t.receiver, t.incidentId, t.event, t.sequence),
    index('outbox_due_idx').on(t.nextAttemptAt).where(sql`${t.state} in ('unsent', 'sending')`),
    index('outbox_incident_idx').on(t.incidentId, t.id),
  ],
);

/** The delivery log: one row per send attempt. */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: id(),
    outboxId: ref('outbox_id').notNull(),
    at: ms('at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    ok: boolean('ok').notNull(),
    retryable: boolean('retryable'),
    error: text('error'),
    responseCode: integer('response_code'),
    response: text('response'),
  },
  (t) => [index('delivery_attempts_outbox_idx').on(t.outboxId, t.id)],
);

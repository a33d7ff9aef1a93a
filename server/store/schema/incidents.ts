import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { incidentStates, ruleCodes, severities } from '../../vocabulary.js';

/**
 * One row per incident (ARCHITECTURE §6): a rule's finding for one scope, from pending through firing to
 * resolved. At most one open incident per key: the partial unique index is both the dedupe guarantee and the
 * index the engine and /api/status read open incidents through.
 */
export const incidents = sqliteTable(
  'incidents',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** rule + ':' + scope */
    key: text('key').notNull(),
    rule: text('rule', { enum: ruleCodes }).notNull(),
    /** 'app' | 'identity:<key>' */
    scope: text('scope').notNull(),
    severity: text('severity', { enum: severities }).notNull(),
    state: text('state', { enum: incidentStates }).notNull(),
    entraReason: text('entra_reason'),
    summary: text('summary').notNull(),
    /** what the finding is about, coarsely; a change sends a `reasonChanged` email */
    reasonKey: text('reason_key').notNull(),
    /** JSON Evidence (server/detect/types.ts) of the latest finding */
    evidence: text('evidence').notNull(),
    /** condition first seen true (the incident opened, pending) */
    startedAt: integer('started_at').notNull(),
    firedAt: integer('fired_at'),
    /** condition last seen true */
    lastTrueAt: integer('last_true_at').notNull(),
    /** condition false since (null while it holds): resolves once this is older than the recovery window */
    clearedAt: integer('cleared_at'),
    resolvedAt: integer('resolved_at'),
    acknowledgedAt: integer('acknowledged_at'),
    acknowledgedBy: text('acknowledged_by'),
    ackComment: text('ack_comment'),
    /** the firing rule that last muted this one, and when: evidence older than that never notifies */
    inhibitedBy: text('inhibited_by', { enum: ruleCodes }),
    inhibitedAt: integer('inhibited_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('incidents_open_key_idx').on(t.key).where(sql`${t.state} <> 'resolved'`),
    index('incidents_rule_idx').on(t.rule, t.id),
    index('incidents_state_idx').on(t.state, t.id),
  ],
);

/** Silences (ARCHITECTURE §6): mute a rule's emails, or one identity's part of it, until `expiresAt`. */
export const silences = sqliteTable(
  'silences',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    rule: text('rule', { enum: ruleCodes }).notNull(),
    /** userName / displayName / target id / identity key; null: the whole rule */
    identity: text('identity'),
    comment: text('comment').notNull().default(''),
    createdBy: text('created_by').notNull().default(''),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** set by DELETE: the silence ended early (kept so the dashboard can show who muted what) */
    endedAt: integer('ended_at'),
  },
  (t) => [index('silences_expires_idx').on(t.expiresAt)],
);

import { sql } from 'drizzle-orm';
import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { incidentStates, ruleCodes, severities } from '../../vocabulary.js';
import { id, ms } from './columns.js';

/**
 * One row per incident (ARCHITECTURE §6); see server/store/schema/incidents.ts for each column. The partial
 * unique index keeps at most one open incident per key, whichever replica leads.
 */
export const incidents = pgTable(
  'incidents',
  {
    id: id(),
    key: text('key').notNull(),
    rule: text('rule', { enum: ruleCodes }).notNull(),
    scope: text('scope').notNull(),
    severity: text('severity', { enum: severities }).notNull(),
    state: text('state', { enum: incidentStates }).notNull(),
    entraReason: text('entra_reason'),
    summary: text('summary').notNull(),
    reasonKey: text('reason_key').notNull(),
    evidence: text('evidence').notNull(),
    startedAt: ms('started_at').notNull(),
    firedAt: ms('fired_at'),
    lastTrueAt: ms('last_true_at').notNull(),
    clearedAt: ms('cleared_at'),
    resolvedAt: ms('resolved_at'),
    acknowledgedAt: ms('acknowledged_at'),
    acknowledgedBy: text('acknowledged_by'),
    ackComment: text('ack_comment'),
    inhibitedBy: text('inhibited_by', { enum: ruleCodes }),
    inhibitedAt: ms('inhibited_at'),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('incidents_open_key_idx').on(t.key).where(sql`${t.state} <> 'resolved'`),
    index('incidents_rule_idx').on(t.rule, t.id),
    index('incidents_state_idx').on(t.state, t.id),
  ],
);

/** Silences (ARCHITECTURE §6): mute a rule's emails, or one identity's part of it, until `expiresAt`. */
export const silences = pgTable(
  'silences',
  {
    id: id(),
    rule: text('rule', { enum: ruleCodes }).notNull(),
    identity: text('identity'),
    comment: text('comment').notNull().default(''),
    createdBy: text('created_by').notNull().default(''),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    endedAt: ms('ended_at'),
  },
  (t) => [index('silences_expires_idx').on(t.expiresAt)],
);

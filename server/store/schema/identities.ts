import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { errorCodes, identityTypes, operationKinds, operationStatuses } from '../../vocabulary.js';

/**
 * Per-user and per-group outcomes (ARCHITECTURE §5), inferred from the traffic: one row per object the app
 * was asked about, keyed by its target id once known, else by its userName / displayName.
 */
export const identities = sqliteTable(
  'identities',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    type: text('type', { enum: identityTypes }).notNull(),
    /** target id, else userName / displayName; unique per type */
    key: text('key').notNull(),
    /** userName (users) or displayName (groups); null when only the target id was ever seen */
    name: text('name'),
    externalId: text('external_id'),
    targetId: text('target_id'),
    lastOperation: text('last_operation', { enum: operationKinds }),
    lastOperationId: integer('last_operation_id'),
    lastStatus: text('last_status', { enum: operationStatuses }),
    lastHttpStatus: integer('last_http_status'),
    /**
     * The last failure, all of one operation: kept after a later success so "why did it fail" stays
     * answerable, and never mixed with the last operation's fields (a 201 beside an earlier 401's code).
     */
    lastErrorOperationId: integer('last_error_operation_id'),
    lastErrorHttpStatus: integer('last_error_http_status'),
    lastErrorCode: text('last_error_code', { enum: errorCodes }),
    lastReason: text('last_reason'),
    lastErrorAt: integer('last_error_at'),
    /** consecutive cycles the identity appeared in and ended in failure */
    failingStreak: integer('failing_streak').notNull().default(0),
    /** first failure of the current (or last) streak; meaningful while failingStreak > 0 */
    failingSince: integer('failing_since'),
    /** the streak as of the previous cycle it appeared in, so a retry within a cycle can settle the outcome */
    streakBase: integer('streak_base').notNull().default(0),
    lastCycleId: integer('last_cycle_id'),
    /** the last failure's cycle (null when it fell outside any cycle) */
    lastFailedCycleId: integer('last_failed_cycle_id'),
    firstSeen: integer('first_seen').notNull(),
    lastSeen: integer('last_seen').notNull(),
    /** null until a create, enable or disable says */
    active: integer('active', { mode: 'boolean' }),
    deleted: integer('deleted', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    uniqueIndex('identities_type_key_idx').on(t.type, t.key),
    index('identities_type_target_idx').on(t.type, t.targetId),
    index('identities_type_name_idx').on(t.type, sql`${t.name} collate nocase`),
    index('identities_status_idx').on(t.lastStatus, t.id),
    index('identities_failing_idx').on(t.id).where(sql`${t.failingStreak} > 0`),
  ],
);

/** Group memberships seen in successful member PATCHes. */
export const memberships = sqliteTable(
  'memberships',
  {
    groupIdentityId: integer('group_identity_id').notNull(),
    /** the member's id in the app (the `value` of a member) */
    memberTargetId: text('member_target_id').notNull(),
    since: integer('since').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.groupIdentityId, t.memberTargetId] }),
    index('memberships_member_idx').on(t.memberTargetId),
  ],
);

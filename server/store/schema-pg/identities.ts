import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { errorCodes, identityTypes, operationKinds, operationStatuses } from '../../vocabulary.js';
import { id, ms, ref } from './columns.js';

/** Per-user and per-group outcomes (ARCHITECTURE §5); see server/store/schema/identities.ts for each column. */
export const identities = pgTable(
  'identities',
  {
    id: id(),
    type: text('type', { enum: identityTypes }).notNull(),
    key: text('key').notNull(),
    name: text('name'),
    externalId: text('external_id'),
    targetId: text('target_id'),
    lastOperation: text('last_operation', { enum: operationKinds }),
    lastOperationId: ref('last_operation_id'),
    lastStatus: text('last_status', { enum: operationStatuses }),
    lastHttpStatus: integer('last_http_status'),
    lastErrorOperationId: ref('last_error_operation_id'),
    lastErrorHttpStatus: integer('last_error_http_status'),
    lastErrorCode: text('last_error_code', { enum: errorCodes }),
    lastReason: text('last_reason'),
    lastErrorAt: ms('last_error_at'),
    failingStreak: integer('failing_streak').notNull().default(0),
    failingSince: ms('failing_since'),
    streakBase: integer('streak_base').notNull().default(0),
    lastCycleId: ref('last_cycle_id'),
    lastFailedCycleId: ref('last_failed_cycle_id'),
    firstSeen: ms('first_seen').notNull(),
    lastSeen: ms('last_seen').notNull(),
    active: boolean('active'),
    deleted: boolean('deleted').notNull().default(false),
  },
  (t) => [
    uniqueIndex('identities_type_key_idx').on(t.type, t.key),
    index('identities_type_target_idx').on(t.type, t.targetId),
    // SQLite's `collate nocase`: names are looked up case-insensitively.
    index('identities_type_name_idx').on(t.type, sql`lower(${t.name})`),
    index('identities_status_idx').on(t.lastStatus, t.id),
    index('identities_failing_idx').on(t.id).where(sql`${t.failingStreak} > 0`),
  ],
);

/** Group memberships seen in successful member PATCHes. */
export const memberships = pgTable(
  'memberships',
  {
    groupIdentityId: ref('group_identity_id').notNull(),
    memberTargetId: text('member_target_id').notNull(),
    since: ms('since').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.groupIdentityId, t.memberTargetId] }),
    index('memberships_member_idx').on(t.memberTargetId),
  ],
);

import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

import { cycleKinds, cycleStates, errorCodes, operationStatuses } from '../../vocabulary.js';

export { type CycleKind, type CycleState, cycleKinds, cycleStates } from '../../vocabulary.js';

/**
 * One row per provisioning cycle (ARCHITECTURE §5), kept up to date as operations are recorded so that the
 * dashboard, the API and the rules never have to scan `operations`.
 */
export const cycles = sqliteTable(
  'cycles',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    startedAt: integer('started_at').notNull(),
    /** time of its last operation */
    endedAt: integer('ended_at').notNull(),
    state: text('state', { enum: cycleStates }).notNull(),
    kind: text('kind', { enum: cycleKinds }).notNull(),
    probeOperationId: integer('probe_operation_id'),
    /** HTTP status the probe got; null without a probe or when the probe got no answer */
    probeStatus: integer('probe_status'),
    /** the probe's operation status; null without a probe */
    probeOutcome: text('probe_outcome', { enum: operationStatuses }),
    probeErrorCode: text('probe_error_code', { enum: errorCodes }),
    total: integer('total').notNull().default(0),
    successes: integer('successes').notNull().default(0),
    failures: integer('failures').notNull().default(0),
    warnings: integer('warnings').notNull().default(0),
    /** delete and disable operations (Entra's accidental-deletion count) */
    deletes: integer('deletes').notNull().default(0),
    /** answers with HTTP 429 */
    throttled: integer('throttled').notNull().default(0),
    usersTouched: integer('users_touched').notNull().default(0),
    groupsTouched: integer('groups_touched').notNull().default(0),
    /** member ids added, removed or replaced by group PATCHes */
    membersTouched: integer('members_touched').notNull().default(0),
    /** provisioning operations (not the probe, not discovery) */
    provisioningOps: integer('provisioning_ops').notNull().default(0),
    lookups: integer('lookups').notNull().default(0),
    /**
     * identities known when the cycle opened (deleted ones included, so the count depends only on the order of
     * operations): lookups for most of them make a cycle initial
     */
    knownIdentities: integer('known_identities').notNull().default(0),
    /** JSON {operation: {success, failure, warning}} */
    countsByOperation: text('counts_by_operation').notNull().default('{}'),
    /** JSON {errorCode: count} */
    countsByErrorCode: text('counts_by_error_code').notNull().default('{}'),
    /** JSON array of counts over the fixed bucket bounds in server/cycles/latency.ts */
    latencyHistogram: text('latency_histogram').notNull().default('[]'),
    latencySumMs: integer('latency_sum_ms').notNull().default(0),
    latencyMaxMs: integer('latency_max_ms').notNull().default(0),
    /** initial cycles: objects expected (SCIMTAP_EXPECTED_OBJECTS, else the previous initial cycle's count) */
    expectedObjects: integer('expected_objects'),
    /** distinct users and groups touched so far */
    processedObjects: integer('processed_objects').notNull().default(0),
    /** wall-clock time the cycle was marked completed */
    closedAt: integer('closed_at'),
  },
  (t) => [
    index('cycles_started_idx').on(t.startedAt),
    index('cycles_kind_idx').on(t.kind, t.id),
    index('cycles_running_idx').on(t.id).where(sql`${t.state} = 'running'`),
  ],
);

import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { cycleKinds, cycleStates, errorCodes, operationStatuses } from '../../vocabulary.js';
import { id, ms, ref } from './columns.js';

/** One row per provisioning cycle (ARCHITECTURE §5); see server/store/schema/cycles.ts for each column. */
export const cycles = pgTable(
  'cycles',
  {
    id: id(),
    startedAt: ms('started_at').notNull(),
    endedAt: ms('ended_at').notNull(),
    state: text('state', { enum: cycleStates }).notNull(),
    kind: text('kind', { enum: cycleKinds }).notNull(),
    probeOperationId: ref('probe_operation_id'),
    probeStatus: integer('probe_status'),
    probeOutcome: text('probe_outcome', { enum: operationStatuses }),
    probeErrorCode: text('probe_error_code', { enum: errorCodes }),
    total: integer('total').notNull().default(0),
    successes: integer('successes').notNull().default(0),
    failures: integer('failures').notNull().default(0),
    warnings: integer('warnings').notNull().default(0),
    deletes: integer('deletes').notNull().default(0),
    throttled: integer('throttled').notNull().default(0),
    usersTouched: integer('users_touched').notNull().default(0),
    groupsTouched: integer('groups_touched').notNull().default(0),
    membersTouched: integer('members_touched').notNull().default(0),
    provisioningOps: integer('provisioning_ops').notNull().default(0),
    lookups: integer('lookups').notNull().default(0),
    knownIdentities: integer('known_identities').notNull().default(0),
    countsByOperation: text('counts_by_operation').notNull().default('{}'),
    countsByErrorCode: text('counts_by_error_code').notNull().default('{}'),
    latencyHistogram: text('latency_histogram').notNull().default('[]'),
    latencySumMs: ms('latency_sum_ms').notNull().default(0),
    latencyMaxMs: integer('latency_max_ms').notNull().default(0),
    expectedObjects: integer('expected_objects'),
    processedObjects: integer('processed_objects').notNull().default(0),
    closedAt: ms('closed_at'),
  },
  (t) => [
    index('cycles_started_idx').on(t.startedAt),
    index('cycles_kind_idx').on(t.kind, t.id),
    index('cycles_running_idx').on(t.id).where(sql`${t.state} = 'running'`),
  ],
);

import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import {
  clientKinds,
  errorCodes,
  identityTypes,
  operationKinds,
  operationStatuses,
  provisioningActions,
  resourceTypes,
  searchTermFields,
} from '../../vocabulary.js';

/** The columns of a classified exchange, shared by the log and the rows waiting to be derived into it. */
const operationColumns = () => ({
  time: integer('time').notNull(),
  durationMs: integer('duration_ms').notNull(),
  cycleId: integer('cycle_id'),
  identityId: integer('identity_id'),
  httpMethod: text('http_method').notNull(),
  path: text('path').notNull(),
  query: text('query').notNull().default(''),
  httpStatus: integer('http_status'),
  resourceType: text('resource_type', { enum: resourceTypes }).notNull(),
  operation: text('operation', { enum: operationKinds }).notNull(),
  provisioningAction: text('provisioning_action', { enum: provisioningActions }).notNull(),
  status: text('status', { enum: operationStatuses }).notNull(),
  identityType: text('identity_type', { enum: identityTypes }),
  identity: text('identity'),
  externalId: text('external_id'),
  targetId: text('target_id'),
  errorCode: text('error_code', { enum: errorCodes }),
  scimType: text('scim_type'),
  reason: text('reason'),
  /** JSON array of {name, value, redacted?} */
  modifiedProperties: text('modified_properties').notNull().default('[]'),
  /** JSON array of {op, ids} */
  members: text('members').notNull().default('[]'),
  requestBytes: integer('request_bytes').notNull().default(0),
  responseBytes: integer('response_bytes').notNull().default(0),
  tokenFingerprint: text('token_fingerprint'),
  clientIp: text('client_ip'),
  userAgent: text('user_agent'),
  /** server/cycles/clients.ts: only `provisioning` feeds cycles and rules */
  clientKind: text('client_kind', { enum: clientKinds }).notNull().default('provisioning'),
});

/** One row per forwarded exchange, classified (ARCHITECTURE §4). Bodies live in `bodies` so they can be pruned. */
export const operations = sqliteTable(
  'operations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ...operationColumns(),
  },
  (t) => [
    index('operations_time_idx').on(t.time),
    index('operations_cycle_idx').on(t.cycleId, t.id),
    index('operations_identity_idx').on(t.identityId, t.id),
    index('operations_status_idx').on(t.status, t.id),
    index('operations_error_code_idx').on(t.errorCode, t.id).where(sql`${t.errorCode} is not null`),
    // One (column, id) index per /api/operations filter: `where x = ? order by id desc limit n` then reads
    // only the rows it returns, even for a value absent from 1M rows (else a full scan, ~150 ms).
    index('operations_identity_text_idx').on(t.identity, t.id),
    index('operations_target_id_idx').on(t.targetId, t.id),
    index('operations_resource_type_idx').on(t.resourceType, t.id),
    index('operations_operation_idx').on(t.operation, t.id),
    index('operations_action_idx').on(t.provisioningAction, t.id),
    index('operations_http_status_idx').on(t.httpStatus, t.id),
    // `q` matches reasons through operation_terms, then finds their operations here.
    index('operations_reason_idx').on(t.reason, t.id).where(sql`${t.reason} is not null`),
    // The few unrecognised requests, newest first, without reading the provisioning log around them.
    index('operations_unrecognised_idx').on(t.id).where(sql`${t.clientKind} = 'unrecognised'`),
  ],
);

/**
 * The distinct identities, target ids and error reasons seen in `operations`, kept by the ingest stage in
 * store/terms.ts. `q` searches these few thousand values by substring, then reads the matching operations
 * through their indexes, instead of running LIKE over every operation.
 */
export const operationTerms = sqliteTable(
  'operation_terms',
  {
    field: text('field', { enum: searchTermFields }).notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.field, t.value] })],
);

export const bodies = sqliteTable(
  'bodies',
  {
    operationId: integer('operation_id').primaryKey(),
    time: integer('time').notNull(),
    requestBody: text('request_body'),
    requestTruncated: integer('request_truncated', { mode: 'boolean' }).notNull().default(false),
    responseBody: text('response_body'),
    responseTruncated: integer('response_truncated', { mode: 'boolean' }).notNull().default(false),
  },
  // Retention drops bodies by age in small batches.
  (t) => [index('bodies_time_idx').on(t.time)],
);

/** Small key/value facts that must survive restarts (e.g. recorder drop counters). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/**
 * Exchanges recorded during a burst and not derived yet (store/pending.ts): the log's hot path without its
 * indexes. A row here costs the log writer one insert into a table with no index but its key, where a row of
 * `operations` also writes an entry in each of its thirteen indexes, and a row of `bodies` with its own; the derivation consumer moves each row into
 * `operations` and `bodies`, under the same id, once the burst is over. Empty whenever derivation is caught up.
 * SQLite only: PostgreSQL's log has its own hot path (its writes are spread over replicas).
 */
export const pendingOperations = sqliteTable('pending_operations', {
  /** the id the row keeps in `operations`: allocated past every id `operations` has used */
  id: integer('id').primaryKey(),
  ...operationColumns(),
  requestBody: text('request_body'),
  requestTruncated: integer('request_truncated', { mode: 'boolean' }).notNull().default(false),
  responseBody: text('response_body'),
  responseTruncated: integer('response_truncated', { mode: 'boolean' }).notNull().default(false),
});

import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
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
import { id, ms, ref, xid8 } from './columns.js';

/** One row per forwarded exchange, classified (ARCHITECTURE §4): the log every replica appends to. */
export const operations = pgTable(
  'operations',
  {
    id: id(),
    /**
     * The inserting transaction. The log is read in (txid, id) order and only below the oldest transaction
     * still running, so rows that commit out of id order are never skipped (server/store/pg/log.ts).
     */
    txid: xid8('txid').notNull().default(sql`pg_current_xact_id()`),
    time: ms('time').notNull(),
    durationMs: integer('duration_ms').notNull(),
    cycleId: ref('cycle_id'),
    identityId: ref('identity_id'),
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
    /** JSON array of {name, value, redacted?} (text, as in SQLite: read back byte for byte) */
    modifiedProperties: text('modified_properties').notNull().default('[]'),
    /** JSON array of {op, ids} */
    members: text('members').notNull().default('[]'),
    requestBytes: integer('request_bytes').notNull().default(0),
    responseBytes: integer('response_bytes').notNull().default(0),
    tokenFingerprint: text('token_fingerprint'),
    clientIp: text('client_ip'),
    userAgent: text('user_agent'),
    clientKind: text('client_kind', { enum: clientKinds }).notNull().default('provisioning'),
  },
  (t) => [
    index('operations_log_idx').on(t.txid, t.id),
    // (time, id), not SQLite's (time): SQLite's index carries the rowid (= id) anyway, PostgreSQL's does not. The
    // time window's ids (pg/queries/operations.ts `timeWindowIds`) are then read from the index alone.
    index('operations_time_idx').on(t.time, t.id),
    index('operations_cycle_idx').on(t.cycleId, t.id),
    index('operations_identity_idx').on(t.identityId, t.id),
    index('operations_status_idx').on(t.status, t.id),
    index('operations_error_code_idx').on(t.errorCode, t.id).where(sql`${t.errorCode} is not null`),
    index('operations_identity_text_idx').on(t.identity, t.id),
    index('operations_target_id_idx').on(t.targetId, t.id),
    index('operations_resource_type_idx').on(t.resourceType, t.id),
    index('operations_operation_idx').on(t.operation, t.id),
    index('operations_action_idx').on(t.provisioningAction, t.id),
    index('operations_http_status_idx').on(t.httpStatus, t.id),
    index('operations_reason_idx').on(t.reason, t.id).where(sql`${t.reason} is not null`),
    index('operations_unrecognised_idx').on(t.id).where(sql`${t.clientKind} = 'unrecognised'`),
  ],
);

/** Distinct identities, target ids and reasons seen in `operations`: what `q` searches by substring. */
export const operationTerms = pgTable(
  'operation_terms',
  {
    field: text('field', { enum: searchTermFields }).notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.field, t.value] })],
);

export const bodies = pgTable(
  'bodies',
  {
    operationId: ref('operation_id').primaryKey(),
    time: ms('time').notNull(),
    requestBody: text('request_body'),
    requestTruncated: boolean('request_truncated').notNull().default(false),
    responseBody: text('response_body'),
    responseTruncated: boolean('response_truncated').notNull().default(false),
  },
  (t) => [index('bodies_time_idx').on(t.time)],
);

/** Small key/value facts that must survive restarts (the derivation cursor, drop counters). */
export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

import type { ClientKind, Exchange, Operation } from '../scim/types.js';
import type { Db } from './db.js';
import { writeCursor } from './derivation.js';
import { capOperation } from './limits.js';

/** An operation about to be stored: later stages may fill in its cycle and identity. */
export interface OperationRecord extends Operation {
  cycleId: number | null;
  identityId: number | null;
  /** `unrecognised` from the start when scimtap refused the request; the clients stage decides the rest */
  clientKind: ClientKind;
  requestTruncated: boolean;
  responseTruncated: boolean;
}

export interface StoredOperation extends OperationRecord {
  id: number;
}

/**
 * Later pipeline stages (cycles, identities, detection) join the write without the store knowing them.
 * All calls but afterCommit run inside the batch's transaction; on rollback their in-memory state must be reloaded.
 */
export interface IngestStage {
  beforeInsert?(ops: OperationRecord[]): void;
  afterInsert?(ops: StoredOperation[]): void;
  afterCommit?(ops: StoredOperation[]): void;
  onRollback?(): void;
}

export interface IngestOptions {
  db: Db;
  classify(exchange: Exchange): Operation;
  stages?: IngestStage[];
}

/**
 * The log write (issue 12 §1): classify a batch and insert its operations and bodies in one transaction, nothing
 * else. What is derived from them (clients, cycles, terms, detection) is the derivation consumer's work
 * (store/derivation.ts), which reads these rows back from its cursor. Returns the id of the last row written.
 */
export function createLogWriter({
  db,
  classify,
}: Omit<IngestOptions, 'stages'>): (batch: Exchange[]) => number {
  const insert = prepareInsert(db);
  const writeBatch = db.$client.transaction((records: OperationRecord[]) => insert(records));
  return (batch) => {
    const stored = writeBatch(batch.map((exchange) => toRecord(classify, exchange)));
    return stored.length ? stored[stored.length - 1].id : 0;
  };
}

/**
 * Classify, insert and run the stages in one transaction: the pipeline before the log had a consumer. Tests and
 * benchmarks that build rollups without a running scimtap still use it; scimtap itself writes the log with
 * createLogWriter and derives with createDerivation. The rows are derived as they are written, so the derivation
 * cursor moves with them: what reads up to the cursor (the alert engine's restore) sees them.
 */
export function createIngest({
  db,
  classify,
  stages = [],
}: IngestOptions): (batch: Exchange[]) => StoredOperation[] {
  const insert = prepareInsert(db);
  const writeBatch = db.$client.transaction((records: OperationRecord[]) => {
    for (const stage of stages) stage.beforeInsert?.(records);
    const stored = insert(records);
    for (const stage of stages) stage.afterInsert?.(stored);
    if (stored.length > 0) writeCursor(db, stored[stored.length - 1].id);
    return stored;
  });

  return (batch) => {
    const records = batch.map((exchange) => toRecord(classify, exchange));
    let stored: StoredOperation[];
    try {
      stored = writeBatch(records);
    } catch (err) {
      for (const stage of stages) stage.onRollback?.();
      throw err;
    }
    for (const stage of stages) stage.afterCommit?.(stored);
    return stored;
  };
}

function toRecord(classify: IngestOptions['classify'], exchange: Exchange): OperationRecord {
  return {
    // Capped before any stage sees it: rollups, search terms and rows all key on the same stored value.
    ...capOperation(classify(exchange)),
    cycleId: null,
    identityId: null,
    clientKind: exchange.refused ? 'unrecognised' : 'provisioning',
    requestTruncated: exchange.requestTruncated,
    responseTruncated: exchange.responseTruncated,
  };
}

/** The two inserts of the log; the returned function must run inside a transaction. */
function prepareInsert(db: Db): (records: OperationRecord[]) => StoredOperation[] {
  const sqlite = db.$client;
  const insertOperation = sqlite.prepare(`
    insert into operations (time, duration_ms, cycle_id, identity_id, http_method, path, query, http_status,
      resource_type, operation, provisioning_action, status, identity_type, identity, external_id, target_id,
      error_code, scim_type, reason, modified_properties, members, request_bytes, response_bytes,
      token_fingerprint, client_ip, user_agent, client_kind)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertBody = sqlite.prepare(`
    insert into bodies (operation_id, time, request_body, request_truncated, response_body, response_truncated)
    values (?, ?, ?, ?, ?, ?)`);

  return (records) => {
    const stored: StoredOperation[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      // Positional parameters: this runs once per forwarded request.
      const { lastInsertRowid } = insertOperation.run(
        r.time,
        r.durationMs,
        r.cycleId,
        r.identityId,
        r.httpMethod,
        r.path,
        r.query,
        r.httpStatus,
        r.resourceType,
        r.operation,
        r.provisioningAction,
        r.status,
        r.identityType,
        r.identity,
        r.externalId,
        r.targetId,
        r.errorCode,
        r.scimType,
        r.reason,
        r.modifiedProperties.length ? JSON.stringify(r.modifiedProperties) : '[]',
        r.members.length ? JSON.stringify(r.members) : '[]',
        r.requestBytes,
        r.responseBytes,
        r.tokenFingerprint,
        r.clientIp,
        r.userAgent,
        r.clientKind,
      );
      const id = Number(lastInsertRowid);
      if (r.requestBody !== null || r.responseBody !== null) {
        insertBody.run(
          id,
          r.time,
          r.requestBody,
          r.requestTruncated ? 1 : 0,
          r.responseBody,
          r.responseTruncated ? 1 : 0,
        );
      }
      stored[i] = { ...r, id };
    }
    return stored;
  };
}

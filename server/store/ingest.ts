import type { ClientKind, Exchange, Operation } from '../scim/types.js';
import type { Db } from './db.js';
import { type Derivation, writeCursor } from './derivation.js';
import { capOperation } from './limits.js';
import { createPendingLog } from './pending.js';

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
 * What the stages that run after the commit read of an operation (metrics, the upstream's state, detection): the
 * labelled row without its bodies. With a log writer thread, this is what crosses back to the proxy's thread, so
 * it is kept to the fields those stages use.
 */
export type DerivedOperation = Pick<
  StoredOperation,
  | 'id'
  | 'time'
  | 'durationMs'
  | 'cycleId'
  | 'identityId'
  | 'httpMethod'
  | 'path'
  | 'query'
  | 'httpStatus'
  | 'resourceType'
  | 'operation'
  | 'status'
  | 'identityType'
  | 'identity'
  | 'targetId'
  | 'errorCode'
  | 'reason'
  | 'tokenFingerprint'
  | 'clientKind'
  | 'clientIp'
>;

export function toDerived(op: StoredOperation): DerivedOperation {
  return {
    id: op.id,
    time: op.time,
    durationMs: op.durationMs,
    cycleId: op.cycleId,
    identityId: op.identityId,
    httpMethod: op.httpMethod,
    path: op.path,
    query: op.query,
    httpStatus: op.httpStatus,
    resourceType: op.resourceType,
    operation: op.operation,
    status: op.status,
    identityType: op.identityType,
    identity: op.identity,
    targetId: op.targetId,
    errorCode: op.errorCode,
    reason: op.reason,
    tokenFingerprint: op.tokenFingerprint,
    clientKind: op.clientKind,
    clientIp: op.clientIp,
  };
}

/**
 * Later pipeline stages (cycles, identities, detection) join the write without the store knowing them.
 * All calls but afterCommit run inside the batch's transaction; on rollback their in-memory state must be reloaded.
 */
export interface IngestStage {
  beforeInsert?(ops: OperationRecord[]): void;
  afterInsert?(ops: StoredOperation[]): void;
  afterCommit?(ops: DerivedOperation[]): void;
  onRollback?(): void;
}

export interface IngestOptions {
  db: Db;
  classify(exchange: Exchange): Operation;
  stages?: IngestStage[];
}

export interface LogWriterOptions extends Omit<IngestOptions, 'stages'> {
  /** derives what it writes, in the same transaction, when caught up (derivation.ts writeThrough) */
  derivation?: Derivation;
}

/** What one write did: the id of the last row, and whether derivation took the batch in the same transaction. */
export interface LogWrite {
  lastId: number;
  derived: boolean;
}

/**
 * The log write (issue 12 §1): classify a batch and write it in one transaction. With a derivation and `derive`
 * (the default), a batch written while derivation is caught up goes into `operations` and is derived in that same
 * transaction. Otherwise (no derivation, `derive: false` during a burst, or derivation behind) it is appended to
 * pending_operations, the log's lean hot path (pending.ts), and the derivation consumer moves it into
 * `operations` later, in order.
 */
export function createLogWriter({
  db,
  classify,
  derivation,
}: LogWriterOptions): (batch: Exchange[], options?: { derive?: boolean }) => LogWrite {
  const insert = prepareInsert(db);
  const pending = createPendingLog(db);
  const writeBatch = db.$client.transaction((records: OperationRecord[]) => pending.insert(records));
  return (batch, { derive = true } = {}) => {
    const records = batch.map((exchange) => toRecord(classify, exchange));
    if (derivation && derive) return derivation.writeThrough(records, insert);
    const stored = writeBatch(records);
    const lastId = stored.length ? stored[stored.length - 1].id : 0;
    derivation?.logged(lastId);
    return { lastId, derived: false };
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
    if (stages.some((s) => s.afterCommit)) {
      const derived = stored.map(toDerived);
      for (const stage of stages) stage.afterCommit?.(derived);
    }
    return stored;
  };
}

export function toRecord(classify: IngestOptions['classify'], exchange: Exchange): OperationRecord {
  // Capped before any stage sees it: rollups, search terms and rows all key on the same stored value. The
  // operation is this call's own (classify and capOperation make a new one), so it becomes the record in place:
  // a copy of its 27 fields per row cost the log writer more than the fields it adds.
  const record = capOperation(classify(exchange)) as OperationRecord;
  record.cycleId = null;
  record.identityId = null;
  record.clientKind = exchange.refused ? 'unrecognised' : 'provisioning';
  record.requestTruncated = exchange.requestTruncated;
  record.responseTruncated = exchange.responseTruncated;
  return record;
}

/**
 * The two inserts of the log; the returned function must run inside a transaction. A record that has an id
 * already (moved from pending_operations) keeps it; AUTOINCREMENT gives one to the others (a null id).
 */
export function prepareInsert(db: Db): (records: OperationRecord[]) => StoredOperation[] {
  const sqlite = db.$client;
  const insertOperation = sqlite.prepare(`
    insert into operations (time, duration_ms, cycle_id, identity_id, http_method, path, query, http_status,
      resource_type, operation, provisioning_action, status, identity_type, identity, external_id, target_id,
      error_code, scim_type, reason, modified_properties, members, request_bytes, response_bytes,
      token_fingerprint, client_ip, user_agent, client_kind, id)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
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
        (r as Partial<StoredOperation>).id ?? null,
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
      // The record becomes the stored row in place: toRecord made it for this write alone.
      const row = r as StoredOperation;
      row.id = id;
      stored[i] = row;
    }
    return stored;
  };
}

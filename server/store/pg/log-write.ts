import type { Exchange, Operation } from '../../scim/types.js';
import { type OperationRecord, toRecord } from '../ingest.js';
import { nulReplacement } from './copy-plan.js';
import type { NewOperation, OperationsLog } from './log.js';

// The log write on PostgreSQL: classify a batch and append it to the operations log (log.ts), in one
// transaction, from any replica. Nothing is derived here: the leader's consumer reads the log in commit order
// and labels the rows (cycle, identity, client kind) as SQLite's derivation does.

/** PostgreSQL text cannot hold a NUL (SQLite's can): a hostile request must not make its batch unwritable. */
const noNul = <T extends string | null>(s: T): T =>
  (s?.includes('\0') ? s.replaceAll('\0', nulReplacement) : s) as T;

/** The row SQLite's log insert (ingest.ts) writes for a record, as log.ts inserts it. */
export function toLogRow(r: OperationRecord): NewOperation {
  const hasBody = r.requestBody !== null || r.responseBody !== null;
  return {
    time: r.time,
    durationMs: r.durationMs,
    cycleId: r.cycleId,
    identityId: r.identityId,
    httpMethod: noNul(r.httpMethod),
    path: noNul(r.path),
    query: noNul(r.query),
    httpStatus: r.httpStatus,
    resourceType: r.resourceType,
    operation: r.operation,
    provisioningAction: r.provisioningAction,
    status: r.status,
    identityType: r.identityType,
    identity: noNul(r.identity),
    externalId: noNul(r.externalId),
    targetId: noNul(r.targetId),
    errorCode: r.errorCode,
    scimType: noNul(r.scimType),
    reason: noNul(r.reason),
    // JSON escapes a NUL as \u0000: the text is safe as it is.
    modifiedProperties: r.modifiedProperties.length ? JSON.stringify(r.modifiedProperties) : '[]',
    members: r.members.length ? JSON.stringify(r.members) : '[]',
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    tokenFingerprint: r.tokenFingerprint,
    clientIp: noNul(r.clientIp),
    userAgent: noNul(r.userAgent),
    clientKind: r.clientKind,
    body: hasBody
      ? {
          requestBody: noNul(r.requestBody),
          requestTruncated: r.requestTruncated,
          responseBody: noNul(r.responseBody),
          responseTruncated: r.responseTruncated,
        }
      : undefined,
  };
}

/** The recorder's `write` on PostgreSQL: one transaction per batch; throws what the driver or server threw. */
export function createPgLogWrite({
  log,
  classify,
  onWritten,
}: {
  log: Pick<OperationsLog, 'insertOperations'>;
  classify(exchange: Exchange): Operation;
  /**
   * Told of each batch once committed, as classified (not derived: no id, cycle or identity yet): what this
   * replica's own followers take (the upstream's state, the operations metrics).
   */
  onWritten?(records: OperationRecord[]): void;
}): (batch: Exchange[]) => Promise<void> {
  return async (batch) => {
    const records = batch.map((exchange) => toRecord(classify, exchange));
    try {
      await log.insertOperations(records.map(toLogRow));
    } catch (err) {
      throw driverError(err);
    }
    onWritten?.(records);
  };
}

/**
 * The driver's own error, without Drizzle's wrapper: its message repeats the whole statement and every
 * parameter (a thousand rows of recorded requests), which must not reach /api/health, logs or alerts.
 */
export function driverError(err: unknown): Error {
  let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined;
  // A few wrappers at most (Drizzle's around the driver's): a cause chain that loops must not hang the recorder.
  for (let hops = 0; hops < 8 && e && typeof e.code !== 'string' && e.cause; hops++) e = e.cause as typeof e;
  if (e instanceof Error) return e;
  return err instanceof Error ? err : new Error(String(err));
}

// Errors worth another try: the server or the network, not the batch. SQLSTATE classes 08 (connection), 53
// (insufficient resources: disk full, too many connections), 57P (shutdown, starting up), 58 (I/O), 40001/40P01
// (serialization, deadlock), 55P03 (lock not available), 25006 (read-only: a standby until failover ends).
const retryableStates = /^(08|53|57P|58|40001|40P01|55P03|25006)/;
const retryableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * Whether a failed write should be tried again later (the batch stays queued) rather than isolated: anything
 * that is not the server refusing the rows themselves.
 */
export function isRetryablePgError(err: unknown): boolean {
  const e = driverError(err) as Error & { code?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (retryableCodes.has(code)) return true;
  // A SQLSTATE: five characters. The rest of what the driver throws without one is about the connection
  // ("Connection terminated", a pool's connect timeout, a client that was closed).
  if (/^[0-9A-Z]{5}$/.test(code)) return retryableStates.test(code);
  // A bug of ours (a TypeError in the mapping) would fail the same way forever.
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) return false;
  return true;
}

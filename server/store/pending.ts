import type { Db } from './db.js';
import type { OperationRecord, StoredOperation } from './ingest.js';

// The log's hot path during a burst (issue 12 §1: "keep the log insert lean"). A row of `operations` costs the
// log writer an entry in each of thirteen indexes and a row of `bodies` with its own index: most of the CPU it
// spends per exchange, on the 2 cores it shares with the proxy, the upstream and the load. While exchanges come
// faster than any provisioning client sends them, the writer appends them here instead, to a table with no index
// but its key, and the derivation consumer moves them into `operations` and `bodies` after the burst, under the
// ids they were given here, labelled on the way (derivation.ts). Ids come after every id `operations` has used
// (its AUTOINCREMENT sequence), so the log's order is the id order across both tables, and "derived" still means
// "id at or before the cursor".

export interface PendingLog {
  /** Appends `records`, giving them the next ids; runs inside the caller's transaction. */
  insert(records: OperationRecord[]): StoredOperation[];
  /** The `limit` rows after `cursor`, in id order, with their bodies: what the consumer moves next. */
  read(cursor: number, limit: number): StoredOperation[];
  /**
   * Deletes the rows up to `lastId`, just moved into the log (in the same transaction). A batch at a time, not the
   * whole table once the catch-up ends: the pages it frees take the rows moved next, so a burst does not occupy
   * its size twice over while it is derived (SCIMTAP_MAX_DB_MB counts the file).
   */
  moved(lastId: number): void;
  /** the last id here, 0 when none */
  lastId(): number;
  /** the request time of the oldest row after `cursor` */
  oldestTime(cursor: number): number | undefined;
}

const columns = `time, duration_ms, http_method, path, query, http_status, resource_type, operation,
  provisioning_action, status, identity_type, identity, external_id, target_id, error_code, scim_type, reason,
  modified_properties, members, request_bytes, response_bytes, token_fingerprint, client_ip, user_agent,
  client_kind, request_body, request_truncated, response_body, response_truncated`;

/**
 * An operation's columns as the stages read them (camelCase), without labels or bodies: what derivation reads of
 * the log (derivation.ts) and of this table, which adds the bodies it carries.
 */
export const operationRowColumns = `id, time, duration_ms as durationMs, http_method as httpMethod, path, query,
  http_status as httpStatus, resource_type as resourceType, operation, provisioning_action as provisioningAction,
  status, identity_type as identityType, identity, external_id as externalId, target_id as targetId,
  error_code as errorCode, scim_type as scimType, reason, modified_properties as modifiedProperties, members,
  request_bytes as requestBytes, response_bytes as responseBytes, token_fingerprint as tokenFingerprint,
  client_ip as clientIp, user_agent as userAgent, client_kind as clientKind`;

const selectOldest = `select ${operationRowColumns}, request_body as requestBody,
  request_truncated as requestTruncated, response_body as responseBody, response_truncated as responseTruncated
  from pending_operations where id > ? order by id limit ?`;

type PendingRow = Omit<
  StoredOperation,
  'modifiedProperties' | 'members' | 'requestTruncated' | 'responseTruncated'
> & { modifiedProperties: string; members: string; requestTruncated: number; responseTruncated: number };

export function createPendingLog(db: Db): PendingLog {
  const sqlite = db.$client;
  const append = sqlite.prepare(
    `insert into pending_operations (id, ${columns}) values (${Array(30).fill('?').join(', ')})`,
  );
  const select = sqlite.prepare(selectOldest);
  const remove = sqlite.prepare('delete from pending_operations where id <= ?');
  const last = sqlite.prepare('select max(id) from pending_operations').pluck();
  const oldest = sqlite
    .prepare('select time from pending_operations where id > ? order by id limit 1')
    .pluck();
  // The log's AUTOINCREMENT high-water mark: ids deleted by retention are never given again.
  const sequence = sqlite
    .prepare("select coalesce(max(seq), 0) from sqlite_sequence where name = 'operations'")
    .pluck();
  const lastId = () => Number(last.get() ?? 0);

  return {
    insert(records) {
      // Read in the write's transaction: the only writer of either table holds the write lock here.
      let id = Math.max(Number(sequence.get()), lastId());
      const stored: StoredOperation[] = new Array(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as StoredOperation;
        r.id = ++id;
        append.run(
          r.id,
          r.time,
          r.durationMs,
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
          r.requestBody,
          r.requestTruncated ? 1 : 0,
          r.responseBody,
          r.responseTruncated ? 1 : 0,
        );
        stored[i] = r;
      }
      return stored;
    },
    read(cursor, limit) {
      return (select.all(cursor, limit) as PendingRow[]).map((row) => ({
        ...row,
        modifiedProperties: parseArray(row.modifiedProperties),
        members: parseArray(row.members),
        requestTruncated: row.requestTruncated === 1,
        responseTruncated: row.responseTruncated === 1,
        // Labelled by the stages on the way into the log.
        cycleId: null,
        identityId: null,
      }));
    },
    moved(movedId) {
      remove.run(movedId);
    },
    lastId,
    oldestTime: (cursor) => oldest.get(cursor) as number | undefined,
  };
}

export function parseArray<T>(text: string): T[] {
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

import type { OperationStatus } from '../../vocabulary.js';
import type { Db } from '../db.js';
import { encodeCursor } from './cursor.js';

export interface CycleOutcome {
  identityId: number;
  type: string | null;
  name: string | null;
  targetId: string | null;
  /** operations on it in this cycle, and how many failed */
  operations: number;
  failures: number;
  /** its last operation in the cycle decides the outcome */
  lastOperationId: number;
  lastOperation: string;
  outcome: string;
  /** the last operation's own answer (all from lastOperationId) */
  httpStatus: number | null;
  errorCode: string | null;
  reason: string | null;
  /** when its last operation ran (the CSV's and /api/operations' name, server/vocabulary.ts) */
  activityDateTime: string;
  /**
   * its last failure in the cycle, all from that one operation; `past` when a later call in the cycle did not
   * fail (a retry that went through). Null when nothing failed.
   */
  lastFailure: {
    operationId: number;
    httpStatus: number | null;
    errorCode: string | null;
    reason: string | null;
    time: string;
    past: boolean;
  } | null;
}

/** A row of the outcome statement, before `toOutcome` (the PostgreSQL twin reads the same row). */
export interface OutcomeRow {
  identityId: number;
  operations: number;
  failures: number;
  lastOperationId: number;
  lastOperation: string;
  outcome: string;
  httpStatus: number | null;
  errorCode: string | null;
  reason: string | null;
  time: number;
  type: string | null;
  name: string | null;
  targetId: string | null;
  failureId: number | null;
  failureHttpStatus: number | null;
  failureErrorCode: string | null;
  failureReason: string | null;
  failureTime: number | null;
}

export interface CycleOutcomePage {
  /** the identity's final status in the cycle (the status of its last operation there) */
  outcome?: OperationStatus;
  /** identity id from the previous page's cursor */
  before: number | null;
  limit: number;
}

/**
 * One row per user or group a cycle touched, with its outcome there. Reads only the cycle's operations
 * (operations_cycle_idx), so the cost follows the cycle's size, not the history; paged by identity id, newest
 * first. Prepared once: call the returned function per request.
 */
export function createCycleOutcomeQuery(db: Db) {
  const stmt = db.$client.prepare<
    [number, string | null, string | null, number | null, number | null, number],
    OutcomeRow
  >(`
    with per as (
      select identity_id, count(*) as n, sum(status = 'failure') as failures, max(id) as last_id,
             max(case when status = 'failure' then id end) as failure_id
        from operations
       where cycle_id = ? and identity_id is not null
       group by identity_id
    )
    select per.identity_id as identityId, per.n as operations, per.failures as failures,
           o.id as lastOperationId, o.operation as lastOperation, o.status as outcome, o.http_status as httpStatus,
           o.error_code as errorCode, o.reason as reason, o.time as time,
           i.type as type, i.name as name, i.target_id as targetId,
           f.id as failureId, f.http_status as failureHttpStatus, f.error_code as failureErrorCode,
           f.reason as failureReason, f.time as failureTime
      from per
      join operations o on o.id = per.last_id
      left join operations f on f.id = per.failure_id
      left join identities i on i.id = per.identity_id
     where (? is null or o.status = ?)
       and (? is null or per.identity_id < ?)
     order by per.identity_id desc
     limit ?`);
  return (cycleId: number, { outcome, before, limit }: CycleOutcomePage) => {
    const rows = stmt.all(cycleId, outcome ?? null, outcome ?? null, before, before, limit + 1);
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map(toOutcome);
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].identityId) : null };
  };
}

export function toOutcome({
  failureId,
  failureHttpStatus,
  failureErrorCode,
  failureReason,
  failureTime,
  time,
  ...r
}: OutcomeRow): CycleOutcome {
  return {
    ...r,
    activityDateTime: new Date(time).toISOString(),
    lastFailure:
      failureId === null
        ? null
        : {
            operationId: failureId,
            httpStatus: failureHttpStatus,
            errorCode: failureErrorCode,
            reason: failureReason,
            time: new Date(failureTime ?? time).toISOString(),
            past: failureId !== r.lastOperationId,
          },
  };
}

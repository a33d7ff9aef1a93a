import type { ClientKind, Operation } from '../scim/types.js';
import type { CycleRow } from '../store/queries/cycles.js';
import type { CycleState } from '../store/schema/cycles.js';
import { isClientSide } from './failing.js';
import { bucketOf, emptyHistogram, parseHistogram } from './latency.js';
import { type CycleKind, isProvisioning } from './segment.js';

/** The fields of an operation the cycles stage reads, plus the two it fills in. */
export type CycleOperation = Pick<
  Operation,
  | 'time'
  | 'durationMs'
  | 'httpStatus'
  | 'resourceType'
  | 'operation'
  | 'status'
  | 'identityType'
  | 'identity'
  | 'externalId'
  | 'targetId'
  | 'errorCode'
  | 'reason'
  | 'modifiedProperties'
  | 'members'
> & {
  cycleId: number | null;
  identityId: number | null;
  /** absent: the provisioning client's (harnesses that skip the clients stage) */
  clientKind?: ClientKind;
};

export type StoredCycleOperation = CycleOperation & { id: number };

export type Counts = { success: number; failure: number; warning: number };

/** A cycle's rollup: its stored row (store/schema/cycles.ts), JSON columns parsed. */
export interface CycleRollup
  extends Omit<CycleRow, 'state' | 'kind' | 'countsByOperation' | 'countsByErrorCode' | 'latencyHistogram'> {
  state: CycleState;
  kind: CycleKind;
  countsByOperation: Record<string, Counts>;
  countsByErrorCode: Record<string, number>;
  histogram: number[];
}

/** How the first operation opened the cycle: a probe (Test Connection's GUID filter) or traffic after a silence. */
export function newCycleRollup(
  id: number,
  op: Pick<CycleOperation, 'time' | 'httpStatus' | 'status' | 'errorCode'>,
  byProbe: boolean,
  knownIdentities: number,
): CycleRollup {
  return {
    id,
    startedAt: op.time,
    endedAt: op.time,
    state: 'running',
    kind: byProbe ? 'testConnection' : 'incremental',
    probeOperationId: null,
    probeStatus: byProbe ? op.httpStatus : null,
    probeOutcome: byProbe ? op.status : null,
    probeErrorCode: byProbe ? op.errorCode : null,
    total: 0,
    successes: 0,
    failures: 0,
    warnings: 0,
    deletes: 0,
    throttled: 0,
    usersTouched: 0,
    groupsTouched: 0,
    membersTouched: 0,
    provisioningOps: 0,
    lookups: 0,
    knownIdentities,
    countsByOperation: {},
    countsByErrorCode: {},
    histogram: emptyHistogram(),
    latencySumMs: 0,
    latencyMaxMs: 0,
    expectedObjects: null,
    processedObjects: 0,
    closedAt: null,
  };
}

/** A cycle's outcome counts: what the rules test, /api/status and the dashboard show, kept by one fold. */
export interface OutcomeCounts {
  total: number;
  successes: number;
  failures: number;
  warnings: number;
  /** delete + disable operations sent, whatever their outcome */
  deletes: number;
  /** 429 answers */
  throttled: number;
}

/**
 * Counts one operation in its cycle's outcome counts, the one definition both the stored rollup (foldCycle below)
 * and detection's (detect/cycle-fold.ts) fold with. False, counting nothing: the operation is the client's
 * (failing.ts isClientSide), not the app's answer.
 */
export function countOutcome(
  c: OutcomeCounts,
  op: { operation: string; status: string; httpStatus: number | null; errorCode: string | null },
): boolean {
  if (isClientSide(op)) return false;
  c.total++;
  if (op.status === 'success') c.successes++;
  else if (op.status === 'failure') c.failures++;
  else c.warnings++;
  if (op.operation === 'delete' || op.operation === 'disable') c.deletes++;
  if (op.httpStatus === 429) c.throttled++;
  return true;
}

/**
 * Folds one stored operation into its cycle's rollup. In place: it runs once per recorded operation, and the
 * rollup belongs to the cycles stage alone. `firstTouch`: the operation's identity appears in this cycle for the
 * first time (it counts once among the users or groups touched).
 */
export function foldCycle(
  c: CycleRollup,
  op: StoredCycleOperation,
  firstTouch: { type: string } | null,
): CycleRollup {
  if (c.total === 0 && c.probeOutcome !== null && op.operation === 'testConnection')
    c.probeOperationId = op.id;
  // What Entra sent (progress, the cycle's kind) counts whoever answered.
  if (isProvisioning(op)) c.provisioningOps++;
  if (op.operation === 'lookup') c.lookups++;
  for (const m of op.members) c.membersTouched += m.ids.length;
  if (firstTouch) {
    if (firstTouch.type === 'User') c.usersTouched++;
    else c.groupsTouched++;
  }
  // What the app answered: counts by operation and error code add up to the outcome counts, latencies with them.
  if (!countOutcome(c, op)) return c;
  c.countsByOperation[op.operation] ??= { success: 0, failure: 0, warning: 0 };
  c.countsByOperation[op.operation][op.status]++;
  if (op.errorCode) c.countsByErrorCode[op.errorCode] = (c.countsByErrorCode[op.errorCode] ?? 0) + 1;
  const ms = Math.max(0, op.durationMs);
  c.histogram[bucketOf(ms)]++;
  c.latencySumMs += ms;
  if (ms > c.latencyMaxMs) c.latencyMaxMs = ms;
  return c;
}

export function fromCycleRow(row: CycleRow): CycleRollup {
  const { countsByOperation, countsByErrorCode, latencyHistogram, ...rest } = row;
  return {
    ...rest,
    state: row.state as CycleState,
    kind: row.kind as CycleKind,
    countsByOperation: parseJson(countsByOperation, {}),
    countsByErrorCode: parseJson(countsByErrorCode, {}),
    histogram: parseHistogram(latencyHistogram),
  };
}

export function toCycleRow(c: CycleRollup): CycleRow {
  const { countsByOperation, countsByErrorCode, histogram, ...rest } = c;
  return {
    ...rest,
    countsByOperation: JSON.stringify(countsByOperation),
    countsByErrorCode: JSON.stringify(countsByErrorCode),
    latencyHistogram: JSON.stringify(histogram),
  };
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

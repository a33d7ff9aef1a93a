import { countsTowardEscrowBase } from '../cycles/failing.js';
import { countOutcome } from '../cycles/rollup.js';
import type { ObservedOperation } from './tracker.js';
import type { AffectedIdentity, CycleRollup, OperationSample } from './types.js';

// A cycle as detection sees it: the counts the rules test, with first/last times and samples for the email.
// The cycle itself (which operations belong to it) is the cycles stage's: operations arrive with its id, and its
// outcome counts are the stored rollup's, folded by the same function (cycles/rollup.ts countOutcome).

const SAMPLES = 5;
const IDENTITIES = 20;

export function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.shift();
}

/** Distinct identities, the first 20 kept with their details, all counted. */
export class IdentitySet {
  private readonly keys = new Set<string>();
  readonly shown: AffectedIdentity[] = [];
  add(key: string | null, op: ObservedOperation): void {
    if (key === null || this.keys.has(key)) return;
    this.keys.add(key);
    if (this.shown.length < IDENTITIES) {
      this.shown.push({
        key,
        name: op.identity ?? op.targetId ?? key,
        type: op.identityType === 'User' || op.identityType === 'Group' ? op.identityType : null,
        errorCode: op.errorCode,
        reason: op.reason,
      });
    }
  }
  get size(): number {
    return this.keys.size;
  }
}

export interface CycleAcc
  extends Omit<CycleRollup, 'endedAt' | 'state' | 'failedIdentities' | 'failedIdentityCount'> {
  lastOperationId: number;
  failed: IdentitySet;
}

export function newCycleAcc(op: ObservedOperation & { cycleId: number }, seq: number): CycleAcc {
  return {
    id: op.cycleId,
    seq,
    startedAt: op.time,
    lastOperationAt: op.time,
    lastOperationId: op.id,
    probeOnly: true,
    probe: null,
    total: 0,
    successes: 0,
    failures: 0,
    warnings: 0,
    failuresBase: 0,
    deletes: 0,
    throttled: 0,
    authFailures: 0,
    complianceFailures: 0,
    firstFailureAt: null,
    lastFailureAt: null,
    firstDeleteAt: null,
    lastDeleteAt: null,
    firstThrottleAt: null,
    lastThrottleAt: null,
    failureSamples: [],
    deleteSamples: [],
    throttleSamples: [],
    failed: new IdentitySet(),
  };
}

/** What the tracker already worked out about the operation. */
export interface OperationFacts {
  key: string | null;
  sample: OperationSample;
  authFailed: boolean;
  nonCompliant: boolean;
}

/** Folds one operation into its cycle (O(1): samples are capped). */
export function foldCycle(
  c: CycleAcc,
  op: ObservedOperation,
  { key, sample, authFailed, nonCompliant }: OperationFacts,
): void {
  c.lastOperationAt = Math.max(c.lastOperationAt, op.time);
  c.lastOperationId = Math.max(c.lastOperationId, op.id);
  if (!countOutcome(c, op)) return;
  if (op.operation === 'testConnection') {
    c.probe ??= {
      failed: op.status === 'failure',
      httpStatus: op.httpStatus,
      errorCode: op.errorCode,
      sample,
    };
  } else {
    c.probeOnly = false;
  }
  if (op.status === 'failure') {
    if (countsTowardEscrowBase(op)) c.failuresBase++;
    c.firstFailureAt ??= op.time;
    c.lastFailureAt = op.time;
    push(c.failureSamples, sample, SAMPLES);
    c.failed.add(key, op);
    if (authFailed) c.authFailures++;
    if (nonCompliant) c.complianceFailures++;
  }
  if (op.operation === 'delete' || op.operation === 'disable') {
    c.firstDeleteAt ??= op.time;
    c.lastDeleteAt = op.time;
    push(c.deleteSamples, sample, SAMPLES);
  }
  if (op.httpStatus === 429) {
    c.firstThrottleAt ??= op.time;
    c.lastThrottleAt = op.time;
    push(c.throttleSamples, sample, SAMPLES);
  }
}

import type { RulesConfig } from '../config.js';
import { escrowBaseFailures } from '../cycles/failing.js';
import {
  createTracker,
  type EscrowBase,
  type ObservedOperation,
  type Tracker,
  toSample,
} from '../detect/tracker.js';
import type { DetectionInput, OperationSample, StuckIdentity } from '../detect/types.js';
import type { Db } from '../store/db.js';
import {
  cycleFailureCounts,
  firstOperationIdOfCycle,
  lastDerivedOperationId,
  lastHealthyCycleBefore,
  nthNewestCycleId,
  observedOperations,
  operationSampleRow,
  type StuckIdentityRow,
  stuckIdentityRows,
} from '../store/queries/detection.js';
import type { RecorderStats } from '../store/recorder.js';

export interface Detection {
  /** feed one committed operation, in id order */
  observe(op: ObservedOperation): void;
  /** the rules' input at `now` */
  input(now: number, recorder: RecorderStats): DetectionInput;
}

export interface DetectionOptions {
  db: Db;
  rules: RulesConfig;
  cycleIntervalMs: number;
  /** operations replayed at start to rebuild the windows and recent cycles */
  replayLimit?: number;
}

/** cycles kept in memory by the tracker; the ones before fold into the escrow count */
export const RECENT_CYCLES = 16;
/** stuck identities that get a sample request in the email (one lookup each) */
export const SAMPLED = 5;

/** The tracker detection keeps, on either store. */
export function createDetectionTracker(rules: RulesConfig, cycleIntervalMs: number): Tracker {
  return createTracker({ rules, cycleIntervalMs, maxCycles: RECENT_CYCLES });
}

/**
 * The rules' input: the tracker's windows and recent cycles, kept from committed operations and rebuilt at start
 * by replaying the last cycles' operations; and the stuck identities, read from the identity rollups with the
 * store's one stuck condition (the one /api/status counts with).
 */
export function createDetection({
  db,
  rules,
  cycleIntervalMs,
  replayLimit = 100_000,
}: DetectionOptions): Detection {
  const tracker = createDetectionTracker(rules, cycleIntervalMs);
  restore();

  /**
   * Rebuild the tracker from the database: the last cycles' operations up to the derivation cursor (the consumer
   * hands over the rest), and the escrow count before them.
   */
  function restore(): void {
    const lastId = lastDerivedOperationId(db);
    if (lastId === 0) return;
    let fromId = Math.max(1, lastId - replayLimit + 1);
    const firstCycle = nthNewestCycleId(db, RECENT_CYCLES - 1);
    if (firstCycle !== null) {
      const firstOp = firstOperationIdOfCycle(db, firstCycle);
      if (firstOp !== null) fromId = Math.max(fromId, firstOp);
      restoreEscrowBase(firstCycle);
    }
    // In chunks by id range: faster than a row iterator, and memory stays bounded.
    for (let from = fromId; from <= lastId; from += 10_000) {
      for (const op of observedOperations(db, from, Math.min(from + 10_000, lastId + 1))) tracker.observe(op);
    }
  }

  /** Failures in the cycles before the replayed ones, back to the last healthy cycle. */
  function restoreEscrowBase(firstReplayedCycle: number): void {
    const healthy = lastHealthyCycleBefore(db, firstReplayedCycle);
    tracker.setEscrowBase(escrowBase(healthy, cycleFailureCounts(db, healthy?.id ?? 0, firstReplayedCycle)));
  }

  function stuck(): StuckIdentity[] {
    return stuckIdentityRows(db, rules.stuckObjectCycles).map((row, i) =>
      toStuckIdentity(
        row,
        sampled(row, i) ? operationSampleRow(db, row.lastErrorOperationId as number) : undefined,
      ),
    );
  }

  return {
    observe: (op) => tracker.observe(op),
    input: (now, recorder) => ({ ...tracker.snapshot(now, recorder), stuck: stuck() }),
  };
}

/**
 * The escrow count before the replayed cycles: the failures of the cycles after the last healthy one (`healthy`,
 * undefined when none) and before the first replayed one.
 */
export function escrowBase(
  healthy: { endedAt: number } | undefined,
  counts: { failures: number; countsByOperation: string }[],
): EscrowBase {
  let failures = 0;
  let failuresBase = 0;
  for (const row of counts) {
    failures += row.failures;
    failuresBase += escrowBaseFailures(row.failures, parseCounts(row.countsByOperation));
  }
  return { failures, failuresBase, since: healthy?.endedAt ?? null };
}

/** Whether the `i`-th stuck identity (longest streak first) gets its last failure as a sample. */
export function sampled(r: StuckIdentityRow, i: number): boolean {
  return i < SAMPLED && r.lastErrorOperationId !== null;
}

/** A stuck identity as the rules take it, with the sample of its last failure when one was read. */
export function toStuckIdentity(r: StuckIdentityRow, sampleRow: OperationSample | undefined): StuckIdentity {
  return {
    key: `id:${r.id}`,
    name: r.name ?? r.targetId ?? r.key,
    type: r.type === 'User' || r.type === 'Group' ? r.type : null,
    streak: r.streak,
    errorCode: r.errorCode,
    reason: r.reason,
    firstFailedAt: r.since ?? r.lastErrorAt ?? 0,
    lastFailedAt: r.lastErrorAt ?? r.since ?? 0,
    lastSample: sampleRow ? toSample({ ...sampleRow, targetId: null }) : null,
  };
}

function parseCounts(json: string): Record<string, { failure?: number }> {
  try {
    return JSON.parse(json) as Record<string, { failure?: number }>;
  } catch {
    // unreadable counts: every failure counts as base
    return {};
  }
}

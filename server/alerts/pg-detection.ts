import type { RulesConfig } from '../config.js';
import type { ObservedOperation, Tracker } from '../detect/tracker.js';
import type { DetectionInput, StuckIdentity } from '../detect/types.js';
import { pgDatabase } from '../store/pg/db.js';
import type { LogCursor } from '../store/pg/log.js';
import type { Pool } from '../store/pg/pool.js';
import {
  compareCursors,
  cycleFailureCounts,
  firstPositionOfCycle,
  lastDerivedPosition,
  lastHealthyCycleBefore,
  nthDerivedBefore,
  nthNewestCycleId,
  observedOperations,
  operationSampleRow,
  type PgReader,
  stuckIdentityRows,
} from '../store/pg/queries/detection.js';
import type { RecorderStats } from '../store/recorder.js';
import { createDetectionTracker, escrowBase, RECENT_CYCLES, sampled, toStuckIdentity } from './detection.js';

// Detection (detection.ts) on PostgreSQL, for the leader: the same tracker and the same stuck identities, read
// asynchronously. The leader creates one each time it gains the lead, so the windows are rebuilt from what is
// committed, never carried over from an earlier term; until it derives again nothing moves the cursor, and the
// operations it derives from then on are fed with `observe`, in log order.

export interface PgDetection {
  /** feed one derived operation, in log order */
  observe(op: ObservedOperation): void;
  /** the rules' input at `now`: the windows as of the call, the stuck identities as the database has them */
  input(now: number, recorder: RecorderStats): Promise<DetectionInput>;
}

export interface PgDetectionOptions {
  pool: Pool;
  rules: RulesConfig;
  cycleIntervalMs: number;
  /** operations replayed at start to rebuild the windows and recent cycles */
  replayLimit?: number;
}

/** rows per read of the replay: memory stays bounded */
const CHUNK = 10_000;

export async function createPgDetection({
  pool,
  rules,
  cycleIntervalMs,
  replayLimit = 100_000,
}: PgDetectionOptions): Promise<PgDetection> {
  const db = pgDatabase(pool);
  const tracker = createDetectionTracker(rules, cycleIntervalMs);
  // One snapshot for the whole restore: the cursor, the operations up to it and the cycles agree.
  await db.transaction((tx) => restore(tx, tracker, replayLimit), {
    isolationLevel: 'repeatable read',
    accessMode: 'read only',
  });

  async function stuck(): Promise<StuckIdentity[]> {
    const rows = await stuckIdentityRows(db, rules.stuckObjectCycles);
    return Promise.all(
      rows.map(async (row, i) =>
        toStuckIdentity(
          row,
          sampled(row, i) ? await operationSampleRow(db, row.lastErrorOperationId as number) : undefined,
        ),
      ),
    );
  }

  return {
    observe: (op) => tracker.observe(op),
    async input(now, recorder) {
      // The windows now: operations observed while the stuck identities are read belong to the next input.
      const snapshot = tracker.snapshot(now, recorder);
      return { ...snapshot, stuck: await stuck() };
    },
  };
}

/**
 * detection.ts `restore` in log order: the last `replayLimit` derived operations, from the first cycle kept in
 * memory on, and the escrow count of the cycles before that cycle.
 */
async function restore(db: PgReader, tracker: Tracker, replayLimit: number): Promise<void> {
  const last = await lastDerivedPosition(db);
  if (last === null) return;
  let from: LogCursor = (await nthDerivedBefore(db, last, replayLimit)) ?? { txid: '0', id: 0 };
  const firstCycle = await nthNewestCycleId(db, RECENT_CYCLES - 1);
  if (firstCycle !== null) {
    const first = await firstPositionOfCycle(db, firstCycle);
    if (first !== null && compareCursors(first, from) > 0) from = first;
    const healthy = await lastHealthyCycleBefore(db, firstCycle);
    tracker.setEscrowBase(escrowBase(healthy, await cycleFailureCounts(db, healthy?.id ?? 0, firstCycle)));
  }
  // replayLimit 0 replays nothing, as on SQLite
  let at = replayLimit < 1 ? { at: last, inclusive: false } : { at: from, inclusive: true };
  for (;;) {
    const rows = await observedOperations(db, at, last, CHUNK);
    for (const { txid: _txid, ...op } of rows) tracker.observe(op);
    const end = rows.at(-1);
    if (rows.length < CHUNK || !end) return;
    at = { at: { txid: end.txid, id: end.id }, inclusive: false };
  }
}

import { statSync } from 'node:fs';
import type { Db } from './db.js';
import type { IngestStage } from './ingest.js';
import type { WriteTurn } from './log-thread.js';
import { createPruner, noStorageCounters, pruneDeletes } from './storage-prune.js';

// The storage budget (SCIMTAP_MAX_DB_MB, issue 10 §6). A flood of requests must not fill the disk: once the
// database nears its budget, bodies go first (oldest first), then the oldest operations. SQLite never shrinks
// its file by itself, but the pages a DELETE frees go on the freelist and new rows reuse them before the file
// grows: the file stops growing rather than shrinking. The WAL is kept small by truncating checkpoints.

const MB = 1024 * 1024;

/** The budget's shape: what is measured against what, and when pruning starts and stops. Pure. */
export function budgetPlan(budgetBytes: number) {
  // The WAL gets an eighth of the budget (at most 64 MB): a truncating checkpoint runs once it is larger.
  const walLimitBytes = Math.min(64 * MB, Math.max(MB, Math.floor(budgetBytes / 8)));
  const fileBudget = budgetBytes - walLimitBytes;
  return {
    walLimitBytes,
    fileBudgetBytes: fileBudget,
    /** pruning starts when the pages in use pass this ... */
    pruneAboveBytes: Math.floor(fileBudget * 0.9),
    /** ... and stops once they are under this, so it does not run for every batch */
    pruneBelowBytes: Math.floor(fileBudget * 0.8),
  };
}

export interface StorageStats {
  /** SCIMTAP_MAX_DB_MB in bytes */
  budgetBytes: number;
  /** page_count × page_size of the database file */
  fileBytes: number;
  /** of which on the freelist: reusable by new rows */
  freeBytes: number;
  /** size of the -wal file */
  walBytes: number;
  /** fileBytes + walBytes: what the disk holds for scimtap */
  totalBytes: number;
  /** bodies, operations, and identities left without operations, deleted to stay within the budget since start */
  bodiesPruned: number;
  operationsPruned: number;
  identitiesPruned: number;
  /** search terms no remaining operation uses, deleted with them */
  termsPruned: number;
  /** truncating WAL checkpoints run because the WAL passed its limit */
  walTruncations: number;
  lastPruneAt: number | null;
  /** the file at SCIMTAP_DB is not the one scimtap has open: `missing` (deleted) or `replaced`; else null */
  fileProblem: 'missing' | 'replaced' | null;
}

export interface StorageGuard {
  /** measure, checkpoint, check the file, and start pruning when over budget; the timer calls it every second */
  tick(): void;
  /** runs pruning to completion (tests, and the timer's continuation) */
  prune(): Promise<void>;
  stats(): StorageStats;
  /**
   * An ingest stage: after committed batches (every 50 ms or 256 operations at most), pruning starts once the
   * pages in use pass the budget (a tick a second is too slow under a flood).
   */
  stage: IngestStage;
  /** cheap: what the last tick found of the file */
  fileProblem(): StorageStats['fileProblem'];
  start(): void;
  stop(): void;
}

export interface StorageGuardOptions {
  db: Db;
  /** SCIMTAP_DB */
  path: string;
  budgetBytes: number;
  /** the file's identity when it was opened (statSync right after opening) */
  opened?: { dev: number; ino: number };
  intervalMs?: number;
  /** time one delete transaction may hold the event loop */
  batchMs?: number;
  clock?: () => number;
  onEvent?(event: 'fileProblem' | 'pruned', detail: Record<string, unknown>): void;
  /** called at the end of every tick (main persists the drop counter there) */
  onTick?(): void;
  /** identity rows were deleted: whoever caches them (the cycles stage) reloads */
  afterPrune?(): void;
  /** the write turn shared with the log writer thread (log-thread.ts), when a thread writes the log */
  turn?: WriteTurn;
}

/**
 * How often the stage looks at the file after commits: see afterBatch. At most every 250 ms: under light load an
 * app's log writer commits at most every 500 ms (app-writer.ts), so every batch is still looked at. Each app has its
 * own guard on this thread, and at 50 ms twenty apps' checks cost this thread a few µs of every request they
 * forwarded (bench/apps.ts).
 */
const checkEveryMs = 250;
const checkEveryRows = 256;

/** What the database takes on disk: SQLite's page counts, and the size of the -wal file. */
function diskUsage(sqlite: Db['$client'], path: string) {
  const memory = path === ':memory:';
  const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
  const pageCount = sqlite.prepare('pragma page_count').pluck();
  const freelist = sqlite.prepare('pragma freelist_count').pluck();
  const walBytes = () => {
    if (memory) return 0;
    try {
      return statSync(`${path}-wal`).size;
    } catch {
      return 0;
    }
  };
  // The last good reading: on a deleted file SQLite cannot even read its page count (SQLITE_IOERR_FSTAT).
  let lastPages = 0;
  let lastFree = 0;
  return {
    walBytes,
    /** the pages in use (not on the freelist), in bytes */
    usedBytes: () => ((pageCount.get() as number) - (freelist.get() as number)) * pageSize,
    /** StorageStats' sizes, from the last good reading of the page counts */
    sizes(): Pick<StorageStats, 'fileBytes' | 'freeBytes' | 'walBytes' | 'totalBytes'> {
      try {
        lastPages = pageCount.get() as number;
        lastFree = freelist.get() as number;
      } catch {}
      const pages = lastPages;
      const free = lastFree;
      const wal = walBytes();
      return {
        fileBytes: pages * pageSize,
        freeBytes: free * pageSize,
        walBytes: wal,
        totalBytes: pages * pageSize + wal,
      };
    },
  };
}

/** Whether the file at `path` is still the one opened: `missing` (deleted), `replaced`, or null. */
function fileProblemAt(path: string, opened: { dev: number; ino: number }): StorageStats['fileProblem'] {
  try {
    const now = statSync(path);
    return now.ino !== opened.ino || now.dev !== opened.dev ? 'replaced' : null;
  } catch {
    return 'missing';
  }
}

export function createStorageGuard({
  db,
  path,
  budgetBytes,
  opened,
  intervalMs = 1_000,
  batchMs = 10,
  clock = Date.now,
  onEvent,
  onTick,
  afterPrune,
  turn,
}: StorageGuardOptions): StorageGuard {
  const sqlite = db.$client;
  const memory = path === ':memory:';
  const plan = budgetPlan(budgetBytes);
  // When a WAL is reset after a checkpoint, SQLite truncates it to this instead of keeping its high-water size.
  sqlite.pragma(`journal_size_limit = ${plan.walLimitBytes}`);
  const disk = diskUsage(sqlite, path);
  const counters = noStorageCounters();
  const deletes = pruneDeletes(sqlite, counters, afterPrune);
  let fileProblem: StorageStats['fileProblem'] = null;
  let timer: NodeJS.Timeout | undefined;
  let pruning: Promise<void> | undefined;
  let stopped = false;

  function checkFile(): void {
    if (memory || !opened) return;
    const problem = fileProblemAt(path, opened);
    if (problem !== fileProblem) {
      fileProblem = problem;
      if (problem) onEvent?.('fileProblem', { problem, path });
    }
  }

  function checkpoint(): void {
    if (memory || stopped || !sqlite.open || disk.walBytes() <= plan.walLimitBytes) return;
    try {
      // On the writer's own connection, between batches: no writer to wait for, and the checkpointer worker's
      // passive passes have already copied most frames. `busy` is 1 when a reader or that worker holds it up.
      const [result] = sqlite.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (result?.busy === 0) counters.walTruncations++;
    } catch {
      // A locked database: the next tick tries again.
    }
  }

  const prune = createPruner({
    deletes,
    counters,
    plan,
    budgetBytes,
    batchMs,
    clock,
    turn,
    usedBytes: disk.usedBytes,
    checkpoint,
    stopped: () => stopped,
    onEvent,
  });

  // The stage checks at most every `checkEveryMs` or `checkEveryRows`, whichever comes first. Each check is two
  // pragmas on the proxy's thread, and a batch is one exchange at the rates SCIM clients send: checking every
  // batch cost more than forwarding it. Under a flood a batch holds up to 100 exchanges (app-writer.ts), so the
  // rows set the pace and the file is looked at every third batch or so.
  let rowsSinceCheck = 0;
  let lastCheckAt = Number.NEGATIVE_INFINITY;
  function afterBatch(ops: readonly unknown[]): void {
    rowsSinceCheck += ops.length;
    const now = clock();
    if (rowsSinceCheck < checkEveryRows && now - lastCheckAt < checkEveryMs) return;
    rowsSinceCheck = 0;
    lastCheckAt = now;
    afterCommit();
  }

  /**
   * After committed batches (see afterBatch) and each tick: pruning starts once the pages in use pass the budget.
   * The WAL is not checkpointed here: the log writer thread truncates it after its own batches, and a checkpoint
   * on this thread would hold the proxy's event loop while it copies pages.
   */
  function afterCommit(): void {
    if (!pruning && !stopped && disk.usedBytes() > plan.pruneAboveBytes) {
      pruning = prune()
        .catch(() => {})
        .finally(() => {
          pruning = undefined;
        });
    }
  }

  function tick(): void {
    if (stopped || !sqlite.open) return;
    checkFile();
    try {
      // Once a second, what this thread's own writes (alerts, the outbox) and a writer that could not truncate
      // left in the WAL.
      checkpoint();
      afterCommit();
    } catch {
      // A database that cannot be read (a deleted file, a failing disk) is the recorder's to report.
    }
    onTick?.();
  }

  return {
    tick,
    prune: async () => {
      if (pruning) await pruning;
      else if (disk.usedBytes() > plan.pruneAboveBytes) await prune();
    },
    stats: () => ({ budgetBytes, ...disk.sizes(), ...counters, fileProblem }),
    stage: { afterCommit: afterBatch },
    fileProblem: () => fileProblem,
    start() {
      if (timer) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}

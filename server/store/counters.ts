import type { Db } from './db.js';
import { metaTable } from './meta.js';

// Counts that must outlive the process (the `meta` table): a Prometheus counter resets at restart, so the
// exchanges a shutdown could not write would otherwise leave no trace once the process is gone.

export const droppedTotalKey = 'recorder.droppedTotal';

export function readCounter(db: Db, key: string): number {
  try {
    return metaTable(db).number(key);
  } catch {
    return 0;
  }
}

/** Throws like any write (a full disk): the caller decides whether to log instead. */
export function writeCounter(db: Db, key: string, value: number): void {
  metaTable(db).set(key, String(value));
}

export interface DropCounter {
  /** dropped by earlier runs, read at start */
  before: number;
  /** this run's drops plus earlier runs' */
  total(): number;
  /** writes the total if it moved; false when the database could not take it */
  persist(): boolean;
  /** at shutdown: persist, and log what was lost (the log line is the record of last resort) */
  report(droppedAtStop: number): void;
}

/**
 * The recorder's drops, kept in `meta` across restarts. Reads `recorder()` lazily: the counter exists before the
 * recorder does (the storage guard persists it on its tick).
 */
export function createDropCounter(
  db: Db,
  recorder: () => { stats(): { dropped: number; written: number } } | undefined,
  logger: {
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
    info(o: object, m: string): void;
  },
): DropCounter {
  const before = readCounter(db, droppedTotalKey);
  if (before > 0)
    logger.warn({ droppedTotal: before }, 'recorder: exchanges dropped by earlier runs (not recorded)');
  let persisted = before;
  const total = () => before + (recorder()?.stats().dropped ?? 0);
  const persist = () => {
    const now = total();
    if (now === persisted) return true;
    try {
      writeCounter(db, droppedTotalKey, now);
      persisted = now;
      return true;
    } catch {
      return false;
    }
  };
  return {
    before,
    total,
    persist,
    report(droppedAtStop) {
      const stats = recorder()?.stats();
      if (!stats) return;
      const { dropped, written } = stats;
      const droppedTotal = before + dropped;
      const saved = persist();
      if (droppedAtStop > 0 || !saved) {
        logger.error(
          { droppedAtStop, dropped, droppedTotal, persisted: saved },
          'recorder: exchanges could not be written before shutdown (counted as dropped)',
        );
      }
      logger.info({ written, dropped, droppedTotal }, 'scimtap stopped');
    },
  };
}

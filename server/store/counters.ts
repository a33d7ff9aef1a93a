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

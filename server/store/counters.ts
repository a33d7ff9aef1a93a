import type { Db } from './db.js';

// Counts that must outlive the process (the `meta` table): a Prometheus counter resets at restart, so the
// exchanges a shutdown could not write would otherwise leave no trace once the process is gone.

export const droppedTotalKey = 'recorder.droppedTotal';

export function readCounter(db: Db, key: string): number {
  try {
    const value = db.$client.prepare('select value from meta where key = ?').pluck().get(key) as
      | string
      | undefined;
    const n = Number(value ?? 0);
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

/** Throws like any write (a full disk): the caller decides whether to log instead. */
export function writeCounter(db: Db, key: string, value: number): void {
  db.$client
    .prepare(
      'insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value',
    )
    .run(key, String(value));
}

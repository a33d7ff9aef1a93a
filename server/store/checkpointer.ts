import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

// SQLite's automatic WAL checkpoint runs inside whichever commit crosses the threshold, i.e. on the proxy's
// event loop, copying pages and fsyncing: a stall of milliseconds. A worker thread with its own connection to
// each app's database checkpoints instead (PASSIVE never waits for readers or writers, so one app's busy file
// does not hold up another's checkpoint), and the main connections stop auto-checkpointing. One thread serves
// every app of the process: a thread each cost an app about 10 MB and a thread for a pragma a second.
//
// Each file is checkpointed every intervalMs, or every 100 ms per file when there are more than ten: a checkpoint
// copies the latest copy of every page its WAL frames touched (index pages are rewritten by every commit) and
// syncs the file, so twenty apps checkpointed each second cost this thread more per request than one app's file
// (bench/apps.ts); every two seconds each, their WALs still stay a few MB.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const dbs = new Map();
const tickMs = Math.min(workerData.intervalMs, 100);
// Due times on the monotonic clock: a wall clock set back an hour would otherwise pause every checkpoint for an hour.
const timer = setInterval(() => {
  const now = performance.now();
  const everyMs = Math.max(workerData.intervalMs, dbs.size * 100);
  for (const [key, file] of dbs) {
    if (now < file.dueAt) continue;
    file.dueAt = now + everyMs;
    try { file.db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ key, error: String(err && err.message || err) }); }
  }
}, tickMs);
parentPort.on('message', (m) => {
  if (m.type === 'add') {
    // fileMustExist: the worker opens a moment after the main connection; if the file was deleted meanwhile, it
    // must not create an empty one in its place (scimtap would then take it for a replaced database).
    try {
      const db = new Database(m.path, { fileMustExist: true });
      db.pragma('busy_timeout = 1000');
      // Spread over the interval: files added together (at startup) are not all checkpointed in the same tick.
      dbs.set(m.key, { db, dueAt: performance.now() + workerData.intervalMs + (dbs.size % 10) * tickMs });
    } catch (err) {
      parentPort.postMessage({ key: m.key, error: String(err && err.message || err), failed: true });
    }
  } else if (m.type === 'remove') {
    const file = dbs.get(m.key);
    dbs.delete(m.key);
    if (file) { try { file.db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} file.db.close(); }
    parentPort.postMessage({ key: m.key, stopped: true });
  }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface Checkpointers {
  /** checkpoint `path` (opened as `db`) from the shared thread; `onError` hears of failed checkpoints */
  start(db: Db, path: string, options?: { onError?: (message: string) => void }): Checkpointer;
  /** ends the thread; call once every app's checkpointer has stopped */
  close(): Promise<void>;
}

type FromCheckpointer = { key: number; error?: string; failed?: boolean; stopped?: boolean };

interface Checkpointed {
  onError?: (message: string) => void;
  /** the thread is gone, or cannot open the file: SQLite's own checkpointing comes back */
  fallBack(): void;
  stopped?: () => void;
}

/** One thread that checkpoints every app's database each `intervalMs`; started with the first file. */
export function createCheckpointers({ intervalMs = 1_000 }: { intervalMs?: number } = {}): Checkpointers {
  const files = new Map<number, Checkpointed>();
  let nextKey = 1;
  let worker: Worker | undefined;
  let gone = false;
  const fallBackAll = () => {
    gone = true;
    for (const file of files.values()) {
      file.fallBack();
      file.stopped?.();
    }
  };
  const started = () => {
    if (worker) return worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(workerSource, { eval: true, workerData: { intervalMs, driver } });
    worker.unref();
    worker.on('error', (err) => {
      for (const file of files.values()) file.onError?.(err.message);
      fallBackAll();
    });
    worker.on('exit', fallBackAll);
    worker.on('message', (m: FromCheckpointer) => {
      const file = files.get(m.key);
      if (m.error) file?.onError?.(m.error);
      if (m.failed) file?.fallBack();
      if (m.stopped) file?.stopped?.();
    });
    return worker;
  };
  return {
    start(db, path, { onError } = {}) {
      if (path === ':memory:') return { stop: async () => {} };
      const thread = started();
      const key = nextKey++;
      // If the thread dies or cannot open the file, SQLite's own checkpointing keeps the WAL bounded.
      const fallBack = () => db.$client.open && db.$client.pragma('wal_autocheckpoint = 1000');
      const file: Checkpointed = { onError, fallBack };
      files.set(key, file);
      db.$client.pragma('wal_autocheckpoint = 0');
      if (gone) fallBack();
      else thread.postMessage({ type: 'add', key, path });
      let stopping: Promise<void> | undefined;
      return {
        stop() {
          stopping ??= new Promise<void>((resolve) => {
            file.stopped = resolve;
            if (gone) return resolve();
            thread.postMessage({ type: 'remove', key });
            setTimeout(resolve, 2_000).unref();
          }).then(() => {
            files.delete(key);
            fallBack();
          });
          return stopping;
        },
      };
    },
    async close() {
      gone = true;
      if (worker) await worker.terminate();
    },
  };
}

/** A checkpointer thread of its own for one database (a scimtap of one app started without the shared one). */
export function startCheckpointer(
  db: Db,
  path: string,
  options: { intervalMs?: number; onError?: (message: string) => void } = {},
): Checkpointer {
  const own = createCheckpointers({ intervalMs: options.intervalMs });
  const checkpointer = own.start(db, path, options);
  return { stop: () => checkpointer.stop().then(() => own.close()) };
}

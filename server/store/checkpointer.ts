import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

// SQLite's automatic WAL checkpoint runs inside whichever commit crosses the threshold, i.e. on the proxy's
// event loop, copying pages and fsyncing: a stall of milliseconds. A worker thread with its own connection
// checkpoints instead (PASSIVE never blocks the writer), and the main connection stops auto-checkpointing.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// fileMustExist: the worker starts a moment after the main connection; if the file was deleted meanwhile, it
// must not create an empty one in its place (scimtap would then take it for a replaced database).
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
    db.close();
    parentPort.postMessage({ stopped: true });
  }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(
  db: Db,
  path: string,
  { intervalMs = 1_000, onError }: { intervalMs?: number; onError?: (message: string) => void } = {},
): Checkpointer {
  if (path === ':memory:') return { stop: async () => {} };
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerSource, { eval: true, workerData: { path, intervalMs, driver } });
  worker.unref();
  db.$client.pragma('wal_autocheckpoint = 0');
  // If the worker dies, fall back to SQLite's own checkpointing so the WAL cannot grow without bound.
  const fallBack = () => db.$client.open && db.$client.pragma('wal_autocheckpoint = 1000');
  worker.on('error', (err) => {
    onError?.(err.message);
    fallBack();
  });
  worker.on('message', (m: { error?: string }) => {
    if (m.error) onError?.(m.error);
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => resolve();
        worker.once('exit', done);
        worker.on('message', (m: { stopped?: boolean }) => {
          if (m.stopped) void worker.terminate();
        });
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate(), 2_000).unref();
      }).then(() => {
        fallBack();
      });
      return stopped;
    },
  };
}

// The log writer's thread (issue 12 §1). The proxy's thread hands it exchanges in batches (log-thread.ts); here
// they are classified and inserted into `operations` and `bodies` by the same bounded, fail-open recorder that
// used to run on the proxy's thread: backoff on a failing disk, partial batches on a full one, drops counted.
// After each write it tells the proxy's thread, whose derivation consumer then reads the new rows.
import { statSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { classify } from '../scim/classify.js';
import type { ClassifyOptions, Exchange } from '../scim/types.js';
import { openDatabase } from './db.js';
import { createLogWriter } from './ingest.js';
import { TURN_FREE, TURN_MAIN, TURN_WORKER } from './log-thread.js';
import { createRecorder, type RecorderStats } from './recorder.js';

export interface LogWorkerData {
  dbPath: string;
  classify: ClassifyOptions;
  maxQueue?: number;
  walLimitBytes?: number;
  /** for synchronous calls: the worker sets [0] to 1 and notifies once its answer is on `reply` */
  signal: Int32Array;
  /** the write turn shared with the derivation consumer (log-thread.ts WriteTurn): TURN_* */
  lock: Int32Array;
  reply: MessagePort;
}

export type ToLogWorker =
  | { type: 'record'; exchanges: Exchange[] }
  | { type: 'flush' }
  | { type: 'stop'; deadlineMs: number }
  | { type: 'pragma'; statement: string };

export interface WorkerStats extends RecorderStats {
  /** exchanges received from the proxy's thread so far */
  received: number;
  lastId: number;
}

export type FromLogWorker =
  | { type: 'ready' }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'error'; message: string; code: string | null; retryable: boolean; stats: WorkerStats };

const data = workerData as LogWorkerData;
const port = parentPort!;
// This thread may wait for a lock: the proxy's does not wait on it. Longer than scimtap's other writers hold one
// (alert evaluation, pruning), short enough that another process holding the lock shows as failing at once.
const db = openDatabase(data.dbPath, { busyTimeoutMs: 100 });
if (data.walLimitBytes) db.$client.pragma(`journal_size_limit = ${data.walLimitBytes}`);
/**
 * Under a flood the WAL grows between two of the consumer's checkpoints: past its limit the writer truncates it
 * itself, holding the turn (no other writer), as the storage guard does (storage.ts).
 */
function truncateWal(): void {
  if (!data.walLimitBytes || walSize() <= data.walLimitBytes) return;
  try {
    db.$client.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // A reader holds it up: the next batch or the storage guard tries again.
  }
}
const walSize = () => {
  try {
    return statSync(`${data.dbPath}-wal`).size;
  } catch {
    return 0;
  }
};
const write = createLogWriter({ db, classify: (e) => classify(e, data.classify) });
let received = 0;
let lastId = 0;
let reportDue = false;
const stats = (): WorkerStats => ({ ...recorder.stats(), received, lastId });
// One report per turn of the event loop, after the recorder has counted what it wrote.
const report = () => {
  if (reportDue) return;
  reportDue = true;
  setImmediate(() => {
    reportDue = false;
    port.postMessage({ type: 'stats', stats: stats() } satisfies FromLogWorker);
  });
};
const recorder = createRecorder({
  write(batch) {
    // Wait for the consumer's turn to end (one derivation batch), then hold ours for the transaction.
    while (Atomics.compareExchange(data.lock, 0, TURN_FREE, TURN_WORKER) !== TURN_FREE) {
      Atomics.wait(data.lock, 0, TURN_MAIN, 50);
    }
    try {
      const id = write(batch);
      if (id) lastId = id;
      truncateWal();
    } finally {
      Atomics.store(data.lock, 0, TURN_FREE);
      Atomics.notify(data.lock, 0);
    }
    report();
  },
  maxQueue: data.maxQueue,
  // Short transactions: scimtap's other writers (alert evaluation, pruning) wait at most 10 ms for one.
  maxBatch: 250,
  onError(err, retryable) {
    const code = (err as { code?: unknown })?.code;
    port.postMessage({
      type: 'error',
      message: (err as Error)?.message ?? String(err),
      code: typeof code === 'string' ? code : null,
      retryable,
      stats: stats(),
    } satisfies FromLogWorker);
    report();
  },
});
recorder.start();
port.postMessage({ type: 'ready' } satisfies FromLogWorker);

/** Answer a synchronous call: the proxy's thread is blocked in Atomics.wait until the signal flips. */
function answer(value: unknown): void {
  data.reply.postMessage(value);
  Atomics.store(data.signal, 0, 1);
  Atomics.notify(data.signal, 0);
}

// Buffers cross threads as plain Uint8Arrays; classification reads them as Buffers.
const asBuffer = (b: Uint8Array | null) =>
  b === null || Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

port.on('message', (message: ToLogWorker) => {
  switch (message.type) {
    case 'record':
      for (const exchange of message.exchanges) {
        exchange.requestBody = asBuffer(exchange.requestBody);
        exchange.responseBody = asBuffer(exchange.responseBody);
        received++;
        recorder.record(exchange);
      }
      return;
    case 'flush':
      recorder.flush();
      answer(stats());
      return;
    case 'pragma':
      answer(db.$client.pragma(message.statement, { simple: true }));
      return;
    case 'stop': {
      const dropped = recorder.stop({ deadlineMs: message.deadlineMs });
      const final = stats();
      db.$client.close();
      answer({ dropped, stats: final });
      port.close();
      return;
    }
  }
});

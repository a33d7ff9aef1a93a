// The log writer's thread (issue 12 §1, §2). The proxy's thread hands it exchanges in batches (log-thread.ts);
// here they are classified and written by the same bounded, fail-open recorder that used to run on the proxy's
// thread (backoff on a failing disk, partial batches on a full one, drops counted), and derived: the clients,
// cycles and search-terms stages run here, in the log write's transaction while derivation is caught up, or from
// the cursor when it is behind. What the proxy's thread still needs of each operation (metrics, the upstream's
// state, detection) goes back to it as DerivedOperation rows, on the events port, after the commit.
import { statSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createClientStage } from '../cycles/clients.js';
import { type CycleConfig, createCycleStage } from '../cycles/index.js';
import { classify } from '../scim/classify.js';
import type { ClassifyOptions, Exchange } from '../scim/types.js';
import { startConsumer } from './consumer.js';
import { openDatabase } from './db.js';
import { createDerivation } from './derivation.js';
import { createLogWriter, type DerivedOperation, type IngestStage } from './ingest.js';
import { LockWord, TURN_WORKER, writeTurn } from './log-thread.js';
import { createRecorder, type RecorderStats } from './recorder.js';
import { createTermsStage } from './terms.js';

export interface LogWorkerData {
  dbPath: string;
  classify: ClassifyOptions;
  cycles: CycleConfig;
  maxQueue?: number;
  walLimitBytes?: number;
  /** for synchronous calls: the worker sets [0] to 1 and notifies once its answer is on `reply` */
  signal: Int32Array;
  /** [LockWord.turn]: the write turn shared with the proxy's thread (WriteTurn); [LockWord.reload]: see reload() */
  lock: Int32Array;
  reply: MessagePort;
  /** everything the worker tells the proxy's thread (FromLogWorker), in order */
  events: MessagePort;
}

export type ToLogWorker =
  | { type: 'record'; exchanges: Exchange[] }
  | { type: 'flush' }
  | { type: 'stop'; deadlineMs: number }
  | { type: 'closeStale'; now: number }
  | { type: 'pragma'; statement: string };

export interface WorkerStats extends RecorderStats {
  /** exchanges received from the proxy's thread so far */
  received: number;
}

export type FromLogWorker =
  | { type: 'ready' }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'derived'; ops: DerivedOperation[] }
  | { type: 'derivationError'; message: string }
  | { type: 'error'; message: string; code: string | null; retryable: boolean; stats: WorkerStats };

const data = workerData as LogWorkerData;
const port = data.events;
// The proxy's thread talks to us on the worker's own port; we answer on `events` (which it can also drain
// synchronously after a flush) and on `reply`.
const inbox = parentPort!;
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
/** Past this many exchanges waiting, batches are written to the log only: the log first, derivation after. */
const deriveInlineBelow = 2_000;
// Waits for the proxy thread's turn (pruning, alert evaluation) to end.
const turn = writeTurn(data.lock, TURN_WORKER);
const clients = createClientStage({ db });
const cycles = createCycleStage({ db, config: data.cycles });
const relay: IngestStage = {
  afterCommit(ops) {
    port.postMessage({ type: 'derived', ops } satisfies FromLogWorker);
  },
};
const derivation = createDerivation({ db, stages: [clients, cycles, createTermsStage(db), relay] });
const consumer = startConsumer({
  derivation,
  turn,
  // A burst: the queue is over the threshold at which the writer logs alone. Deriving between its writes would
  // spend on this thread what logging alone saves; derivation waits for the queue to come down.
  busy: () => recorder.stats().queued >= deriveInlineBelow,
  onError: (err) =>
    port.postMessage({
      type: 'derivationError',
      message: (err as Error)?.message ?? String(err),
    } satisfies FromLogWorker),
});
/**
 * The proxy's thread pruned rows the cycles stage caches (storage budget): it bumps the reload word while it
 * holds the turn, and the next write here reloads the stages first.
 */
let reloadSeen = Atomics.load(data.lock, LockWord.reload);
function reloadIfPruned(): void {
  const now = Atomics.load(data.lock, LockWord.reload);
  if (now === reloadSeen) return;
  reloadSeen = now;
  clients.onRollback();
  cycles.onRollback();
}
const write = createLogWriter({ db, classify: (e) => classify(e, data.classify), derivation });
let received = 0;
let reportDue = false;
const stats = (): WorkerStats => ({ ...recorder.stats(), received });
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
    turn.acquire();
    let derived: boolean;
    try {
      reloadIfPruned();
      derived = write(batch, { derive: recorder.stats().queued < deriveInlineBelow }).derived;
      truncateWal();
    } finally {
      turn.release();
    }
    // Logged only (a burst, or derivation behind): the consumer catches up between the writes, once the burst
    // is over (its `busy`).
    if (!derived) consumer.kick();
    report();
  },
  maxQueue: data.maxQueue,
  // Short transactions: scimtap's other writers (alert evaluation, pruning) wait for one to end.
  maxBatch: 100,
  // A transaction costs about the same for 1 row as for 20: at an app's light load (one app among many, or
  // Entra's 25 req/s) waiting 100 ms gathers its exchanges into one. Under load a tick finds a full batch and
  // the rest follow turn by turn, so throughput is not capped; what is recorded shows up to 100 ms later.
  flushIntervalMs: 100,
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
consumer.start();
port.postMessage({ type: 'ready' } satisfies FromLogWorker);

/** Derive what is behind, now (flush and stop): "written" then also means "derived". */
function drainDerivation(): void {
  try {
    consumer.drain();
  } catch {
    // Reported by the consumer's onError; the next start resumes from the cursor.
  }
}

/** Answer a synchronous call: the proxy's thread is blocked in Atomics.wait until the signal flips. */
function answer(value: unknown): void {
  data.reply.postMessage(value);
  Atomics.store(data.signal, 0, 1);
  Atomics.notify(data.signal, 0);
}

// Buffers cross threads as plain Uint8Arrays; classification reads them as Buffers.
const asBuffer = (b: Uint8Array | null) =>
  b === null || Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

inbox.on('message', (message: ToLogWorker) => {
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
      drainDerivation();
      answer(stats());
      return;
    case 'closeStale':
      // A cycle closes after a silence, which no operation brings: the proxy's thread's job asks.
      turn.acquire();
      try {
        reloadIfPruned();
        cycles.closeStale(message.now);
      } catch (err) {
        port.postMessage({
          type: 'derivationError',
          message: (err as Error)?.message ?? String(err),
        } satisfies FromLogWorker);
      } finally {
        turn.release();
      }
      return;
    case 'pragma':
      answer(db.$client.pragma(message.statement, { simple: true }));
      return;
    case 'stop': {
      const dropped = recorder.stop({ deadlineMs: message.deadlineMs });
      consumer.stop();
      drainDerivation();
      const final = stats();
      db.$client.close();
      answer({ dropped, stats: final });
      port.close();
      inbox.close();
      return;
    }
  }
});

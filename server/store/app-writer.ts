// One app's log writer, on the log writer thread (log-worker.ts), which holds one of these per app (issue 14: the
// apps share the thread). The proxy's thread hands it exchanges in batches (log-thread.ts); here they are
// classified and written by the same bounded, fail-open recorder that used to run on the proxy's thread (backoff
// on a failing disk, partial batches on a full one, drops counted), and derived: the clients, cycles and
// search-terms stages run here, in the log write's transaction while derivation is caught up, or from the cursor
// when it is behind. What the proxy's thread still needs of each operation (metrics, the upstream's state,
// detection) goes back to it as DerivedOperation rows, on the app's events port, after the commit.
import { statSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { createClientStage } from '../cycles/clients.js';
import { type CycleConfig, createCycleStage } from '../cycles/index.js';
import { classify } from '../scim/classify.js';
import type { ClassifyOptions, Exchange } from '../scim/types.js';
import { createBurst } from './burst.js';
import { startConsumer } from './consumer.js';
import { type Db, openDatabase } from './db.js';
import { createDerivation } from './derivation.js';
import { createLogWriter, type DerivedOperation, type IngestStage } from './ingest.js';
import { LockWord, TURN_WORKER, writeTurn } from './log-thread.js';
import { createRecorder, type RecorderStats } from './recorder.js';
import { createTermsStage } from './terms.js';

/** What the proxy's thread sends to open one app's writer on the log writer thread. */
export interface AppWriterData {
  dbPath: string;
  classify: ClassifyOptions;
  cycles: CycleConfig;
  maxQueue?: number;
  walLimitBytes?: number;
  /**
   * Past this many bytes of pages in use, a burst is written through instead of logged first: rows waiting in
   * pending_operations cannot be pruned, so near the storage budget the log goes where the pruning can reach it.
   */
  burstRoomBytes?: number;
  /** [LockWord.turn]: the write turn shared with the proxy's thread (WriteTurn); [LockWord.reload]: see reload() */
  lock: Int32Array;
  /** everything this app's writer tells the proxy's thread (FromLogWorker), in order */
  events: MessagePort;
}

export interface WorkerStats extends RecorderStats {
  /** exchanges received from the proxy's thread so far */
  received: number;
}

export type FromLogWorker =
  | { type: 'ready' }
  /** the app's writer could not open (its database): the app records nothing, and counts drops */
  | { type: 'failed'; message: string }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'derived'; ops: DerivedOperation[] }
  | { type: 'derivationError'; message: string }
  | { type: 'error'; message: string; code: string | null; retryable: boolean; stats: WorkerStats };

export interface AppWriter {
  record(exchange: Exchange): void;
  /** write what waits and derive what is behind: "written" then also means "derived" */
  flush(): WorkerStats;
  closeStale(now: number): void;
  pragma(statement: string): unknown;
  /** stop within `deadlineMs`, close the database; returns what could not be written in time */
  stop(deadlineMs: number): { dropped: number; stats: WorkerStats };
}

/** Past this many exchanges waiting, batches go to pending_operations (pending.ts): the log first, derivation after. */
const deriveInlineBelow = 2_000;

/** Opens the app's database and starts its recorder and derivation consumer. Throws when the database cannot open. */
export function openAppWriter(data: AppWriterData): AppWriter {
  const port = data.events;
  const tell = (message: FromLogWorker) => port.postMessage(message);
  // This thread may wait for a lock: the proxy's does not wait on it. Longer than scimtap's other writers hold one
  // (alert evaluation, pruning), short enough that another process holding the lock shows as failing at once.
  const db = openDatabase(data.dbPath, { busyTimeoutMs: 100 });
  if (data.walLimitBytes) db.$client.pragma(`journal_size_limit = ${data.walLimitBytes}`);
  const truncateWal = walTruncator(db, data);
  // Waits for the proxy thread's turn (pruning, alert evaluation) to end.
  const turn = writeTurn(data.lock, TURN_WORKER);
  const { derivation, reloadIfPruned, closeStale } = derivationOf(db, data, tell);
  const derivationError = (err: unknown) =>
    tell({ type: 'derivationError', message: (err as Error)?.message ?? String(err) });
  // Log first, derive after: during a burst (burst.ts), or with a backlog over the threshold at which the writer
  // logs alone. Deriving between its writes would spend on this thread what logging alone saves.
  const burst = createBurst();
  const room = roomForBurst(db, data.burstRoomBytes);
  const logFirst = () =>
    (recorder.stats().queued >= deriveInlineBelow || burst.active(performance.now())) && room();
  // Every transaction on this thread, under the write turn: the stages reload after a prune first (no row may name
  // a pruned identity), and the WAL is truncated past its limit after (a catch-up writes as much as the burst did).
  const transact = <T>(f: () => T): T => {
    reloadIfPruned();
    const result = f();
    truncateWal();
    return result;
  };
  const catchUp = {
    ...derivation,
    step: (options?: { wait?: boolean }) => transact(() => derivation.step(options)),
  };
  const consumer = startConsumer({ derivation: catchUp, turn, busy: logFirst, onError: derivationError });
  const write = createLogWriter({ db, classify: (e) => classify(e, data.classify), derivation });
  let received = 0;
  const stats = (): WorkerStats => ({ ...recorder.stats(), received });
  const report = reporter(() => tell({ type: 'stats', stats: stats() }));
  const recorder = createRecorder({
    write(batch) {
      turn.acquire();
      let derived: boolean;
      try {
        derived = transact(() => write(batch, { derive: !logFirst() }).derived);
      } finally {
        turn.release();
      }
      // Logged first (a burst, or derivation behind): the consumer catches up between the writes, once the burst
      // is over (its `busy`).
      if (!derived) consumer.kick();
      report();
    },
    maxQueue: data.maxQueue,
    // Short transactions: scimtap's other writers (alert evaluation, pruning) wait for one to end.
    maxBatch: 100,
    // A commit costs about 0.7 ms whatever its size (the WAL frames of every index page it touches), against
    // about 0.1 ms a row. A full batch is written as soon as it fills; a partial one waits up to 500 ms for more,
    // so at an app's light load (one app among many, or Entra's 25 req/s) its exchanges gather into one commit.
    // With 20 apps sharing 5,000 req/s (250 req/s each), writing what had come every 100 ms left batches of 25
    // rows, and commits cost a third more CPU per request than one app's full batches (bench/apps.ts). What is
    // recorded shows up to 500 ms later, which nobody reading a 40-minute provisioning cycle notices.
    flushIntervalMs: 500,
    onError(err, retryable) {
      const code = (err as { code?: unknown })?.code;
      const message = (err as Error)?.message ?? String(err);
      tell({
        type: 'error',
        message,
        code: typeof code === 'string' ? code : null,
        retryable,
        stats: stats(),
      });
      report();
    },
  });
  recorder.start();
  consumer.start();

  /** Derive what is behind, now (flush and stop). */
  const drainDerivation = () => {
    try {
      consumer.drain();
    } catch {
      // Reported by the consumer's onError; the next start resumes from the cursor.
    }
  };
  return {
    record(exchange) {
      received++;
      burst.note(performance.now());
      recorder.record(exchange);
    },
    flush() {
      recorder.flush();
      drainDerivation();
      return stats();
    },
    closeStale(now) {
      // A cycle closes after a silence, which no operation brings: the proxy's thread's job asks.
      turn.acquire();
      try {
        transact(() => closeStale(now));
      } catch (err) {
        derivationError(err);
      } finally {
        turn.release();
      }
    },
    pragma: (statement) => db.$client.pragma(statement, { simple: true }),
    stop(deadlineMs) {
      const dropped = recorder.stop({ deadlineMs });
      consumer.stop();
      drainDerivation();
      const final = stats();
      db.$client.close();
      port.close();
      return { dropped, stats: final };
    },
  };
}

/**
 * The stages this thread derives with, and their reload: the proxy's thread pruned rows the cycles stage caches
 * (storage budget), bumping the reload word while it holds the turn, and the next write here reloads first.
 */
function derivationOf(db: Db, data: AppWriterData, tell: (message: FromLogWorker) => void) {
  const clients = createClientStage({ db });
  const cycles = createCycleStage({ db, config: data.cycles });
  const relay: IngestStage = {
    afterCommit(ops) {
      tell({ type: 'derived', ops });
    },
  };
  const derivation = createDerivation({ db, stages: [clients, cycles, createTermsStage(db), relay] });
  let reloadSeen = Atomics.load(data.lock, LockWord.reload);
  function reloadIfPruned(): void {
    const now = Atomics.load(data.lock, LockWord.reload);
    if (now === reloadSeen) return;
    reloadSeen = now;
    clients.onRollback();
    cycles.onRollback();
  }
  return { derivation, reloadIfPruned, closeStale: (now: number) => cycles.closeStale(now) };
}

/** Whether the file's pages in use leave room for a burst logged first (AppWriterData.burstRoomBytes). */
function roomForBurst(db: Db, roomBytes: number | undefined): () => boolean {
  if (roomBytes === undefined) return () => true;
  if (roomBytes <= 0) return () => false;
  const sqlite = db.$client;
  const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
  const pages = sqlite
    .prepare('select page_count - freelist_count from pragma_page_count, pragma_freelist_count')
    .pluck();
  return () => Number(pages.get()) * pageSize < roomBytes;
}

/**
 * Under a flood the WAL grows between two of the consumer's checkpoints: past its limit the writer truncates it
 * itself, holding the turn (no other writer), as the storage guard does (storage.ts).
 */
function walTruncator(db: Db, { dbPath, walLimitBytes }: AppWriterData): () => void {
  const walSize = () => {
    try {
      return statSync(`${dbPath}-wal`).size;
    } catch {
      return 0;
    }
  };
  return () => {
    if (!walLimitBytes || walSize() <= walLimitBytes) return;
    try {
      db.$client.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A reader holds it up: the next batch or the storage guard tries again.
    }
  };
}

/** One report per turn of the event loop, after the recorder has counted what it wrote. */
function reporter(send: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    setImmediate(() => {
      due = false;
      send();
    });
  };
}

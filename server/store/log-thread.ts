import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { CycleConfig } from '../cycles/index.js';
import { isOwnBody } from '../proxy/tap.js';
import type { ClassifyOptions, Exchange } from '../scim/types.js';
import type { DerivedOperation } from './ingest.js';
import type { FromLogWorker, LogWorkerData, ToLogWorker, WorkerStats } from './log-worker.js';
import { idleRecorderStats, type Recorder, type RecorderStats } from './recorder.js';

// The proxy's side of the log writer thread (issue 12 §1, §2). Recording on the proxy's thread is a push onto an
// array; every few milliseconds the array is handed to the worker in one message. Classification, the insert,
// every retry, and the derivation of cycles, identities, clients and search terms happen there; what comes back
// is one DerivedOperation per row for the stages that live on this thread (metrics, detection). Bounded and
// fail-open like the recorder it replaces: past `maxQueue` exchanges not yet written, new ones are dropped and
// counted, and a dead worker costs drops, never a stalled request.

// The write turn's states (a shared Int32): free, the log writer's, the consumer's.
export const TURN_FREE = 0;
export const TURN_WORKER = 1;
export const TURN_MAIN = 2;
/** The words of the shared lock array. */
export const LockWord = { turn: 0, reload: 1 } as const;

/**
 * Who writes now, between the log writer thread and the derivation consumer: two connections to one SQLite file
 * would otherwise meet in SQLite's lock, where the proxy's thread would wait out a busy timeout (better-sqlite3 is
 * synchronous) and the writer would count its retries as a failing disk.
 */
export interface WriteTurn {
  /** take the turn if free; never waits (the consumer on the proxy's thread) */
  tryAcquire(): boolean;
  /** take the turn, waiting for the writer's transaction to end (flush and shutdown only) */
  acquire(): void;
  release(): void;
}

/**
 * One side's hold on the write turn in `lock`: `mine` is TURN_MAIN on the proxy's thread, TURN_WORKER on the log
 * writer's. Acquiring waits (Atomics.wait, in slices) while the other side holds it.
 */
export function writeTurn(lock: Int32Array, mine: typeof TURN_MAIN | typeof TURN_WORKER): WriteTurn {
  const theirs = mine === TURN_MAIN ? TURN_WORKER : TURN_MAIN;
  const T = LockWord.turn;
  const take = () => Atomics.compareExchange(lock, T, TURN_FREE, mine) === TURN_FREE;
  return {
    tryAcquire: take,
    acquire() {
      while (!take()) Atomics.wait(lock, T, theirs, 50);
    },
    release() {
      Atomics.store(lock, T, TURN_FREE);
      Atomics.notify(lock, T);
    },
  };
}

export interface LogThread extends Recorder {
  turn: WriteTurn;
  /** close the running cycle after a silence (cycles/jobs.ts), on the worker, which owns the cycles stage */
  closeStale(now: number): void;
  /**
   * Rows the worker's stages cache were deleted (storage-budget pruning): they reload before the next write.
   * Call while holding the turn, so no write runs in between.
   */
  reload(): void;
  /** runs a pragma on the worker's connection (the disk-full test caps max_page_count there) */
  pragma(statement: string): unknown;
  /** resolves once the worker has opened the database and takes exchanges (rejects if it cannot start) */
  ready: Promise<void>;
  /** ends the worker; call after stop() */
  close(): Promise<void>;
}

export interface LogThreadOptions {
  dbPath: string;
  classify: ClassifyOptions;
  cycles: CycleConfig;
  maxQueue?: number;
  /**
   * journal_size_limit for the worker's connection (storage.ts budgetPlan): the WAL is truncated to it by
   * whichever connection resets it after a checkpoint, and the log writer is the one that writes most.
   */
  walLimitBytes?: number;
  /** how often pending exchanges are handed over */
  handoffMs?: number;
  clock?: () => number;
  /** rows derived and committed, for the stages on this thread, in log order */
  onDerived?(ops: DerivedOperation[]): void;
  onError?(err: Error & { code?: string | null }, retryable: boolean): void;
  /** derivation failed on the worker (it retries from its cursor) */
  onDerivationError?(message: string): void;
}

/** Handed over at once past this many, so one message never carries an unbounded backlog. */
const handoffBatch = 512;
/** A synchronous call (flush) waits at most this long for the worker. */
const syncTimeoutMs = 15_000;

export function startLogThread(options: LogThreadOptions): LogThread {
  const { maxQueue = 100_000, handoffMs = 10, clock = Date.now } = options;
  const { worker, signal, lock, reply, events } = openWorker(options, maxQueue, onDeath);
  const turn = writeTurn(lock, TURN_MAIN);

  let pending: Exchange[] = [];
  /** exchanges posted to the worker; the worker reports how many it has received */
  let posted = 0;
  let dropped = 0;
  let lastDropAt: number | null = null;
  let stopped = false;
  let dead: string | null = null;
  let w: WorkerStats = { ...idleRecorderStats(), received: 0 };
  const backlog = () => pending.length + (posted - w.received) + w.queued;

  const { promise: ready, resolve: started, reject: failedToStart } = deferred();
  const drainEvents = listen(events, options, started, (stats) => {
    w = stats;
  });
  function onDeath(reason: string): void {
    dead ??= reason;
    // A thread that ended mid-write holds the turn forever otherwise.
    turn.release();
    failedToStart(new Error(reason));
    clearInterval(timer);
  }

  function handOff(): void {
    if (pending.length === 0 || dead) return;
    const exchanges = pending;
    pending = [];
    posted += exchanges.length;
    const transfer = ownBodies(exchanges);
    worker.postMessage({ type: 'record', exchanges } satisfies ToLogWorker, transfer);
  }
  const timer = setInterval(handOff, handoffMs);
  timer.unref();

  /** Post a message and block until the worker answers on the reply port (or `timeoutMs` passes). */
  function call(message: ToLogWorker, timeoutMs = syncTimeoutMs): unknown {
    if (dead) return undefined;
    handOff();
    Atomics.store(signal, 0, 0);
    worker.postMessage(message);
    if (Atomics.wait(signal, 0, 0, timeoutMs) === 'timed-out') return undefined;
    drainEvents();
    return receiveMessageOnPort(reply)?.message;
  }

  return {
    record(exchange) {
      // O(1): the count of what is in flight is kept, never recomputed.
      if (stopped || dead || backlog() >= maxQueue) {
        dropped++;
        lastDropAt = clock();
        return;
      }
      pending.push(exchange);
      if (pending.length >= handoffBatch) handOff();
    },
    flush() {
      const answer = call({ type: 'flush' }) as WorkerStats | undefined;
      if (answer) w = answer;
    },
    closeStale(now) {
      if (!dead) worker.postMessage({ type: 'closeStale', now } satisfies ToLogWorker);
    },
    reload() {
      Atomics.add(lock, LockWord.reload, 1);
    },
    stats: () => recorderStats(w, backlog(), dropped, lastDropAt, dead),
    start() {},
    stop({ deadlineMs = 5_000 } = {}) {
      if (stopped) return 0;
      stopped = true;
      clearInterval(timer);
      const answer = call({ type: 'stop', deadlineMs }, deadlineMs + 5_000) as
        | { dropped: number; stats: WorkerStats }
        | undefined;
      if (answer) {
        w = answer.stats;
        return answer.dropped;
      }
      // The worker is gone or did not answer in time: whatever it had not confirmed is lost, and counted.
      const lost = backlog();
      dropped += lost;
      pending = [];
      posted = w.received;
      w = { ...w, queued: 0 };
      if (lost > 0) lastDropAt = clock();
      return lost;
    },
    pragma: (statement) => call({ type: 'pragma', statement }),
    turn,
    ready,
    async close() {
      clearInterval(timer);
      await worker.terminate();
      turn.release();
    },
  };
}

/**
 * The worker, started on `options`' database, and this side's ends of what it shares with it. `onDeath` hears of
 * its end, whatever the cause.
 */
function openWorker(options: LogThreadOptions, maxQueue: number, onDeath: (reason: string) => void) {
  const { dbPath, classify, cycles, walLimitBytes } = options;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const lock = new Int32Array(new SharedArrayBuffer(8));
  const { port1: reply, port2: workerReply } = new MessageChannel();
  const { port1: events, port2: workerEvents } = new MessageChannel();
  const data: LogWorkerData = {
    dbPath,
    classify,
    cycles,
    maxQueue,
    walLimitBytes,
    signal,
    lock,
    reply: workerReply,
    events: workerEvents,
  };
  const worker = spawnWorker(data, [workerReply, workerEvents]);
  worker.unref();
  worker.on('error', (err) => {
    onDeath(err.message);
    options.onError?.(err, false);
  });
  worker.on('exit', (code) => onDeath(`the log writer thread exited (${code})`));
  return { worker, signal, lock, reply, events };
}

/** A promise and the functions that settle it (Promise.withResolvers, which Node 20 lacks). */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve: () => void = () => {};
  let reject: (err: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Hands what the worker says on `events` to the callbacks. One port for everything the worker says, in the order it
 * said it: the rows of a batch arrive before the counts that include it, so whoever sees `written` move finds
 * detection and metrics fed too. Returns the drain to run after a synchronous call: it takes what the worker
 * said before answering, now, in order.
 */
function listen(
  events: MessagePort,
  { onDerived, onDerivationError, onError }: LogThreadOptions,
  started: () => void,
  setStats: (stats: WorkerStats) => void,
): () => void {
  const onEvent = (message: FromLogWorker): void => {
    switch (message.type) {
      case 'ready':
        started();
        break;
      case 'derived':
        onDerived?.(message.ops);
        break;
      case 'derivationError':
        onDerivationError?.(message.message);
        break;
      case 'error':
        setStats(message.stats);
        onError?.(Object.assign(new Error(message.message), { code: message.code }), message.retryable);
        break;
      case 'stats':
        setStats(message.stats);
    }
  };
  events.on('message', onEvent);
  events.unref();
  return () => {
    for (let m = receiveMessageOnPort(events); m; m = receiveMessageOnPort(events)) onEvent(m.message);
  };
}

/** The recorder's stats: the worker's last report, and what this side dropped or saw die. */
function recorderStats(
  w: WorkerStats,
  queued: number,
  dropped: number,
  lastDropAt: number | null,
  dead: string | null,
): RecorderStats {
  const failing = w.failing || dead !== null;
  return {
    queued,
    written: w.written,
    dropped: dropped + w.dropped,
    writeErrors: w.writeErrors,
    failing,
    lastError: dead ?? w.lastError,
    lastErrorAt: w.lastErrorAt,
    lastDropAt: Math.max(lastDropAt ?? 0, w.lastDropAt ?? 0) || null,
  };
}

/**
 * A captured body is usually a view into a larger shared buffer (a socket read, Buffer's 8 KB pool), and a
 * message copies a view's whole buffer. Each body gets a buffer of its own size, moved, not copied: returns the
 * buffers to transfer.
 */
function ownBodies(exchanges: Exchange[]): ArrayBuffer[] {
  const transfer: ArrayBuffer[] = [];
  for (const e of exchanges) {
    e.requestBody = own(e.requestBody, transfer);
    e.responseBody = own(e.responseBody, transfer);
  }
  return transfer;
}

/** The bytes of `body` in an ArrayBuffer of their own, listed in `transfer` (Buffer on this side, bytes there). */
function own(body: Buffer | null, transfer: ArrayBuffer[]): Buffer | null {
  if (body === null) return null;
  // A body the proxy's tap joined from several chunks is already alone in its buffer: moved, not copied twice.
  if (isOwnBody(body)) {
    transfer.push(body.buffer as ArrayBuffer);
    return body;
  }
  const copy = new Uint8Array(body.byteLength);
  copy.set(body);
  transfer.push(copy.buffer);
  return copy as Buffer;
}

/**
 * The worker runs the compiled log-worker.js beside this file when running the build (dist/). From the
 * TypeScript sources (vitest, `npm run dev`, the benchmarks) it registers tsx in the new thread first: on Node 20
 * a worker does not inherit the loader hooks of its parent, nor accept `--import` in its execArgv.
 */
function spawnWorker(workerData: LogWorkerData, transferList: MessagePort[]): Worker {
  const js = new URL('./log-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, transferList });
  const ts = new URL('./log-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData, transferList });
}

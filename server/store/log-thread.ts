import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { CycleConfig } from '../cycles/index.js';
import type { ClassifyOptions, Exchange } from '../scim/types.js';
import type { FromLogWorker, WorkerStats } from './app-writer.js';
import type { DerivedOperation } from './ingest.js';
import { createLogHost, type HostedApp, handoffBatch, type LogHost } from './log-host.js';
import type { ToLogWorker } from './log-worker.js';
import { idleRecorderStats, type Recorder, type RecorderStats } from './recorder.js';

// One app's side of the log writer thread (issue 12 §1, §2), which all apps share (log-host.ts). Recording on the
// proxy's thread is a push onto an array; every few milliseconds the apps' arrays go to the worker in one message. Classification, the insert,
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
  /** see AppWriterData.burstRoomBytes */
  burstRoomBytes?: number;
  /** the thread shared by every app of the process; without it, this app gets a thread of its own */
  host?: LogHost;
  clock?: () => number;
  /** rows derived and committed, for the stages on this thread, in log order */
  onDerived?(ops: DerivedOperation[]): void;
  onError?(err: Error & { code?: string | null }, retryable: boolean): void;
  /** derivation failed on the worker (it retries from its cursor) */
  onDerivationError?(message: string): void;
}

/** A synchronous call (flush) waits at most this long for the worker. */
const syncTimeoutMs = 15_000;

export function startLogThread(options: LogThreadOptions): LogThread {
  const { maxQueue = 100_000, clock = Date.now } = options;
  const ownHost = !options.host;
  const host = options.host ?? createLogHost();
  const lock = new Int32Array(new SharedArrayBuffer(8));
  const turn = writeTurn(lock, TURN_MAIN);
  const { port1: events, port2: workerEvents } = new MessageChannel();

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
  function onDeath(reason: string): void {
    dead ??= reason;
    // A thread that ended mid-write holds the turn forever otherwise.
    turn.release();
    failedToStart(new Error(reason));
  }
  const drainEvents = listen(events, options, started, onDeath, (stats) => {
    w = stats;
  });
  const key = openOnHost(host, { ...options, maxQueue }, lock, workerEvents, {
    take() {
      if (pending.length === 0 || dead) return null;
      const exchanges = pending;
      pending = [];
      posted += exchanges.length;
      return exchanges;
    },
    died(reason) {
      onDeath(reason);
      options.onError?.(new Error(reason), false);
    },
  });
  /** Post a message and block until the worker answers it (or `timeoutMs` passes). */
  const call = (build: (seq: number) => ToLogWorker, timeoutMs = syncTimeoutMs) =>
    dead ? undefined : host.call(build, timeoutMs, drainEvents);

  return {
    record(exchange) {
      // O(1): the count of what is in flight is kept, never recomputed.
      if (stopped || dead || backlog() >= maxQueue) {
        dropped++;
        lastDropAt = clock();
        return;
      }
      pending.push(exchange);
      if (pending.length >= handoffBatch) host.handOff();
    },
    flush() {
      const answer = call((seq) => ({ type: 'flush', key, seq })) as WorkerStats | undefined;
      if (answer) w = answer;
    },
    closeStale(now) {
      if (!dead) host.post({ type: 'closeStale', key, now });
    },
    reload() {
      Atomics.add(lock, LockWord.reload, 1);
    },
    stats: () => recorderStats(w, backlog(), dropped, lastDropAt, dead),
    start() {},
    stop({ deadlineMs = 5_000 } = {}) {
      if (stopped) return 0;
      stopped = true;
      const answer = call((seq) => ({ type: 'stop', key, deadlineMs, seq }), deadlineMs + 5_000) as
        | { dropped: number; stats: WorkerStats }
        | undefined;
      host.detach(key);
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
    pragma: (statement) => call((seq) => ({ type: 'pragma', key, statement, seq })),
    turn,
    ready,
    async close() {
      host.detach(key);
      events.close();
      if (ownHost) await host.close();
      turn.release();
    },
  };
}

/** Registers the app with the host and asks the thread to open its writer: returns the app's key. */
function openOnHost(
  host: LogHost,
  { dbPath, classify, cycles, maxQueue, walLimitBytes, burstRoomBytes }: LogThreadOptions,
  lock: Int32Array,
  events: MessagePort,
  app: HostedApp,
): number {
  const key = host.attach(app);
  host.post(
    {
      type: 'open',
      key,
      data: { dbPath, classify, cycles, maxQueue, walLimitBytes, burstRoomBytes, lock, events },
    },
    [events],
  );
  return key;
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
 * Rows of a `derived` message handed to this thread's stages per turn of the event loop. A partial batch holds up
 * to 500 ms of traffic (150 rows at 300 req/s), and metrics and detection over all of it at once held the proxy's
 * thread for milliseconds, in front of whichever request came next (the p99 of bench/proxy.ts).
 */
export const derivedSlice = 32;

/**
 * Hands what the worker says on `events` to the callbacks. One port for everything the app's writer says, in the
 * order it said it: the rows of a batch arrive before the counts that include it, so whoever sees `written` move
 * finds detection and metrics fed too. Events wait in one queue, in that order; the rows go to `onDerived`
 * `derivedSlice` at a time, one slice per turn of the event loop, so requests are served in between. Returns the
 * drain to run after a synchronous call: it takes what the worker said before answering, and everything still
 * queued, now, in order.
 */
function listen(
  events: MessagePort,
  { onDerived, onDerivationError, onError }: LogThreadOptions,
  started: () => void,
  failed: (reason: string) => void,
  setStats: (stats: WorkerStats) => void,
): () => void {
  const handle = (message: FromLogWorker): void => {
    switch (message.type) {
      case 'ready':
        started();
        break;
      case 'failed':
        failed(message.message);
        onError?.(new Error(message.message), false);
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
  const queue = new EventQueue(handle, (ops) => onDerived?.(ops));
  events.on('message', (message: FromLogWorker) => queue.push(message));
  events.unref();
  return () => {
    for (let m = receiveMessageOnPort(events); m; m = receiveMessageOnPort(events))
      queue.push(m.message, false);
    queue.run(Number.POSITIVE_INFINITY);
  };
}

/** The worker's events in order, the rows of `derived` ones handed on a slice at a time (see `derivedSlice`). */
export class EventQueue {
  private events: FromLogWorker[] = [];
  /** how many rows of the first event (a `derived` one) were handed on already */
  private handed = 0;
  private scheduled = false;

  constructor(
    private readonly handle: (message: FromLogWorker) => void,
    private readonly derived: (ops: DerivedOperation[]) => void,
  ) {}

  /** Queues `message`; `schedule` (the default) runs the queue on the next turn of the event loop. */
  push(message: FromLogWorker, schedule = true): void {
    this.events.push(message);
    if (schedule) this.schedule();
  }

  /** Hands on events in order until `rows` rows went to `derived`; what is left waits for the next turn. */
  run(rows: number = derivedSlice): void {
    let budget = rows;
    while (this.events.length > 0) {
      const first = this.events[0];
      if (first.type !== 'derived') {
        this.events.shift();
        this.handle(first);
        continue;
      }
      if (budget <= 0) {
        this.schedule();
        return;
      }
      const from = this.handed;
      const to = Math.min(first.ops.length, from + budget);
      budget -= to - from;
      // Moved on before the stages run: a stage that throws does not get the same rows again.
      this.handed = to;
      if (to === first.ops.length) {
        this.events.shift();
        this.handed = 0;
      }
      this.derived(from === 0 && to === first.ops.length ? first.ops : first.ops.slice(from, to));
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.run();
      } finally {
        // a stage that threw leaves the rest queued: it goes on next turn
        if (this.events.length > 0) this.schedule();
      }
    });
  }
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

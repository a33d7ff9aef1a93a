import type { Exchange } from '../../scim/types.js';
import {
  Backoff,
  batchPacer,
  countDropped,
  countFailure,
  ExchangeQueue,
  idleRecorderStats,
  type RecorderStats,
} from '../recorder.js';

// The recorder for a store that answers over the network (PostgreSQL): the same bounded queue, batches, drop
// counting and stats as SQLite's (recorder.ts), with a write that is a promise. At most one write is in flight,
// so batches land in the order they were recorded. While the database is down or refuses connections,
// forwarding goes on: `record` stays O(1), the queue keeps what it can, drops are counted, `failing` is set
// (the recorderFailing rule reads it), and writing resumes by itself when the database is back.

export interface AsyncRecorderOptions {
  /** Writes one batch in one transaction; rejects to signal failure. */
  write(batch: Exchange[]): Promise<void>;
  /** whether a failure is the database's or the network's (try again later) or the batch's own (isolate it) */
  retryable(err: unknown): boolean;
  flushIntervalMs?: number;
  maxQueue?: number;
  maxBatch?: number;
  clock?: () => number;
  onError?(err: unknown, retryable: boolean): void;
}

export interface AsyncRecorder {
  /** O(1), never throws, never waits: called on the proxy's hot path. */
  record(exchange: Exchange): void;
  /** write everything queued now, unless the database fails (then what is left stays queued) */
  flush(): Promise<void>;
  stats(): RecorderStats;
  start(): void;
  /**
   * Stop, and write what is queued for at most `deadlineMs`, retrying a database that is down meanwhile. What is
   * left then is counted in `dropped`, and so is anything recorded afterwards. Resolves to the number dropped.
   */
  stop(options?: { deadlineMs?: number }): Promise<number>;
}

export function createAsyncRecorder({
  write,
  retryable,
  flushIntervalMs = 500,
  maxQueue = 100_000,
  maxBatch = 1_000,
  clock = Date.now,
  onError,
}: AsyncRecorderOptions): AsyncRecorder {
  const queue = new ExchangeQueue();
  const pacer = batchPacer(maxBatch, flushIntervalMs);
  const backoff = new Backoff();
  const stats: RecorderStats = idleRecorderStats();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<boolean> | null = null;
  let stopped = false;

  function record(exchange: Exchange): void {
    if (stopped || queue.size() >= maxQueue) {
      countDropped(stats, 1, clock());
      return;
    }
    queue.push(exchange);
    pacer.queued();
  }

  function failed(err: unknown, isRetryable: boolean): void {
    countFailure(stats, err, clock());
    backoff.failed(clock());
    onError?.(err, isRetryable);
  }

  /** One batch; resolves to whether to go on at once (it landed, and more is queued). */
  async function writeOne(): Promise<boolean> {
    const batch = queue.peek(maxBatch);
    if (batch.length === 0) return false;
    try {
      await write(batch);
    } catch (err) {
      if (retryable(err)) {
        failed(err, true);
        return false;
      }
      const done = batch.length > 1 ? await isolate(batch, { write, retryable, stats, failed, clock }) : 0;
      if (batch.length === 1) {
        failed(err, false);
        countDropped(stats, 1, clock());
      }
      queue.take(batch.length === 1 ? 1 : done);
      pacer.written(queue.size());
      return false;
    }
    stats.written += batch.length;
    stats.failing = false;
    backoff.succeeded();
    queue.take(batch.length);
    pacer.written(queue.size());
    return queue.size() > 0;
  }

  /** Writes batch after batch while they land and are due; one write at a time. */
  function pump(force: boolean): Promise<boolean> {
    if (inFlight) return inFlight;
    if (!force && (backoff.waiting(clock()) || !pacer.due(queue.size()))) return Promise.resolve(false);
    inFlight = (async () => {
      try {
        let more = await writeOne();
        while (more && (force || queue.size() >= maxBatch)) more = await writeOne();
        return more;
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  return {
    record,
    async flush() {
      await inFlight;
      await pump(true);
    },
    stats: () => ({ ...stats, queued: queue.size() }),
    start() {
      if (timer) return;
      timer = setInterval(() => void pump(false), pacer.lookMs);
      timer.unref();
    },
    async stop({ deadlineMs = 5_000 } = {}) {
      clearInterval(timer);
      timer = undefined;
      stopped = true;
      const deadline = performance.now() + deadlineMs;
      await inFlight;
      while (queue.size() > 0 && performance.now() < deadline) {
        const before = stats.writeErrors;
        await pump(true);
        // The database is down: wait out the backoff (within the deadline) and try again.
        if (stats.writeErrors > before) await new Promise((r) => setTimeout(r, 100));
      }
      const left = queue.size();
      if (left > 0) {
        countDropped(stats, left, clock());
        queue.take(left);
      }
      return left;
    },
  };
}

interface IsolateDeps extends Pick<AsyncRecorderOptions, 'write' | 'retryable'> {
  stats: RecorderStats;
  failed(err: unknown, retryable: boolean): void;
  clock: () => number;
}

/**
 * A batch the server refused for its own rows (not retryable): written in halves, so what it accepts lands
 * and only the rows it refuses one by one are dropped (log2(batch) failed transactions per refused row).
 * Returns how many from the front are done (landed or dropped); stops early, leaving the rest queued, when a
 * retryable failure interrupts it.
 */
async function isolate(batch: Exchange[], { write, retryable, stats, failed, clock }: IsolateDeps) {
  let done = 0;
  const pending: Exchange[][] = [batch.slice(0, batch.length >> 1), batch.slice(batch.length >> 1)];
  while (pending.length > 0) {
    const piece = pending.shift() as Exchange[];
    try {
      await write(piece);
      stats.written += piece.length;
      stats.failing = false;
    } catch (err) {
      if (retryable(err)) {
        failed(err, true);
        return done;
      }
      if (piece.length > 1) {
        pending.unshift(piece.slice(0, piece.length >> 1), piece.slice(piece.length >> 1));
        continue;
      }
      failed(err, false);
      countDropped(stats, 1, clock());
    }
    done += piece.length;
  }
  return done;
}

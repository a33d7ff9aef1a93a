import type { Exchange } from '../scim/types.js';

export interface RecorderStats {
  /** exchanges waiting to be written */
  queued: number;
  written: number;
  /** exchanges lost: queue full, or a batch that could never be written */
  dropped: number;
  /** failed write attempts */
  writeErrors: number;
  /** true while the last write attempt failed */
  failing: boolean;
  lastError: string | null;
  lastErrorAt: number | null;
  /** when `failing` last went false→true or there was a drop; used by the recorderFailing rule */
  lastDropAt: number | null;
  /**
   * Set beside the recorder's own counts by the storage guard: the file at SCIMTAP_DB is no longer the one
   * open (deleted or replaced), so what is written goes nowhere anyone will find it.
   */
  fileProblem?: 'missing' | 'replaced' | null;
}

/** A recorder that has done nothing yet: no queue, nothing written or dropped, no failure. */
export function idleRecorderStats(): RecorderStats {
  return {
    queued: 0,
    written: 0,
    dropped: 0,
    writeErrors: 0,
    failing: false,
    lastError: null,
    lastErrorAt: null,
    lastDropAt: null,
  };
}

export interface RecorderOptions {
  /** Writes one batch, in one transaction. Throws to signal failure (the batch is retried if retryable). */
  write(batch: Exchange[]): void;
  /** the longest an exchange waits for a batch to fill before a partial batch is written; a full one goes at once */
  flushIntervalMs?: number;
  /** queue bound: beyond it new exchanges are dropped and counted rather than growing memory */
  maxQueue?: number;
  maxBatch?: number;
  clock?: () => number;
  onError?(err: unknown, retryable: boolean): void;
}

export interface Recorder {
  /** O(1), never throws, never waits: called on the proxy's hot path. */
  record(exchange: Exchange): void;
  /** write everything queued now (used at shutdown and by tests) */
  flush(): void;
  stats(): RecorderStats;
  start(): void;
  /**
   * Stop the timer and write what is queued, for at most `deadlineMs`. Whatever could not be written by then is
   * counted in `dropped`, and so is anything recorded afterwards. Returns the number dropped by stopping.
   */
  stop(options?: { deadlineMs?: number }): number;
}

// SQLite result codes that mean "try again later": locked, busy, full, read-only, I/O.
const retryableCodes = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|PROTOCOL|NOMEM)/;

export function isRetryableWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && retryableCodes.test(code);
}

const codeOf = (err: unknown) => String((err as { code?: unknown })?.code ?? '');
const isFull = (err: unknown) => codeOf(err).startsWith('SQLITE_FULL');
const isBusy = (err: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(codeOf(err));

/** A FIFO as an array and a head index: taking a batch never copies the rest of the queue. */
export class ExchangeQueue {
  private items: Exchange[] = [];
  private head = 0;

  size(): number {
    return this.items.length - this.head;
  }

  push(exchange: Exchange): void {
    this.items.push(exchange);
  }

  /** a copy of the first `n` (or fewer), still queued */
  peek(n: number): Exchange[] {
    return this.items.slice(this.head, this.head + n);
  }

  /** Dequeues the first `n`. The array is copied only once most of it is taken, so a long backlog is not. */
  take(n: number): void {
    this.head += n;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4_096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/** After a failure, back off so a broken disk does not cost a failed transaction every tick. */
export class Backoff {
  private ms = 0;
  private retryAt = 0;

  /** 100 ms after the first failure, doubling up to a second */
  failed(now: number): void {
    this.ms = Math.min(1_000, this.ms ? this.ms * 2 : 100);
    this.retryAt = now + this.ms;
  }

  succeeded(): void {
    this.ms = 0;
    this.retryAt = 0;
  }

  waiting(now: number): boolean {
    return now < this.retryAt;
  }
}

/** A failed write attempt, in the stats. */
export function countFailure(stats: RecorderStats, err: unknown, now: number): void {
  stats.writeErrors++;
  stats.failing = true;
  stats.lastError = (err as Error)?.message ?? String(err);
  stats.lastErrorAt = now;
}

/**
 * On a full disk a batch is written in smaller pieces so that what fits lands: the largest prefix that fits,
 * found by halving the piece after each SQLITE_FULL (at most log2(batch) failed transactions), in order.
 * Returns how many were written; throws what is not a full disk.
 */
function writeWhatFits(write: RecorderOptions['write'], batch: Exchange[]): number {
  let landed = 0;
  let size = Math.ceil(batch.length / 2);
  while (landed < batch.length) {
    const piece = batch.slice(landed, landed + size);
    try {
      write(piece);
      landed += piece.length;
    } catch (err) {
      if (!isFull(err)) throw err;
      if (size === 1) break;
      size = Math.ceil(size / 2);
    }
  }
  return landed;
}

export function countDropped(stats: RecorderStats, n: number, at: number): void {
  stats.dropped += n;
  stats.lastDropAt = at;
}

/** How often the recorder looks for a full batch to write (or a partial one that has waited long enough). */
const fullBatchLookMs = 25;

/**
 * When the queue is worth a write: a full batch as soon as the timer sees it, a partial one once it has waited
 * `flushIntervalMs`. A commit costs about as much as a few dozen rows (app-writer.ts), so under load every batch
 * is full, and at light load exchanges gather for up to `flushIntervalMs` into one. Real time, not the recorder's
 * clock: a test's frozen clock must not hold writes back forever.
 */
export function batchPacer(maxBatch: number, flushIntervalMs: number) {
  // When the exchanges now waiting began to wait (about: after a write, when the rest was left).
  let waitingSince: number | null = null;
  return {
    lookMs: Math.min(flushIntervalMs, fullBatchLookMs),
    queued(): void {
      waitingSince ??= performance.now();
    },
    written(left: number): void {
      waitingSince = left > 0 ? performance.now() : null;
    },
    due(size: number): boolean {
      if (size >= maxBatch) return true;
      return size > 0 && waitingSince !== null && performance.now() - waitingSince >= flushIntervalMs;
    },
  };
}

/**
 * A bounded in-memory queue written in batches (ARCHITECTURE §3). Recording never blocks or breaks forwarding:
 * when the database fails, the queue keeps what it can, drops are counted, and writing resumes by itself.
 */
export function createRecorder({
  write,
  flushIntervalMs = 25,
  maxQueue = 100_000,
  maxBatch = 1_000,
  clock = Date.now,
  onError,
}: RecorderOptions): Recorder {
  const queue = new ExchangeQueue();
  const pacer = batchPacer(maxBatch, flushIntervalMs);
  let timer: NodeJS.Timeout | undefined;
  let continuation: NodeJS.Immediate | undefined;
  const backoff = new Backoff();
  let stopped = false;
  let lastFailure: unknown = null;
  const stats: RecorderStats = idleRecorderStats();

  function record(exchange: Exchange): void {
    // After stop nothing would ever write it: an exchange that finishes during shutdown is counted, not lost.
    if (stopped || queue.size() >= maxQueue) {
      countDropped(stats, 1, clock());
      return;
    }
    queue.push(exchange);
    pacer.queued();
  }

  /** Writes one batch; returns false when it should not go on (nothing left, or backing off). */
  function writeOne(force: boolean): boolean {
    if (queue.size() === 0) return false;
    if (!force && backoff.waiting(clock())) return false;
    const batch = queue.peek(maxBatch);
    try {
      write(batch);
    } catch (err) {
      let landed = 0;
      let failure = err;
      if (isFull(err) && batch.length > 1) {
        try {
          landed = writeWhatFits(write, batch);
        } catch (other) {
          failure = other;
        }
      }
      const retryable = isRetryableWriteError(failure);
      lastFailure = failure;
      countFailure(stats, failure, clock());
      backoff.failed(clock());
      onError?.(failure, retryable);
      if (landed > 0) {
        // Part of the batch landed: the rest did not fit. Counted as dropped rather than retried, so a disk that
        // stays nearly full costs one short bisection per batch, never a queue that stops moving.
        stats.written += landed;
        countDropped(stats, batch.length - landed, clock());
        queue.take(batch.length);
        return false;
      }
      if (!retryable) {
        // A batch that fails for a non-transient reason would block the queue forever: count it lost.
        countDropped(stats, batch.length, clock());
        queue.take(batch.length);
        return true;
      }
      return false;
    }
    stats.written += batch.length;
    stats.failing = false;
    backoff.succeeded();
    queue.take(batch.length);
    pacer.written(queue.size());
    return true;
  }

  function flush(force = false): void {
    if (force) {
      while (writeOne(true)) {}
      return;
    }
    // One batch per turn of the event loop: the proxy's requests get served between batches, so a backlog
    // costs them at most one batch of delay, never the whole queue. Full batches follow each other; what is
    // left waits for the pacer (a partial batch is written once due).
    if (writeOne(false) && queue.size() >= maxBatch && !continuation) {
      continuation = setImmediate(() => {
        continuation = undefined;
        flush();
      });
    }
  }

  return {
    record,
    flush: () => flush(true),
    stats: () => ({ ...stats, queued: queue.size() }),
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (pacer.due(queue.size())) flush();
      }, pacer.lookMs);
      timer.unref();
    },
    stop({ deadlineMs = 5_000 } = {}) {
      clearInterval(timer);
      timer = undefined;
      if (continuation) clearImmediate(continuation);
      continuation = undefined;
      stopped = true;
      // Wall time, not `clock`: a test's frozen clock must not make shutdown wait forever.
      const deadline = performance.now() + deadlineMs;
      while (queue.size() > 0 && performance.now() < deadline) {
        if (writeOne(true)) continue;
        // A lock held elsewhere may clear (each attempt waits busy_timeout); a full or broken disk will not.
        if (!isBusy(lastFailure)) break;
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

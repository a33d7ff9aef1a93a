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
}

export interface RecorderOptions {
  /** Writes one batch, in one transaction. Throws to signal failure (the batch is retried if retryable). */
  write(batch: Exchange[]): void;
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
  /** stop the timer and make a last flush attempt */
  stop(): void;
}

// SQLite result codes that mean "try again later": locked, busy, full, read-only, I/O.
const retryableCodes = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|PROTOCOL|NOMEM)/;

export function isRetryableWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && retryableCodes.test(code);
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
  // A FIFO as an array and a head index: taking a batch never copies the rest of the queue.
  let queue: Exchange[] = [];
  let head = 0;
  const queued = () => queue.length - head;
  let timer: NodeJS.Timeout | undefined;
  let continuation: NodeJS.Immediate | undefined;
  // After a failure, back off so a broken disk does not cost a failed transaction every tick.
  let retryAt = 0;
  let backoffMs = 0;
  const stats: RecorderStats = {
    queued: 0,
    written: 0,
    dropped: 0,
    writeErrors: 0,
    failing: false,
    lastError: null,
    lastErrorAt: null,
    lastDropAt: null,
  };

  function record(exchange: Exchange): void {
    if (queued() >= maxQueue) {
      stats.dropped++;
      stats.lastDropAt = clock();
      return;
    }
    queue.push(exchange);
  }

  function take(n: number): void {
    head += n;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 4_096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  }

  /** Writes one batch; returns false when it should not go on (nothing left, or backing off). */
  function writeOne(force: boolean): boolean {
    if (queued() === 0) return false;
    if (!force && clock() < retryAt) return false;
    const batch = queue.slice(head, head + maxBatch);
    try {
      write(batch);
    } catch (err) {
      const retryable = isRetryableWriteError(err);
      stats.writeErrors++;
      stats.failing = true;
      stats.lastError = (err as Error)?.message ?? String(err);
      stats.lastErrorAt = clock();
      backoffMs = Math.min(1_000, backoffMs ? backoffMs * 2 : 100);
      retryAt = clock() + backoffMs;
      onError?.(err, retryable);
      if (!retryable) {
        // A batch that fails for a non-transient reason would block the queue forever: count it lost.
        stats.dropped += batch.length;
        stats.lastDropAt = clock();
        take(batch.length);
        return true;
      }
      return false;
    }
    stats.written += batch.length;
    stats.failing = false;
    backoffMs = 0;
    retryAt = 0;
    take(batch.length);
    return true;
  }

  function flush(force = false): void {
    if (force) {
      while (writeOne(true)) {}
      return;
    }
    // One batch per turn of the event loop: the proxy's requests get served between batches, so a backlog
    // costs them at most one batch of delay, never the whole queue.
    if (writeOne(false) && queued() > 0 && !continuation) {
      continuation = setImmediate(() => {
        continuation = undefined;
        flush();
      });
    }
  }

  return {
    record,
    flush: () => flush(true),
    stats: () => ({ ...stats, queued: queued() }),
    start() {
      if (timer) return;
      timer = setInterval(() => flush(), flushIntervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      if (continuation) clearImmediate(continuation);
      continuation = undefined;
      flush(true);
    },
  };
}

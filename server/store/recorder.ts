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
  flushIntervalMs = 100,
  maxQueue = 100_000,
  maxBatch = 5_000,
  clock = Date.now,
  onError,
}: RecorderOptions): Recorder {
  let queue: Exchange[] = [];
  let timer: NodeJS.Timeout | undefined;
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
    if (queue.length >= maxQueue) {
      stats.dropped++;
      stats.lastDropAt = clock();
      return;
    }
    queue.push(exchange);
  }

  function flush(force = false): void {
    while (queue.length > 0) {
      if (!force && clock() < retryAt) return;
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
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
          queue = queue.length <= maxBatch ? [] : queue.slice(batch.length);
          continue;
        }
        return;
      }
      stats.written += batch.length;
      stats.failing = false;
      backoffMs = 0;
      retryAt = 0;
      queue = batch === queue ? [] : queue.slice(batch.length);
    }
  }

  return {
    record,
    flush: () => flush(true),
    stats: () => ({ ...stats, queued: queue.length }),
    start() {
      if (timer) return;
      timer = setInterval(() => flush(), flushIntervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      flush(true);
    },
  };
}

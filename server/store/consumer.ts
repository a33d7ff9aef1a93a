import type { Derivation } from './derivation.js';
import type { WriteTurn } from './log-thread.js';
import { isRetryableWriteError } from './recorder.js';

// Derives what was logged without being derived (derivation.ts `step`): on the log writer thread after a batch it
// wrote to the log alone, or on the main thread for a `:memory:` database. Kicked after such a write, and by a
// timer as a safety net. One batch per turn of the event loop, so a backlog after a burst delays the thread's
// other work by at most one batch, and derivation catches up once the burst is over.

export interface ConsumerStats {
  /** operations derived since start */
  derived: number;
  /** true while the last attempt failed (other than a lock: that is only a retry) */
  failing: boolean;
  lastError: string | null;
}

export interface Consumer {
  /** derive a batch of what is new now, the rest on the next turns (never waits on the log writer's lock) */
  kick(): void;
  /** derive everything recorded so far, now: flush, shutdown and tests ("recorded" means "derived" after it) */
  drain(): void;
  stats(): ConsumerStats;
  start(): void;
  stop(): void;
}

export interface ConsumerOptions {
  derivation: Derivation;
  /** shared with the log writer thread: the consumer derives only while the writer is not writing */
  turn?: WriteTurn;
  intervalMs?: number;
  /** while true (the log writer is logging a burst alone), kicks and the timer derive nothing; drain still does */
  busy?: () => boolean;
  onError?(err: unknown): void;
}

export function startConsumer({
  derivation,
  turn,
  intervalMs = 25,
  busy = () => false,
  onError,
}: ConsumerOptions): Consumer {
  let timer: NodeJS.Timeout | undefined;
  let continuation: NodeJS.Immediate | undefined;
  let retryAt = 0;
  let backoffMs = 0;
  const stats: ConsumerStats = { derived: 0, failing: false, lastError: null };

  /**
   * One batch. `wait`: wait for the writer's turn and take the usual busy timeout (flush, shutdown); otherwise
   * skip while the writer writes, and let a lock held by another process fail at once.
   */
  function step(wait: boolean): number {
    if (turn) {
      // The writer is mid-transaction: it reports when done, and that kicks the next attempt.
      if (wait) turn.acquire();
      else if (!turn.tryAcquire()) return 0;
    }
    try {
      // Not waiting: a lock held by another process fails at once rather than stalling the proxy's thread.
      const n = derivation.step({ wait });
      stats.derived += n;
      stats.failing = false;
      backoffMs = 0;
      return n;
    } catch (err) {
      // A lock held elsewhere (another process): the timer tries again.
      if (/^SQLITE_(BUSY|LOCKED)/.test(String((err as { code?: unknown }).code))) return 0;
      stats.failing = true;
      stats.lastError = (err as Error)?.message ?? String(err);
      // A full or failing disk: try again after a pause rather than on every kick.
      backoffMs = Math.min(1_000, backoffMs ? backoffMs * 2 : 100);
      retryAt = performance.now() + backoffMs;
      onError?.(err);
      if (!wait || isRetryableWriteError(err)) return 0;
      throw err;
    } finally {
      turn?.release();
    }
  }

  function run(): void {
    if (performance.now() < retryAt || busy()) return;
    if (step(false) > 0) continuation ??= setImmediate(next);
  }
  /** The timer's look: a step (a write transaction) only when the log is ahead of the cursor. */
  function poll(): void {
    if (continuation) return;
    let behind: boolean;
    try {
      behind = derivation.behind();
    } catch {
      behind = true; // cannot tell (the file is busy or failing): the step says why, and backs off
    }
    if (behind) run();
  }
  function next(): void {
    continuation = undefined;
    run();
  }

  return {
    kick() {
      // Already catching up: the continuation takes the new rows too.
      if (!continuation) run();
    },
    drain() {
      retryAt = 0;
      while (step(true) > 0) {}
    },
    stats: () => ({ ...stats }),
    start() {
      // The safety net: a kick lost to a lock, or a retry after a backoff.
      timer ??= setInterval(poll, intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      if (continuation) clearImmediate(continuation);
      continuation = undefined;
    },
  };
}

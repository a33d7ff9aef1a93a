/**
 * Follows a burst of requests (committed batches): `during` runs at most every `duringMs` while the burst goes on,
 * and `after` runs once when it is over, or `maxWaitMs` after its first request if it never pauses.
 *
 * Quiet means no request for `quietMs`, or for three times the longest pause inside the burst if that is longer:
 * on a loaded machine every pause stretches, and a burst must not look over in the middle of one.
 */
export interface BurstRunner {
  request(): void;
  /** no more runs: the pending ones are dropped */
  stop(): void;
}

export interface BurstOptions {
  /** least time between two `during` runs, the first one this long after the burst's first request */
  duringMs: number;
  quietMs: number;
  maxWaitMs: number;
  onError(err: unknown): void;
  /** wall clock for the waits (not the app's clock: a test's fake clock does not move while traffic flows) */
  now?: () => number;
}

export function createBurstRunner(
  { during, after }: { during(): void; after(): void },
  { duringMs, quietMs, maxWaitMs, onError, now = performance.now.bind(performance) }: BurstOptions,
): BurstRunner {
  let quietTimer: NodeJS.Timeout | undefined;
  let duringTimer: NodeJS.Timeout | undefined;
  let firstAt: number | null = null;
  let lastAt = 0;
  let longestPause = 0;
  let stopped = false;

  const attempt = (run: () => void) => {
    try {
      run();
    } catch (err) {
      onError(err);
    }
  };

  const runDuring = () => {
    duringTimer = undefined;
    attempt(during);
  };

  const runAfter = () => {
    quietTimer = undefined;
    clearTimeout(duringTimer);
    duringTimer = undefined;
    firstAt = null;
    longestPause = 0;
    attempt(after);
  };

  return {
    request() {
      if (stopped) return;
      const at = now();
      if (firstAt === null) firstAt = at;
      else longestPause = Math.max(longestPause, at - lastAt);
      lastAt = at;
      if (!duringTimer) {
        duringTimer = setTimeout(runDuring, duringMs);
        duringTimer.unref();
      }
      clearTimeout(quietTimer);
      const quiet = Math.max(quietMs, 3 * longestPause);
      quietTimer = setTimeout(runAfter, Math.max(0, Math.min(quiet, firstAt + maxWaitMs - at)));
      quietTimer.unref();
    },
    stop() {
      stopped = true;
      clearTimeout(quietTimer);
      clearTimeout(duringTimer);
    },
  };
}

/**
 * Runs `run` once a stream of requests goes quiet, and at the latest `maxWaitMs` after the first request of a
 * stream that never pauses. A burst of batches therefore costs one run, made when the burst is over, so what it
 * reads is the whole burst rather than whichever part had arrived by a fixed delay.
 *
 * Quiet means no request for `quietMs`, or for three times the longest pause inside the burst if that is longer:
 * on a loaded machine every pause stretches, and a burst must not look over in the middle of one.
 */
export interface Debounced {
  request(): void;
  /** no more runs: the pending one is dropped */
  stop(): void;
}

export interface DebounceOptions {
  quietMs: number;
  maxWaitMs: number;
  onError(err: unknown): void;
  /** wall clock for the wait (not the app's clock: a test's fake clock does not move while traffic flows) */
  now?: () => number;
}

export function createDebounced(
  run: () => void,
  { quietMs, maxWaitMs, onError, now = performance.now.bind(performance) }: DebounceOptions,
): Debounced {
  let timer: NodeJS.Timeout | undefined;
  let firstAt: number | null = null;
  let lastAt = 0;
  let longestPause = 0;
  let stopped = false;

  const fire = () => {
    timer = undefined;
    firstAt = null;
    longestPause = 0;
    try {
      run();
    } catch (err) {
      onError(err);
    }
  };

  return {
    request() {
      if (stopped) return;
      const at = now();
      if (firstAt === null) firstAt = at;
      else longestPause = Math.max(longestPause, at - lastAt);
      lastAt = at;
      clearTimeout(timer);
      const quiet = Math.max(quietMs, 3 * longestPause);
      const wait = Math.max(0, Math.min(quiet, firstAt + maxWaitMs - at));
      timer = setTimeout(fire, wait);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Runs `run` once a stream of requests goes quiet: `quietMs` after the last request, and at the latest `maxWaitMs`
 * after the first one of a stream that never pauses. A burst of batches therefore costs one run, made when the
 * burst is over, so what it reads is the whole burst rather than whichever part had arrived by a fixed delay.
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
  let stopped = false;

  const fire = () => {
    timer = undefined;
    firstAt = null;
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
      firstAt ??= at;
      clearTimeout(timer);
      const wait = Math.max(0, Math.min(quietMs, firstAt + maxWaitMs - at));
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

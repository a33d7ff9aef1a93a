// When the log writer logs first and derives after (issue 12 §1: "derivation may lag during a burst and catch up
// afterwards"). Provisioning clients send tens of requests a second (Entra is expected to handle 25, and an
// initial cycle of a large tenant stays well under a few hundred); a thousand a second is a load test, a
// replay or a flood. During one, every µs the log writer spends is taken from forwarding on the cores it shares
// with the proxy, so it appends to pending_operations (pending.ts) and derives nothing until the burst ends.
// A burst that goes on past `maxMs` is a flood that will not end soon: derivation then runs as the exchanges come
// again, as it does at a normal rate, so what the dashboard and the rules see is never more than about `maxMs`
// behind.

export interface BurstOptions {
  /** exchanges a second from which traffic is a burst */
  ratePerSecond?: number;
  /** how long a burst may hold derivation back */
  maxMs?: number;
  /** the rate is counted over windows this long */
  windowMs?: number;
}

export interface Burst {
  /** one exchange arrived at `now` (ms, monotonic) */
  note(now: number): void;
  /** whether to log first and derive later, at `now` */
  active(now: number): boolean;
}

export const burstDefaults = { ratePerSecond: 1_000, maxMs: 10_000, windowMs: 500 } as const;

export function createBurst(options: BurstOptions = {}): Burst {
  const { ratePerSecond, maxMs, windowMs } = { ...burstDefaults, ...options };
  const threshold = Math.max(1, (ratePerSecond * windowMs) / 1000);
  let windowStart = Number.NEGATIVE_INFINITY;
  let count = 0;
  /** arrivals in the window before the current one (0 after a quiet window) */
  let previous = 0;
  /** when the traffic went over the rate, while it stays over it */
  let since: number | null = null;

  function roll(now: number): void {
    const elapsed = now - windowStart;
    if (elapsed < windowMs) return;
    previous = elapsed < 2 * windowMs ? count : 0;
    // Windows stay aligned, so a steady rate counts the same in each.
    windowStart = elapsed < 2 * windowMs ? windowStart + windowMs : now;
    count = 0;
    // A window under the rate ends the burst, whether or not anyone asked in between.
    if (previous < threshold) since = null;
  }
  const high = () => count >= threshold || previous >= threshold;

  return {
    note(now) {
      roll(now);
      count++;
    },
    active(now) {
      roll(now);
      if (!high()) {
        since = null;
        return false;
      }
      since ??= now;
      return now - since < maxMs;
    },
  };
}

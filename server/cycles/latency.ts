// A fixed-bucket latency histogram: constant size per cycle, mergeable, and good to about ±12% for p50/p95
// without keeping every duration. Bounds grow by 25% from 1 ms to about 5 minutes (beyond any upstream timeout).

const GROWTH = 1.25;
/** Upper bounds (ms, inclusive) of every bucket but the last, which takes everything above. */
export const latencyBounds: readonly number[] = Array.from({ length: 57 }, (_, k) => GROWTH ** k);

export function emptyHistogram(): number[] {
  return new Array(latencyBounds.length + 1).fill(0);
}

export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  const k = Math.ceil(Math.log(ms) / Math.log(GROWTH) - 1e-9);
  return Math.min(k, latencyBounds.length);
}

/** Parse a stored histogram, tolerating a missing or differently sized one (returns a fresh array). */
export function parseHistogram(json: string): number[] {
  const h = emptyHistogram();
  try {
    const stored = JSON.parse(json);
    if (Array.isArray(stored)) {
      for (let i = 0; i < Math.min(stored.length, h.length); i++) h[i] = Number(stored[i]) || 0;
    }
  } catch {
    // a corrupt value reads as empty; a rebuild recomputes it
  }
  return h;
}

/**
 * The p-th quantile (0..1), interpolated geometrically inside its bucket and capped at the largest value seen.
 * null for an empty histogram.
 */
export function quantile(counts: readonly number[], p: number, maxMs: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      const lower = i === 0 ? 0 : latencyBounds[i - 1];
      const upper = i < latencyBounds.length ? latencyBounds[i] : Math.max(maxMs, lower);
      const fraction = (rank - seen) / counts[i];
      const value = lower === 0 ? upper * fraction : lower * (upper / lower) ** fraction;
      return Math.round(Math.min(value, maxMs) * 10) / 10;
    }
    seen += counts[i];
  }
  return maxMs;
}

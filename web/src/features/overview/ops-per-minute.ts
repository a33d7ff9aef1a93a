import type { OperationsTimeseries } from '../../types/api.js';

export interface OpsPoint {
  /** bucket start, ms since epoch */
  time: number;
  success: number;
  warning: number;
  failure: number;
}

/**
 * The stacked chart's rows: one per bucket from `from` to `to`, empty buckets as zeros, so quiet minutes show
 * as gaps in time instead of the bars closing up.
 */
export function toOpsPerBucket(ts: OperationsTimeseries): OpsPoint[] {
  const step = ts.bucketSeconds * 1000;
  const from = Math.floor(Date.parse(ts.from) / step) * step;
  const to = Date.parse(ts.to);
  if (!(step > 0) || !Number.isFinite(from) || !Number.isFinite(to) || to <= from) return [];
  const byTime = new Map(ts.buckets.map((b) => [Date.parse(b.time), b]));
  const points: OpsPoint[] = [];
  for (let t = from; t < to; t += step) {
    const b = byTime.get(t);
    points.push({ time: t, success: b?.success ?? 0, warning: b?.warning ?? 0, failure: b?.failure ?? 0 });
  }
  return points;
}

/** Totals over the window, for the chart's caption and its text alternative. */
export function totals(points: OpsPoint[]): {
  success: number;
  warning: number;
  failure: number;
  total: number;
} {
  const t = { success: 0, warning: 0, failure: 0, total: 0 };
  for (const p of points) {
    t.success += p.success;
    t.warning += p.warning;
    t.failure += p.failure;
  }
  t.total = t.success + t.warning + t.failure;
  return t;
}

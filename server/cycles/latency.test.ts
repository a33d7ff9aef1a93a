import { describe, expect, it } from 'vitest';
import { bucketOf, emptyHistogram, latencyBounds, parseHistogram, quantile } from './latency.js';

function histogramOf(values: number[]) {
  const h = emptyHistogram();
  for (const v of values) h[bucketOf(v)]++;
  return { h, max: Math.max(...values) };
}

function exact(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

describe('latency histogram', () => {
  it('puts each value in the bucket whose bounds hold it', () => {
    // bucket k holds (bound[k-1], bound[k]]; 0 ms and 1 ms go in the first; huge values in the overflow
    for (const v of [0, 1, 1.1, 1.25, 7, 100, 999, 60_000]) {
      const k = bucketOf(v);
      expect(v).toBeLessThanOrEqual(latencyBounds[k] * (1 + 1e-9));
      if (k > 0) expect(v).toBeGreaterThan(latencyBounds[k - 1]);
    }
    expect(bucketOf(10_000_000)).toBe(latencyBounds.length);
  });

  it('estimates p50 and p95 within the bucket resolution', () => {
    // a skewed spread like a real upstream: most calls fast, a slow tail
    const values = Array.from({ length: 1000 }, (_, i) => (i < 900 ? 20 + (i % 90) : 800 + i * 3));
    const { h, max } = histogramOf(values);
    for (const p of [0.5, 0.95, 0.99]) {
      const estimate = quantile(h, p, max)!;
      const truth = exact(values, p);
      expect(Math.abs(estimate - truth) / truth).toBeLessThan(0.25);
    }
  });

  it('never exceeds the largest value and is null when empty', () => {
    // one value: every quantile is that value at most
    const { h, max } = histogramOf([42]);
    expect(quantile(h, 0.95, max)).toBeLessThanOrEqual(42);
    expect(quantile(emptyHistogram(), 0.5, 0)).toBeNull();
  });

  it('reads back what it stored and tolerates garbage', () => {
    // a stored histogram round-trips; a corrupt one reads as empty rather than throwing
    const { h } = histogramOf([3, 30, 300]);
    expect(parseHistogram(JSON.stringify(h))).toEqual(h);
    expect(parseHistogram('not json')).toEqual(emptyHistogram());
  });
});

import { describe, expect, it } from 'vitest';
import { toOpsPerBucket, totals } from './ops-per-minute.js';

const ts = (
  buckets: { time: string; success: number; failure: number; warning: number }[],
  from = '2024-05-01T10:00:00.000Z',
  to = '2024-05-01T10:04:00.000Z',
) => ({
  from,
  to,
  bucketSeconds: 60,
  buckets,
});

describe('toOpsPerBucket', () => {
  it('fills empty minutes with zeros, one row per bucket in [from, to)', () => {
    const points = toOpsPerBucket(
      ts([
        { time: '2024-05-01T10:01:00.000Z', success: 5, failure: 1, warning: 0 },
        { time: '2024-05-01T10:03:00.000Z', success: 0, failure: 0, warning: 2 },
      ]),
    );
    expect(points.map((p) => new Date(p.time).toISOString().slice(11, 16))).toEqual([
      '10:00',
      '10:01',
      '10:02',
      '10:03',
    ]);
    expect(points[0]).toMatchObject({ success: 0, failure: 0, warning: 0 });
    expect(points[1]).toMatchObject({ success: 5, failure: 1, warning: 0 });
    expect(points[3]).toMatchObject({ warning: 2 });
  });

  it('aligns a from that is not on a bucket boundary', () => {
    const points = toOpsPerBucket(
      ts(
        [{ time: '2024-05-01T10:00:00.000Z', success: 1, failure: 0, warning: 0 }],
        '2024-05-01T10:00:30.000Z',
        '2024-05-01T10:02:00.000Z',
      ),
    );
    expect(points).toHaveLength(2);
    expect(points[0].success).toBe(1);
  });

  it('returns nothing for an empty or inverted window', () => {
    expect(toOpsPerBucket(ts([], '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:00.000Z'))).toEqual([]);
    expect(toOpsPerBucket(ts([], 'garbage'))).toEqual([]);
  });

  it('ignores buckets outside the window', () => {
    const points = toOpsPerBucket(
      ts([{ time: '2024-05-01T11:00:00.000Z', success: 9, failure: 0, warning: 0 }]),
    );
    expect(totals(points).total).toBe(0);
  });
});

describe('totals', () => {
  it('sums each status and the total', () => {
    expect(
      totals([
        { time: 0, success: 2, failure: 1, warning: 0 },
        { time: 1, success: 3, failure: 0, warning: 4 },
      ]),
    ).toEqual({ success: 5, failure: 1, warning: 4, total: 10 });
  });
});

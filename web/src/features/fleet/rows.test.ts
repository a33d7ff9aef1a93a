import { describe, expect, it } from 'vitest';
import type { AppCyclePoint } from '../../types/api.js';
import {
  cycleLabel,
  failureShare,
  fleetCounts,
  incidentsText,
  nextCycleText,
  SPARK_SIZE,
  sparklineBars,
  sparklineLabel,
} from './rows.js';

describe('failureShare', () => {
  it('says how many of the calls failed and what share', () => {
    expect(failureShare({ total: 40, failures: 12, failureRate: 0.3 })).toBe('12 of 40 failed · 30%');
    expect(failureShare({ total: 1200, failures: 3, failureRate: 0.0025 })).toBe('3 of 1,200 failed · 0.3%');
    expect(failureShare({ total: 40, failures: 0, failureRate: 0 })).toBe('0 of 40 failed · 0%');
  });
  it('a cycle with no call, and no cycle yet', () => {
    expect(failureShare({ total: 0, failures: 0, failureRate: 0 })).toBe('No calls');
    expect(failureShare(null)).toBe('No cycle yet');
  });
});

describe('cycleLabel', () => {
  it('names the kind and id, and says when it runs', () => {
    expect(cycleLabel({ id: 12, kind: 'incremental', state: 'completed' })).toBe('Incremental #12');
    expect(cycleLabel({ id: 3, kind: 'testConnection', state: 'running' })).toBe(
      'Test Connection #3, running',
    );
  });
});

describe('incidentsText', () => {
  it('none, one, or the first of several', () => {
    expect(incidentsText([])).toBe('None firing');
    expect(incidentsText([{ summary: 'Credentials refused: 401 on every call' }])).toBe(
      '1 firing: Credentials refused: 401 on every call',
    );
    expect(incidentsText([{ summary: 'Escrow share 45%' }, { summary: 'b' }, { summary: 'c' }])).toBe(
      '3 firing: Escrow share 45% (+2 more)',
    );
  });
});

describe('nextCycleText', () => {
  const now = Date.parse('2026-12-07T02:00:00Z');
  it('counts down, then says how overdue', () => {
    expect(nextCycleText('2026-12-07T02:04:10Z', now)).toBe('in 4m 10s');
    expect(nextCycleText('2026-12-07T01:56:55Z', now)).toBe('overdue by 3m 05s');
    expect(nextCycleText('2026-12-07T02:00:00Z', now)).toBe('now');
  });
  it('is unknown before a first cycle', () => {
    expect(nextCycleText(null, now)).toBe('unknown');
    expect(nextCycleText('not a time', now)).toBe('unknown');
  });
});

describe('fleetCounts', () => {
  it('counts the apps by state, worst first, in the overview banner words', () => {
    expect(
      fleetCounts([
        { state: 'healthy' },
        { state: 'atRisk' },
        { state: 'healthy' },
        { state: 'quarantineSuspected' },
        { state: 'idle' },
      ]),
    ).toBe('1 quarantine suspected · 1 at risk of quarantine · 2 healthy · 1 idle');
  });
});

const point = (cycleId: number, failures: number, total: number, risk: AppCyclePoint['risk']) => ({
  cycleId,
  failures,
  total,
  risk,
});

describe('sparklineBars', () => {
  const size = { width: 100, height: 20, slots: 10, gap: 2, minHeight: 2 };

  it('one bar per cycle, oldest left, newest in the last slot', () => {
    const bars = sparklineBars([point(1, 0, 10, 'clean'), point(2, 5, 10, 'failures')], size);
    expect(bars.map((b) => [b.cycleId, b.x, b.width])).toEqual([
      [1, 80, 8],
      [2, 90, 8],
    ]);
  });

  it('scales heights to the worst cycle; a clean cycle is a tick on the baseline', () => {
    const bars = sparklineBars(
      [point(1, 0, 10, 'clean'), point(2, 5, 10, 'failures'), point(3, 10, 10, 'quarantine')],
      size,
    );
    expect(bars.map((b) => [b.height, b.y])).toEqual([
      [2, 18],
      [10, 10],
      [20, 0],
    ]);
  });

  it('a single failure among many still stands above a clean tick', () => {
    const bars = sparklineBars([point(1, 1, 500, 'failures'), point(2, 400, 500, 'quarantine')], size);
    expect(bars[0].height).toBeGreaterThan(size.minHeight);
  });

  it("keeps each cycle's risk, which colours the bar, and says the cycle in the tooltip", () => {
    const [b] = sparklineBars([point(7, 12, 40, 'quarantine')], size);
    expect(b.risk).toBe('quarantine');
    expect(b.title).toBe('Cycle #7: 12 of 40 failed · 30%');
  });

  it('shows only the newest cycles that fit', () => {
    const points = Array.from({ length: 25 }, (_, i) => point(i + 1, i, 100, 'failures'));
    const bars = sparklineBars(points);
    expect(bars).toHaveLength(SPARK_SIZE.slots);
    expect(bars[0].cycleId).toBe(6);
    expect(bars.at(-1)!.cycleId).toBe(25);
    expect(bars.at(-1)!.x + bars.at(-1)!.width).toBeLessThanOrEqual(SPARK_SIZE.width);
  });

  it('all clean: ticks, no division by zero', () => {
    const bars = sparklineBars([point(1, 0, 0, 'clean'), point(2, 0, 10, 'clean')], size);
    expect(bars.map((b) => b.height)).toEqual([2, 2]);
    expect(bars[0].title).toBe('Cycle #1: No calls');
  });

  it('no cycle, no bar', () => {
    expect(sparklineBars([], size)).toEqual([]);
  });
});

describe('sparklineLabel', () => {
  it('reads the failures oldest first', () => {
    expect(sparklineLabel([point(1, 0, 10, 'clean'), point(2, 3, 10, 'failures')])).toBe(
      'Failures in the last 2 cycles, oldest first: 0, 3',
    );
    expect(sparklineLabel([point(1, 1200, 2000, 'quarantine')])).toBe('Failures in the last cycle: 1,200');
    expect(sparklineLabel([])).toBe('No cycle yet');
  });
});
